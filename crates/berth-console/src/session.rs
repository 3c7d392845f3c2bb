//! Sessions: signed cookies, the in-memory session table with each session's CSRF token, and
//! the lock-out of clients that guess passwords. Time is passed in, so tests set the clock.
//! The console's sessions hold a [`Role`]; the vendor's portal uses the same pieces with its
//! own login (a vendor token's id and scope).

use crate::auth::Role;
use base64::Engine as _;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "berth_console";
/// The pre-login cookie's name (binds the login form's CSRF token).
pub const LOGIN_COOKIE: &str = "berth_console_login";
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Failures that lock a client out...
pub const LOCKOUT_FAILURES: usize = 5;
/// ...within this window, for this long.
pub const LOCKOUT_WINDOW: Duration = Duration::from_secs(300);

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    b
}

/// The value of cookie `name` in a request's headers.
pub fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The answer to a successful login: a redirect to `to` that sets the session cookie and
/// clears the login form's cookie (both built by the front end, with its path and flags).
pub(crate) fn logged_in(
    to: &str,
    session_cookie: axum::http::HeaderValue,
    cleared_login_cookie: axum::http::HeaderValue,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let mut r = axum::response::Redirect::to(to).into_response();
    let h = r.headers_mut();
    h.append(axum::http::header::SET_COOKIE, session_cookie);
    h.append(axum::http::header::SET_COOKIE, cleared_login_cookie);
    r
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, scoped to `path`, `Secure` over TLS;
/// `max_age` 0 deletes the cookie.
pub fn cookie_header(
    name: &str,
    value: &str,
    path: &str,
    max_age: u64,
    secure: bool,
) -> axum::http::HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    axum::http::HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| axum::http::HeaderValue::from_static("invalid=1; Max-Age=0"))
}

/// The client's address (the lock-out's key); loopback when the server did not record it.
pub fn client_ip(req: &axum::extract::Request) -> IpAddr {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip())
}

/// Signs and checks cookie values with the Secret's session key.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl Signer {
    /// A signer with `key`.
    pub fn new(key: [u8; 32]) -> Signer {
        Signer { key }
    }

    fn mac(&self, purpose: &str, id: &str) -> blake3::Hash {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        h.update(b"berth-console-");
        h.update(purpose.as_bytes());
        h.update(b":");
        h.update(id.as_bytes());
        h.finalize()
    }

    /// `id.mac` for a cookie of `purpose` (`session` or `login`).
    pub fn sign(&self, purpose: &str, id: &str) -> String {
        format!("{id}.{}", b64url(self.mac(purpose, id).as_bytes()))
    }

    /// The id of a signed value, if its MAC verifies (compared in constant time).
    pub fn verify<'a>(&self, purpose: &str, value: &'a str) -> Option<&'a str> {
        let (id, mac) = value.rsplit_once('.')?;
        let given = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(mac)
            .ok()?;
        let given: [u8; 32] = given.try_into().ok()?;
        // blake3::Hash's equality is constant-time.
        (self.mac(purpose, id) == blake3::Hash::from(given)).then_some(id)
    }
}

/// One logged-in session; `R` is who logged in (the console's [`Role`] by default).
#[derive(Debug, Clone)]
pub struct Session<R = Role> {
    /// Who logged in.
    pub role: R,
    /// The token every POST must carry.
    pub csrf: String,
    expires: Instant,
}

/// Compare two tokens without leaking where they differ.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Logged-in sessions and pending login forms.
pub struct Sessions<R = Role> {
    live: Mutex<HashMap<String, Session<R>>>,
    /// Pre-login id → (CSRF token of the login form, expiry).
    login: Mutex<HashMap<String, (String, Instant)>>,
}

impl<R> Default for Sessions<R> {
    fn default() -> Self {
        Sessions {
            live: Mutex::new(HashMap::new()),
            login: Mutex::new(HashMap::new()),
        }
    }
}

impl<R: Clone> Sessions<R> {
    /// Start a session; returns its id (to sign into the cookie).
    pub fn create(&self, role: R, now: Instant) -> (String, Session<R>) {
        let id = b64url(&random32());
        let s = Session {
            role,
            csrf: b64url(&random32()),
            expires: now + SESSION_TTL,
        };
        if let Ok(mut m) = self.live.lock() {
            m.retain(|_, v| v.expires > now);
            m.insert(id.clone(), s.clone());
        }
        (id, s)
    }

    /// The live session `id`, if it has not expired or been ended.
    pub fn get(&self, id: &str, now: Instant) -> Option<Session<R>> {
        let m = self.live.lock().ok()?;
        m.get(id).filter(|s| s.expires > now).cloned()
    }

    /// End a session (log out).
    pub fn end(&self, id: &str) {
        if let Ok(mut m) = self.live.lock() {
            m.remove(id);
        }
    }

    /// A login form: a pre-session id and its CSRF token.
    pub fn login_form(&self, now: Instant) -> (String, String) {
        let id = b64url(&random32());
        let token = b64url(&random32());
        if let Ok(mut m) = self.login.lock() {
            m.retain(|_, (_, exp)| *exp > now);
            m.insert(id.clone(), (token.clone(), now + Duration::from_secs(3600)));
        }
        (id, token)
    }

