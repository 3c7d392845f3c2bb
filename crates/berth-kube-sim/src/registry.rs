//! The simulated kubelet's image check (`registry_check`): a real HTTP HEAD of
//! `/v2/<repo>/manifests/<ref>` on the image's registry over the OCI distribution API,
//! with the pod's imagePullSecrets (dockerconfigjson) for Basic or Bearer token auth.
//! Results are cached; failures are retried after a few seconds, like a kubelet's back-off.

use crate::controllers::full_image;
use crate::profile::RegistryProfile;
use crate::store::Store;
use base64::Engine;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the kubelet knows about an image.
#[derive(Debug, Clone, PartialEq)]
pub enum PullState {
    Present,
    /// Pull failed, with containerd's message.
    Missing(String),
    /// A check is in flight.
    Checking,
}

/// Credentials per registry host.
pub type Creds = HashMap<String, (String, String)>;

type Cache = Arc<Mutex<HashMap<String, (PullState, Instant)>>>;

/// Platforms (`linux/amd64`) an image offers, by image reference, learnt by the checks.
type Platforms = Arc<Mutex<HashMap<String, Vec<String>>>>;

pub struct Checker {
    registries: Vec<RegistryProfile>,
    cache: Cache,
    platforms: Platforms,
    /// Keys the password hashes of cache keys.
    keys: std::collections::hash_map::RandomState,
}

/// An image reference split into (registry host, repository, reference).
pub fn split_image(image: &str) -> (String, String, String) {
    let full = full_image(image);
    let (host, rest) = full.split_once('/').unwrap_or(("docker.io", &full));
    let (repo, reference) = if let Some((r, d)) = rest.split_once('@') {
        (r.to_string(), d.to_string())
    } else {
        match rest.rsplit_once(':') {
            Some((r, t)) => (r.to_string(), t.to_string()),
            None => (rest.to_string(), "latest".to_string()),
        }
    };
    let host = if host == "docker.io" {
        "registry-1.docker.io".to_string()
    } else {
        host.to_string()
    };
    (host, repo, reference)
}

/// Registry credentials from the pod's imagePullSecrets (dockerconfigjson or dockercfg).
pub fn pull_credentials(store: &Store, ns: &str, secrets: &[String]) -> Creds {
    let mut out = Creds::new();
    for name in secrets {
        let Some(s) = store.get_core("secrets", ns, name) else {
            continue;
        };
        let (key, nested) = match s["type"].as_str() {
            Some("kubernetes.io/dockerconfigjson") => (".dockerconfigjson", true),
            Some("kubernetes.io/dockercfg") => (".dockercfg", false),
            _ => continue,
        };
        let Some(raw) = s["data"][key].as_str() else {
            continue;
        };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(raw) else {
            continue;
        };
        let Ok(doc) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        let auths = if nested { &doc["auths"] } else { &doc };
        if let Some(m) = auths.as_object() {
            for (host, a) in m {
                let host = host
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let (mut u, mut p) = (
                    a["username"].as_str().unwrap_or_default().to_string(),
                    a["password"].as_str().unwrap_or_default().to_string(),
                );
                if u.is_empty()
                    && let Some(auth) = a["auth"].as_str()
                    && let Ok(dec) = base64::engine::general_purpose::STANDARD.decode(auth)
                    && let Ok(dec) = String::from_utf8(dec)
                    && let Some((a, b)) = dec.split_once(':')
                {
                    u = a.to_string();
                    p = b.to_string();
                }
                let host = if host == "index.docker.io" || host == "docker.io" {
                    "registry-1.docker.io".to_string()
                } else {
                    host
                };
                out.insert(host, (u, p));
            }
        }
    }
    out
}

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

impl Checker {
    pub fn new(registries: Vec<RegistryProfile>) -> Checker {
        Checker {
            registries,
            cache: Arc::new(Mutex::new(HashMap::new())),
            platforms: Arc::new(Mutex::new(HashMap::new())),
            keys: Default::default(),
        }
    }

    /// The platforms a present image offers (`os/architecture`), once a check found them.
    pub fn platforms(&self, image: &str) -> Option<Vec<String>> {
        self.platforms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(image)
            .cloned()
    }

    /// The pull state of `image`; starts a check in the background when unknown or stale.
    pub fn state(&self, image: &str, creds: Creds) -> PullState {
        let (host, repo, reference) = split_image(image);
        let cred = creds.get(&host).cloned();
        // Keyed by the whole credential: pods pulling with a wrong password and pods pulling
        // with the right one under the same user must not share an answer.
        let key = format!(
            "{image}\u{0}{}",
            cred.as_ref().map(|c| self.cred_key(c)).unwrap_or_default()
        );
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((st, at)) = cache.get(&key) {
                let stale =
                    matches!(st, PullState::Missing(_)) && at.elapsed() > Duration::from_secs(5);
                if !stale {
                    return st.clone();
                }
            }
        }
        let prof = self.registries.iter().find(|r| r.host == host).cloned();
        let cache = self.cache.clone();
        cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), (PullState::Checking, Instant::now()));
        let full = full_image(image);
        let platforms = self.platforms.clone();
        let image = image.to_string();
        tokio::spawn(async move {
            let (st, found) = check(&host, &repo, &reference, prof.as_ref(), cred, &full).await;
            if let Some(found) = found {
                platforms
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(image, found);
            }
            cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, (st, Instant::now()));
        });
        PullState::Checking
    }
}

