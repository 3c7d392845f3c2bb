//! Behaviour of the engine against Go text/template + Sprig + Helm semantics. Expected
//! outputs come from the Helm v4 reference (helm-template-semantics.md) and Go's docs.

use berth_template::{Options, TemplateError, TemplateSet, Value};
use serde_json::json;

fn set_with(opts: Options, files: &[(&str, &str)]) -> TemplateSet {
    let mut s = TemplateSet::new(opts);
    for (n, src) in files {
        s.add(n, src).unwrap_or_else(|e| panic!("parse {n}: {e}"));
    }
    s
}

fn run(src: &str, data: serde_json::Value) -> Result<String, String> {
    let mut s = TemplateSet::new(Options::default());
    s.add("t", src).map_err(|e| e.to_string())?;
    s.execute("t", &Value::from_json(data))
        .map_err(|e| e.to_string())
}

fn ok(src: &str, data: serde_json::Value) -> String {
    run(src, data).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn err(src: &str, data: serde_json::Value) -> String {
    match run(src, data) {
        Ok(o) => panic!("{src}: expected an error, got {o:?}"),
        Err(e) => e,
    }
}

#[test]
fn trim_markers_and_comments() {
    assert_eq!(ok("a  \n\t {{- \"x\" }}  b", json!({})), "ax  b");
    assert_eq!(ok("a {{ \"x\" -}} \n\n  b", json!({})), "a xb");
    assert_eq!(ok("a\r\n{{- 1 -}}\r\nb", json!({})), "a1b");
    assert_eq!(ok("{{-3}}", json!({})), "-3");
    assert!(err("{{-.Values}}", json!({})).contains("-.V"));
    assert_eq!(ok("a{{/* c\n */}}b{{- /* x */ -}}  c", json!({})), "abc");
    assert!(err("{{ /* x */ }}", json!({})).contains("unexpected \"/\" in command"));
    assert!(err("{{/* x */ }}", json!({})).contains("comment ends before closing delimiter"));
    assert_eq!(ok("{{ print\n  1\n  2 }}", json!({})), "1 2");
}

#[test]
fn literals() {
    assert_eq!(ok(r#"{{ "a\tb\x41\101\u00e9" }}"#, json!({})), "a\tbAAé");
    assert_eq!(ok("{{ `raw\\n` }}", json!({})), "raw\\n");
    assert_eq!(ok("{{ 'a' }}", json!({})), "97");
    assert_eq!(
        ok(
            "{{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 017 }} {{ 1_000 }}",
            json!({})
        ),
        "31 15 5 15 1000"
    );
    assert_eq!(
        ok("{{ 1e3 }} {{ .5 }} {{ 1.0 }} {{ 0x1p4 }}", json!({})),
        "1000 0.5 1 16"
    );
    assert!(err("{{ 99999999999999999999 }}", json!({})).contains("overflow"));
    assert!(err("{{ nil }}", json!({})).contains("nil is not a command"));
    assert!(err("{{ \"a\n\" }}", json!({})).contains("unterminated quoted string"));
}

#[test]
fn control_flow() {
    let d = json!({"a": 1, "b": 0, "l": ["x", "y"], "m": {"b": 2, "a": 1, "10": 0, "9": 0}});
    assert_eq!(
        ok(
            "{{ if .b }}B{{ else if .a }}A{{ else }}N{{ end }}",
            d.clone()
        ),
        "A"
    );
    assert_eq!(
        ok("{{ with .m.a }}{{ . }}{{ else }}none{{ end }}", d.clone()),
        "1"
    );
    assert_eq!(
        ok(
            "{{ with .zz }}x{{ else with .a }}{{ . }}{{ end }}",
            d.clone()
        ),
        "1"
    );
    assert_eq!(ok("{{ with $x := .a }}{{ $x }}{{ end }}", d.clone()), "1");
    assert_eq!(
        ok(
            "{{ range $i, $e := .l }}{{ $i }}={{ $e }};{{ end }}",
            d.clone()
        ),
        "0=x;1=y;"
    );
    assert_eq!(
        ok("{{ range $k, $v := .m }}{{ $k }},{{ end }}", d.clone()),
        "10,9,a,b,"
    );
    assert_eq!(ok("{{ range .m }}{{ . }}{{ end }}", d.clone()), "0012");
    assert_eq!(ok("{{ range 3 }}{{ . }}{{ end }}", d.clone()), "012");
    assert!(
        err("{{ range $i, $e := 3 }}{{ end }}", d.clone())
            .contains("can't use 3 to iterate over more than one variable")
    );
    assert_eq!(
        ok("{{ range .nope }}x{{ else }}empty{{ end }}", d.clone()),
        "empty"
    );
    assert_eq!(
        ok(
            "{{ range .l }}{{ if eq . \"y\" }}{{ break }}{{ end }}{{ . }}{{ end }}",
            d.clone()
        ),
        "x"
    );
    assert_eq!(
        ok(
            "{{ range .l }}{{ if eq . \"x\" }}{{ continue }}{{ end }}{{ . }}{{ end }}",
            d.clone()
        ),
        "y"
    );
    assert!(err("{{ range .a }}{{ end }}", d.clone()).contains("range can't iterate over 1"));
    assert!(err("{{ break }}", d.clone()).contains("outside {{range}}"));
}

#[test]
fn variables_and_scope() {
    let d = json!({"l": [1, 2, 3]});
    assert_eq!(
        ok(
            "{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}",
            d.clone()
        ),
        "21"
    );
    assert_eq!(
        ok(
            "{{ $s := 0 }}{{ range .l }}{{ $s = add $s . }}{{ end }}{{ $s }}",
            d.clone()
        ),
        "6"
    );
    assert!(
        err("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}", d.clone())
            .contains("undefined variable \"$y\"")
    );
    assert_eq!(
        ok("{{ range .l }}{{ $.l | len }}{{ end }}", d.clone()),
        "333"
    );
}

#[test]
fn define_template_block() {
    let s = set_with(
        Options::default(),
        &[
            ("_h.tpl", r#"{{ define "x" }}[{{ . }}]{{ end }}"#),
            (
                "t",
                r#"{{ template "x" "a" | upper }}{{ template "x" }}{{ block "b" . }}B{{ . }}{{ end }}"#,
            ),
        ],
    );
    assert_eq!(s.execute("t", &Value::str("d")).unwrap(), "[A][]Bd");
}

#[test]
fn pipelines_and_print() {
    assert_eq!(ok(r#"{{ "c" | printf "%s-%s" "a" }}"#, json!({})), "a-c");
    assert_eq!(ok(r#"{{ print "a" 1 2 "b" }}"#, json!({})), "a1 2b");
    assert_eq!(ok(r#"{{ println "a" 1 }}"#, json!({})), "a 1\n");
    assert_eq!(
        ok(
            "{{ .m }} {{ .l }} {{ .e }} {{ .n }}",
            json!({"m": {"b": {"c": "x"}, "a": 1}, "l": [1, "two", 3.5, null, true], "e": [], "n": 1000000})
        ),
        "map[a:1 b:map[c:x]] [1 two 3.5 <nil> true] [] 1e+06"
    );
    assert_eq!(ok("{{ printf \"%v\" .missing }}", json!({})), "<nil>");
    assert_eq!(
        ok("{{ printf \"%d\" .port }}", json!({"port": 42})),
        "%!d(float64=42)"
    );
    assert_eq!(
        ok("{{ printf \"%d\" (int .port) }}", json!({"port": 42})),
        "42"
    );
}

#[test]
fn missing_keys_and_nil() {
    assert_eq!(ok("a{{ .x }}b", json!({})), "ab");
    assert_eq!(ok("a<no value>b", json!({})), "ab");
    assert_eq!(ok("{{ html .x }}", json!({})), "&lt;no value&gt;");
    assert_eq!(ok("{{ quote .x }}", json!({})), "");
    assert_eq!(ok("{{ toYaml .x }}", json!({})), "null");
    assert_eq!(ok("{{ .x | default \"d\" }}", json!({})), "d");
    let e = err("{{ upper .x }}", json!({}));
    assert!(e.contains("expected string; got interface {}"), "{e}");
    let e = err("{{ .a.b }}", json!({}));
    assert!(e.contains("nil pointer evaluating interface {}.b"), "{e}");
    let e = err("{{ if .a.b }}{{ end }}", json!({"a": null}));
    assert!(e.contains("nil pointer evaluating interface {}.b"), "{e}");
    let e = err("{{ .s.x }}", json!({"s": "str"}));
    assert!(e.contains("can't evaluate field x"), "{e}");
}

#[test]
fn strict_mode() {
    let mut s = TemplateSet::new(Options {
        strict: true,
        ..Options::default()
    });
    s.add("t", "{{ .x | default \"d\" }}").unwrap();
    s.add("u", "{{ index . \"x\" }}|{{ .n }}").unwrap();
    let e = s.execute("t", &Value::from_json(json!({}))).unwrap_err();
    assert!(
        e.to_string().contains("map has no entry for key \"x\""),
        "{e}"
    );
    assert_eq!(
        s.execute("u", &Value::from_json(json!({"n": null})))
            .unwrap(),
        "|"
    );
}

#[test]
fn truthiness() {
    for (v, want) in [
        (json!(false), "F"),
        (json!(0), "F"),
        (json!(""), "F"),
        (json!([]), "F"),
        (json!({}), "F"),
        (json!(null), "F"),
        (json!("0"), "T"),
        (json!(" "), "T"),
        (json!([0]), "T"),
        (json!({"k": null}), "T"),
    ] {
        assert_eq!(
            ok("{{ if .v }}T{{ else }}F{{ end }}", json!({ "v": v })),
            want,
            "{v}"
        );
    }
}

#[test]
fn comparisons() {
    assert_eq!(ok("{{ eq 1 2 3 1 }}", json!({})), "true");
    assert_eq!(ok("{{ eq (len \"abc\") 3 }}", json!({})), "true");
    let e = err("{{ eq .n 3 }}", json!({"n": 3}));
    assert!(e.contains("incompatible types for comparison"), "{e}");
    assert_eq!(
        ok("{{ eq .n 3.0 }} {{ eq (int .n) 3 }}", json!({"n": 3})),
        "true true"
    );
    assert!(err("{{ lt 1.5 2 }}", json!({})).contains("incompatible types"));
    assert_eq!(
        ok(
            "{{ eq nil nil }} {{ eq .m nil }} {{ eq .m \"\" }}",
            json!({})
        ),
        "true true false"
    );
    assert!(err("{{ eq .l .l }}", json!({"l": [1]})).contains("non-comparable"));
    assert!(err("{{ lt true false }}", json!({})).contains("invalid type for comparison"));
    assert_eq!(
        ok(
            "{{ and 1 0 2 }} {{ or 0 \"x\" }} {{ and false (fail \"x\") }}",
            json!({})
        ),
        "0 x false"
    );
    assert_eq!(
        ok(
            "{{ lt \"a\" \"b\" }} {{ ge 2 2 }} {{ gt 3 2 }} {{ le 3 2 }} {{ ne 1 2 }}",
            json!({})
        ),
        "true true true false true"
    );
}

#[test]
fn index_slice_len() {
    let d = json!({"l": [1, 2], "m": {"a": {"b": "c"}}, "i": 1});
    assert_eq!(
        ok(
            "{{ index .m \"a\" \"b\" }}|{{ index .m \"zz\" }}",
            d.clone()
        ),
        "c|"
    );
    assert!(err("{{ index .l 5 }}", d.clone()).contains("index out of range: 5"));
    assert!(err("{{ index .nil 1 }}", d.clone()).contains("index of untyped nil"));
    assert!(
        err("{{ index .l .i }}", d.clone()).contains("cannot index slice/array with type float64")
    );
    assert!(
        err("{{ slice \"abc\" 1 2 }}", d.clone())
            .contains("list should be type of slice or array but string")
    );
    assert_eq!(ok("{{ slice .l 1 }}", d.clone()), "[2]");
    assert_eq!(ok("{{ len \"héllo\" }}", d.clone()), "6");
    assert!(err("{{ len .nil }}", d.clone()).contains("len of nil pointer"));
}

#[test]
fn printf_floats() {
    let d = json!({"v": [0, 1, 123456, 999999, 1000000, 1234567, 1e20, 0.0001, 0.00001, 1.5e-7, 3, 2e7]});
    assert_eq!(
        ok("{{ range .v }}{{ . }} {{ end }}", d),
        "0 1 123456 999999 1e+06 1.234567e+06 1e+20 0.0001 1e-05 1.5e-07 3 2e+07 "
    );
    assert_eq!(
        ok(
            "{{ printf \"%05d|%x|%c|%U|%.2f|%e|%q|%[2]s\" 42 255 }}",
            json!({})
        )
        .split('|')
        .next()
        .unwrap(),
        "00042"
    );
    assert_eq!(ok("{{ printf \"%s\" }}", json!({})), "%!s(MISSING)");
    assert_eq!(ok("{{ printf \"x\" 1 }}", json!({})), "x%!(EXTRA int=1)");
}

#[test]
fn escapers() {
    assert_eq!(
        ok(r#"{{ html "<a href='x'>&\"" }}"#, json!({})),
        "&lt;a href=&#39;x&#39;&gt;&amp;&#34;"
    );
    assert_eq!(
        ok(r#"{{ js "a'b\"<>=&\n" }}"#, json!({})),
        "a\\'b\\\"\\u003C\\u003E\\u003D\\u0026\\u000A"
    );
    assert_eq!(ok(r#"{{ urlquery "a b/é" }}"#, json!({})), "a+b%2F%C3%A9");
}

#[test]
fn error_positions() {
    let e = err("{{ .Values.a.b.c }}", json!({"Values": {}}));
    assert!(
        e.starts_with("template: t:1:10: executing \"t\" at <.Values.a.b.c>: nil pointer"),
        "{e}"
    );
    let e = err("x\n  {{ eq .n 3 }}", json!({"n": 1}));
    assert!(
        e.starts_with(
            "template: t:2:5: executing \"t\" at <eq .n 3>: error calling eq: incompatible types"
        ),
        "{e}"
    );
    let mut s = TemplateSet::new(Options::default());
    let pe = s.add("p.yaml", "ok\n{{ nope 1 }}").unwrap_err();
    match &pe {
        TemplateError::Parse {
            name,
            line,
            col,
            msg,
        } => {
            assert_eq!((name.as_str(), *line, *col), ("p.yaml", 2, 3));
            assert_eq!(msg, "function \"nope\" not defined");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        pe.helm_message(),
        "parse error at (p.yaml:2): function \"nope\" not defined"
    );
    for bad in [
        "{{ if }}",
        "{{ end }}",
        "{{ if 1 }}",
        "{{ .a",
        "{{ 1 | 2 }}",
        "{{ else }}",
        "{{ $x }}",
        "{{ (1 }}",
        "{{ 1) }}",
    ] {
        assert!(s.add("b", bad).is_err(), "{bad}");
    }
}

#[test]
fn required_and_fail() {
    let s = set_with(
        Options::default(),
        &[
            (
                "_h.tpl",
                r#"{{ define "r" }}{{ required "need x" .x }}{{ end }}"#,
            ),
            (
                "t/templates/t.yaml",
                "a: {{ required \"m\" .v }}\nb: {{ include \"r\" . }}",
            ),
        ],
    );
    let e = s
        .execute("t/templates/t.yaml", &Value::from_json(json!({"v": ""})))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "execution error at (t/templates/t.yaml:1:6): m"
    );
    let e = s
        .execute("t/templates/t.yaml", &Value::from_json(json!({"v": 0})))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "execution error at (t/templates/t.yaml:2:6): need x"
    );
    assert_eq!(
        s.execute(
            "t/templates/t.yaml",
            &Value::from_json(json!({"v": false, "x": 1}))
        )
        .unwrap(),
        "a: false\nb: 1"
    );
    assert!(err("{{ fail \"boom\" }}", json!({})).ends_with("): boom"));
}

#[test]
fn include_and_tpl() {
    let s = set_with(
        Options::default(),
        &[
            (
                "_h.tpl",
                "{{ define \"labels\" }}app: {{ .name }}\ntier: web{{ end }}",
            ),
            (
                "t",
                "x:{{ include \"labels\" . | nindent 2 }}\n{{ tpl .tmpl . }}|{{ tpl \"{{ define \\\"d\\\" }}D{{ end }}{{ include \\\"d\\\" . }}\" . }}",
            ),
        ],
    );
    let out = s
        .execute(
            "t",
            &Value::from_json(json!({"name": "web", "tmpl": "{{ .name | upper }}{{ .nope }}"})),
        )
        .unwrap();
    assert_eq!(out, "x:\n  app: web\n  tier: web\nWEB|D");
    assert!(err("{{ include \"nope\" . }}", json!({})).contains("no template \"nope\""));
    let e = err("{{ tpl \"{{ .a.b }}\" . }}", json!({}));
    assert!(e.contains("error during tpl function execution"), "{e}");
}

#[test]
fn runaway_recursion_is_bounded() {
    let s = set_with(
        Options::default(),
        &[(
            "t",
            "{{ define \"loop\" }}{{ include \"loop\" . }}{{ end }}{{ include \"loop\" . }}",
        )],
    );
    let e = s.execute("t", &Value::Nil).unwrap_err().to_string();
    assert!(
        e.contains("rendering template has a nested reference name: loop"),
        "{e}"
    );
    let s = set_with(
        Options {
            max_steps: 10_000,
            ..Options::default()
        },
        &[("t", "{{ range 1000000 }}x{{ end }}")],
    );
    let e = s.execute("t", &Value::Nil).unwrap_err().to_string();
    assert!(e.contains("budget"), "{e}");
    let s = set_with(
        Options {
            max_output_bytes: 1000,
            ..Options::default()
        },
        &[("t", "{{ range 10000 }}xxxxxxxx{{ end }}")],
    );
    assert!(
        s.execute("t", &Value::Nil)
            .unwrap_err()
            .to_string()
            .contains("limit")
    );
}

/// Go strings are bytes: a cut inside a character keeps the lone bytes, which byte-wise
/// functions see as they are (Helm v4 outputs, from the differential corpus chart byte-cuts).
#[test]
fn byte_cuts_and_uint64_as_in_go() {
    let d = json!({});
    let cases = [
        ("{{ substr 0 1 \"é\" | quote }}", "\"\\xc3\""),
        ("{{ substr 0 1 \"é\" | len }}", "1"),
        ("{{ substr 0 1 \"é\" | b64enc }}", "ww=="),
        ("{{ substr 0 1 \"é\" | toJson }}", "\"\\ufffd\""),
        ("{{ substr 0 1 \"é\" | upper }}", "\u{FFFD}"),
        (
            "{{ printf \"%s%s\" (substr 0 1 \"é\") (substr 1 2 \"é\") }}",
            "é",
        ),
        ("{{ trunc 2 \"héllo\" | quote }}", "\"h\\xc3\""),
        ("{{ abbrev 6 \"éééé\" | quote }}", "\"é\\xc3...\""),
        ("{{ \"/5iA\" | b64dec | b64enc }}", "/5iA"),
        ("{{ printf \"%T\" (semver \"1.2.3\").Major }}", "uint64"),
        ("{{ kindOf (semver \"1.2.3\").Minor }}", "uint64"),
        ("{{ eq (semver \"1.2.3\").Major 1 }}", "true"),
        ("{{ lt (semver \"1.2.3\").Patch 4 }}", "true"),
        ("{{ deepEqual (semver \"1.2.3\").Major 1 }}", "false"),
        ("{{ add (semver \"1.2.3\").Minor 1 }}", "3"),
    ];
    for (src, want) in cases {
        assert_eq!(ok(src, d.clone()), want, "{src}");
    }
}

#[test]
fn sprig_strings() {
    let d = json!({});
    let cases = [
        ("{{ trunc 5 \"abcdefgh\" }}", "abcde"),
        ("{{ trunc -2 \"abcdef\" }}", "ef"),
        ("{{ substr 1 3 \"abcdef\" }}", "bc"),
        ("{{ title \"hello wORLD foo-bar\" }}", "Hello WORLD Foo-Bar"),
        ("{{ camelcase \"foo_bar-baz qux\" }}", "FooBarBazQux"),
        ("{{ snakecase \"FooBar\" }}", "foo_bar"),
        ("{{ kebabcase \"FooBar\" }}", "foo-bar"),
        ("{{ trimAll \"$\" \"$5.00$\" }}", "5.00"),
        (
            "{{ trimSuffix \"-\" \"a-\" }}{{ trimPrefix \"-\" \"-b\" }}",
            "ab",
        ),
        ("{{ replace \" \" \"-\" \"a b c\" }}", "a-b-c"),
        (
            "{{ contains \"ell\" \"hello\" }} {{ hasPrefix \"he\" \"hello\" }}",
            "true true",
        ),
        (
            "{{ quote 1.5 }} {{ quote (list 1) }} {{ squote \"a\" }}",
            "\"1.5\" \"[1]\" 'a'",
        ),
        ("{{ cat \"a\" nil \"b\" }}", "a b"),
        ("{{ indent 2 \"a\\n\\nb\\n\" }}", "  a\n  \n  b\n  "),
        ("{{ nospace \" a b\\tc \" }}", "abc"),
        (
            "{{ b64enc \"hi\" }} {{ b64dec \"aGk=\" }} {{ b64dec \"!\" }}",
            "aGk= hi illegal base64 data at input byte 0",
        ),
        (
            "{{ b32enc \"hi\" }} {{ b32dec \"NBUQ====\" }}",
            "NBUQ==== hi",
        ),
        (
            "{{ sha256sum \"a\" }}",
            "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
        ),
        (
            "{{ sha1sum \"a\" }}",
            "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8",
        ),
        ("{{ adler32sum \"a\" }}", "6422626"),
        ("{{ split \".\" \"a.b\" }}", "map[_0:a _1:b]"),
        ("{{ splitList \",\" \"\" | len }}", "1"),
        ("{{ join \",\" (list 1 nil \"b\") }}", "1,b"),
        (
            "{{ sortAlpha (list \"b\" 10 9 \"A\" \"a\") }}",
            "[10 9 A a b]",
        ),
        (
            "{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }}",
            "-W-xxW-",
        ),
        (
            "{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"$1W\" }}",
            "---",
        ),
        ("{{ regexFindAll \"[0-9]\" \"a1b2c3\" 2 }}", "[1 2]"),
        ("{{ regexMatch \"[\" \"x\" }}", "false"),
        ("{{ abbrev 5 \"hello world\" }}", "he..."),
        ("{{ repeat 3 \"ab\" }}", "ababab"),
        ("{{ seq 3 }}|{{ seq 5 3 }}", "1 2 3|5 4 3"),
        ("{{ plural \"one\" \"many\" 2 }}", "many"),
        ("{{ initials \"First Try\" }}", "FT"),
        ("{{ wrap 5 \"aaa bbb ccc\" }}", "aaa\nbbb\nccc"),
        ("{{ randAlphaNum 12 | len }}", "12"),
        ("{{ toString 1e6 }}", "1e+06"),
    ];
    for (src, want) in cases {
        assert_eq!(ok(src, d.clone()), want, "{src}");
    }
    assert!(err("{{ substr 5 2 \"abcdef\" }}", d.clone()).contains("slice bounds out of range"));
    assert!(err("{{ regexFind \"[\" \"x\" }}", d.clone()).contains("error parsing regexp"));
}

#[test]
fn sprig_math_and_conversion() {
    let d = json!({"n": 3});
    let cases = [
        (
            "{{ int \"010\" }} {{ int \"0x10\" }} {{ int \"0b11\" }} {{ int \"1_000\" }} {{ int \"1.0\" }}",
            "8 16 3 1000 1",
        ),
        (
            "{{ int \"1.5\" }} {{ int \" 5\" }} {{ int \"08\" }} {{ int \"1e3\" }}",
            "0 0 0 0",
        ),
        ("{{ int 1.9 }} {{ int true }} {{ int nil }}", "1 1 0"),
        ("{{ float64 \"1e3\" }} {{ float64 \"0x10\" }}", "1000 0"),
        (
            "{{ atoi \"+7\" }} {{ atoi \" 3\" }} {{ toDecimal \"777\" }}",
            "7 0 511",
        ),
        (
            "{{ add 1 2.9 \"3\" }} {{ sub 5 2 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ mod 7 2 }}",
            "6 3 24 3 1",
        ),
        ("{{ max 1 5 3 }} {{ min 4 2 }} {{ add1 .n }}", "5 2 4"),
        (
            "{{ mulf 1.1 3 }} {{ addf 0.1 0.2 }} {{ divf 1 4 }} {{ subf 1 0.9 }}",
            "3.3 0.3 0.25 0.1",
        ),
        (
            "{{ round -2.5 0 }} {{ round 3.14159 2 }} {{ floor 1.5 }} {{ ceil 1.2 }}",
            "-3 3.14 1 2",
        ),
        (
            "{{ until 3 }} {{ until -3 }} {{ untilStep 0 10 4 }} {{ untilStep 0 10 -1 }}",
            "[0 1 2] [0 -1 -2] [0 4 8] []",
        ),
        (
            "{{ typeOf .n }} {{ typeOf 1 }} {{ kindOf nil }} {{ kindOf (list) }}",
            "float64 int invalid slice",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(ok(src, d.clone()), want, "{src}");
    }
    assert!(err("{{ div 1 0 }}", d.clone()).contains("integer divide by zero"));
    assert!(err("{{ until .n }}", d.clone()).contains("expected int; got float64"));
}

#[test]
fn sprig_defaults_lists_dicts() {
    let d = json!({"l": [1], "flag": false});
    let cases = [
        (
            "{{ 0 | default 5 }} {{ false | default true }} {{ \"0\" | default 5 }}",
            "5 true 0",
        ),
        (
            "{{ coalesce 0 \"\" \"x\" }} {{ empty (list) }} {{ all 1 \"\" }} {{ any 0 \"a\" }}",
            "x true false true",
        ),
        ("{{ ternary \"y\" \"n\" true }}", "y"),
        (
            "{{ has 1 .l }} {{ has 1.0 .l }} {{ has 1 nil }}",
            "false true false",
        ),
        ("{{ append (list 1 2) 3 | len }}", "3"),
        (
            "{{ append (list 1 2) 3 }} {{ prepend (list 1) 0 }} {{ concat (list 1) (list 2 3) }}",
            "[1 2 3] [0 1] [1 2 3]",
        ),
        (
            "{{ first (list) }}|{{ last (list 1 2) }}|{{ rest (list 1 2) }}|{{ initial (list 1 2) }}",
            "|2|[2]|[1]",
        ),
        (
            "{{ uniq (list 1 1 2) }} {{ without (list 1 2 3) 2 }} {{ compact (list 0 1 \"\" 2) }}",
            "[1 2] [1 3] [1 2]",
        ),
        (
            "{{ chunk 2 (list 1 2 3 4 5) }} {{ reverse (list 1 2) }}",
            "[[1 2] [3 4] [5]] [2 1]",
        ),
        ("{{ dict \"a\" 1 \"b\" }}", "map[a:1 b:]"),
        (
            "{{ $d := dict \"a\" 1 }}{{ $_ := set $d \"b\" 2 }}{{ $d }} {{ get $d \"zz\" }}|{{ hasKey $d \"a\" }}",
            "map[a:1 b:2] |true",
        ),
        (
            "{{ $d := dict \"a\" 1 \"b\" 2 }}{{ unset $d \"a\" }} {{ pick $d \"b\" }} {{ omit $d \"b\" }}",
            "map[b:2] map[b:2] map[]",
        ),
        (
            "{{ keys (dict \"b\" 1 \"a\" 2) | sortAlpha }} {{ pluck \"a\" (dict \"a\" 1) (dict \"b\" 2) }}",
            "[a b] [1]",
        ),
        (
            "{{ merge (dict \"k\" false \"x\" 1) (dict \"k\" true \"x\" 2 \"y\" 3) }}",
            "map[k:true x:1 y:3]",
        ),
        (
            "{{ mergeOverwrite (dict \"a\" (dict \"b\" 1 \"c\" 2)) (dict \"a\" (dict \"b\" 0)) }}",
            "map[a:map[b:0 c:2]]",
        ),
        (
            "{{ dig \"a\" \"b\" \"def\" (dict \"a\" (dict \"b\" \"x\")) }} {{ dig \"a\" \"z\" \"def\" (dict \"a\" (dict)) }}",
            "x def",
        ),
        (
            "{{ $a := dict \"x\" (dict \"y\" 1) }}{{ $b := deepCopy $a }}{{ $_ := set $b.x \"y\" 2 }}{{ $a.x.y }}{{ $b.x.y }}",
            "12",
        ),
        ("{{ (dict \"a\" (dict \"b\" 1)).a.b }}", "1"),
    ];
    for (src, want) in cases {
        assert_eq!(ok(src, d.clone()), want, "{src}");
    }
    assert!(err("{{ ternary \"y\" \"n\" 1 }}", d.clone()).contains("expected bool"));
    assert!(err("{{ append \"abc\" \"d\" }}", d.clone()).contains("Cannot push on type string"));
    assert!(err("{{ first nil }}", d.clone()).contains("nil pointer dereference"));
}

#[test]
fn set_mutates_shared_values() {
    let s = set_with(
        Options::default(),
        &[
            ("a", "{{ $_ := set .Values \"x\" 1 }}"),
            ("b", "{{ .Values.x }}"),
        ],
    );
    let data = Value::from_json(json!({"Values": {}}));
    s.execute("a", &data).unwrap();
    assert_eq!(s.execute("b", &data).unwrap(), "1");
}

#[test]
fn serialisation() {
    let d = json!({"m": {"b": [1, "x"], "a": "yes", "n": 1000000, "f": 1.5, "e": {}}});
    assert_eq!(
        ok("{{ toYaml .m }}", d.clone()),
        "a: \"yes\"\nb:\n- 1\n- x\ne: {}\nf: 1.5\n\"n\": 1000000"
    );
    assert_eq!(
        ok("{{ .m.n }} {{ toJson .m.n }}", d.clone()),
        "1e+06 1000000"
    );
    assert_eq!(
        ok("{{ toJson .m }}", d.clone()),
        r#"{"a":"yes","b":[1,"x"],"e":{},"f":1.5,"n":1000000}"#
    );
    assert_eq!(
        ok(
            "{{ toJson \"<a&b>\" }} {{ toRawJson \"<a&b>\" }}",
            d.clone()
        ),
        r#""\u003ca\u0026b\u003e" "<a&b>""#
    );
    assert_eq!(
        ok("{{ toPrettyJson (dict \"a\" (list 1)) }}", d.clone()),
        "{\n  \"a\": [\n    1\n  ]\n}"
    );
    assert_eq!(ok("{{ toYamlPretty .m.b }}", d.clone()), "- 1\n- x");
    assert_eq!(
        ok(
            "{{ (fromYaml \"a: 1\\nb: [x]\\n---\\nc: 2\").a }} {{ fromYaml \"a: 1\\nb: [x]\" }}",
            d.clone()
        ),
        "1 map[a:1 b:[x]]"
    );
    assert!(ok("{{ fromYaml \"- a\" }}", d.clone()).starts_with("map[Error:"));
    assert_eq!(ok("{{ fromYaml \"\" }}", d.clone()), "map[]");
    assert_eq!(ok("{{ fromYamlArray \"- a\\n- 1\" }}", d.clone()), "[a 1]");
    assert_eq!(
        ok(
            "{{ (fromJson \"{\\\"a\\\": 2}\").a }} {{ fromJsonArray \"[1]\" }}",
            d.clone()
        ),
        "2 [1]"
    );
    assert!(ok("{{ fromJson \"nope\" }}", d.clone()).starts_with("map[Error:"));
    assert_eq!(
        ok(
            "{{ toToml (dict \"a\" 3 \"f\" 1.0 \"t\" (dict \"x\" \"y\")) }}",
            d.clone()
        ),
        "a = 3\nf = 1.0\n\n[t]\n  x = \"y\"\n"
    );
    assert_eq!(
        ok("{{ lookup \"v1\" \"Secret\" \"ns\" \"x\" }}", d.clone()),
        "map[]"
    );
}

#[test]
fn semver_and_dates() {
    let d = json!({});
    assert_eq!(
        ok(
            "{{ semverCompare \">=1.20\" \"v1.28.3-gke.100\" }} {{ semverCompare \">=1.20-0\" \"v1.28.3-gke.100\" }}",
            d.clone()
        ),
        "false true"
    );
    assert_eq!(
        ok(
            "{{ (semver \"1.2.3-beta+m\").Minor }} {{ (semver \"v1.2.3\").Original }} {{ semver \"1.2\" }}",
            d.clone()
        ),
        "2 v1.2.3 1.2.0"
    );
    assert!(err("{{ semver \"x\" }}", d.clone()).contains("invalid semantic version"));
    assert_eq!(
        ok("{{ dateInZone \"2006-01-02 15:04\" 0 \"UTC\" }}", d.clone()),
        "1970-01-01 00:00"
    );
    assert_eq!(
        ok(
            "{{ toDate \"2006-01-02\" \"2017-12-31\" | date \"02/01/2006\" }}",
            d.clone()
        ),
        "31/12/2017"
    );
    assert_eq!(
        ok(
            "{{ duration \"90\" }} {{ durationRound \"400h\" }}",
            d.clone()
        ),
        "1m30s 16d"
    );
    let year = ok("{{ now | date \"2006\" }}", d.clone());
    assert_eq!(ok("{{ date \"2006\" 0.0 }}", d.clone()), year);
    assert_eq!(ok("{{ uuidv4 | len }}", d.clone()), "36");
    assert_eq!(
        ok(
            "{{ (urlParse \"https://u@h:8/p?q=1#f\").hostname }}",
            d.clone()
        ),
        "h"
    );
    assert_eq!(
        ok(
            "{{ base \"/a/b.txt\" }} {{ dir \"/a/b\" }} {{ ext \"x.tgz\" }} {{ clean \"a//b/..\" }} {{ isAbs \"/x\" }}",
            d.clone()
        ),
        "b.txt /a .tgz a true"
    );
}

#[test]
fn objects_methods_and_fields() {
    use berth_template::Object;
    struct Caps;
    impl Object for Caps {
        fn field(&self, name: &str) -> Option<Value> {
            match name {
                "Version" => Some(Value::str("v1.36.0")),
                _ => None,
            }
        }
        fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
            match name {
                "Has" => Some(match args {
                    [Value::String(s)] => Ok(Value::Bool(s.as_ref() == "apps/v1")),
                    _ => Err(format!(
                        "wrong number of args for Has: want 1 got {}",
                        args.len()
                    )),
                }),
                _ => None,
            }
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }
    let mut m = berth_template::MapData::new();
    m.insert("Caps".into(), Value::object(Caps));
    let data = Value::map(m);
    let mut s = TemplateSet::new(Options::default());
    s.add(
        "t",
        "{{ .Caps.Version }} {{ .Caps.Has \"apps/v1\" }} {{ \"x/v1\" | .Caps.Has }}",
    )
    .unwrap();
    assert_eq!(s.execute("t", &data).unwrap(), "v1.36.0 true false");
    s.add("u", "{{ .Caps.Nope }}").unwrap();
    assert!(
        s.execute("u", &data)
            .unwrap_err()
            .to_string()
            .contains("can't evaluate field Nope")
    );
}

#[test]
fn crypto_shapes() {
    let s = set_with(
        Options::default(),
        &[(
            "t",
            r#"{{- $ca := genCA "my-ca" 365 -}}
{{- $c := genSignedCert "svc.ns.svc" (list "10.0.0.1") (list "svc" "svc.ns.svc") 30 $ca -}}
{{- $ss := genSelfSignedCert "self" nil (list "a.example") 10 -}}
{{ $ca.Cert }}|{{ $ca.Key }}|{{ $c.Cert }}|{{ $c.Key }}|{{ $ss.Cert }}"#,
        )],
    );
    let out = s.execute("t", &Value::Nil).unwrap();
    let parts: Vec<&str> = out.split('|').collect();
    assert_eq!(parts.len(), 5);
    for i in [0, 2, 4] {
        assert!(
            parts[i].starts_with("-----BEGIN CERTIFICATE-----\n")
                && parts[i].ends_with("-----END CERTIFICATE-----\n"),
            "{}",
            parts[i]
        );
    }
    for i in [1, 3] {
        assert!(
            parts[i].starts_with("-----BEGIN RSA PRIVATE KEY-----\n"),
            "{}",
            parts[i]
        );
    }
    let der = |pem: &str| {
        x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .unwrap()
            .1
            .contents
    };
    let ca_der = der(parts[0]);
    let leaf_der = der(parts[2]);
    let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
    let (_, leaf) = x509_parser::parse_x509_certificate(&leaf_der).unwrap();
    assert!(ca.is_ca());
    assert!(!leaf.is_ca());
    assert_eq!(leaf.issuer().to_string(), ca.subject().to_string());
    assert_eq!(ca.subject().to_string(), "CN=my-ca");
    leaf.verify_signature(Some(ca.public_key()))
        .expect("leaf is signed by the CA");
    let san = leaf
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .len();
    assert_eq!(san, 3);

    assert!(ok(r#"{{ htpasswd "user" "pw" }}"#, json!({})).starts_with("user:$2a$10$"));
    assert_eq!(
        ok(r#"{{ htpasswd "a:b" "pw" }}"#, json!({})),
        "invalid username: a:b"
    );
    // Sprig's "rsa" is a 4096-bit PKCS#1 key; the CA's is 2048 bits, as Go's genCA makes.
    let rsa_bits = |pem: &str| {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::traits::PublicKeyParts;
        rsa::RsaPrivateKey::from_pkcs1_pem(pem)
            .expect("an RSA PKCS#1 key")
            .n()
            .bits()
    };
    assert_eq!(
        rsa_bits(&ok(r#"{{ genPrivateKey "rsa" }}"#, json!({}))),
        4096
    );
    assert_eq!(rsa_bits(parts[1]), 2048);
    assert!(
        ok(r#"{{ genPrivateKey "ecdsa" }}"#, json!({}))
            .starts_with("-----BEGIN EC PRIVATE KEY-----\n")
    );
    assert!(
        ok(r#"{{ genPrivateKey "ed25519" }}"#, json!({}))
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert_eq!(
        ok(r#"{{ genPrivateKey "x" }}"#, json!({})),
        "Unknown type x"
    );
    assert_eq!(ok(r#"{{ randBytes 12 | len }}"#, json!({})), "16");
    let e = err(
        r#"{{ genSelfSignedCert "x" (list "nope") nil 1 }}"#,
        json!({}),
    );
    assert!(e.contains("error parsing ip: nope"), "{e}");
}

/// Cases diffed against Helm v4.2.3 through helm-python-sdk (examples/probe.rs).
#[test]
fn helm_observed_error_layouts() {
    let helm = |src: &str| -> String {
        let mut s = TemplateSet::new(Options::default());
        match s.add("t/templates/t.yaml", src) {
            Err(e) => e.helm_message(),
            Ok(()) => s
                .execute(
                    "t/templates/t.yaml",
                    &Value::from_json(json!({"Values": {"i": 3, "l": [1, null]}})),
                )
                .map_err(|e| e.helm_message())
                .unwrap_err(),
        }
    };
    assert_eq!(
        helm("{{ range .Values.i }}{{ end }}"),
        "t/templates/t.yaml:1:16\n  executing \"t/templates/t.yaml\" at <.Values.i>:\n    range can't iterate over 3"
    );
    assert_eq!(
        helm("{{ template \"nope\" }}"),
        "t/templates/t.yaml:1:12\n  executing \"t/templates/t.yaml\" at <{{template \"nope\"}}>:\n    template \"nope\" not defined"
    );
    assert_eq!(
        helm("{{ ternary 1 2 \"x\" }}"),
        "t/templates/t.yaml:1:15\n  executing \"t/templates/t.yaml\" at <\"x\">:\n    expected bool; found \"x\""
    );
    assert_eq!(
        helm("{{ eq .Values.i 3 }}"),
        "template: t/templates/t.yaml:1:3: executing \"t/templates/t.yaml\" at <eq .Values.i 3>: error calling eq: incompatible types for comparison: float64 and int"
    );
    assert_eq!(
        helm("{{ include \"nope\" . }}"),
        "t/templates/t.yaml:1:3\n  executing \"t/templates/t.yaml\" at <include \"nope\" .>:\n    error calling include:\ntemplate: no template \"nope\" associated with template \"gotpl\""
    );
    assert_eq!(
        helm("{{ tpl \"{{ nope }}\" . }}"),
        "template: t/templates/t.yaml:1:3: executing \"t/templates/t.yaml\" at <tpl \"{{ nope }}\" .>: error calling tpl: cannot parse template \"{{ nope }}\": template: gotpl:1: function \"nope\" not defined"
    );
    assert_eq!(
        ok("{{ printf \"%s %d\" .l .l }}", json!({"l": [1, null, "a"]})),
        "[%!s(float64=1) <nil> a] [%!d(float64=1) <nil> %!d(string=a)]"
    );
}

/// Parse errors and YAML corner cases diffed against Helm v4.2.3.
#[test]
fn helm_observed_parse_errors_and_yaml_corners() {
    let parse = |src: &str| {
        let mut s = TemplateSet::new(Options::default());
        s.add("t/templates/t.yaml", src).unwrap_err().helm_message()
    };
    let p = |m: &str| format!("parse error at (t/templates/t.yaml:1): {m}");
    assert_eq!(parse("{{ 'ab' }}"), p("'ab'"));
    assert_eq!(parse("{{ 3.x }}"), p("\"3.x\""));
    assert_eq!(parse("{{ 0x }}"), p("\"0x\""));
    assert_eq!(
        parse("{{ range $a, $b, $c := . }}{{ end }}"),
        p("too many declarations in range")
    );
    assert_eq!(
        parse("{{ template x }}"),
        p("unexpected \"x\" in template clause")
    );
    assert_eq!(
        parse("{{ printf \"%s\" \"a\"x }}"),
        p("unexpected \"x\" in operand")
    );
    assert_eq!(parse("{{ | upper }}"), p("unexpected \"|\" in command"));
    assert_eq!(
        parse("{{ range . }}{{ else if 1 }}{{ end }}"),
        p("unexpected <if> in input")
    );
    let e = err("{{ $x = 1 }}", json!({}));
    assert!(e.contains("undefined variable: $x"), "{e}");
    assert_eq!(
        ok("{{ -0.0 }} {{ printf \"%+v\" (dict \"k\" 1) }}", json!({})),
        "-0 map[k:1]"
    );
    // JSON leaves DEL/C1 raw and the YAML reader rejects them: toYaml gives "".
    assert_eq!(ok("{{ toYaml (dict \"k\" \"\\u007f\") }}", json!({})), "");
    assert_eq!(
        ok("{{ toYaml (dict \"k\" \"a\\u0085b\") }}", json!({})),
        "k: a b"
    );
    assert_eq!(
        ok("{{ toYaml (dict \"l\" \"a\\u2028b\") }}", json!({})),
        "l: 'a\u{2028}  b'"
    );
}

/// Sprig argument handling diffed against Helm v4.2.3.
#[test]
fn helm_observed_sprig_edges() {
    let d = json!({"e": [], "m": {"a": 1}, "l": [1, 2, 3]});
    assert_eq!(
        ok(
            "{{ compact .e }} {{ reverse .e }} {{ rest .e }} {{ initial .e }} {{ last .e }}",
            d.clone()
        ),
        "[] [] [] [] "
    );
    assert!(err("{{ first .m }}", d.clone()).ends_with("Cannot find first on type map"));
    assert!(
        err("{{ slice .l 3 1 }}", d.clone())
            .ends_with("reflect.Value.Slice: slice index out of bounds")
    );
    assert!(
        err("{{ merge .m 1 }}", d.clone())
            .ends_with("can't handle 1 for arg of type map[string]interface {}")
    );
    assert_eq!(ok("{{ toJson -0.0 }} {{ toToml 1 }}", d.clone()), "-0 1");
    assert_eq!(
        ok(
            "{{ fromJson \"\" }} {{ fromYaml \"---\\n---\\na: 1\" }}",
            d.clone()
        ),
        "map[Error:unexpected end of JSON input] map[]"
    );
    assert!(
        err("{{ semverCompare \"bad\" \"1.0.0\" }}", d).ends_with("improper constraint: \"bad\"")
    );
}

#[test]
fn huge_widths_and_lists_are_refused() {
    assert_eq!(
        ok("{{ printf \"%*d\" 1000000000 1 }}", json!({})),
        "%!(BADWIDTH)1"
    );
    assert_eq!(
        ok("{{ printf \"%.9999999f\" 1.0 }}", json!({})),
        "%!(BADPREC)1.000000"
    );
    assert!(err("{{ until 100000000 | len }}", json!({})).contains("too many elements"));
}

#[test]
fn integral_float_constants_fit_int_parameters() {
    assert_eq!(
        ok("{{ until 3.0 }} {{ trunc 2.0 \"abc\" }}", json!({})),
        "[0 1 2] ab"
    );
    assert!(err("{{ until 2.5 }}", json!({})).contains("expected int; found 2.5"));
    assert!(err("{{ until .n }}", json!({"n": 3})).contains("expected int; got float64"));
}

#[test]
fn regex_errors_read_like_go() {
    let e = err("{{ regexFind \"(\" \"x\" }}", json!({}));
    assert!(e.ends_with("error calling regexFind: regexp: Compile(`(`): error parsing regexp: missing closing ): `(`"), "{e}");
    let e = err("{{ mustRegexFind \"a\\\\q\" \"x\" }}", json!({}));
    assert!(
        e.ends_with("error parsing regexp: invalid escape sequence: `\\q`"),
        "{e}"
    );
    let e = err("{{ mustRegexFind \"[z-a]\" \"x\" }}", json!({}));
    assert!(
        e.ends_with("error parsing regexp: invalid character class range: `z-a`"),
        "{e}"
    );
}

#[test]
fn named_map_objects_work_with_sprig_map_functions() {
    use berth_template::{MapRef, Object};
    /// Like Helm's common.Values: a map with methods.
    struct Vals(MapRef);
    impl Object for Vals {
        fn field(&self, _: &str) -> Option<Value> {
            None
        }
        fn call_method(&self, name: &str, _: &[Value]) -> Option<Result<Value, String>> {
            (name == "YAML").then(|| {
                Ok(Value::str(berth_template::yaml::to_yaml(&Value::Map(
                    self.0.clone(),
                ))))
            })
        }
        fn type_name(&self) -> String {
            "common.Values".into()
        }
        fn underlying(&self) -> Option<Value> {
            Some(Value::Map(self.0.clone()))
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }
    let vals = MapRef::new(berth_template::MapData::new());
    vals.insert("a", Value::Float(1.0));
    let mut root = berth_template::MapData::new();
    root.insert("Values".into(), Value::object(Vals(vals.clone())));
    let data = Value::map(root);
    let mut s = TemplateSet::new(Options::default());
    s.add(
        "t",
        "{{ $_ := set .Values \"b\" 2 }}{{ .Values.b }} {{ hasKey .Values \"a\" }} {{ typeOf .Values }} {{ index .Values \"a\" }} {{ .Values.YAML }}",
    )
    .unwrap();
    assert_eq!(
        s.execute("t", &data).unwrap(),
        "2 true common.Values 1 a: 1\nb: 2\n"
    );
    s.add("d", "{{ dig \"a\" 0 .Values }}").unwrap();
    let e = s.execute("d", &data).unwrap_err().to_string();
    assert!(
        e.contains("interface {} is common.Values, not map[string]interface {}"),
        "{e}"
    );
}

/// Helm prints nested include failures level by level (observed with Helm v4.2.3).
#[test]
fn include_chains_print_like_helm() {
    let helm = |src: &str| {
        let mut s = TemplateSet::new(Options::default());
        s.add("t/templates/t.yaml", src).unwrap();
        s.execute(
            "t/templates/t.yaml",
            &Value::from_json(json!({"Values": {}})),
        )
        .unwrap_err()
        .helm_message()
    };
    assert_eq!(
        helm(
            "{{ define \"y\" }}{{ include \"x\" . }}{{ end }}{{ define \"x\" }}{{ .Values.a.b }}{{ end }}a: {{ include \"y\" . }}"
        ),
        "t/templates/t.yaml:1:92\n  executing \"t/templates/t.yaml\" at <include \"y\" .>:\n    error calling include:\nt/templates/t.yaml:1:19\n  executing \"y\" at <include \"x\" .>:\n    error calling include:\nt/templates/t.yaml:1:70\n  executing \"x\" at <.Values.a.b>:\n    nil pointer evaluating interface {}.b"
    );
    assert_eq!(
        helm("{{ define \"x\" }}{{ eq 1 \"a\" }}{{ end }}{{ include \"x\" . }}"),
        "template: t/templates/t.yaml:1:42: executing \"t/templates/t.yaml\" at <include \"x\" .>: error calling include: template: t/templates/t.yaml:1:19: executing \"x\" at <eq 1 \"a\">: error calling eq: incompatible types for comparison: int and string"
    );
}

/// Go's invalid value (a nil variable, `.`, or parenthesised pipeline) is not a nil interface:
/// fields after it evaluate to zero, and it converts to a nil map for a map parameter. Only a
/// nil met inside a field chain fails (bitnami common's `(.Values.x).y`, `$secret` from lookup).
#[test]
fn invalid_value_is_not_a_nil_interface() {
    let d = json!({"a": {"n": null}});
    assert_eq!(ok("{{ (.a.missing).b }}", d.clone()), "");
    assert_eq!(ok("{{ (.a.n).b.c }}", d.clone()), "");
    assert_eq!(ok("{{ $x := .a.missing }}{{ $x.b.c }}", d.clone()), "");
    assert_eq!(
        ok("{{ $x := .a.n }}{{ hasKey $x \"k\" }}", d.clone()),
        "false"
    );
    assert_eq!(ok("{{ hasKey (.a.missing) \"k\" }}", d.clone()), "false");
    // A nil interface from a field chain still fails as in Go.
    let e = err("{{ hasKey .a.n \"k\" }}", d.clone());
    assert!(
        e.contains("wrong type for value; expected map[string]interface {}; got interface {}"),
        "{e}"
    );
    let e = err("{{ .a.missing.b }}", d.clone());
    assert!(e.contains("nil pointer evaluating interface {}.b"), "{e}");
    let e = err("{{ .a.n.b }}", d);
    assert!(e.contains("nil pointer evaluating interface {}.b"), "{e}");
}

/// RE2 reads `-` after a class escape inside `[...]` as a literal (redis-ha's
/// `^[\w-\.]+$`); the regex crate would reject the pattern.
#[test]
fn regex_dash_after_class_escape_is_literal() {
    let d = json!({});
    assert_eq!(
        ok(
            r#"{{ regexMatch "^[\\w-\\.]+$" "my-master.1" }}"#,
            d.clone()
        ),
        "true"
    );
    assert_eq!(
        ok(r#"{{ regexMatch "^[\\w-\\.]+$" "a b" }}"#, d.clone()),
        "false"
    );
    assert_eq!(
        ok(r#"{{ regexFind "[\\d-]+" "ab 12-3 c" }}"#, d.clone()),
        "12-3"
    );
    assert_eq!(ok(r#"{{ regexMatch "^[a-c]+$" "abc" }}"#, d), "true");
}
