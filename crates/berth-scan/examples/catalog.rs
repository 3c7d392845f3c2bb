//! Print the packages berth finds in a root filesystem or OCI layout, one per line
//! (`TYPE NAME VERSION PATH`): `cargo run -p berth-scan --example catalog -- DIR`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: catalog DIR")?;
    let db = berth_scan::osv::VulnDb::new();
    let rep = berth_scan::report::scan_path(
        std::path::Path::new(&dir),
        &db,
        None,
        &berth_scan::image::Limits::default(),
    )?;
    for t in rep.targets {
        for p in t.packages {
            println!("{:?} {} {} {}", p.kind, p.name, p.version, p.path);
        }
        for n in t.not_scanned {
            println!("not scanned: {n}");
        }
    }
    Ok(())
}
