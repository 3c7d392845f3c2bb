//! Line rules: troubleshoot's default redactors, berth's additions, and the regex machinery
//! (named `mask`/`drop` groups, multi-line selectors) shared with Redactor specs.

use regex::bytes::Regex;

/// What happens to a capture group's text in the replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupKind {
    /// Unnamed or other named groups: kept.
    Keep,
    /// `(?P<mask>...)`: replaced by the mask (or a token).
    Mask,
    /// `(?P<drop>...)`: removed.
    Drop,
    /// `(?P<key>...)`: kept; the match only redacts when the key names a secret.
    Key,
}

/// A compiled single-line regex redactor.
#[derive(Debug, Clone)]
pub(crate) struct LineRule {
    pub name: String,
    /// The pattern as compiled (repeated group names made unique).
    pub pattern: String,
    pub re: Regex,
    pub groups: Vec<GroupKind>,
    /// Lower-case substrings, one of which must occur in the (lower-cased) line: a cheap
    /// prefilter compiled as one literal search.
    pub scan: Option<Regex>,
    pub is_default: bool,
    /// The `key` group starts at the secret word; the key's beginning is found by walking
    /// back over key characters (cheaper than a leading `[\w.-]*` in the regex).
    pub key_prefix: bool,
    /// A match is only redacted when this accepts it: (line, match start, match end, the
    /// `mask` groups' text).
    pub check: Option<MatchCheck>,
}

/// Decides whether a match is a secret: (line, match start, match end, masked text).
pub(crate) type MatchCheck = fn(&[u8], usize, usize, &[u8]) -> bool;

/// A selector/redactor pair: the selector on line N arms the redactor for line N+1.
#[derive(Debug, Clone)]
pub(crate) struct MultiLineRule {
    pub selector: Regex,
    pub rule: LineRule,
}

impl MultiLineRule {
    /// Does `line` arm this rule? A selector with a `key` group (berth's YAML env entries)
    /// only arms when that name is a secret's (`API_KEY_HEADER` is not).
    pub fn selects(&self, line: &[u8]) -> bool {
        if !self.selector.is_match(line) {
            return false;
        }
        match self.selector.captures(line) {
            None => false,
            Some(c) => c.name("key").is_none_or(|k| {
                let name = String::from_utf8_lossy(k.as_bytes());
                let norm = name.to_ascii_lowercase();
                is_secret_key(&name) || norm.contains("user") || norm.contains("database")
            }),
        }
    }
}

/// Troubleshoot allows a group name to repeat (`mask` twice); Rust's regex does not, so
/// repeated `mask`/`drop` names are renamed `mask__N` / `drop__N` before compiling.
fn dedupe_group_names(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut n = 0;
    let mut rest = pattern;
    while let Some(i) = rest.find("(?") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let mut replaced = false;
        for prefix in ["(?P<", "(?<"] {
            for name in ["mask", "drop"] {
                let pat = format!("{prefix}{name}>");
                if tail.starts_with(&pat) {
                    n += 1;
                    out.push_str(&format!("(?P<{name}__{n}>"));
                    rest = &tail[pat.len()..];
                    replaced = true;
                    break;
                }
            }
            if replaced {
                break;
            }
        }
        if !replaced {
            out.push_str("(?");
            rest = &tail[2..];
        }
    }
    out.push_str(rest);
    out
}