    /// Does the login form's token match the one issued with pre-session `id`?
    pub fn check_login_token(&self, id: &str, token: &str, now: Instant) -> bool {
        let Ok(m) = self.login.lock() else {
            return false;
        };
        m.get(id)
            .is_some_and(|(t, exp)| *exp > now && tokens_equal(t, token))
    }
}

/// Failed logins per client address.
#[derive(Default)]
pub struct Lockout {
    failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
}

impl Lockout {
    /// `Some(time left)` while `ip` is locked out.
    pub fn locked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let m = self.failures.lock().ok()?;
        let recent: Vec<&Instant> = m
            .get(&ip)?
            .iter()
            .filter(|t| now.saturating_duration_since(**t) < LOCKOUT_WINDOW)
            .collect();
        if recent.len() < LOCKOUT_FAILURES {
            return None;
        }
        // Locked until the newest failure leaves the window.
        let newest = recent.iter().max()?;
        Some(LOCKOUT_WINDOW.saturating_sub(now.saturating_duration_since(**newest)))
    }

    /// Record a failed login.
    pub fn fail(&self, ip: IpAddr, now: Instant) {
        if let Ok(mut m) = self.failures.lock() {
            let v = m.entry(ip).or_default();
            v.retain(|t| now.saturating_duration_since(*t) < LOCKOUT_WINDOW);
            v.push(now);
        }
    }

    /// A successful login clears the address's count.
    pub fn succeed(&self, ip: IpAddr) {
        if let Ok(mut m) = self.failures.lock() {
            m.remove(&ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_cookie_verifies_and_any_change_is_rejected() {
        let s = Signer::new([7; 32]);
        let v = s.sign("session", "abc");
        assert_eq!(s.verify("session", &v), Some("abc"));
        // Another purpose, another key, a changed id or MAC: refused.
        assert_eq!(s.verify("login", &v), None);
        assert_eq!(Signer::new([8; 32]).verify("session", &v), None);
        let forged = v.replacen("abc", "abd", 1);
        assert_eq!(s.verify("session", &forged), None);
        let mut flipped = v.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            s.verify("session", &String::from_utf8(flipped).unwrap()),
            None
        );
        assert_eq!(s.verify("session", "abc"), None);
        assert_eq!(s.verify("session", "abc.!!"), None);
    }

    #[test]
    fn sessions_expire_and_end() {
        let t0 = Instant::now();
        let ss = Sessions::<Role>::default();
        let (id, s) = ss.create(Role::Viewer, t0);
        assert_eq!(ss.get(&id, t0).unwrap().role, Role::Viewer);
        assert_eq!(ss.get(&id, t0).unwrap().csrf, s.csrf);
        assert!(ss.get(&id, t0 + SESSION_TTL).is_none());
        ss.end(&id);
        assert!(ss.get(&id, t0).is_none());
        assert!(ss.get("unknown", t0).is_none());
    }

    #[test]
    fn login_form_token_is_bound_to_its_cookie() {
        let t0 = Instant::now();
        let ss = Sessions::<Role>::default();
        let (id, tok) = ss.login_form(t0);
        let (id2, tok2) = ss.login_form(t0);
        assert!(ss.check_login_token(&id, &tok, t0));
        assert!(!ss.check_login_token(&id, &tok2, t0));
        assert!(!ss.check_login_token(&id2, &tok, t0));
        assert!(!ss.check_login_token(&id, "", t0));
        assert!(!ss.check_login_token(&id, &tok, t0 + Duration::from_secs(3601)));
    }

    #[test]
    fn five_failures_in_five_minutes_lock_out_that_address_only() {
        let t0 = Instant::now();
        let l = Lockout::default();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        for i in 0..4 {
            l.fail(a, t0 + Duration::from_secs(i * 10));
        }
        assert!(l.locked(a, t0 + Duration::from_secs(40)).is_none());
        l.fail(a, t0 + Duration::from_secs(50));
        let left = l.locked(a, t0 + Duration::from_secs(60)).unwrap();
        assert_eq!(left, Duration::from_secs(290));
        assert!(l.locked(b, t0 + Duration::from_secs(60)).is_none());
        // Failures spread over more than the window do not lock.
        let c: IpAddr = "127.0.0.3".parse().unwrap();
        for i in 0..5 {
            l.fail(c, t0 + Duration::from_secs(i * 100));
        }
        assert!(l.locked(c, t0 + Duration::from_secs(400)).is_none());
        // The lock ends when the newest failure leaves the window; success clears it.
        assert!(l.locked(a, t0 + Duration::from_secs(350)).is_none());
        l.fail(a, t0 + Duration::from_secs(360));
        assert!(l.locked(a, t0 + Duration::from_secs(361)).is_none());
        l.succeed(a);
        assert!(l.locked(a, t0 + Duration::from_secs(361)).is_none());
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
        assert!(!tokens_equal("abc", "ab"));
    }
}
