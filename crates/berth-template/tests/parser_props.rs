//! Property tests: the parser and executor never panic on arbitrary input, and every
//! failure is reported as an error value with a position.

use berth_template::{Options, TemplateError, TemplateSet, Value};
use proptest::prelude::*;

/// Fragments that steer random input towards template syntax.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just("{{-".to_string()),
        Just(" -}}".to_string()),
        Just("{{/*".to_string()),
        Just("*/}}".to_string()),
        Just("if ".to_string()),
        Just("else".to_string()),
        Just("end".to_string()),
        Just("range $i, $e := ".to_string()),
        Just("with ".to_string()),
        Just("define \"x\"".to_string()),
        Just("template \"x\" .".to_string()),
        Just("block \"b\" .".to_string()),
        Just("include \"x\" .".to_string()),
        Just("tpl \"{{ . }}\" .".to_string()),
        Just(".Values.a".to_string()),
        Just("$x := ".to_string()),
        Just("$x = ".to_string()),
        Just(" | ".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("\"s\"".to_string()),
        Just("`r`".to_string()),
        Just("'c'".to_string()),
        Just("0x1F".to_string()),
        Just("-1.5e3".to_string()),
        Just("break".to_string()),
        Just("continue".to_string()),
        Just("printf \"%v %d\" ".to_string()),
        Just("toYaml ".to_string()),
        Just("nil".to_string()),
        Just(".".to_string()),
        "[ -~\\n\\t]{0,6}".prop_map(|s| s),
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn source() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn parser_never_panics(src in source()) {
        let mut set = TemplateSet::new(Options { max_steps: 10_000, max_output_bytes: 1 << 16, ..Options::default() });
        match set.add("f.yaml", &src) {
            Ok(()) => {
                let data = Value::from_json(serde_json::json!({"Values": {"a": [1, 2], "b": "x"}}));
                // Execution may fail, but must return.
                let _ = set.execute("f.yaml", &data);
            }
            Err(TemplateError::Parse { name, line, .. }) => {
                prop_assert_eq!(name, "f.yaml");
                prop_assert!(line >= 1 && line <= src.lines().count().max(1) + 1);
            }
            Err(other) => prop_assert!(false, "unexpected error kind: {other}"),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(src in "\\PC{0,200}") {
        let mut set = TemplateSet::new(Options::default());
        let _ = set.add("g", &src);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let src = "{{ (1) }}";
    let mut set = TemplateSet::new(Options::default());
    set.add("ok", src).unwrap();
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
    let e = set.add("deep", &deep).unwrap_err().to_string();
    assert!(e.contains("nested too deeply"), "{e}");
    let ifs = format!("{}x{}", "{{ if 1 }}".repeat(3000), "{{ end }}".repeat(3000));
    assert!(set.add("ifs", &ifs).is_err());
    // Deep but allowed nesting parses and executes without exhausting the stack.
    let ifs = format!("{}x{}", "{{ if 1 }}".repeat(1500), "{{ end }}".repeat(1500));
    set.add("ifs2", &ifs).unwrap();
    assert_eq!(set.execute("ifs2", &Value::Nil).unwrap(), "x");
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(1500), ")".repeat(1500));
    set.add("parens", &parens).unwrap();
    assert_eq!(set.execute("parens", &Value::Nil).unwrap(), "1");
}
