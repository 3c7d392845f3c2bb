//! Who may use the console: password hashes (Argon2id) kept in a Secret of the app's
//! namespace, and the key that signs session cookies. Format: docs/formats/console.md.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use berth_deploy::Cluster;
use berth_deploy::object::ObjectRef;
use serde_json::{Value, json};

/// Name of the login Secret.
pub const SECRET_NAME: &str = "berth-console-auth";
/// Key of the admin password hash.
pub const KEY_ADMIN: &str = "admin-password";
/// Key of the viewer password hash.
pub const KEY_VIEWER: &str = "viewer-password";
/// Key of the cookie-signing key.
pub const KEY_SESSION: &str = "session-key";

/// A role: what a logged-in user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every page and action.
    Admin,
    /// Reads every page, generates and downloads support bundles; changes nothing.
    Viewer,
}

impl Role {
    /// The role's name as shown on the page.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

/// Errors reading or writing the login Secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The cluster refused or could not be reached.
    #[error("the console's login Secret {namespace}/{SECRET_NAME}: {source}")]
    Cluster {
        /// Namespace.
        namespace: String,
        /// Cause.
        #[source]
        source: Box<berth_deploy::cluster::ClusterError>,
    },
    /// The Secret exists but is not in the documented form.
    #[error(
        "the console's login Secret {namespace}/{SECRET_NAME} is damaged: {problem}; delete it (kubectl delete secret -n {namespace} {SECRET_NAME}) and start the console again to set a new password"
    )]
    Damaged {
        /// Namespace.
        namespace: String,
        /// What is wrong.
        problem: String,
    },
    /// Hashing failed (parameters out of range: a bug, not user input).
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// The loaded login state.
#[derive(Clone)]
pub struct Credentials {
    /// PHC string of the admin password.
    pub admin: String,
    /// PHC string of the viewer password, if a viewer login exists.
    pub viewer: Option<String>,
    /// Cookie-signing key.
    pub session_key: [u8; 32],
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print hashes or the key.
        f.debug_struct("Credentials")
            .field("viewer", &self.viewer.is_some())
            .finish_non_exhaustive()
    }
}

/// What the environment asks for at start.
#[derive(Default, Clone)]
pub struct PasswordInput {
    /// `BERTH_CONSOLE_PASSWORD`.
    pub admin: Option<String>,
    /// `BERTH_CONSOLE_VIEWER_PASSWORD`.
    pub viewer: Option<String>,
}

impl std::fmt::Debug for PasswordInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Whether each is given, never the value.
        f.debug_struct("PasswordInput")
            .field("admin", &self.admin.is_some())
            .field("viewer", &self.viewer.is_some())
            .finish()
    }
}

/// Argon2id with the crate's recommended parameters (m=19456 KiB, t=2, p=1).
fn argon() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Hash a password into a PHC string.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Does `password` match the PHC string? A malformed string never matches.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // Parameters come from the PHC string itself.
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A random password a person can type: 20 characters without look-alikes.
pub fn generate_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

fn secret_ref(namespace: &str) -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: namespace.into(),
        name: SECRET_NAME.into(),
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn data_key(secret: &Value, key: &str, namespace: &str) -> Result<Option<Vec<u8>>, AuthError> {
    let Some(v) = secret
        .pointer(&format!("/data/{key}"))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    base64::engine::general_purpose::STANDARD
        .decode(v)
        .map(Some)
        .map_err(|_| AuthError::Damaged {
            namespace: namespace.into(),
            problem: format!("key {key} is not base64"),
        })
}

/// Parse the Secret into credentials (pure: tested without a cluster).
pub fn parse_secret(secret: &Value, namespace: &str) -> Result<Credentials, AuthError> {
    let damaged = |problem: String| AuthError::Damaged {
        namespace: namespace.into(),
        problem,
    };
    let text = |key: &str| -> Result<Option<String>, AuthError> {
        match data_key(secret, key, namespace)? {
            None => Ok(None),
            Some(b) => String::from_utf8(b)
                .map(Some)
                .map_err(|_| damaged(format!("key {key} is not text"))),
        }
    };
    let admin = text(KEY_ADMIN)?.ok_or_else(|| damaged(format!("key {KEY_ADMIN} is missing")))?;
    PasswordHash::new(&admin)
        .map_err(|_| damaged(format!("key {KEY_ADMIN} is not a PHC hash string")))?;
    let viewer = text(KEY_VIEWER)?;
    if let Some(v) = &viewer {
        PasswordHash::new(v)
            .map_err(|_| damaged(format!("key {KEY_VIEWER} is not a PHC hash string")))?;
    }
    let key = data_key(secret, KEY_SESSION, namespace)?
        .ok_or_else(|| damaged(format!("key {KEY_SESSION} is missing")))?;
    let session_key: [u8; 32] = key
        .try_into()
        .map_err(|_| damaged(format!("key {KEY_SESSION} is not 32 bytes")))?;
    Ok(Credentials {
        admin,
        viewer,
        session_key,
    })
}

/// The Secret object holding `c` (pure).
pub fn secret_object(namespace: &str, c: &Credentials) -> Value {
    let mut data = serde_json::Map::new();
    data.insert(KEY_ADMIN.into(), json!(b64(c.admin.as_bytes())));
    if let Some(v) = &c.viewer {
        data.insert(KEY_VIEWER.into(), json!(b64(v.as_bytes())));
    }
    data.insert(KEY_SESSION.into(), json!(b64(&c.session_key)));
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": SECRET_NAME,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "berth", "berth.dev/console": "auth"},
        },
        "type": "Opaque",
        "data": data,
    })
}

