//! Database connectivity collectors (`postgres`, `mysql`, `redis`): connect, authenticate,
//! read the server version. PostgreSQL goes through `tokio-postgres`; MySQL/MariaDB and Redis
//! speak just enough of their wire protocols for the handshake and the version, which keeps
//! two driver stacks out of the binary. Output: `{isConnected, error?, version?}`.
//! Error text never includes the connection URI (it holds the password).

use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bound for connecting and each protocol step.
pub const DB_TIMEOUT: Duration = Duration::from_secs(10);

/// Check one database; never fails: failures are `isConnected: false` with an error.
pub async fn check(kind: &str, uri: &str) -> Value {
    let r = tokio::time::timeout(DB_TIMEOUT * 2, async {
        match kind {
            "postgres" => postgres(uri).await,
            "mysql" => mysql(uri).await,
            _ => redis(uri).await,
        }
    })
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {:?}", DB_TIMEOUT * 2)));
    match r {
        Ok(version) => json!({"isConnected": true, "version": version}),
        Err(e) => json!({"isConnected": false, "error": e}),
    }
}

/// The leading `N.N.N` of a version string (`10.11.6-MariaDB-0+deb12u1` → `10.11.6`).
pub fn numeric_version(s: &str) -> String {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s[..end].trim_end_matches('.').to_string()
}

async fn postgres(uri: &str) -> Result<String, String> {
    let mut cfg: tokio_postgres::Config = uri
        .parse()
        .map_err(|e: tokio_postgres::Error| format!("invalid postgres uri: {e}"))?;
    cfg.connect_timeout(DB_TIMEOUT);
    let (client, conn) = cfg
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| super::net::error_chain(&e))?;
    let task = tokio::spawn(conn);
    let r = client
        .query_one("select version()", &[])
        .await
        .map_err(|e| super::net::error_chain(&e));
    task.abort();
    let row = r?;
    let full: String = row.try_get(0).map_err(|e| e.to_string())?;
    // "PostgreSQL 15.5 (Debian 15.5-0+deb12u1) on x86_64..."
    Ok(numeric_version(
        full.strip_prefix("PostgreSQL ").unwrap_or(&full),
    ))
}

struct Parsed {
    host: String,
    port: u16,
    user: String,
    password: String,
    db: String,
}

/// `mysql://user:pass@tcp(host:port)/db` (Go DSN) or `mysql://user:pass@host:port/db`,
/// `redis://[:pass@]host:port[/db]`.
fn parse_uri(uri: &str, default_port: u16) -> Result<Parsed, String> {
    let s = uri.split_once("://").map_or(uri, |(_, r)| r);
    let (auth, rest) = match s.rfind('@') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => ("", s),
    };
    let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
    let rest = rest.split('?').next().unwrap_or(rest);
    let (hostport, db) = if let Some(r) = rest.strip_prefix("tcp(") {
        let (hp, after) = r.split_once(')').ok_or("unclosed tcp( in dsn")?;
        (hp, after.trim_start_matches('/'))
    } else {
        rest.split_once('/').unwrap_or((rest, ""))
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("invalid port {p:?} in the uri"))?,
        ),
        None => (hostport, default_port),
    };
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Parsed {
        host: if host.is_empty() {
            "localhost".into()
        } else {
            host.to_string()
        },
        port,
        user: dec(user),
        password: dec(password),
        db: db.to_string(),
    })
}

async fn connect(p: &Parsed) -> Result<TcpStream, String> {
    tokio::time::timeout(DB_TIMEOUT, TcpStream::connect((p.host.as_str(), p.port)))
        .await
        .map_err(|_| format!("connecting to {}:{} timed out", p.host, p.port))?
        .map_err(|e| format!("connecting to {}:{}: {e}", p.host, p.port))
}

async fn read_packet(s: &mut TcpStream) -> Result<(u8, Vec<u8>), String> {
    let mut h = [0u8; 4];
    tokio::time::timeout(DB_TIMEOUT, s.read_exact(&mut h))
        .await
        .map_err(|_| "server did not answer".to_string())?
        .map_err(|e| format!("reading from the server: {e}"))?;
    let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
    let mut buf = vec![0u8; len];
    tokio::time::timeout(DB_TIMEOUT, s.read_exact(&mut buf))
        .await
        .map_err(|_| "server stopped mid-packet".to_string())?
        .map_err(|e| format!("reading from the server: {e}"))?;
    Ok((h[3], buf))
}

