//! `include` reuses the output of a pure template for the same data, in one template file
//! and, when the template cannot see the context's `Template` entry, in the next ones. These
//! check that reuse happens and that it never changes what is rendered. One test function:
//! reuse depends on process-wide map-write counters that other tests' threads would move.

use berth_template::{MapData, MapRef, Options, TemplateSet, Value};

fn ctx(values: &[(&str, Value)]) -> MapRef {
    let vals: MapData = values
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let mut m = MapData::new();
    m.insert("Values".into(), Value::map(vals));
    m.insert("Subcharts".into(), Value::map(MapData::new()));
    MapRef::new(m)
}

/// Executes each file as Helm's engine does: `.Template` set in the shared context first.
fn render(set: &TemplateSet, ctx: &MapRef, files: &[&str]) -> Vec<String> {
    files
        .iter()
        .map(|f| {
            ctx.set_template_entry(Value::map(MapData::from([(
                "Name".to_string(),
                Value::str(*f),
            )])));
            set.execute(f, &Value::Map(ctx.clone()))
                .unwrap_or_else(|e| format!("error: {e}"))
        })
        .collect()
}

fn set_of(files: &[(&str, &str)], opts: Options) -> TemplateSet {
    let mut set = TemplateSet::new(opts);
    for (n, src) in files {
        set.add(n, src).unwrap();
    }
    set
}

