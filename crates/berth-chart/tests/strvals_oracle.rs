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

const JSON_EXPRS: &[&str] = &[
    r#"a={"x":[1,2]},b=3"#,
    "a.b=null",
    r#"a[1]="s""#,
    "a=[1, 2] ,b=1",
    r#"n.m={"k":{"deep":true}},s="x,y""#,
    "f=1.5",
];

const LITERAL_EXPRS: &[&str] = &[
    "a.b=x,y",
    "a[0].b=c=d",
    "a=1",
    "a.b\\.c=x{y}",
    "a=",
    "k=v\\,w",
];

/// `--set-json` and `--set-literal` against Helm's `ParseJSON` / `ParseLiteral`.
#[test]
fn set_json_and_set_literal_parse_like_helm() {
    let Some(python) = tool("BERTH_TEST_HELM_PYTHON") else {
        return;
    };
    let script = "import json,sys,helm_python as h\n\
        j,l=json.loads(sys.argv[1]),json.loads(sys.argv[2])\n\
        print(json.dumps([[h.parse_set_json(e) for e in j],[h.parse_set_literal(e) for e in l]]))";
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .arg(serde_json::to_string(JSON_EXPRS).expect("json"))
        .arg(serde_json::to_string(LITERAL_EXPRS).expect("json"))
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let [json, literal]: [Vec<Value>; 2] =
        serde_json::from_slice(&out.stdout).expect("oracle JSON");
    let parse = |expr: &str, kind| {
        let mut m = serde_json::Map::new();
        berth_chart::parse_set_into(expr, &mut m, kind, &|_| Err("no files".into()))
            .unwrap_or_else(|e| panic!("{expr:?}: {e}"));
        Value::Object(m)
    };
    for (expr, want) in JSON_EXPRS.iter().zip(json) {
        assert_eq!(
            parse(expr, berth_chart::SetKind::Json),
            want,
            "--set-json {expr:?}"
        );
    }
    for (expr, want) in LITERAL_EXPRS.iter().zip(literal) {
        assert_eq!(
            parse(expr, berth_chart::SetKind::Literal),
            want,
            "--set-literal {expr:?}"
        );
    }
    // A broken JSON value is an error naming the problem, not a string.
    let mut m = serde_json::Map::new();
    let e = berth_chart::parse_set_into("a={x", &mut m, berth_chart::SetKind::Json, &|_| {
        Err("no files".into())
    })
    .expect_err("invalid JSON fails");
    assert!(e.contains("invalid JSON value"), "{e}");
}
