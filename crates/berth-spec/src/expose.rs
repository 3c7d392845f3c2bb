//! The values of a component's `expose` (berth.yaml), checked one field at a time. `berth lint`
//! checks the literal ones with positions; berth-render checks the templated ones once they
//! are rendered, with the same messages. Each check returns what is wrong and how to fix it.

use crate::manifest::EXPOSE_FLAVOURS;
use crate::problem::did_you_mean;

/// What is wrong with a value, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bad {
    /// What is wrong (names the value).
    pub message: String,
    /// How to fix it.
    pub help: String,
    /// The lint code: `invalid-expose` or `unknown-flavour`.
    pub code: &'static str,
}

fn bad(message: String, help: impl Into<String>) -> Bad {
    Bad {
        message,
        help: help.into(),
        code: "invalid-expose",
    }
}

/// Whether a value is a Go template to render first (checked after rendering).
pub fn is_template(s: &str) -> bool {
    s.contains("{{")
}

/// A Service port: its number or its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Port {
    /// `port.number`.
    Number(u16),
    /// `port.name` (an IANA service name).
    Name(String),
}

/// A Service name: a DNS-1035 label.
pub fn service(s: &str) -> Result<(), Bad> {
    if s.is_empty() {
        return Err(bad(
            "`service` is empty".into(),
            "name the Service that receives the traffic, e.g. `service: web`",
        ));
    }
    let ok = s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(bad(
            format!("service `{s}` is not a Service name"),
            "a Service name is a DNS label starting with a letter: lowercase letters, digits and `-`, at most 63 characters",
        ))
    }
}

/// A port: 1-65535 or an IANA service name (what `targetPort`/`port.name` accept).
pub fn port(s: &str) -> Result<Port, Bad> {
    let s = s.trim();
    if s.is_empty() {
        return Err(bad(
            "`port` is empty".into(),
            "give the Service's port number (e.g. `port: 80`) or its name (e.g. `port: http`)",
        ));
    }
    if s.bytes()
        .all(|b| b.is_ascii_digit() || b == b'-' || b == b'.')
        && s.contains(|c: char| c.is_ascii_digit())
    {
        return match s.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => Ok(Port::Number(n as u16)),
            _ => Err(bad(
                format!("port {s} is not a port number"),
                "a port number is a whole number from 1 to 65535",
            )),
        };
    }
    let ok = s.len() <= 15
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--");
    if ok {
        Ok(Port::Name(s.to_string()))
    } else {
        Err(bad(
            format!("port `{s}` is neither a number nor a port name"),
            "use the Service port's number (1-65535) or its name (at most 15 lowercase letters, digits and `-`, as in the Service's `ports[].name`)",
        ))
    }
}

/// A host name: a DNS subdomain, optionally with a leading `*.`; empty means any host.
pub fn host(s: &str) -> Result<(), Bad> {
    if s.is_empty() {
        return Ok(());
    }
    if let Some((scheme, rest)) = s.split_once("://") {
        return Err(bad(
            format!("host `{s}` is a URL"),
            format!(
                "write the host name alone, without `{scheme}://` or a path: `{}`",
                rest.split(['/', ':']).next().unwrap_or(rest)
            ),
        ));
    }
    let name = s.strip_prefix("*.").unwrap_or(s);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if s.len() <= 253
        && name.split('.').all(label_ok)
        && !name.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        Ok(())
    } else {
        Err(bad(
            format!("host `{s}` is not a DNS name"),
            "use a lowercase DNS name such as `app.example.com` (a leading `*.` is allowed; no port, no IP address)",
        ))
    }
}

/// A URL path prefix: starts with `/`, no spaces, query or fragment.
pub fn path(s: &str) -> Result<(), Bad> {
    if s.starts_with('/') && !s.contains(|c: char| c.is_whitespace() || c == '?' || c == '#') {
        Ok(())
    } else {
        Err(bad(
            format!("path `{s}` is not a URL path"),
            "start it with `/` (e.g. `/` or `/app`), without spaces, `?` or `#`",
        ))
    }
}

