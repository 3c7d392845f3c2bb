//! Network collectors shared by the host and cluster lists: HTTP requests, TCP connections and
//! port checks. Every network wait is bounded: a URL that never answers ends as an error
//! record, not a hang.

use super::{CollectError, field_bool, field_duration, field_str};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// Default bound for an HTTP request without `timeout`.
pub const HTTP_DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default bound for a TCP connection attempt (troubleshoot's 10 s).
pub const TCP_DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Install the process-wide rustls provider (ring); needed before building reqwest clients.
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Run the `http` collector's request and return troubleshoot's result document:
/// `{"response":{status,body,headers,raw_json?}}` or `{"error":{message}}`.
pub async fn http_result(fields: &Value) -> Result<Value, CollectError> {
    let (method, req) = ["get", "post", "put"]
        .iter()
        .find_map(|m| fields.get(*m).map(|r| (*m, r)))
        .ok_or_else(|| CollectError::Spec("http needs one of get, post or put".into()))?;
    let url = field_str(req, "url")
        .ok_or_else(|| CollectError::Spec(format!("http.{method}.url is required")))?;
    let timeout = field_duration(req, "timeout")?.unwrap_or(HTTP_DEFAULT_TIMEOUT);
    ensure_crypto_provider();
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(TCP_DEFAULT_TIMEOUT));
    if field_bool(req, "insecureSkipVerify") {
        b = b.danger_accept_invalid_certs(true);
    }
    if let Some(ca) = req.get("tls").and_then(|t| field_str(t, "cacert")) {
        match reqwest::Certificate::from_pem(ca.as_bytes()) {
            Ok(c) => b = b.add_root_certificate(c),
            Err(e) => return Err(CollectError::Spec(format!("http tls.cacert: {e}"))),
        }
    }
    if let Some(p) = field_str(req, "proxy") {
        match reqwest::Proxy::all(p) {
            Ok(p) => b = b.proxy(p),
            Err(e) => return Err(CollectError::Spec(format!("http proxy {p:?}: {e}"))),
        }
    }
    let client = b
        .build()
        .map_err(|e| CollectError::Failed(format!("http client: {e}")))?;
    let mut rb = match method {
        "post" => client.post(url),
        "put" => client.put(url),
        _ => client.get(url),
    };
    if let Some(h) = req.get("headers").and_then(Value::as_object) {
        for (k, v) in h {
            if let Some(v) = v.as_str() {
                rb = rb.header(k, v);
            }
        }
    }
    if let Some(body) = field_str(req, "body") {
        rb = rb.body(body.to_string());
    }
    let resp = match rb.send().await {
        Ok(r) => r,
        Err(e) => return Ok(json!({ "error": { "message": error_chain(&e) } })),
    };
    let status = resp.status().as_u16();
    let mut headers = Map::new();
    for (k, v) in resp.headers() {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        let name = canonical_header(k.as_str());
        match headers.get_mut(&name) {
            Some(Value::String(s)) => {
                s.push(',');
                s.push_str(&v);
            }
            _ => {
                headers.insert(name, Value::String(v));
            }
        }
    }
    // Bound the body: a collector must not buffer an endless stream.
    let mut body = Vec::new();
    let mut resp = resp;
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                body.extend_from_slice(&c);
                if body.len() > 10 << 20 {
                    body.truncate(10 << 20);
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return Ok(json!({ "error": { "message": error_chain(&e) } })),
        }
    }
    let body_s = String::from_utf8_lossy(&body).into_owned();
    let mut response = json!({ "status": status, "body": body_s, "headers": headers });
    if let Ok(j) = serde_json::from_slice::<Value>(&body)
        && (j.is_object() || j.is_array())
    {
        response["raw_json"] = j;
    }
    Ok(json!({ "response": response }))
}

fn canonical_header(k: &str) -> String {
    k.split('-')
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// An error with its causes, on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let cs = c.to_string();
        if !s.contains(&cs) {
            s.push_str(": ");
            s.push_str(&cs);
        }
        cur = c.source();
    }
    s
}

/// Network status words troubleshoot's analyzers match.
pub fn status(status: &str, message: impl Into<String>) -> Value {
    json!({ "status": status, "message": message.into() })
}