/// Compiles a redactor regex; errors carry regex's own message.
pub(crate) fn compile_rule(
    name: &str,
    pattern: &str,
    scan: &[&str],
    is_default: bool,
) -> Result<LineRule, String> {
    // Default rules use ASCII classes (`\w`, `\s`, `\b`) like Go's RE2, which is also faster;
    // custom rules keep Unicode so non-ASCII literals in them work.
    let pattern = dedupe_group_names(pattern);
    let re = regex::bytes::RegexBuilder::new(&pattern)
        .unicode(!is_default)
        .size_limit(32 * 1024 * 1024)
        .build()
        .map_err(|e| e.to_string())?;
    let groups = re
        .capture_names()
        .skip(1)
        .map(|n| match n {
            Some(n) if n == "mask" || n.starts_with("mask__") => GroupKind::Mask,
            Some(n) if n == "drop" || n.starts_with("drop__") => GroupKind::Drop,
            Some("key") => GroupKind::Key,
            _ => GroupKind::Keep,
        })
        .collect();
    Ok(LineRule {
        name: name.to_string(),
        pattern,
        re,
        groups,
        scan: if scan.is_empty() {
            None
        } else {
            let alts: Vec<String> = scan.iter().map(|s| regex::escape(s)).collect();
            Some(
                regex::bytes::RegexBuilder::new(&alts.join("|"))
                    .unicode(false)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
        },
        is_default,
        key_prefix: false,
        check: None,
    })
}

/// Substrings whose presence in a line makes it worth running the default rules on.
/// Every default rule below needs at least one of them (checked case-insensitively).
pub(crate) const DEFAULT_TRIGGERS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
    "bearer",
    "user",
    "database",
    "data source",
    "location",
    "server",
    "uid",
    "://",
    "@tcp(",
    "entity",
    "-----begin",
    "akia",
    "asia",
    "agpa",
    "aida",
    "aroa",
    "anpa",
    "anva",
    "aipa",
    "ghr_",
    "eyj",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "xox",
    "aiza",
    "sig=",
    "signature",
    "dsn",
    "private",
    "connectionstring",
    "sas",
    "owner_account",
    "owneraccount",
    // Issue 18: command lines, names, cookies, webhooks, SaaS tokens, free-text AWS keys.
    "pw",
    "docker",
    "connection",
    "cookie",
    "hooks.slack.com",
    "discord",
    "sk_live_",
    "rk_live_",
    "glpat-",
    "npm_",
    "mysql",
    "mariadb",
    "mongo",
    "redis-cli",
    "sshpass",
    "curl",
    "hmac",
    "salt",
    "aws",
    "machine",
];

const ENV_JSON: &str =
    r#"(?i)(\\"name\\":\\"[^"]*KEYWORD[^"]*\\",\\"value\\":\\")(?P<mask>[^"]*)(\\")"#;
const ENV_JSON_SUFFIX: &str =
    r#"(?i)(\\"name\\":\\"[^"]*KEYWORD\\",\\"value\\":\\")(?P<mask>[^"]*)(\\")"#;
const MULTI_SELECTOR: &str = r#"(?i)"name": *"[^"]*KEYWORD[^"]*""#;
const MULTI_REDACTOR: &str = r#"(?i)("value": *")(?P<mask>.*[^"]*)(")"#;

/// Words a key must contain to name a secret (after lower-casing and removing `-_. `).
const SECRET_KEY_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "privatekey",
    "credential",
    "authorization",
    "connectionstring",
    "sessionkey",
    "signingkey",
    "encryptionkey",
    "masterkey",
    "accountkey",
    "signature",
    "sharedaccesskey",
    "clientkey",
    "dsn",
    "hmac",
    "salt",
    "jwtkey",
    "tlskey",
    "sshkey",
    "licensekey",
    "dockerconfigjson",
    "dockercfg",
    "cookie",
];

/// Words ending in `pass` that are not passwords.
const NOT_PASS_WORDS: &[&str] = &[
    "bypass",
    "compass",
    "encompass",
    "overpass",
    "underpass",
    "trespass",
    "surpass",
    "impass",
    "firstpass",
    "onepass",
    "singlepass",
    "multipass",
];

/// Endings that name a reference to a secret rather than the secret itself.
const NOT_SECRET_ENDINGS: &[&str] = &[
    "name",
    "names",
    "ref",
    "refs",
    "exists",
    "path",
    "paths",
    "file",
    "filename",
    "dir",
    "type",
    "kind",
    "mode",
    "ttl",
    "expiry",
    "expiration",
    "expires",
    "expiresat",
    "seconds",
    "length",
    "policy",
    "enabled",
    "required",
    "selector",
    "namespace",
    "version",
    "count",
    "size",
    "format",
    "source",
    "sources",
    "url",
    "endpoint",
    "provider",
    "field",
    "fields",
    "template",
    "hash",
    "checksum",
    "annotations",
    "labels",
    "id",
    "rounds",
    "algorithm",
    "algo",
    "domain",
    "samesite",
    "secure",
    "httponly",
    "maxage",
    "timeout",
    "duration",
    "header",
    "headers",
];

