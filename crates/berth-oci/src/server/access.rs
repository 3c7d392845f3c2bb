//! Who may do what on `berth registry serve`: htpasswd users (bcrypt), roles from a
//! permissions file (docs/formats/registry-server.md), and the defences of the password
//! check itself: bcrypt runs off the async workers, unknown users cost a bcrypt against a
//! dummy hash (no timing oracle), and failures are rate-limited per client address.

use crate::error::{Error, Result};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a request needs on a repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// GET and HEAD of manifests, blobs and tag lists.
    Pull,
    /// Everything `Pull` allows, plus uploads and manifest PUTs.
    Push,
}

/// One line of a permissions file: a role on every repository, or on those under a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The role granted.
    pub role: Role,
    /// `None` = every repository; `Some("vendor")` = `vendor` and `vendor/...`.
    pub prefix: Option<String>,
}

impl Grant {
    fn covers(&self, repo: &str) -> bool {
        match &self.prefix {
            None => true,
            Some(p) => {
                repo == p
                    || repo
                        .strip_prefix(p.as_str())
                        .is_some_and(|r| r.starts_with('/'))
            }
        }
    }
}

/// Roles per user, read from a permissions file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    by_user: HashMap<String, Vec<Grant>>,
}

impl Permissions {
    /// Parse the text of a permissions file; `origin` names it in errors.
    ///
    /// Each non-empty line that is not a `#` comment is `USER ROLE [PREFIX...]`, where ROLE is
    /// `pull` or `push` and each PREFIX limits the grant to that repository and those below it.
    pub fn parse(origin: &Path, text: &str) -> Result<Self> {
        let bad = |line: usize, reason: String| Error::Layout {
            path: origin.to_path_buf(),
            reason: format!("line {line}: {reason}"),
        };
        let mut by_user: HashMap<String, Vec<Grant>> = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(user), Some(role)) = (words.next(), words.next()) else {
                return Err(bad(
                    i + 1,
                    "expected `USER ROLE [PREFIX...]`, for example `ci pull vendor`".into(),
                ));
            };
            let role = match role {
                "pull" => Role::Pull,
                "push" => Role::Push,
                other => {
                    return Err(bad(
                        i + 1,
                        format!("role {other:?} of user {user} is neither `pull` nor `push`"),
                    ));
                }
            };
            let grants = by_user.entry(user.to_string()).or_default();
            let prefixes: Vec<&str> = words.collect();
            if prefixes.is_empty() {
                grants.push(Grant { role, prefix: None });
            }
            for p in prefixes {
                let p = p.trim_end_matches('/');
                if !super::valid_repo(p) {
                    return Err(bad(
                        i + 1,
                        format!(
                            "{p:?} is not a repository prefix (lowercase letters, digits, `._-`, components joined by `/`)"
                        ),
                    ));
                }
                grants.push(Grant {
                    role,
                    prefix: Some(p.to_string()),
                });
            }
        }
        Ok(Permissions { by_user })
    }

    /// Read a permissions file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    /// Whether `user` holds at least `need` on `repo`.
    pub fn allows(&self, user: &str, repo: &str, need: Role) -> bool {
        self.by_user
            .get(user)
            .is_some_and(|gs| gs.iter().any(|g| g.role >= need && g.covers(repo)))
    }

    /// Users named in the file (to warn about those missing from the htpasswd file).
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.by_user.keys().map(String::as_str)
    }
}

/// A user with a fresh random password (32 hex digits), and its htpasswd line (bcrypt at
/// `cost`, 4..=31): for registries a program starts for itself, such as the support matrix's
/// per-cell registries. Returns `(password, line)`; the line ends with a newline.
pub fn generated_user(user: &str, cost: u32) -> Result<(String, String)> {
    let mut random = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut random);
    let password = hex::encode(random);
    let hash = bcrypt::hash(&password, cost)
        .map_err(|e| Error::Usage(format!("cannot hash the password for {user}: {e}")))?;
    Ok((password, format!("{user}:{hash}\n")))
}

/// Read an htpasswd file (bcrypt entries only).
pub fn read_htpasswd(path: &Path) -> Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut users = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (u, h) = line.split_once(':').ok_or_else(|| Error::Key {
            path: path.to_path_buf(),
            reason: format!("line {}: expected user:hash", i + 1),
        })?;
        if bcrypt_cost(h).is_none() {
            return Err(Error::Key {
                path: path.to_path_buf(),
                reason: format!(
                    "line {}: user {u} does not use a bcrypt hash; create entries with `htpasswd -B`",
                    i + 1
                ),
            });
        }
        users.insert(u.to_string(), h.to_string());
    }
    Ok(users)
}