async fn write_packet(s: &mut TcpStream, seq: u8, payload: &[u8]) -> Result<(), String> {
    let len = payload.len() as u32;
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&len.to_le_bytes()[..3]);
    out.push(seq);
    out.extend_from_slice(payload);
    s.write_all(&out).await.map_err(|e| e.to_string())
}

fn native_password(password: &str, scramble: &[u8]) -> Vec<u8> {
    use sha1::{Digest, Sha1};
    if password.is_empty() {
        return Vec::new();
    }
    let h1 = Sha1::digest(password.as_bytes());
    let h2 = Sha1::digest(h1);
    let mut h = Sha1::new();
    h.update(scramble);
    h.update(h2);
    let h3 = h.finalize();
    h1.iter().zip(h3.iter()).map(|(a, b)| a ^ b).collect()
}

fn caching_sha2(password: &str, scramble: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    if password.is_empty() {
        return Vec::new();
    }
    let h1 = Sha256::digest(password.as_bytes());
    let h2 = Sha256::digest(h1);
    let mut h = Sha256::new();
    h.update(h2);
    h.update(scramble);
    let h3 = h.finalize();
    h1.iter().zip(h3.iter()).map(|(a, b)| a ^ b).collect()
}

fn mysql_err(payload: &[u8]) -> String {
    let code = if payload.len() >= 3 {
        u16::from_le_bytes([payload[1], payload[2]])
    } else {
        0
    };
    let mut msg = payload.get(3..).unwrap_or_default();
    if msg.first() == Some(&b'#') {
        msg = msg.get(6..).unwrap_or_default();
    }
    format!("server error {code}: {}", String::from_utf8_lossy(msg))
}

async fn mysql(uri: &str) -> Result<String, String> {
    let p = parse_uri(uri, 3306)?;
    let mut s = connect(&p).await?;
    let (_, hs) = read_packet(&mut s).await?;
    if hs.first() == Some(&0xff) {
        return Err(mysql_err(&hs));
    }
    if hs.first() != Some(&10) {
        return Err("not a MySQL/MariaDB server (unexpected handshake)".into());
    }
    let nul = hs[1..]
        .iter()
        .position(|&b| b == 0)
        .ok_or("bad handshake")?
        + 1;
    let version = String::from_utf8_lossy(&hs[1..nul]).into_owned();
    let mut i = nul + 1 + 4;
    let part1 = hs.get(i..i + 8).ok_or("short handshake")?.to_vec();
    i += 8 + 1 + 2 + 1 + 2 + 2;
    let auth_len = *hs.get(i).unwrap_or(&0) as usize;
    i += 1 + 10;
    let part2_len = auth_len.saturating_sub(8).max(13);
    let part2 = hs.get(i..(i + part2_len).min(hs.len())).unwrap_or_default();
    let mut scramble = part1;
    scramble.extend_from_slice(part2.strip_suffix(&[0]).unwrap_or(part2));
    i += part2_len;
    let plugin = hs
        .get(i..)
        .map(|r| {
            let end = r.iter().position(|&b| b == 0).unwrap_or(r.len());
            String::from_utf8_lossy(&r[..end]).into_owned()
        })
        .unwrap_or_default();
    let plugin = if plugin.is_empty() {
        "mysql_native_password".to_string()
    } else {
        plugin
    };
    let auth = |plugin: &str, scramble: &[u8]| match plugin {
        "caching_sha2_password" => caching_sha2(&p.password, scramble),
        _ => native_password(&p.password, scramble),
    };
    let mut caps: u32 = 0x0000_0001 | 0x0000_0200 | 0x0000_8000 | 0x0008_0000;
    if !p.db.is_empty() {
        caps |= 0x0000_0008;
    }
    let mut resp = Vec::new();
    resp.extend_from_slice(&caps.to_le_bytes());
    resp.extend_from_slice(&(16u32 << 20).to_le_bytes());
    resp.push(33);
    resp.extend_from_slice(&[0u8; 23]);
    resp.extend_from_slice(p.user.as_bytes());
    resp.push(0);
    let a = auth(&plugin, &scramble);
    resp.push(a.len() as u8);
    resp.extend_from_slice(&a);
    if !p.db.is_empty() {
        resp.extend_from_slice(p.db.as_bytes());
        resp.push(0);
    }
    resp.extend_from_slice(plugin.as_bytes());
    resp.push(0);
    write_packet(&mut s, 1, &resp).await?;
    let mut current = plugin.clone();
    for _ in 0..4 {
        let (seq, pkt) = read_packet(&mut s).await?;
        match pkt.first() {
            // MariaDB prefixes its version with "5.5.5-" for old clients.
            Some(0x00) => {
                return Ok(numeric_version(
                    version.strip_prefix("5.5.5-").unwrap_or(&version),
                ));
            }
            Some(0xff) => return Err(mysql_err(&pkt)),
            Some(0xfe) => {
                // Auth switch: plugin name, then new scramble.
                let r = &pkt[1..];
                let end = r.iter().position(|&b| b == 0).unwrap_or(r.len());
                current = String::from_utf8_lossy(&r[..end]).into_owned();
                let data = r.get(end + 1..).unwrap_or_default();
                let data = data.strip_suffix(&[0]).unwrap_or(data);
                write_packet(&mut s, seq.wrapping_add(1), &auth(&current, data)).await?;
            }
            Some(0x01) if current == "caching_sha2_password" => match pkt.get(1) {
                Some(3) => continue,
                _ => {
                    return Err(
                        "the server wants full caching_sha2_password authentication, which needs TLS; \
                         berth's connectivity check supports the fast path only"
                            .into(),
                    );
                }
            },
            _ => return Err("unexpected reply during authentication".into()),
        }
    }
    Err("authentication did not complete".into())
}