/// True when a key (JSON/YAML key, env var name, `k=v` key) names a secret.
pub fn is_secret_key(key: &str) -> bool {
    // Most keys (`apiVersion`, `image`, `labels`) hold none of the words: reject them
    // without allocating (this runs for every key of every parsed document).
    let lower_has = |w: &[u8]| {
        key.as_bytes()
            .windows(w.len())
            .any(|win| win.eq_ignore_ascii_case(w))
    };
    const STEMS: &[&[u8]] = &[
        b"pas",
        b"pw",
        b"secret",
        b"token",
        b"key",
        b"cred",
        b"auth",
        b"sign",
        b"dsn",
        b"connection",
        b"salt",
        b"hmac",
        b"cookie",
        b"docker",
    ];
    if !STEMS.iter().any(|w| lower_has(w)) {
        return false;
    }
    let norm: String = key
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.' | ' ' | '"' | '\\' | '\''))
        .collect::<String>()
        .to_lowercase();
    if norm.is_empty() {
        return false;
    }
    // `server.key`, `tls.key`, `sa.key`: a key file's content.
    let raw = key
        .trim_matches(|c| matches!(c, '"' | '\\' | '\''))
        .to_ascii_lowercase();
    // `tokens_controller.go:190]` is a source position; `checksum/secret` a hash; `*v1.Secret`
    // a kind; `secrets` a list of names.
    const SOURCE_EXTS: &[&str] = &[
        ".go", ".py", ".rs", ".java", ".js", ".ts", ".rb", ".c", ".cc", ".cpp", ".h", ".cs", ".kt",
        ".php",
    ];
    if SOURCE_EXTS.iter().any(|e| raw.ends_with(e))
        || norm.starts_with("checksum")
        || norm.ends_with("secrets")
        || key.trim_start_matches(['*', '.']).rsplit('.').next() == Some("Secret")
    {
        return false;
    }
    if raw.ends_with(".key") && raw.len() > 4 {
        return true;
    }
    // `SMTP_PASS`, `LDAP_BIND_PW`, `bind_pw`, `pw`, `--db-pass`.
    if norm.ends_with("pw")
        || (norm.ends_with("pass") && !NOT_PASS_WORDS.iter().any(|w| norm.ends_with(w)))
    {
        return true;
    }
    // accessKeyId / AWS_ACCESS_KEY_ID are credentials even though they end with "id".
    if norm.ends_with("accesskeyid")
        || norm == "pwd"
        || norm.ends_with("pwd")
        || norm == "auth"
        || norm == "pass"
    {
        return true;
    }
    if NOT_SECRET_ENDINGS.iter().any(|e| norm.ends_with(e)) {
        return false;
    }
    SECRET_KEY_WORDS.iter().any(|w| norm.contains(w))
}