/// The cost of a `$2y$NN$...` bcrypt hash.
fn bcrypt_cost(h: &str) -> Option<u32> {
    let rest = h
        .strip_prefix("$2y$")
        .or_else(|| h.strip_prefix("$2b$"))
        .or_else(|| h.strip_prefix("$2a$"))?;
    let cost: u32 = rest.get(..2)?.parse().ok()?;
    (4..=31).contains(&cost).then_some(cost)
}

/// The outcome of checking a request's credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The server has no users: everyone may do everything (loopback or `--insecure-open`).
    Open,
    /// A user whose password checked out.
    User(String),
    /// No credentials sent.
    Anonymous,
    /// Credentials sent but wrong (unknown user or wrong password).
    Refused,
    /// This client address failed too often recently; no password was checked.
    Limited,
}

/// Limits of the password check.
#[derive(Clone, Copy, Debug)]
pub struct AuthLimits {
    /// Failed logins a client address may make per window before it gets 429s.
    pub failures_per_window: u32,
    /// The window.
    pub window: Duration,
    /// bcrypt checks running at once (the rest wait; they never block the async workers).
    pub concurrent_checks: usize,
}

/// The password checker of a running server.
pub struct Authenticator {
    users: HashMap<String, String>,
    /// A hash of a random password at the users' highest cost, checked for unknown users.
    dummy: String,
    /// Keyed hashes of `user:password` pairs that checked out recently: a client sends its
    /// credentials on every request, and bcrypt on each would make valid clients slow.
    ok_cache: Mutex<HashMap<[u8; 32], Instant>>,
    cache_key: [u8; 32],
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    checks: Arc<tokio::sync::Semaphore>,
    limits: AuthLimits,
}

const OK_CACHE_TTL: Duration = Duration::from_secs(300);
const MAP_BOUND: usize = 10_000;

impl Authenticator {
    /// A checker for these users (`None` = open server).
    pub fn new(users: Option<HashMap<String, String>>, limits: AuthLimits) -> Result<Option<Self>> {
        let Some(users) = users else {
            return Ok(None);
        };
        let cost = users
            .values()
            .filter_map(|h| bcrypt_cost(h))
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        let mut random = [0u8; 24];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut random);
        let dummy = bcrypt::hash(hex::encode(random), cost)
            .map_err(|e| Error::Usage(format!("cannot prepare the password check: {e}")))?;
        let mut cache_key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut cache_key);
        Ok(Some(Authenticator {
            users,
            dummy,
            ok_cache: Mutex::new(HashMap::new()),
            cache_key,
            failures: Mutex::new(HashMap::new()),
            checks: Arc::new(tokio::sync::Semaphore::new(limits.concurrent_checks.max(1))),
            limits,
        }))
    }

    /// Check the `Authorization` header of a request from `client`.
    pub async fn identify(&self, client: IpAddr, authorization: Option<&str>) -> Identity {
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return Identity::Anonymous;
        };
        let key = self.cache_key(&user, &password);
        let now = Instant::now();
        if let Ok(c) = self.ok_cache.lock()
            && c.get(&key)
                .is_some_and(|t| now.duration_since(*t) < OK_CACHE_TTL)
        {
            return Identity::User(user);
        }
        if self.is_limited(client, now) {
            return Identity::Limited;
        }
        // Unknown users are checked against the dummy hash: same cost, same answer time.
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.clone(), true),
            None => (self.dummy.clone(), false),
        };
        let ok = match self.checks.clone().acquire_owned().await {
            Ok(permit) => tokio::task::spawn_blocking(move || {
                let r = bcrypt::verify(password, &hash).unwrap_or(false);
                drop(permit);
                r
            })
            .await
            .unwrap_or(false),
            Err(_) => false,
        };
        if ok && known {
            if let Ok(mut c) = self.ok_cache.lock() {
                if c.len() >= MAP_BOUND {
                    c.retain(|_, t| now.duration_since(*t) < OK_CACHE_TTL);
                    if c.len() >= MAP_BOUND {
                        c.clear();
                    }
                }
                c.insert(key, now);
            }
            return Identity::User(user);
        }
        self.note_failure(client, now);
        Identity::Refused
    }

    fn cache_key(&self, user: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.cache_key);
        h.update(user.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    fn is_limited(&self, client: IpAddr, now: Instant) -> bool {
        let Ok(f) = self.failures.lock() else {
            return false;
        };
        f.get(&client).is_some_and(|(n, start)| {
            now.duration_since(*start) < self.limits.window && *n >= self.limits.failures_per_window
        })
    }

    fn note_failure(&self, client: IpAddr, now: Instant) {
        let Ok(mut f) = self.failures.lock() else {
            return;
        };
        if f.len() >= MAP_BOUND {
            let w = self.limits.window;
            f.retain(|_, (_, start)| now.duration_since(*start) < w);
        }
        let e = f.entry(client).or_insert((0, now));
        if now.duration_since(e.1) >= self.limits.window {
            *e = (0, now);
        }
        e.0 = e.0.saturating_add(1);
    }

    /// Seconds until a limited client may try again (for `Retry-After`).
    pub fn retry_after(&self) -> u64 {
        self.limits.window.as_secs().max(1)
    }

    /// Whether a user name is in the htpasswd file.
    pub fn knows(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }
}

