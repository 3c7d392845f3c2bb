//! Sprig defaults, reflection, paths, semver, dates, uuid, url and network functions.

use super::{FnErr, Func, Res, boolean, s, strval, want_min, want_n};
use crate::exec::Exec;
use crate::semver::{Constraints, Version};
use crate::value::{MapData, Value};

pub(super) fn register(m: &mut crate::fasthash::FastMap<&'static str, Func>) {
    m.insert("default", |_, a| {
        want_min("default", a, 1)?;
        match a.get(1) {
            Some(v) if !v.is_empty() => Ok(v.clone()),
            _ => Ok(a[0].clone()),
        }
    });
    m.insert("empty", |_, a| {
        want_n("empty", a, 1)?;
        Ok(Value::Bool(a[0].is_empty()))
    });
    m.insert("coalesce", |_, a| {
        Ok(a.iter()
            .find(|v| !v.is_empty())
            .cloned()
            .unwrap_or_default())
    });
    m.insert("all", |_, a| {
        Ok(Value::Bool(a.iter().all(|v| !v.is_empty())))
    });
    m.insert("any", |_, a| {
        Ok(Value::Bool(a.iter().any(|v| !v.is_empty())))
    });
    m.insert("ternary", |_, a| {
        want_n("ternary", a, 3)?;
        let c = match &a[2] {
            Value::Bool(b) => *b,
            other => {
                return Err(FnErr::Arg(
                    2,
                    format!(
                        "wrong type for value; expected bool; got {}",
                        super::go_type(other)
                    ),
                ));
            }
        };
        let _ = boolean;
        Ok(if c { a[0].clone() } else { a[1].clone() })
    });
    m.insert("typeOf", |_, a| {
        want_n("typeOf", a, 1)?;
        Ok(Value::str(a[0].type_name()))
    });
    m.insert("typeIs", |_, a| {
        want_n("typeIs", a, 2)?;
        Ok(Value::Bool(s(a, 0)? == a[1].type_name()))
    });
    m.insert("typeIsLike", |_, a| {
        want_n("typeIsLike", a, 2)?;
        let t = a[1].type_name();
        let target = s(a, 0)?;
        Ok(Value::Bool(target == t || target == format!("*{t}")))
    });
    m.insert("kindOf", |_, a| {
        want_n("kindOf", a, 1)?;
        Ok(Value::str(a[0].kind_name()))
    });
    m.insert("kindIs", |_, a| {
        want_n("kindIs", a, 2)?;
        Ok(Value::Bool(s(a, 0)? == a[1].kind_name()))
    });
    m.insert("deepEqual", |_, a| {
        want_n("deepEqual", a, 2)?;
        Ok(Value::Bool(a[0].deep_equal(&a[1])))
    });
    // paths (path and path/filepath behave the same on Linux)
    for name in ["base", "osBase"] {
        m.insert(name, |_, a| {
            want_n("base", a, 1)?;
            Ok(Value::str(path_base(s(a, 0)?)))
        });
    }
    for name in ["dir", "osDir"] {
        m.insert(name, |_, a| {
            want_n("dir", a, 1)?;
            Ok(Value::str(path_dir(s(a, 0)?)))
        });
    }
    for name in ["clean", "osClean"] {
        m.insert(name, |_, a| {
            want_n("clean", a, 1)?;
            Ok(Value::str(path_clean(s(a, 0)?)))
        });
    }
    for name in ["ext", "osExt"] {
        m.insert(name, |_, a| {
            want_n("ext", a, 1)?;
            Ok(Value::str(path_ext(s(a, 0)?)))
        });
    }
    for name in ["isAbs", "osIsAbs"] {
        m.insert(name, |_, a| {
            want_n("isAbs", a, 1)?;
            Ok(Value::Bool(s(a, 0)?.starts_with('/')))
        });
    }
    // semver
    m.insert("semver", |_, a| {
        want_n("semver", a, 1)?;
        match Version::parse(s(a, 0)?) {
            Some(v) => Ok(Value::object(v)),
            None => Err(FnErr::Call("invalid semantic version".into())),
        }
    });
    m.insert("semverCompare", |_, a| {
        want_n("semverCompare", a, 2)?;
        let (c, v) = (s(a, 0)?, s(a, 1)?);
        let cons = Constraints::parse(c)
            .ok_or_else(|| FnErr::Call(format!("improper constraint: {c:?}")))?;
        let v = Version::parse(v).ok_or_else(|| FnErr::Call("invalid semantic version".into()))?;
        Ok(Value::Bool(cons.check(&v)))
    });
    // uuid
    m.insert("uuidv4", |_, _| {
        Ok(Value::str(uuid::Uuid::new_v4().to_string()))
    });
    // url
    m.insert("urlParse", |_, a| {
        want_n("urlParse", a, 1)?;
        url_parse(s(a, 0)?)
    });
    m.insert("urlJoin", |_, a| {
        want_n("urlJoin", a, 1)?;
        let d = super::map(a, 0)?;
        let g = |k: &str| d.get(k).map(|v| strval(&v)).unwrap_or_default();
        let mut out = String::new();
        let scheme = g("scheme");
        if !scheme.is_empty() {
            out.push_str(&scheme);
            out.push(':');
        }
        let opaque = g("opaque");
        if !opaque.is_empty() {
            out.push_str(&opaque);
        } else {
            let host = g("host");
            let user = g("userinfo");
            if !host.is_empty() || !user.is_empty() || !scheme.is_empty() && !host.is_empty() {
                out.push_str("//");
                if !user.is_empty() {
                    out.push_str(&user);
                    out.push('@');
                }
                out.push_str(&host);
            }
            let path = g("path");
            if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
                out.push('/');
            }
            out.push_str(&path);
        }
        let q = g("query");
        if !q.is_empty() {
            out.push('?');
            out.push_str(&q);
        }
        let f = g("fragment");
        if !f.is_empty() {
            out.push('#');
            out.push_str(&f);
        }
        Ok(Value::str(out))
    });
    m.insert("getHostByName", |ex: &mut Exec, a| {
        want_n("getHostByName", a, 1)?;
        let name = s(a, 0)?;
        if !ex.set.opts.enable_dns {
            return Ok(Value::str(""));
        }
        use std::net::ToSocketAddrs;
        Ok(Value::str(
            (name, 0)
                .to_socket_addrs()
                .ok()
                .and_then(|mut it| it.next())
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
        ))
    });
    crate::funcs::misc::dates::register(m);
}

