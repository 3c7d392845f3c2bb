//! Record this machine's host collector outputs as drift test data:
//! `cargo run -p berth-drift --example record_host -- DIR`. Kernel modules are cut to the
//! ones a baseline keeps and hardware addresses are zeroed, so the files stay small and
//! say nothing about the machine that a baseline would not.

use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: record_host DIR")?;
    for (rel, bytes) in berth_troubleshoot::collect::host::baseline_outputs().await {
        let bytes = match rel.rsplit('/').next() {
            Some("kernel_modules.json") => {
                let mut v: Value = serde_json::from_slice(&bytes)?;
                if let Some(m) = v.as_object_mut() {
                    m.retain(|k, _| berth_drift::host::MODULES.contains(&k.as_str()));
                }
                serde_json::to_vec_pretty(&v)?
            }
            Some("ipv4Interfaces.json") => {
                let mut v: Value = serde_json::from_slice(&bytes)?;
                for i in v.as_array_mut().into_iter().flatten() {
                    i["HardwareAddr"] = Value::String("AAAAAAAA".into());
                }
                serde_json::to_vec_pretty(&v)?
            }
            Some(name) if name.ends_with(".json") => {
                serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&bytes)?)?
            }
            _ => bytes,
        };
        let path = std::path::Path::new(&dir).join(&rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(&path, bytes)?;
        println!("{}", path.display());
    }
    Ok(())
}
