//! The subset of Go templates troubleshoot messages use: `{{ .Field }}` and `{{ .A.B }}`.
//!
//! Troubleshoot renders some outcome messages with `text/template` over Go structs. Messages in
//! the wild only interpolate fields, so berth substitutes field paths and leaves any other
//! action untouched (visible, rather than silently wrong). A missing field prints `<no value>`
//! as Go does for maps.

use serde_json::Value;

/// Renders `{{ .Path }}` actions in `msg` from `data`.
pub fn render(msg: &str, data: &Value) -> String {
    if !msg.contains("{{") {
        return msg.to_string();
    }
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let action = after[..end]
            .trim()
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        match field_path(action) {
            Some(path) => out.push_str(&lookup(data, path)),
            None => {
                out.push_str("{{");
                out.push_str(&after[..end]);
                out.push_str("}}");
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn field_path(action: &str) -> Option<&str> {
    let p = action.strip_prefix('.')?;
    p.chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        .then_some(p)
}

fn lookup(data: &Value, path: &str) -> String {
    let mut cur = data;
    if !path.is_empty() {
        for key in path.split('.') {
            match cur.get(key) {
                Some(v) => cur = v,
                None => return "<no value>".to_string(),
            }
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_fields() {
        let d = json!({"NodeCount": 3, "Status": {"Reason": "CrashLoopBackOff"}});
        assert_eq!(render("{{ .NodeCount }} nodes", &d), "3 nodes");
        assert_eq!(render("is {{.Status.Reason}}.", &d), "is CrashLoopBackOff.");
        assert_eq!(render("{{ .Nope }}", &d), "<no value>");
        assert_eq!(render("{{ if .X }}y{{ end }}", &d), "{{ if .X }}y{{ end }}");
        assert_eq!(render("open {{ .NodeCount", &d), "open {{ .NodeCount");
    }
}
