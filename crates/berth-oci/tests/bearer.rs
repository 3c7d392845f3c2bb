//! Bearer-token auth (the Docker Hub / GHCR / Harbor flow) against Debian's docker-registry
//! configured with `auth: token`, and a token service in the test that checks basic
//! credentials and issues ES256 JWTs the registry verifies with its root certificate.

mod common;

use base64::Engine as _;
use berth_oci::transfer::{self, NoProgress, PushItem};
use berth_oci::{Client, ClientConfig, Layout, Reference};
use common::*;
use std::process::{Command, Stdio};

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// ASN.1 DER ECDSA signature → JWS r||s (32 bytes each).
fn der_to_jws(der: &[u8]) -> Vec<u8> {
    fn int(b: &[u8]) -> (&[u8], &[u8]) {
        assert_eq!(b[0], 0x02);
        let len = b[1] as usize;
        (&b[2..2 + len], &b[2 + len..])
    }
    let body = &der[2..];
    let (r, rest) = int(body);
    let (s, _) = int(rest);
    let fix = |x: &[u8]| {
        let x = if x.len() > 32 { &x[x.len() - 32..] } else { x };
        let mut out = vec![0u8; 32 - x.len()];
        out.extend_from_slice(x);
        out
    };
    [fix(r), fix(s)].concat()
}

struct TokenService {
    key: rcgen::KeyPair,
    cert_der: Vec<u8>,
}

impl TokenService {
    fn jwt(&self, access: Vec<serde_json::Value>) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT",
            "x5c": [base64::engine::general_purpose::STANDARD.encode(&self.cert_der)]});
        let claims = serde_json::json!({"iss": "berth-test-issuer", "sub": USER, "aud": "berth-test",
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", access.len()), "access": access});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let sig = rcgen::SigningKey::sign(&self.key, input.as_bytes()).unwrap();
        format!("{input}.{}", b64url(&der_to_jws(&sig)))
    }
}

#[test]
fn bearer_token_auth_push_and_pull() {
    let (Some(reg_bin), Some(sk)) = (
        tool("BERTH_TEST_DOCKER_REGISTRY"),
        tool("BERTH_TEST_SKOPEO"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["token-issuer".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.path().join("root.pem"), cert.pem()).unwrap();
    let svc = std::sync::Arc::new(TokenService {
        key,
        cert_der: cert.der().to_vec(),
    });
    let rt = rt();
    // Token service: basic credentials in, JWT with the requested access out.
    let token_listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let token_addr = token_listener.local_addr().unwrap();
    let s2 = svc.clone();
    let app = axum::Router::new().route(
        "/token",
        axum::routing::get(
            move |headers: axum::http::HeaderMap,
                  axum::extract::RawQuery(q): axum::extract::RawQuery| {
                let svc = s2.clone();
                async move {
                    let want = format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD
                            .encode(format!("{USER}:{PASSWORD}"))
                    );
                    if headers.get("authorization").and_then(|h| h.to_str().ok())
                        != Some(want.as_str())
                    {
                        return (axum::http::StatusCode::UNAUTHORIZED, String::new());
                    }
                    let mut access = Vec::new();
                    for (k, v) in url::form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
                        if k == "scope" {
                            let parts: Vec<&str> = v.split(':').collect();
                            if parts.len() == 3 {
                                access.push(serde_json::json!({"type": parts[0], "name": parts[1],
                                "actions": parts[2].split(',').collect::<Vec<_>>()}));
                            }
                        }
                    }
                    (
                        axum::http::StatusCode::OK,
                        serde_json::json!({"token": svc.jwt(access)}).to_string(),
                    )
                }
            },
        ),
    );
    rt.spawn(async move { axum::serve(token_listener, app).await });
    // docker-registry with token auth.
    let port = free_port();
    let cfg = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {d}/data\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  token:\n    realm: http://{token_addr}/token\n    service: berth-test\n    issuer: berth-test-issuer\n    rootcertbundle: {d}/root.pem\n",
        d = dir.path().display()
    );
    std::fs::write(dir.path().join("config.yml"), cfg).unwrap();
    let mut child = Command::new(&reg_bin)
        .arg("serve")
        .arg(dir.path().join("config.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port);
    let host = format!("127.0.0.1:{port}");
    let imgs = make_images(&dir.path().join("src"), 120, 100_000);
    let cfg = ClientConfig {
        insecure: true,
        credentials: Some(berth_oci::auth::Credentials {
            username: USER.into(),
            password: PASSWORD.into(),
        }),
        docker_config: Some(dir.path().join("none.json")),
        ..Default::default()
    };
    let client = Client::new(cfg.clone()).unwrap();
    let items: Vec<PushItem> = [("a", &imgs.app), ("b", &imgs.worker)]
        .iter()
        .map(|(n, d)| {
            let mut d = (*d).clone();
            d.annotations.clear();
            PushItem {
                descriptor: d,
                target: Reference::parse(&format!("{host}/tok/{n}:1")).unwrap(),
            }
        })
        .collect();
    let result = rt.block_on(transfer::push_images(
        &client,
        &imgs.layout,
        &items,
        &NoProgress,
    ));
    let stats = match result {
        Ok(s) => s,
        Err(e) => {
            let _ = child.kill();
            panic!("push with bearer tokens failed: {e}");
        }
    };
    // The shared base layer was mounted across repositories (needs a two-repository token).
    assert!(stats.blobs_mounted + stats.blobs_skipped >= 1, "{stats:?}");
    let dest = Layout::create(dir.path().join("pulled")).unwrap();
    let (p, _) = rt
        .block_on(transfer::pull_images(
            &client,
            &[Reference::parse(&format!("{host}/tok/b:1")).unwrap()],
            &dest,
            &[],
            &NoProgress,
        ))
        .unwrap();
    assert_eq!(p[0].descriptor.digest, imgs.worker.digest);
    // skopeo, through the same token service, sees the digest berth pushed.
    let out = Command::new(&sk)
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("--creds={USER}:{PASSWORD}"),
        ])
        .arg(format!("docker://{host}/tok/a:1"))
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(berth_oci::Digest::of(&out.stdout), imgs.app.digest);
    // Wrong password: the token service refuses, and berth says so.
    let mut bad = cfg;
    bad.credentials = Some(berth_oci::auth::Credentials {
        username: USER.into(),
        password: "nope".into(),
    });
    let e = rt
        .block_on(Client::new(bad).unwrap().ping(&host))
        .unwrap_err();
    assert!(matches!(e, berth_oci::Error::Auth { .. }), "{e}");
    let _ = child.kill();
    let _ = child.wait();
}