/// `true`/`false` (also `yes`/`no`, `1`/`0`, empty = false), as config values render.
pub fn boolean(field: &str, s: &str) -> Result<bool, Bad> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" | "" => Ok(false),
        _ => Err(bad(
            format!("`{field}` is `{s}`, not true or false"),
            "write true or false, or a template that renders one (e.g. from a `bool` config item)",
        )),
    }
}

/// A flavour name (empty means `auto`).
pub fn flavour(s: &str) -> Result<(), Bad> {
    let s = s.trim();
    if s.is_empty() || EXPOSE_FLAVOURS.contains(&s) {
        return Ok(());
    }
    let mut help = format!("choose one of {}", EXPOSE_FLAVOURS.join(", "));
    if let Some(m) = did_you_mean(s, EXPOSE_FLAVOURS.iter().copied()) {
        help = format!("did you mean `{m}`? {help}");
    }
    Err(Bad {
        message: format!("flavour `{s}` is not one berth generates for"),
        help,
        code: "unknown-flavour",
    })
}

/// TLS termination: `edge` (or empty) or `passthrough`.
pub fn termination(s: &str) -> Result<(), Bad> {
    match s.trim() {
        "" | "edge" | "passthrough" => Ok(()),
        other => Err(bad(
            format!("tls.termination `{other}` is not edge or passthrough"),
            "use `edge` (the controller terminates TLS) or `passthrough` (the app does)",
        )),
    }
}

/// An IngressClass name or a Gateway as `name` or `namespace/name`.
pub fn class_name(s: &str) -> Result<(), Bad> {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 253
            && !p.starts_with(['-', '.'])
            && !p.ends_with(['-', '.'])
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    };
    let ok = s.is_empty()
        || match s.split_once('/') {
            Some((ns, name)) => part_ok(ns) && part_ok(name) && !ns.contains('.'),
            None => part_ok(s),
        };
    if ok {
        Ok(())
    } else {
        Err(bad(
            format!("className `{s}` is not an IngressClass or Gateway name"),
            "use an IngressClass name (`nginx`) or a Gateway as `name` or `namespace/name`",
        ))
    }
}

/// Config items a template reads (`.Config.<item>`), in order of appearance.
pub fn config_refs(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find(".Config.") {
        let tail = &rest[i + ".Config.".len()..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if end > 0 {
            out.push(&tail[..end]);
        }
        rest = &tail[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_numbers_and_names() {
        assert_eq!(port("80").expect("80"), Port::Number(80));
        assert_eq!(port("http").expect("http"), Port::Name("http".into()));
        assert!(port("0").is_err());
        assert!(port("70000").is_err());
        assert!(port("-1").is_err());
        assert!(port("Http").is_err());
        assert!(port("a-very-long-port-name").is_err());
    }

    #[test]
    fn hosts_paths_flavours() {
        assert!(host("app.example.com").is_ok());
        assert!(host("*.example.com").is_ok());
        assert!(host("").is_ok());
        let e = host("https://app.example.com/x").expect_err("url");
        assert!(e.help.contains("`app.example.com`"), "{e:?}");
        assert!(host("10.0.0.1").is_err());
        assert!(host("App.example.com").is_err());
        assert!(path("/").is_ok());
        assert!(path("app").is_err());
        let e = flavour("treafik").expect_err("typo");
        assert_eq!(e.code, "unknown-flavour");
        assert!(e.help.contains("did you mean `traefik`"), "{e:?}");
        assert!(class_name("gateways/public").is_ok());
        assert!(class_name("a/b/c").is_err());
        assert_eq!(
            config_refs("{{ .Config.host }}.{{ .Config.domain_1 }}"),
            vec!["host", "domain_1"]
        );
    }
}