/// Troubleshoot's 18 single-line defaults plus berth's; scan lists are lower-case.
pub(crate) fn default_line_rules() -> Vec<LineRule> {
    let mut specs: Vec<(String, String, Vec<&str>)> = Vec::new();
    // (1-7) escaped-JSON environment entries.
    for (kw, scan, suffix) in [
        ("SECRET_?ACCESS_?KEY", "secret", true),
        ("ACCESS_?KEY_?ID", "access", true),
        ("OWNER_?ACCOUNT", "owner", true),
        ("password", "password", false),
        ("token", "token", false),
        ("database", "database", false),
        ("user", "user", false),
    ] {
        let tpl = if suffix { ENV_JSON_SUFFIX } else { ENV_JSON };
        specs.push((
            format!("Redact values for environment variables that look like {kw}"),
            tpl.replace("KEYWORD", kw),
            vec![scan],
        ));
    }
    specs.push((
        "Redact connection strings with username and password".into(),
        r#"(?i)(https?|ftp)(://)(?P<mask>[^:"/\s]+)(:)(?P<mask>[^@"/\s]+)(?P<host>@[^:/\s"]+)(?P<port>:[\d]+)?"#.into(),
        vec!["http", "ftp"],
    ));
    specs.push((
        "Redact database connection strings that contain username and password".into(),
        r#"\b(?P<mask>[^:"/\s]*)(:)(?P<mask>[^:"/\s]*)(@tcp\()(?P<mask>[^:"/\s]*)(?P<port>:[\d]*)?(\)/)(?P<mask>\S+)\b"#.into(),
        vec!["@tcp("],
    ));
    specs.push((
        "Redact database connection strings that contain username and password".into(),
        r#"\b(\w*://)(?P<mask>[^:"/\s]*)(:)(?P<mask>[^@"/\s]*)(@)(?P<mask>[^:"/\s]*)(?P<port>:[\d]*)?(/)(?P<mask>[\w\-]+)\b"#.into(),
        vec!["://"],
    ));
    for (kw, scan) in [
        ("Data Source", "data source"),
        ("location", "location"),
        ("User ID", "user id"),
        ("password", "password"),
        ("Server", "server"),
        ("Database", "database"),
        ("Uid", "uid"),
        ("Pwd", "pwd"),
    ] {
        specs.push((
            format!("Redact '{kw}' values commonly found in database connection strings"),
            format!(r"(?i)({kw} *= *)(?P<mask>[^;]+)(;)"),
            vec![scan],
        ));
    }
    // berth's additions.
    specs.push((
        "berth: user and password in any URL".into(),
        r#"(?i)(\b[a-z][a-z0-9+.\-]*://)(?P<mask>[^:@/\s"']*)(:)(?P<mask>[^@/\s"']+)(@)"#.into(),
        vec!["://"],
    ));
    specs.push((
        "berth: private keys on one line (escaped PEM)".into(),
        r"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)(?P<mask>.*?)(-----END [A-Z0-9 ]*PRIVATE KEY-----)".into(),
        vec!["-----begin"],
    ));
    specs.push((
        "berth: environment entries as JSON or escaped JSON".into(),
        r#"(?i)(\\*"name\\*"\s*:\s*\\*")(?P<key>[^"\\]*)(\\*"\s*,\s*\\*"value\\*"\s*:\s*\\*")(?P<mask>[^"\\]*)(\\*")"#.into(),
        vec!["name"],
    ));
    specs.push((
        "berth: bearer and basic credentials".into(),
        r#"(?i)((?:authorization|proxy-authorization)\\*"?\s*[:=]\s*\\*"?\s*(?:bearer|basic|token|digest|negotiate)\s+|\bbearer\s+)(?P<mask>[A-Za-z0-9\-._~+/]{6,}=*)"#.into(),
        vec!["auth", "bearer"],
    ));
    specs.push((
        "berth: cloud and SaaS keys".into(),
        r"\b(?P<mask>(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_\-]{35})".into(),
        vec!["akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa", "gh", "xox", "aiza"],
    ));
    specs.push((
        "berth: JSON web tokens".into(),
        r"\b(?P<mask>eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,})".into(),
        vec!["eyj"],
    ));
    specs.push((
        "berth: Azure storage and service bus keys".into(),
        r"(?i)\b((?:AccountKey|SharedAccessKey|SharedAccessSignature)=)(?P<mask>[^;&\s]+)".into(),
        vec!["accountkey", "sharedaccess"],
    ));
    specs.push((
        "berth: webhook URLs (Slack, Discord)".into(),
        r"(?i)(\bhttps?://(?:hooks\.slack\.com/(?:services|workflows|triggers)/|(?:[a-z]+\.)?discord(?:app)?\.com/api/webhooks/))(?P<mask>[A-Za-z0-9/_\-]+)".into(),
        vec!["hooks.slack.com", "discord"],
    ));
    specs.push((
        "berth: SaaS tokens (Stripe, GitLab, npm)".into(),
        r"\b(?P<mask>(?:sk|rk)_live_[0-9A-Za-z]{10,}|glpat-[0-9A-Za-z_\-]{20,}|npm_[0-9A-Za-z]{36})".into(),
        vec!["sk_live_", "rk_live_", "glpat-", "npm_"],
    ));
    specs.push((
        "berth: AWS secret access keys in free text".into(),
        r"(?P<mask>[A-Za-z0-9][A-Za-z0-9/+]{38}[A-Za-z0-9])".into(),
        vec!["aws", "akia", "asia", "secret", "key"],
    ));
    specs.push((
        "berth: cookies (Cookie and Set-Cookie headers)".into(),
        r#"(?i)((?:^|[^\w\-])cookie\\*"?\s*[:=]\s*\\*"?\s*)(?P<mask>[^"\\\r\n]+)"#.into(),
        vec!["cookie"],
    ));
    specs.push((
        "berth: cookies (Cookie and Set-Cookie headers)".into(),
        r#"(?i)(\bset-cookie\\*"?\s*[:=]\s*\\*"?\s*[^=;"\\\s]+=)(?P<mask>[^;"\\\r\n]+)"#.into(),
        vec!["cookie"],
    ));
    specs.push((
        "berth: passwords as command-line arguments".into(),
        // `--password X`, `-storepass X`; the flag is checked in code (is_secret_key).
        r#"(?i)((?:^|\s))(?P<key>--?[\w.\-]*(?:pass|pw|secret|token|key|auth|credential)[\w.\-]*)(\s+)(?:(")(?P<mask>[^"]*)(")|(')(?P<mask>[^']*)(')|(?P<mask>[^\s"'\\\-][^\s"'\\]*))"#.into(),
        vec!["pass", "pw", "secret", "token", "key", "auth", "credential"],
    ));
    specs.push((
        "berth: passwords as command-line arguments".into(),
        // `["--db-pass", "X"]` in JSON or YAML flow lists, escaped or not.
        r#"(?i)(\\*")(?P<key>--?[\w.\-]*(?:pass|pw|secret|token|key|auth|credential)[\w.\-]*)(\\*"\s*,\s*\\*")(?P<mask>[^"\\]+)"#.into(),
        vec!["pass", "pw", "secret", "token", "key", "auth", "credential"],
    ));
    specs.push((
        "berth: passwords as command-line arguments".into(),
        // mysql/mariadb `-pX` (attached: `-p X` prompts and X is the database).
        r#"((?i:\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mysqlsh|mariadb|mariadb-dump|mariadb-admin)\b)[^\n]*?\s-p)(?P<mask>"[^"]*"|'[^']*'|[^\s"'\\]+)"#.into(),
        vec!["mysql", "mariadb"],
    ));
    specs.push((
        "berth: passwords as command-line arguments".into(),
        // mongo `-p X`, redis-cli `-a X`, sshpass `-p X`.
        r#"((?i:\b(?:mongo(?:sh|dump|restore|import|export|stat|top)?|sshpass)\b)[^\n]*?\s-p\s*|(?i:\bredis-cli\b)[^\n]*?\s-a\s+)(?P<mask>"[^"]*"|'[^']*'|[^\s"'\\]+)"#.into(),
        vec!["mongo", "sshpass", "redis-cli"],
    ));
    specs.push((
        "berth: passwords as command-line arguments".into(),
        // curl `-u user:X`, `--user user:X`, `-U`/`--proxy-user`.
        r#"((?i:\bcurl\b)[^\n]*?\s(?:-u|--user|-U|--proxy-user)(?:\s+|=)?["']?[^\s:"']*:)(?P<mask>[^\s"'\\]+)"#.into(),
        vec!["curl"],
    ));
    specs.push((
        "berth: .netrc passwords".into(),
        r"(?i)(\b(?:machine\s+\S+|default)\s[^\n]*?\bpassword\s+)(?P<mask>\S+)".into(),
        vec!["machine", "default"],
    ));
    specs.push((
        "berth: .netrc passwords".into(),
        r"(?i)^(\s*password\s+)(?P<mask>\S+)(\s*)$".into(),
        vec!["password"],
    ));
    specs.push((
        "berth: passwords in prose (`the password is X`)".into(),
        r#"(?i)(\b(?:password|passphrase|passwd|pwd|secret|token|api[ _\-]?key)(?:\s+for\s+[\w@.\-]+)?\s+(?:is|was|is\s+now|set\s+to|changed\s+to|became)\s+)(["'`]?)(?P<mask>[^\s"'`,;]*[^\s"'`,;.!?:)])"#.into(),
        vec!["pass", "pwd", "secret", "token", "key"],
    ));
    specs.push((
        "berth: secret-named keys with values (k=v, k: v, JSON)".into(),
        // The key is checked in code (is_secret_key) so `secretName: x` stays.
        r#"(?i)(?P<key>(?:pass|pw|secret|token|api[_\-.]?key|access[_\-.]?key|private[_\-.]?key|client[_\-.]?key|credentials?|authorization|auth|signature|session[_\-.]?key|signing[_\-.]?key|jwt[_\-.]?key|hmac|salt|\.key|dockerconfigjson|dockercfg|dsn|connection[_\-.]?string|account[_\-.]?key)[\w.\-]*)(\\*"?\s*[=:]\s*)(?:(\\*")(?P<mask>(?:[^"\\]|\\[^"])*)(\\*")|(')(?P<mask>[^']*)(')|((?:bearer|basic|digest|negotiate)\s+)?(?P<mask>[^\s"',;&{}\[\]\\|>][^\s"',;&}\]\\]*))"#.into(),
        vec![
            "pass", "pw", "secret", "token", "key", "credential", "auth", "signature", "dsn",
            "connection", "hmac", "salt", "docker",
        ],
    ));
    specs
        .into_iter()
        .map(|(name, pat, scan)| {
            let key_prefix = name.starts_with("berth: secret-named keys");
            let check: Option<MatchCheck> = if name.starts_with("berth: AWS secret") {
                Some(aws_secret_shape)
            } else if name.starts_with("berth: passwords in prose")
                || name.starts_with("berth: .netrc")
            {
                Some(not_a_word)
            } else if key_prefix {
                Some(key_value)
            } else if name.starts_with("berth: passwords as command-line") {
                Some(not_plain_literal)
            } else {
                None
            };
            compile_rule(&name, &pat, &scan, true)
                .map(|mut rule| {
                    rule.key_prefix = key_prefix;
                    rule.check = check;
                    rule
                })
                .unwrap_or_else(|e| panic!("default redactor {name} does not compile: {e}"))
        })
        .collect()
}