#[test]
fn include_reuse_keeps_every_output_as_if_run_again() {
    // A context-free helper is reused within a file and by the next file.
    let set = set_of(
        &[
            (
                "_h.tpl",
                r#"{{- define "name" -}}{{ .Values.name | upper }}{{- end -}}"#,
            ),
            ("a", r#"{{ include "name" . }} {{ include "name" . }}"#),
            ("b", r#"{{ include "name" . }}"#),
        ],
        Options::default(),
    );
    let c = ctx(&[("name", Value::str("web"))]);
    assert_eq!(render(&set, &c, &["a", "b"]), ["WEB WEB", "WEB"]);
    assert_eq!(set.reused_includes(), 2);

    // Helpers that read `.Template` (directly, through a variable, printed whole, through a
    // subchart's context) are reused within a file only.
    let sub = ctx(&[]);
    let c = ctx(&[]);
    c.insert(
        "Subcharts",
        Value::map(MapData::from([("s".to_string(), Value::Map(sub.clone()))])),
    );
    let set = set_of(
        &[
            (
                "_h.tpl",
                concat!(
                    r#"{{- define "direct" -}}{{ .Template.Name }}{{- end -}}"#,
                    r#"{{- define "var" -}}{{ $c := . }}{{ $c.Template.Name }}{{- end -}}"#,
                    r#"{{- define "whole" -}}{{ toJson . | len }}{{- end -}}"#,
                    r#"{{- define "sub" -}}{{ with .Subcharts.s }}{{ .Template.Name }}{{ end }}{{- end -}}"#,
                    r#"{{- define "outer" -}}{{ include "direct" . }}{{- end -}}"#,
                ),
            ),
            (
                "f1",
                r#"{{ include "direct" . }}/{{ include "var" . }}/{{ include "whole" . }}/{{ include "outer" . }}/{{ include "direct" . }}"#,
            ),
            (
                "f22",
                r#"{{ include "direct" . }}/{{ include "var" . }}/{{ include "whole" . }}/{{ include "outer" . }}"#,
            ),
            ("s1", r#"{{ include "sub" $ }}"#),
        ],
        Options::default(),
    );
    let out = render(&set, &c, &["f1", "f22"]);
    let whole = |name: &str| {
        format!("{{\"Subcharts\":{{\"s\":{{\"Subcharts\":{{}},\"Values\":{{}}}}}},\"Template\":{{\"Name\":\"{name}\"}},\"Values\":{{}}}}").len()
    };
    assert_eq!(out[0], format!("f1/f1/{}/f1/f1", whole("f1")));
    assert_eq!(out[1], format!("f22/f22/{}/f22", whole("f22")));
    assert!(
        set.reused_includes() >= 1,
        "the second include of \"direct\" in f1"
    );
    sub.set_template_entry(Value::map(MapData::from([(
        "Name".to_string(),
        Value::str("x"),
    )])));
    assert_eq!(render(&set, &c, &["s1"]), ["x"]);
    sub.set_template_entry(Value::map(MapData::from([(
        "Name".to_string(),
        Value::str("y"),
    )])));
    assert_eq!(render(&set, &c, &["s1"]), ["y"]);

    // A map written between two includes: the second runs again.
    let set = set_of(
        &[
            ("_h.tpl", r#"{{- define "x" -}}{{ .Values.x }}{{- end -}}"#),
            (
                "a",
                r#"{{ include "x" . }}{{ $_ := set .Values "x" 2 }}{{ include "x" . }}"#,
            ),
            ("b", r#"{{ include "x" . }}"#),
        ],
        Options::default(),
    );
    let c = ctx(&[("x", Value::Int(1))]);
    assert_eq!(render(&set, &c, &["a", "b"]), ["12", "2"]);

    // A context stored in the values reaches later files without the analysis seeing it.
    let set = set_of(
        &[
            (
                "_h.tpl",
                r#"{{- define "v" -}}{{ (index .Values.keep "Template").Name }}{{- end -}}"#,
            ),
            (
                "a",
                r#"{{ $_ := set .Values "keep" $ }}{{ include "v" . }}"#,
            ),
            ("bb", r#"{{ include "v" . }}"#),
        ],
        Options::default(),
    );
    let c = ctx(&[]);
    assert_eq!(render(&set, &c, &["a", "bb"]), ["a", "bb"]);
    // The same with the context inside a dict or a list that is stored.
    for stored in [r#"(dict "c" $)"#, r#"(list $)"#] {
        let reach = if stored.starts_with("(dict") {
            ".Values.keep.c"
        } else {
            "(index .Values.keep 0)"
        };
        let helper = format!(
            r#"{{{{- define "v" -}}}}{{{{ (index {reach} "Template").Name }}}}{{{{- end -}}}}"#
        );
        let first =
            format!(r#"{{{{ $_ := set .Values "keep" {stored} }}}}{{{{ include "v" . }}}}"#);
        let set = set_of(
            &[
                ("_h.tpl", helper.as_str()),
                ("a", first.as_str()),
                ("bb", r#"{{ include "v" . }}"#),
            ],
            Options::default(),
        );
        let c = ctx(&[]);
        assert_eq!(render(&set, &c, &["a", "bb"]), ["a", "bb"], "{stored}");
    }

    // Not reused: random values, `tpl`, a computed name, and a `tpl` define of the same name.
    let set = set_of(
        &[
            (
                "_h.tpl",
                concat!(
                    r#"{{- define "r" -}}{{ randAlphaNum 24 }}{{- end -}}"#,
                    r#"{{- define "n" -}}set{{- end -}}"#,
                ),
            ),
            ("a", r#"{{ include "r" . }} {{ include "r" . }}"#),
            (
                "t",
                r#"{{ include "n" . }} {{ tpl "{{ define \"n\" }}tpl{{ end }}{{ include \"n\" . }}" . }} {{ include "n" . }}"#,
            ),
        ],
        Options::default(),
    );
    let c = ctx(&[]);
    let out = render(&set, &c, &["a", "t"]);
    let (r1, r2) = out[0].split_once(' ').unwrap();
    assert_ne!(r1, r2);
    assert_eq!(out[1], "set tpl set");

    // A reused output is charged to the budget as if it ran: the limit holds.
    let opts = Options {
        max_steps: 900,
        ..Options::default()
    };
    let set = set_of(
        &[
            (
                "_h.tpl",
                r#"{{- define "loop" -}}{{ range until 400 }}.{{ end }}{{- end -}}"#,
            ),
            ("a", r#"{{ include "loop" . | len }}"#),
            (
                "b",
                r#"{{ include "loop" . | len }} {{ include "loop" . | len }} {{ include "loop" . | len }}"#,
            ),
        ],
        opts,
    );
    let c = ctx(&[]);
    let out = render(&set, &c, &["a", "b"]);
    assert_eq!(out[0], "400");
    assert!(out[1].contains("budget of 900 steps"), "{}", out[1]);
}