fn parse_basic(v: &str) -> Option<(String, String)> {
    let b64 = v.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (u, p) = raw.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_grant_roles_by_prefix() {
        let p = Permissions::parse(
            Path::new("perms"),
            "# who role prefixes\nadmin push\nci pull vendor other/\nteam push vendor/team # theirs\nteam pull\n",
        )
        .unwrap();
        assert!(p.allows("admin", "anything/at/all", Role::Push));
        assert!(p.allows("ci", "vendor", Role::Pull));
        assert!(p.allows("ci", "vendor/app", Role::Pull));
        assert!(!p.allows("ci", "vendorx/app", Role::Pull));
        assert!(!p.allows("ci", "vendor/app", Role::Push));
        assert!(p.allows("ci", "other/x", Role::Pull));
        assert!(p.allows("team", "vendor/team/app", Role::Push));
        assert!(!p.allows("team", "vendor/teams", Role::Push));
        assert!(p.allows("team", "vendor/teams", Role::Pull));
        assert!(!p.allows("nobody", "vendor", Role::Pull));
    }

    #[test]
    fn permissions_errors_name_the_line() {
        let e = Permissions::parse(Path::new("perms"), "a push\nb admin\n").unwrap_err();
        assert!(
            e.to_string().contains("line 2") && e.to_string().contains("admin"),
            "{e}"
        );
        let e = Permissions::parse(Path::new("perms"), "a\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = Permissions::parse(Path::new("perms"), "a pull ../x\n").unwrap_err();
        assert!(e.to_string().contains("../x"), "{e}");
    }

    #[test]
    fn a_generated_user_reads_back_and_its_password_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let (password, line) = generated_user("matrix", 4).unwrap();
        let (other, _) = generated_user("matrix", 4).unwrap();
        assert_eq!(password.len(), 32);
        assert_ne!(password, other);
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, &line).unwrap();
        let users = read_htpasswd(&path).unwrap();
        assert!(bcrypt::verify(&password, &users["matrix"]).unwrap());
        assert!(!bcrypt::verify(&other, &users["matrix"]).unwrap());
    }

    #[test]
    fn bcrypt_cost_is_read_from_the_hash() {
        let h = bcrypt::hash("x", 5).unwrap();
        assert_eq!(bcrypt_cost(&h), Some(5));
        assert_eq!(bcrypt_cost("$apr1$abc"), None);
    }

    #[tokio::test]
    async fn unknown_users_and_wrong_passwords_are_refused_then_limited() {
        let mut users = HashMap::new();
        users.insert("u".to_string(), bcrypt::hash("right", 4).unwrap());
        let a = Authenticator::new(
            Some(users),
            AuthLimits {
                failures_per_window: 2,
                window: Duration::from_secs(600),
                concurrent_checks: 1,
            },
        )
        .unwrap()
        .unwrap();
        let basic = |u: &str, p: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        };
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(a.identify(ip, None).await, Identity::Anonymous);
        assert_eq!(
            a.identify(ip, Some(&basic("u", "right"))).await,
            Identity::User("u".into())
        );
        assert_eq!(
            a.identify(ip, Some(&basic("u", "wrong"))).await,
            Identity::Refused
        );
        assert_eq!(
            a.identify(ip, Some(&basic("ghost", "right"))).await,
            Identity::Refused
        );
        assert_eq!(
            a.identify(ip, Some(&basic("u", "wrong"))).await,
            Identity::Limited
        );
        // Another address is not affected, and a known-good pair still passes.
        assert_eq!(
            a.identify(other, Some(&basic("u", "wrong"))).await,
            Identity::Refused
        );
        assert_eq!(
            a.identify(ip, Some(&basic("u", "right"))).await,
            Identity::User("u".into())
        );
    }
}
