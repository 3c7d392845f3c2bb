//! Renders each line of a file as its own template (dot = values JSON) and prints one JSON
//! string per line: a tool for comparing the engine with Helm expression by expression.
use berth_template::{Options, TemplateSet, Value};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(src), Some(vals)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: probe LINES_FILE VALUES_JSON");
        std::process::exit(2);
    };
    let lines = std::fs::read_to_string(src).unwrap_or_default();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vals).unwrap_or_default())
            .unwrap_or_default();
    let mut root = serde_json::Map::new();
    root.insert("Values".into(), v);
    let data = Value::from_json(serde_json::Value::Object(root));
    for line in lines.lines() {
        let mut set = TemplateSet::new(Options::default());
        let out = match set.add("t/templates/t.yaml", line) {
            Ok(()) => match set.execute("t/templates/t.yaml", &data) {
                Ok(s) => s,
                Err(e) => format!("ERROR: {}", e.helm_message()),
            },
            Err(e) => format!("ERROR: {}", e.helm_message()),
        };
        println!("{}", serde_json::Value::String(out));
    }
}