fn path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

fn path_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

fn path_dir(p: &str) -> String {
    let i = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    path_clean(&p[..i])
}

fn path_ext(p: &str) -> String {
    for (i, c) in p.char_indices().rev() {
        if c == '/' {
            break;
        }
        if c == '.' {
            return p[i..].to_string();
        }
    }
    String::new()
}

fn url_parse(raw: &str) -> Res {
    let mut rest = raw;
    let mut m = MapData::new();
    let mut put = |k: &str, v: &str| {
        m.insert(k.to_string(), Value::str(v));
    };
    let (before_frag, frag) = match rest.split_once('#') {
        Some((a, b)) => (a, b),
        None => (rest, ""),
    };
    rest = before_frag;
    let (before_q, query) = match rest.split_once('?') {
        Some((a, b)) => (a, b),
        None => (rest, ""),
    };
    rest = before_q;
    let mut scheme = "";
    if let Some(i) = rest.find(':') {
        let cand = &rest[..i];
        if !cand.is_empty()
            && cand.as_bytes()[0].is_ascii_alphabetic()
            && cand
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        {
            scheme = cand;
            rest = &rest[i + 1..];
        } else if i == 0 {
            return Err(FnErr::Call(format!(
                "unable to parse url: parse {:?}: missing protocol scheme",
                raw
            )));
        }
    }
    let (mut host, mut user, mut path, mut opaque) = ("", "", "", "");
    if let Some(r) = rest.strip_prefix("//") {
        let end = r.find('/').unwrap_or(r.len());
        let auth = &r[..end];
        path = &r[end..];
        match auth.rsplit_once('@') {
            Some((u, h)) => {
                user = u;
                host = h;
            }
            None => host = auth,
        }
    } else if !scheme.is_empty() && !rest.starts_with('/') {
        opaque = rest;
    } else {
        path = rest;
    }
    let hostname = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
    };
    put("scheme", &scheme.to_ascii_lowercase());
    put("host", host);
    put("hostname", hostname);
    put("path", path);
    put("query", query);
    put("opaque", opaque);
    put("fragment", frag);
    put("userinfo", user);
    Ok(Value::map(m))
}

pub(crate) mod dates;

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(c: &str, v: &str) -> bool {
        Constraints::parse(c)
            .unwrap()
            .check(&Version::parse(v).unwrap())
    }

    #[test]
    fn semver_constraints() {
        assert!(!sc(">=1.20", "v1.28.3-gke.100"));
        assert!(sc(">=1.20-0", "v1.28.3-gke.100"));
        assert!(sc(">=1.20.0", "1.28.3"));
        assert!(sc("^1.2.3", "1.9.0"));
        assert!(!sc("^1.2.3", "2.0.0"));
        assert!(sc("~1.2.3", "1.2.9"));
        assert!(!sc("~1.2.3", "1.3.0"));
        assert!(sc("1.x", "1.5.0"));
        assert!(sc("<1.20 || >=1.25", "1.26.0"));
        assert!(!sc(">1.2, <1.4", "1.4.0"));
        assert!(sc("1.2 - 1.4", "1.3.5"));
        assert!(sc("*", "3.0.0"));
    }

    #[test]
    fn paths() {
        assert_eq!(path_clean("a//b/../c/."), "a/c");
        assert_eq!(path_base("/a/b.txt"), "b.txt");
        assert_eq!(path_dir("/a/b.txt"), "/a");
        assert_eq!(path_ext("x/a.tar.gz"), ".gz");
    }
}