/// A value that is never a secret on its own (`automountServiceAccountToken: false`).
fn not_plain_literal(_line: &[u8], _start: usize, _end: usize, value: &[u8]) -> bool {
    !matches!(
        value.to_ascii_lowercase().as_slice(),
        b"true" | b"false" | b"null" | b"nil" | b"none" | b"<none>" | b"~"
    )
}

/// A key rule's value: not a plain literal, and not the size `kubectl describe secret`
/// prints (`password:  24 bytes`).
fn key_value(line: &[u8], start: usize, end: usize, value: &[u8]) -> bool {
    let size = !value.is_empty()
        && value.iter().all(u8::is_ascii_digit)
        && line[end..].starts_with(b" bytes");
    // klog's `secret="kube-system/bootstrap-token-abcdef"` names a Secret object.
    let key_end = line[start..end]
        .iter()
        .position(|&b| matches!(b, b'=' | b':' | b'"' | b'\\'))
        .map_or(end, |p| start + p);
    let names_object =
        line[start..key_end].eq_ignore_ascii_case(b"secret") && is_namespaced_name(value);
    !size && !names_object && not_plain_literal(line, start, end, value)
}

/// `namespace/name` with Kubernetes name characters.
fn is_namespaced_name(v: &[u8]) -> bool {
    let label = |s: &[u8]| {
        !s.is_empty()
            && s.iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'))
    };
    let mut parts = v.split(|&b| b == b'/');
    matches!((parts.next(), parts.next(), parts.next()), (Some(ns), Some(n), None) if label(ns) && label(n))
}