async fn redis_cmd(s: &mut TcpStream, args: &[&str]) -> Result<Vec<u8>, String> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    s.write_all(&out).await.map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = tokio::time::timeout(DB_TIMEOUT, s.read(&mut chunk))
            .await
            .map_err(|_| "server did not answer".to_string())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 1 << 20 {
            return Err("reply too large".into());
        }
        match buf.first() {
            Some(b'+') | Some(b'-') | Some(b':') if buf.ends_with(b"\r\n") => break,
            Some(b'$') => {
                if let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") {
                    let len: i64 = String::from_utf8_lossy(&buf[1..eol]).parse().unwrap_or(-1);
                    if len < 0 || buf.len() >= eol + 2 + len as usize + 2 {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    if buf.first() == Some(&b'-') {
        return Err(format!(
            "server error: {}",
            String::from_utf8_lossy(&buf[1..]).trim()
        ));
    }
    Ok(buf)
}

async fn redis(uri: &str) -> Result<String, String> {
    let p = parse_uri(uri, 6379)?;
    let mut s = connect(&p).await?;
    if !p.password.is_empty() {
        if p.user.is_empty() {
            redis_cmd(&mut s, &["AUTH", &p.password]).await?;
        } else {
            redis_cmd(&mut s, &["AUTH", &p.user, &p.password]).await?;
        }
    }
    let info = redis_cmd(&mut s, &["INFO", "server"]).await?;
    let text = String::from_utf8_lossy(&info);
    text.lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| "INFO server did not report redis_version".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_forms() {
        let p = parse_uri("mysql://root:p%40ss@tcp(127.0.0.1:3307)/app", 3306).unwrap();
        assert_eq!(
            (
                p.host.as_str(),
                p.port,
                p.user.as_str(),
                p.password.as_str(),
                p.db.as_str()
            ),
            ("127.0.0.1", 3307, "root", "p@ss", "app")
        );
        let p = parse_uri("redis://:secret@10.0.0.1", 6379).unwrap();
        assert_eq!((p.port, p.password.as_str()), (6379, "secret"));
        assert!(parse_uri("mysql://u@h:notaport/x", 3306).is_err());
    }

    #[test]
    fn versions() {
        assert_eq!(numeric_version("10.11.6-MariaDB-0+deb12u1"), "10.11.6");
        assert_eq!(numeric_version("15.5 (Debian 15.5-0+deb12u1)"), "15.5");
    }

    #[tokio::test]
    async fn refused_connections_are_reported_not_raised() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        for kind in ["postgres", "mysql", "redis"] {
            let uri = format!("{kind}://u:topsecret@127.0.0.1:{port}/db");
            let v = check(kind, &uri).await;
            assert_eq!(v["isConnected"], false, "{kind}: {v}");
            assert!(!v["error"].as_str().unwrap().contains("topsecret"), "{v}");
        }
    }
}
