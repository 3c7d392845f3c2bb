//! Registry credentials: explicit username/password, or the Docker config file
//! (`auths.<host>.auth`, as written by `docker login`, `skopeo login --authfile`);
//! and parsing of `WWW-Authenticate` challenges (Basic, Bearer).

use crate::error::{Error, Result};
use base64::Engine as _;
use std::collections::HashMap;
use std::path::PathBuf;

/// A username and password (or token). `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.username)
    }
}

impl Credentials {
    /// The `Authorization: Basic ...` value.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// Credentials for every registry berth talks to.
#[derive(Debug, Default)]
pub struct CredentialStore {
    explicit: Option<Credentials>,
    by_host: HashMap<String, Credentials>,
}

impl CredentialStore {
    /// Explicit credentials win; otherwise read the Docker config (a missing file is fine).
    pub fn load(explicit: Option<Credentials>, docker_config: Option<PathBuf>) -> Result<Self> {
        let path = docker_config.or_else(|| {
            std::env::var_os("DOCKER_CONFIG")
                .map(|d| PathBuf::from(d).join("config.json"))
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
                })
        });
        let mut by_host = HashMap::new();
        if let Some(p) = path.filter(|p| p.is_file()) {
            let text = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
            by_host = parse_docker_config(&text).map_err(|reason| Error::Key {
                path: p.clone(),
                reason,
            })?;
        }
        Ok(CredentialStore { explicit, by_host })
    }

    /// Credentials for a registry host.
    pub fn get(&self, registry: &str) -> Option<Credentials> {
        if let Some(c) = &self.explicit {
            return Some(c.clone());
        }
        let alt = if registry == "docker.io" {
            Some("https://index.docker.io/v1/")
        } else {
            None
        };
        self.by_host
            .get(registry)
            .or_else(|| alt.and_then(|a| self.by_host.get(a)))
            .or_else(|| self.by_host.get(&format!("https://{registry}")))
            .cloned()
    }
}

/// Parse the `auths` map of a Docker config file.
pub fn parse_docker_config(
    text: &[u8],
) -> std::result::Result<HashMap<String, Credentials>, String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        auth: Option<String>,
        username: Option<String>,
        password: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(default)]
        auths: HashMap<String, Entry>,
    }
    let cfg: Config =
        serde_json::from_slice(text).map_err(|e| format!("not a Docker config file: {e}"))?;
    let mut out = HashMap::new();
    for (host, e) in cfg.auths {
        let creds = if let Some(a) = e.auth.filter(|a| !a.is_empty()) {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(a.trim())
                .map_err(|_| format!("auths.{host}.auth is not base64"))?;
            let raw =
                String::from_utf8(raw).map_err(|_| format!("auths.{host}.auth is not UTF-8"))?;
            let (u, p) = raw
                .split_once(':')
                .ok_or_else(|| format!("auths.{host}.auth is not user:password"))?;
            Credentials {
                username: u.to_string(),
                password: p.to_string(),
            }
        } else if let (Some(u), Some(p)) = (e.username, e.password) {
            Credentials {
                username: u,
                password: p,
            }
        } else {
            continue;
        };
        out.insert(host.trim_end_matches('/').to_string(), creds);
    }
    Ok(out)
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// HTTP basic auth.
    Basic,
    /// Token auth: get a token from `realm`.
    Bearer {
        /// Token endpoint URL.
        realm: String,
        /// The `service` parameter.
        service: Option<String>,
    },
}

impl Challenge {
    /// Parse a header value; anything unknown is treated as Basic.
    pub fn parse(h: &str) -> Challenge {
        let h = h.trim();
        let Some(rest) = h
            .strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
        else {
            return Challenge::Basic;
        };
        let mut params = HashMap::new();
        // key="value" pairs separated by commas; values may contain commas inside quotes.
        let mut chars = rest.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
                chars.next();
            }
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            if key.is_empty() {
                break;
            }
            let mut val = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    val.push(c);
                }
            } else {
                while let Some(c) = chars.peek() {
                    if *c == ',' {
                        break;
                    }
                    val.push(*c);
                    chars.next();
                }
            }
            params.insert(key.trim().to_lowercase(), val);
        }
        match params.remove("realm") {
            Some(realm) => Challenge::Bearer {
                realm,
                service: params.remove("service"),
            },
            None => Challenge::Basic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_and_config() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull,push""#,
        );
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("reg".into())
            }
        );
        assert_eq!(Challenge::parse(r#"Basic realm="x""#), Challenge::Basic);
        let cfg = br#"{"auths":{"reg.example:5000":{"auth":"dXNlcjpwYTpzcw=="}}}"#;
        let m = parse_docker_config(cfg).unwrap();
        assert_eq!(m["reg.example:5000"].password, "pa:ss");
        assert!(parse_docker_config(br#"{"auths":{"x":{"auth":"!!"}}}"#).is_err());
        let creds = Credentials {
            username: "u".into(),
            password: "secret".into(),
        };
        assert!(!format!("{creds:?}").contains("secret"));
    }
}