/// `24 bytes`: the size `kubectl describe secret` prints instead of a value.
pub(crate) fn is_byte_count(v: &[u8]) -> bool {
    v.strip_suffix(b" bytes")
        .is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit))
}

/// Ordinary words after `password is` (`required`, `expired`, `not`): not the password.
fn not_a_word(line: &[u8], start: usize, end: usize, value: &[u8]) -> bool {
    if !value.iter().all(|b| b.is_ascii_lowercase()) {
        return not_plain_literal(line, start, end, value);
    }
    const WORDS: &[&str] = &[
        "a",
        "an",
        "the",
        "not",
        "no",
        "too",
        "set",
        "unset",
        "empty",
        "blank",
        "missing",
        "required",
        "incorrect",
        "invalid",
        "wrong",
        "correct",
        "valid",
        "ok",
        "okay",
        "null",
        "nil",
        "none",
        "now",
        "still",
        "also",
        "only",
        "being",
        "read",
        "used",
        "stored",
        "sent",
        "shown",
        "hidden",
        "weak",
        "strong",
        "short",
        "long",
        "same",
        "different",
        "optional",
        "mandatory",
        "unknown",
        "available",
        "unavailable",
        "due",
        "about",
        "in",
        "on",
        "at",
        "of",
        "to",
        "from",
        "with",
        "for",
        "by",
        "that",
        "this",
        "it",
        "its",
        "your",
        "our",
        "their",
        "my",
        "his",
        "her",
        "case",
        "good",
        "bad",
        "fine",
        "new",
        "old",
        "never",
        "always",
        "usually",
        "required.",
        "present",
        "absent",
        "reset",
        "expired",
        "sensitive",
        "secret",
        "there",
        "here",
        "what",
        "which",
        "where",
        "when",
        "how",
        "who",
        "incomplete",
        "too",
        "one",
        "two",
        "stale",
        "false",
        "true",
        "unchanged",
        "saved",
        "rotated",
    ];
    let w = String::from_utf8_lossy(value);
    !(WORDS.contains(&w.as_ref())
        || w.ends_with("ed")
        || w.ends_with("ing")
        || w.ends_with("ly")
        || w.ends_with("able")
        || w.ends_with("ible"))
}