/// The outcome of [`load_or_create`].
#[derive(Debug)]
pub struct Loaded {
    /// The credentials in force.
    pub credentials: Credentials,
    /// A generated admin password to print once (first start without the variable).
    pub generated_admin: Option<String>,
}

/// Decide the credentials from what is stored and what the environment gives (pure).
/// Returns the credentials and whether they differ from the stored ones.
pub fn reconcile(
    stored: Option<Credentials>,
    input: &PasswordInput,
) -> Result<(Loaded, bool), AuthError> {
    match stored {
        None => {
            let (admin_pw, generated) = match &input.admin {
                Some(p) => (p.clone(), None),
                None => {
                    let p = generate_password();
                    (p.clone(), Some(p))
                }
            };
            let viewer = input.viewer.as_deref().map(hash_password).transpose()?;
            let mut key = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
            let c = Credentials {
                admin: hash_password(&admin_pw)?,
                viewer,
                session_key: key,
            };
            Ok((
                Loaded {
                    credentials: c,
                    generated_admin: generated,
                },
                true,
            ))
        }
        Some(mut c) => {
            let mut changed = false;
            if let Some(p) = &input.admin
                && !verify_password(&c.admin, p)
            {
                c.admin = hash_password(p)?;
                changed = true;
            }
            if let Some(p) = &input.viewer
                && !c.viewer.as_deref().is_some_and(|h| verify_password(h, p))
            {
                c.viewer = Some(hash_password(p)?);
                changed = true;
            }
            Ok((
                Loaded {
                    credentials: c,
                    generated_admin: None,
                },
                changed,
            ))
        }
    }
}

/// Read the login Secret, creating or updating it as the rules of docs/formats/console.md say.
pub async fn load_or_create(
    cluster: &Cluster,
    namespace: &str,
    input: &PasswordInput,
) -> Result<Loaded, AuthError> {
    let err = |source| AuthError::Cluster {
        namespace: namespace.into(),
        source: Box::new(source),
    };
    let existing = cluster.get(&secret_ref(namespace)).await.map_err(err)?;
    let stored = existing
        .as_ref()
        .map(|s| parse_secret(s, namespace))
        .transpose()?;
    let (loaded, changed) = reconcile(stored, input)?;
    if !changed {
        return Ok(loaded);
    }
    let mut obj = secret_object(namespace, &loaded.credentials);
    match existing {
        Some(old) => {
            // Compare-and-swap on the version read: two consoles starting at once do not
            // silently overwrite each other.
            if let Some(rv) = old.pointer("/metadata/resourceVersion") {
                obj["metadata"]["resourceVersion"] = rv.clone();
            }
            cluster.replace(&obj).await.map_err(err)?;
        }
        None => {
            ensure_namespace(cluster, namespace).await.map_err(err)?;
            cluster.create(&obj).await.map_err(err)?;
        }
    }
    Ok(loaded)
}

/// The console may start before the app is installed: its namespace may not exist yet.
async fn ensure_namespace(
    cluster: &Cluster,
    namespace: &str,
) -> Result<(), berth_deploy::cluster::ClusterError> {
    let r = ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: String::new(),
        name: namespace.into(),
    };
    if cluster.get(&r).await?.is_some() {
        return Ok(());
    }
    match cluster
        .create(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_and_verifies_only_the_right_password() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "correct horse "));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn secret_round_trips_and_damage_is_named() {
        let (l, changed) = reconcile(
            None,
            &PasswordInput {
                admin: Some("a-password".into()),
                viewer: Some("v-password".into()),
            },
        )
        .unwrap();
        assert!(changed);
        assert!(l.generated_admin.is_none());
        let obj = secret_object("shop", &l.credentials);
        let back = parse_secret(&obj, "shop").unwrap();
        assert!(verify_password(&back.admin, "a-password"));
        assert!(verify_password(
            back.viewer.as_deref().unwrap(),
            "v-password"
        ));
        assert_eq!(back.session_key, l.credentials.session_key);

        let mut bad = obj.clone();
        bad["data"][KEY_SESSION] = json!(b64(b"short"));
        let e = parse_secret(&bad, "shop").unwrap_err().to_string();
        assert!(e.contains("session-key is not 32 bytes"), "{e}");
        assert!(
            e.contains("kubectl delete secret -n shop berth-console-auth"),
            "{e}"
        );
        let mut bad = obj;
        bad["data"].as_object_mut().unwrap().remove(KEY_ADMIN);
        let e = parse_secret(&bad, "shop").unwrap_err().to_string();
        assert!(e.contains("admin-password is missing"), "{e}");
    }

    #[test]
    fn first_start_without_variable_generates_and_later_starts_keep_or_reset() {
        let (first, _) = reconcile(None, &PasswordInput::default()).unwrap();
        let pw = first.generated_admin.clone().unwrap();
        assert_eq!(pw.len(), 20);
        assert!(verify_password(&first.credentials.admin, &pw));
        assert!(first.credentials.viewer.is_none());
        // Unchanged when nothing is given, or the same password is given again.
        let (again, changed) =
            reconcile(Some(first.credentials.clone()), &PasswordInput::default()).unwrap();
        assert!(!changed && again.generated_admin.is_none());
        let same = PasswordInput {
            admin: Some(pw.clone()),
            viewer: None,
        };
        assert!(!reconcile(Some(first.credentials.clone()), &same).unwrap().1);
        // A different password in the variable resets the hash; the key stays.
        let reset = PasswordInput {
            admin: Some("new-one".into()),
            viewer: None,
        };
        let (r, changed) = reconcile(Some(first.credentials.clone()), &reset).unwrap();
        assert!(changed);
        assert!(verify_password(&r.credentials.admin, "new-one"));
        assert!(!verify_password(&r.credentials.admin, &pw));
        assert_eq!(r.credentials.session_key, first.credentials.session_key);
    }
}
