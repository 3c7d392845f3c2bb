//! `--set` / `--set-string` parsing compared with Helm's own strvals parser
//! (helm-python-sdk's `parse_set_string` / `parse_set_string_values`).

use serde_json::Value;

#[path = "../../../testing/tool.rs"]
mod tool_rule;
use tool_rule::tool;

const EXPRS: &[&str] = &[
    "a=1,b.c=two,ports={80,443}",
    "x=true,y=NULL,z=0,w=007,v=-3,u=+4",
    "list[1].name=b,list[0]=a",
    "a\\.b=c,d=e\\,f",
    "m[0][1]=x",
    "e=",
    "name=with spaces,big=12345678901234567890",
    "nested.deep.er.key=v,nested.other=1",
    "arr={a, b ,c}",
    "k=v=w",
    "f=1.5,g=1e3",
];

#[test]
fn set_expressions_parse_like_helm() {
    let Some(python) = tool("BERTH_TEST_HELM_PYTHON") else {
        return;
    };
    let script = "import json,sys,helm_python as h\n\
        exprs=json.loads(sys.argv[1])\n\
        print(json.dumps([[h.parse_set_string(e), h.parse_set_string_values(e)] for e in exprs]))";
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .arg(serde_json::to_string(EXPRS).expect("json"))
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: Vec<[Value; 2]> = serde_json::from_slice(&out.stdout).expect("oracle JSON");
    for (expr, [typed, strings]) in EXPRS.iter().zip(want) {
        let got = Value::Object(berth_chart::parse_set(expr).expect("parses"));
        assert_eq!(got, typed, "--set {expr:?}");
        let mut m = serde_json::Map::new();
        berth_chart::parse_set_into(expr, &mut m, berth_chart::SetKind::String, &|_| {
            Err("no files".into())
        })
        .expect("parses");
        assert_eq!(Value::Object(m), strings, "--set-string {expr:?}");
    }
}