/// 40 characters of base64 standing alone, with upper- and lower-case letters and a digit or
/// `/`/`+` (an AWS secret access key), and not a hex digest.
fn aws_secret_shape(line: &[u8], start: usize, end: usize, value: &[u8]) -> bool {
    let b64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b'=');
    if (start > 0 && b64(line[start - 1])) || line.get(end).is_some_and(|&b| b64(b)) {
        return false;
    }
    value.iter().any(u8::is_ascii_uppercase)
        && value.iter().any(u8::is_ascii_lowercase)
        && value
            .iter()
            .any(|b| b.is_ascii_digit() || matches!(b, b'/' | b'+'))
        && !value.iter().all(u8::is_ascii_hexdigit)
}

/// Troubleshoot's 8 multi-line defaults (selector on line N, value on line N+1) plus a YAML
/// env-entry form (`- name: DB_PASSWORD` / `value: ...`).
pub(crate) fn default_multi_line_rules() -> Vec<MultiLineRule> {
    let mut out = Vec::new();
    let compile = |name: &str, sel: &str, red: &str, scan: &[&str]| MultiLineRule {
        selector: Regex::new(sel).unwrap_or_else(|e| panic!("default selector {name}: {e}")),
        rule: compile_rule(name, red, scan, true)
            .unwrap_or_else(|e| panic!("default redactor {name}: {e}")),
    };
    for kw in [
        "SECRET_?ACCESS_?KEY",
        "ACCESS_?KEY_?ID",
        "OWNER_?ACCOUNT",
        "password",
        "token",
        "database",
        "user",
    ] {
        out.push(compile(
            &format!("Redact multiline values for environment variables that look like {kw}"),
            &MULTI_SELECTOR.replace("KEYWORD", kw),
            MULTI_REDACTOR,
            &[],
        ));
    }
    out.push(compile(
        "Redact ceph keys",
        r#"(?i)("entity": *"(osd|client|mgr)\..*[^"]*")"#,
        r#"(?i)("key": *")(?P<mask>.{38}==[^"]*)(")"#,
        &[],
    ));
    out.push(compile(
        "berth: YAML environment entries",
        r#"(?i)^\s*-?\s*name:\s*["']?(?P<key>(?:[\w.\-]*[_.\-])?(?:pass|pw|hmac|salt|cookie))["']?\s*$"#,
        r#"(?i)^(\s*value:\s*["']?)(?P<mask>[^"'\r]*)(["']?\s*)$"#,
        &[],
    ));
    out.push(compile(
        "berth: YAML environment entries",
        r#"(?i)^\s*-?\s*name:\s*["']?(?P<key>[\w.\-]*(?:password|passwd|pwd|secret|token|key|credential|auth|user|database|dsn)[\w.\-]*)["']?\s*$"#,
        r#"(?i)^(\s*value:\s*["']?)(?P<mask>[^"'\r]*)(["']?\s*)$"#,
        &[],
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_group_names_compile() {
        let r = compile_rule("t", r"(?P<mask>a)(:)(?P<mask>b)(?P<drop>c)", &[], false).unwrap();
        assert_eq!(
            r.groups,
            vec![
                GroupKind::Mask,
                GroupKind::Keep,
                GroupKind::Mask,
                GroupKind::Drop
            ]
        );
    }

    #[test]
    fn secret_keys() {
        for k in [
            "password",
            "DB_PASSWORD",
            "apiKey",
            "api-key",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "clientSecret",
            "token",
            "pwd",
            "privateKey",
            "authorization",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "secretName",
            "secretKeyRef",
            "tokenExpirationSeconds",
            "name",
            "key",
            "user",
            "passwordFile",
            "secretExists",
            "monkey",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn defaults_compile() {
        assert!(default_line_rules().len() > 20);
        assert_eq!(default_multi_line_rules().len(), 10);
    }
}