/// Try a TCP connection: `connected`, `connection-refused`, `connection-timeout` or `error`.
pub async fn tcp_connect(address: &str, timeout: Duration) -> Value {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
        Err(_) => status(
            "connection-timeout",
            format!("no answer from {address} within {timeout:?}"),
        ),
        Ok(Ok(_)) => status("connected", ""),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            status("connection-refused", e.to_string())
        }
        Ok(Err(e)) => status("error", e.to_string()),
    }
}

/// Check that a TCP port can be listened on and reached: bind, then dial ourselves and
/// exchange a token (troubleshoot's check, which catches firewalls dropping local traffic).
pub async fn tcp_port_status(ip: std::net::Ipv4Addr, port: u16) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = match tokio::net::TcpListener::bind((ip, port)).await {
        Ok(l) => l,
        Err(e) => return bind_error(e),
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    let token: [u8; 8] = rand_token();
    let server = tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(&token).await;
        }
    });
    let dial_ip = if ip.is_unspecified() {
        std::net::Ipv4Addr::LOCALHOST
    } else {
        ip
    };
    let result = tokio::time::timeout(TCP_DEFAULT_TIMEOUT, async {
        let mut c = tokio::net::TcpStream::connect((dial_ip, port)).await?;
        let mut got = [0u8; 8];
        c.read_exact(&mut got).await?;
        Ok::<bool, std::io::Error>(got == token)
    })
    .await;
    server.abort();
    match result {
        Ok(Ok(true)) => status("connected", ""),
        Ok(Ok(false)) => status("error", "another process answered on the port"),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            status("connection-refused", e.to_string())
        }
        Ok(Err(e)) => status("error", e.to_string()),
        Err(_) => status(
            "connection-timeout",
            "dialling the port timed out; a firewall may drop the traffic",
        ),
    }
}

/// Check that a UDP port can be bound.
pub async fn udp_port_status(ip: std::net::Ipv4Addr, port: u16) -> Value {
    match tokio::net::UdpSocket::bind((ip, port)).await {
        Ok(_) => status("connected", ""),
        Err(e) => bind_error(e),
    }
}

fn bind_error(e: std::io::Error) -> Value {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => status("address-in-use", e.to_string()),
        std::io::ErrorKind::PermissionDenied => status("bind-permission-denied", e.to_string()),
        std::io::ErrorKind::AddrNotAvailable => status("invalid-address", e.to_string()),
        _ => status("error", e.to_string()),
    }
}

fn rand_token() -> [u8; 8] {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ (std::process::id() as u64) << 32;
    n.to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn port_checks_see_a_taken_port_and_a_free_one() {
        let taken = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
        let port = taken.local_addr().unwrap().port();
        let v = tcp_port_status(std::net::Ipv4Addr::UNSPECIFIED, port).await;
        assert_eq!(v["status"], "address-in-use");
        drop(taken);
        let v = tcp_port_status(std::net::Ipv4Addr::UNSPECIFIED, 0).await;
        assert_eq!(v["status"], "connected", "{v}");
    }

    #[tokio::test]
    async fn tcp_connect_refused_and_connected() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        assert_eq!(
            tcp_connect(&addr, TCP_DEFAULT_TIMEOUT).await["status"],
            "connected"
        );
        drop(l);
        assert_eq!(
            tcp_connect(&addr, TCP_DEFAULT_TIMEOUT).await["status"],
            "connection-refused"
        );
    }

    #[tokio::test]
    async fn http_that_never_answers_is_bounded() {
        // Accepts the connection and never replies.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        });
        let fields = json!({"get": {"url": format!("http://{addr}/"), "timeout": "300ms"}});
        let v = http_result(&fields).await.unwrap();
        hold.abort();
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(!msg.is_empty(), "{v}");
    }

    #[tokio::test]
    async fn http_records_status_headers_and_json() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            if let Ok((mut s, _)) = l.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let body = r#"{"ok":true}"#;
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            }
        });
        let v = http_result(&json!({"get": {"url": format!("http://{addr}/x")}}))
            .await
            .unwrap();
        assert_eq!(v["response"]["status"], 201);
        assert_eq!(v["response"]["headers"]["Content-Type"], "application/json");
        assert_eq!(v["response"]["raw_json"]["ok"], true);
        let bad = http_result(&json!({"get": {}})).await;
        assert!(matches!(bad, Err(CollectError::Spec(_))));
    }
}
