//! `berth schema`: the JSON Schema of berth.yaml, generated from the manifest types.

/// Print the JSON Schema of berth.yaml (for editors).
#[derive(clap::Args)]
#[command(
    after_help = "Example (VS Code YAML extension):\n  berth schema > berth.schema.json\n  \
# then in berth.yaml:  # yaml-language-server: $schema=./berth.schema.json"
)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    let schema = berth_spec::Application::json_schema();
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(crate::exit::OK)
}
