//! The host and port a container's command connects to: `wget [-T N] URL`, `curl
//! [--connect-timeout N | -m N] URL`, `nc [-w N] HOST PORT`, also inside `sh -c "…"`. URLs
//! may leave out the scheme (`web:8080/healthz`); hosts may be `NAME`, `NAME.NS`,
//! `NAME.NS.svc` or `NAME.NS.svc.cluster.local`.

use serde_json::Value;

/// The client program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Wget,
    Curl,
    Nc,
}

impl Tool {
    fn of(word: &str) -> Option<Tool> {
        match word.rsplit('/').next().unwrap_or(word) {
            "wget" => Some(Tool::Wget),
            "curl" => Some(Tool::Curl),
            "nc" | "ncat" | "netcat" => Some(Tool::Nc),
            _ => None,
        }
    }

    /// The program's name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Wget => "wget",
            Tool::Curl => "curl",
            Tool::Nc => "nc",
        }
    }

    /// Short options that take a value, and long ones (without `=`).
    fn value_options(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Tool::Wget => (
                "OoTUPYtw",
                &[
                    "--output-document",
                    "--timeout",
                    "--header",
                    "--user-agent",
                    "--post-data",
                    "--tries",
                ],
            ),
            Tool::Curl => (
                "oOmwHXdueAErTFbcxKy",
                &[
                    "--connect-timeout",
                    "--max-time",
                    "--output",
                    "--write-out",
                    "--header",
                    "--request",
                    "--data",
                    "--user",
                    "--retry",
                    "--retry-delay",
                    "--cacert",
                    "--resolve",
                ],
            ),
            Tool::Nc => ("wpsiq", &[]),
        }
    }

    /// The options that set the connect timeout in seconds.
    fn timeout_options(self) -> (&'static [char], &'static [&'static str]) {
        match self {
            Tool::Wget => (&['T'], &["--timeout"]),
            Tool::Curl => (&['m'], &["--connect-timeout", "--max-time"]),
            Tool::Nc => (&['w'], &[]),
        }
    }
}

/// Where a command connects.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub tool: Tool,
    /// The host as written (`web`, `web.shop.svc.cluster.local`, `10.96.0.12`).
    pub host: String,
    /// The port as written, else the scheme's (80 for http, 443 for https).
    pub port: Option<u16>,
    /// The timeout the command sets, in seconds.
    pub timeout_secs: Option<f64>,
}

impl Target {
    /// The Service `(name, namespace)` the host names, with `default_ns` for a bare name;
    /// None for an IP address or a name outside the cluster.
    pub fn service(&self, default_ns: &str) -> Option<(String, String)> {
        if self.host.parse::<std::net::Ipv4Addr>().is_ok() {
            return None;
        }
        let parts: Vec<&str> = self.host.trim_end_matches('.').split('.').collect();
        match parts.as_slice() {
            [name] => Some((name.to_string(), default_ns.to_string())),
            [name, ns] | [name, ns, "svc"] | [name, ns, "svc", "cluster", "local"] => {
                Some((name.to_string(), ns.to_string()))
            }
            _ => None,
        }
    }
}

/// The words of a container's `command` then `args`.
pub fn container_words(container: &Value) -> Vec<String> {
    ["command", "args"]
        .iter()
        .filter_map(|k| container.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|w| w.as_str().map(String::from))
        .collect()
}

/// Split a shell script into words and the separators `;`, `&&`, `||`, `|` (quotes are
/// dropped; no expansion).
fn shell_words(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur));
        }
    };
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c.is_whitespace() => flush(&mut cur, &mut out),
            (None, ';' | '\n') => {
                flush(&mut cur, &mut out);
                out.push(";".into());
            }
            (None, '&' | '|') => {
                flush(&mut cur, &mut out);
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                out.push(";".into());
            }
            (None, c) => cur.push(c),
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// The words a container runs: a shell's `-c` script split into words, else the words.
fn run_words(words: &[String]) -> Vec<String> {
    let shell = words
        .first()
        .is_some_and(|w| matches!(w.rsplit('/').next(), Some("sh" | "bash" | "ash")));
    if shell && let Some(i) = words.iter().position(|w| w == "-c" || w == "-ec") {
        return words[i + 1..].iter().flat_map(|w| shell_words(w)).collect();
    }
    words.to_vec()
}

/// The first connection a command makes, if it runs wget, curl or nc.
pub fn from_words(words: &[String]) -> Option<Target> {
    let words = run_words(words);
    let mut i = 0;
    while i < words.len() {
        if let Some(tool) = Tool::of(&words[i]) {
            let end = words[i + 1..]
                .iter()
                .position(|w| w == ";")
                .map_or(words.len(), |p| i + 1 + p);
            if let Some(t) = parse_invocation(tool, &words[i + 1..end]) {
                return Some(t);
            }
            i = end;
        }
        i += 1;
    }
    None
}

/// The first container of a pod spec whose command connects somewhere, with its target
/// (init containers, which usually wait in a loop, are not looked at).
pub fn from_pod_spec(spec: &Value) -> Option<(String, Target)> {
    spec.get("containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|c| {
            let t = from_words(&container_words(c))?;
            Some((c.get("name")?.as_str()?.to_string(), t))
        })
}

/// One tool's arguments: options (and the timeout among them), then positionals.
fn parse_invocation(tool: Tool, args: &[String]) -> Option<Target> {
    let (short_values, long_values) = tool.value_options();
    let (timeout_short, timeout_long) = tool.timeout_options();
    let mut positionals: Vec<&str> = Vec::new();
    let mut timeout: Option<f64> = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let name = format!("--{name}");
            let value = match inline {
                Some(v) => Some(v),
                None if long_values.contains(&name.as_str()) => {
                    i += 1;
                    args.get(i - 1).cloned()
                }
                None => None,
            };
            if timeout_long.contains(&name.as_str())
                && let Some(s) = value.and_then(|v| v.parse::<f64>().ok())
            {
                timeout = Some(timeout.map_or(s, |t: f64| t.min(s)));
            }
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            // Bundled short options: the first that takes a value takes the rest of the word,
            // or the next word.
            for (j, c) in a.char_indices().skip(1) {
                if short_values.contains(c) {
                    let rest = &a[j + c.len_utf8()..];
                    let value = if rest.is_empty() {
                        i += 1;
                        args.get(i - 1).cloned().unwrap_or_default()
                    } else {
                        rest.to_string()
                    };
                    if timeout_short.contains(&c)
                        && let Ok(s) = value.parse::<f64>()
                    {
                        timeout = Some(timeout.map_or(s, |t: f64| t.min(s)));
                    }
                    break;
                }
            }
            continue;
        }
        positionals.push(a);
    }
    let (host, port) = match tool {
        Tool::Nc => {
            let host = positionals.first()?;
            let port = positionals.get(1).and_then(|p| p.parse().ok());
            (host.to_string(), Some(port?))
        }
        Tool::Wget | Tool::Curl => positionals.iter().find_map(|p| url_host_port(p))?,
    };
    Some(Target {
        tool,
        host,
        port,
        timeout_secs: timeout,
    })
}

/// Host and port of a URL (`http://web:8080/x`, `web:8080`, `web.shop.svc/healthz`).
fn url_host_port(url: &str) -> Option<(String, Option<u16>)> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => ("http".to_string(), url),
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>().ok()?)),
        None => (authority, None),
    };
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && host
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if !valid {
        return None;
    }
    let port = port.or(match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    });
    Some((host.to_string(), port))
}