impl Checker {
    /// A credential as a cache key: the user and a keyed hash of the password (the password
    /// itself is not kept in the cache).
    fn cred_key(&self, (user, password): &(String, String)) -> String {
        use std::hash::BuildHasher as _;
        format!("{user}\u{0}{:016x}", self.keys.hash_one(password))
    }
}

/// containerd's refusal when the image offers no build for the pod's node
/// (`no match for platform in manifest: not found`), or `None`.
pub fn platform_mismatch(
    store: &Store,
    pod: &Value,
    checker: &Checker,
    image: &str,
) -> Option<String> {
    let node = pod["spec"]["nodeName"].as_str()?;
    let arch = store
        .profile
        .nodes
        .iter()
        .find(|n| n.name == node)
        .map(|n| n.architecture.clone())?;
    let offered = checker.platforms(image)?;
    if offered.iter().any(|p| p == &format!("linux/{arch}")) {
        return None;
    }
    let full = full_image(image);
    Some(format!(
        "failed to pull and unpack image \"{full}\": no match for platform in manifest: not found"
    ))
}

fn auth_param(header: &str, name: &str) -> Option<String> {
    let i = header.find(&format!("{name}=\""))?;
    let rest = &header[i + name.len() + 2..];
    Some(rest[..rest.find('"')?].to_string())
}

/// Check the image, then (when present) read which platforms it offers.
async fn check(
    host: &str,
    repo: &str,
    reference: &str,
    prof: Option<&RegistryProfile>,
    cred: Option<(String, String)>,
    full: &str,
) -> (PullState, Option<Vec<String>>) {
    let mut auth = None;
    let st = head(host, repo, reference, prof, cred, full, &mut auth).await;
    if st != PullState::Present {
        return (st, None);
    }
    let found = read_platforms(host, repo, reference, prof, auth.as_ref()).await;
    (st, found)
}

/// How the manifest request was authorised, to read the manifest and config the same way.
enum Auth {
    Bearer(String),
    Basic(String, String),
}

fn client_for(prof: Option<&RegistryProfile>) -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .danger_accept_invalid_certs(prof.is_some_and(|p| p.insecure_skip_tls_verify))
        .build()
        .ok()
}

/// `os/architecture` of every platform an image (index or single manifest) offers; `None`
/// when it cannot be read (the kubelet then assumes the image runs anywhere).
async fn read_platforms(
    host: &str,
    repo: &str,
    reference: &str,
    prof: Option<&RegistryProfile>,
    auth: Option<&Auth>,
) -> Option<Vec<String>> {
    let scheme = if prof.is_some_and(|p| p.insecure) {
        "http"
    } else {
        "https"
    };
    let client = client_for(prof)?;
    let get = |url: String| {
        let req = client.get(url).header("Accept", ACCEPT);
        match auth {
            Some(Auth::Bearer(t)) => req.bearer_auth(t),
            Some(Auth::Basic(u, p)) => req.basic_auth(u, Some(p)),
            None => req,
        }
    };
    let m: Value = get(format!("{scheme}://{host}/v2/{repo}/manifests/{reference}"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    if let Some(list) = m["manifests"].as_array() {
        let out: Vec<String> = list
            .iter()
            .filter_map(|d| {
                let p = &d["platform"];
                Some(format!(
                    "{}/{}",
                    p["os"].as_str()?,
                    p["architecture"].as_str()?
                ))
            })
            .collect();
        return (!out.is_empty()).then_some(out);
    }
    let digest = m["config"]["digest"].as_str()?;
    let c: Value = get(format!("{scheme}://{host}/v2/{repo}/blobs/{digest}"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some(vec![format!(
        "{}/{}",
        c["os"].as_str()?,
        c["architecture"].as_str()?
    )])
}

#[allow(clippy::too_many_arguments)]
async fn head(
    host: &str,
    repo: &str,
    reference: &str,
    prof: Option<&RegistryProfile>,
    cred: Option<(String, String)>,
    full: &str,
    auth: &mut Option<Auth>,
) -> PullState {
    let insecure = prof.is_some_and(|p| p.insecure);
    let scheme = if insecure { "http" } else { "https" };
    let url = format!("{scheme}://{host}/v2/{repo}/manifests/{reference}");
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .danger_accept_invalid_certs(prof.is_some_and(|p| p.insecure_skip_tls_verify))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return PullState::Missing(format!("failed to pull and unpack image \"{full}\": {e}"));
        }
    };
    let fail = |why: String| {
        PullState::Missing(format!(
            "failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": {why}"
        ))
    };
    let resp = match client.head(&url).header("Accept", ACCEPT).send().await {
        Ok(r) => r,
        Err(e) => return fail(request_failure(&e, &url, host, insecure).await),
    };
    let resp = if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut req = client.head(&url).header("Accept", ACCEPT);
        if challenge.to_lowercase().starts_with("bearer") {
            let realm = auth_param(&challenge, "realm").unwrap_or_default();
            let service = auth_param(&challenge, "service").unwrap_or_default();
            let scope = auth_param(&challenge, "scope")
                .unwrap_or_else(|| format!("repository:{repo}:pull"));
            let token_url = match url::Url::parse_with_params(
                &realm,
                &[("service", service.as_str()), ("scope", scope.as_str())],
            ) {
                Ok(u) => u,
                Err(e) => {
                    return fail(format!(
                        "failed to authorize: bad token realm {realm:?}: {e}"
                    ));
                }
            };
            let mut treq = client.get(token_url);
            if let Some((u, p)) = &cred {
                treq = treq.basic_auth(u, Some(p));
            }
            let token = match treq.send().await {
                Ok(r) if r.status().is_success() => r.json::<Value>().await.ok().and_then(|v| {
                    v["token"]
                        .as_str()
                        .or(v["access_token"].as_str())
                        .map(String::from)
                }),
                Ok(r) => {
                    return fail(format!(
                        "failed to authorize: failed to fetch {} token: unexpected status from GET request to {realm}: {}",
                        if cred.is_some() { "oauth" } else { "anonymous" },
                        r.status()
                    ));
                }
                Err(e) => return fail(format!("failed to authorize: {e}")),
            };
            if let Some(t) = token {
                req = req.bearer_auth(&t);
                *auth = Some(Auth::Bearer(t));
            }
        } else if let Some((u, p)) = &cred {
            req = req.basic_auth(u, Some(p));
            *auth = Some(Auth::Basic(u.clone(), p.clone()));
        } else {
            return fail("pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials".to_string());
        }
        match req.send().await {
            Ok(r) => r,
            Err(e) => return fail(format!("failed to do request: Head \"{url}\": {e}")),
        }
    } else {
        resp
    };
    match resp.status().as_u16() {
        200..=299 => PullState::Present,
        404 => fail(format!("{full}: not found")),
        401 | 403 => fail("pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed".to_string()),
        s => fail(format!("unexpected status from HEAD request to {url}: {s}")),
    }
}

/// Whether an error (or any error it wraps) is an I/O error of `kind`.
fn has_io_kind(e: &(dyn std::error::Error + 'static), kind: std::io::ErrorKind) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == kind)
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// An error with its causes, `a: b: c`.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        let s = err.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = err.source();
    }
    out
}

/// Whether `host` answers plain HTTP (a registry without TLS).
async fn speaks_plain_http(host: &str) -> bool {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    else {
        return false;
    };
    client
        .get(format!("http://{host}/v2/"))
        .send()
        .await
        .is_ok()
}

/// containerd's wording for a HEAD that never got an answer, with the fix when the
/// simulator spoke HTTPS to a plain-HTTP registry.
async fn request_failure(e: &reqwest::Error, url: &str, host: &str, insecure: bool) -> String {
    if has_io_kind(e, std::io::ErrorKind::ConnectionRefused) {
        return format!(
            "failed to do request: Head \"{url}\": dial tcp {host}: connect: connection refused"
        );
    }
    if !insecure && speaks_plain_http(host).await {
        return format!(
            "failed to do request: Head \"{url}\": http: server gave HTTP response to HTTPS client (the simulated kubelet spoke HTTPS to {host}, a plain-HTTP registry; mark it insecure in the cluster profile: `registries: [{{host: \"{host}\", insecure: true}}]`, see docs/formats/sim-profile.md)"
        );
    }
    format!("failed to do request: Head \"{url}\": {}", chain(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn splits() {
        assert_eq!(
            split_image("127.0.0.1:5000/app/web:1.2"),
            ("127.0.0.1:5000".into(), "app/web".into(), "1.2".into())
        );
        assert_eq!(
            split_image("nginx"),
            (
                "registry-1.docker.io".into(),
                "library/nginx".into(),
                "latest".into()
            )
        );
        assert_eq!(
            split_image("reg.example.com/a@sha256:abc").2,
            "sha256:abc".to_string()
        );
    }

    /// A refusal seen with a wrong password is not the answer for the right one (pods of
    /// two namespaces pulling as one user with different Secrets).
    #[tokio::test]
    async fn answers_are_kept_per_password_not_per_user() {
        let checker = Checker::new(vec![]);
        let image = "127.0.0.1:9/app/web:1";
        let creds = |p: &str| -> Creds {
            [(
                "127.0.0.1:9".to_string(),
                ("ops".to_string(), p.to_string()),
            )]
            .into()
        };
        let refused = PullState::Missing("unauthorized".into());
        let wrong = format!(
            "{image}\u{0}{}",
            checker.cred_key(&("ops".into(), "wrong".into()))
        );
        checker
            .cache
            .lock()
            .unwrap()
            .insert(wrong, (refused.clone(), Instant::now()));
        assert_eq!(checker.state(image, creds("wrong")), refused);
        assert_eq!(checker.state(image, creds("right")), PullState::Checking);
        assert!(
            !checker
                .cred_key(&("ops".into(), "right".into()))
                .contains("right")
        );
    }
}
