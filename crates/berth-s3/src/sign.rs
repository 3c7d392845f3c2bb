//! AWS Signature Version 4 for S3, as a pure function of the request's parts and a clock
//! reading, so that it can be checked against the published examples.

use sha2::{Digest, Sha256};

/// The payload hash S3 accepts when the body is not hashed up front.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// What is signed: method, the path exactly as sent, the query, the host and the payload hash.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `GET`, `PUT`, …
    pub method: &'a str,
    /// The URI path as it goes on the wire (already encoded).
    pub path: &'a str,
    /// Query parameters, unencoded; they are encoded and sorted here.
    pub query: &'a [(String, String)],
    /// `host[:port]`.
    pub host: &'a str,
    /// Lower-case hex SHA-256 of the body, or [`UNSIGNED_PAYLOAD`].
    pub payload_hash: &'a str,
    /// `AWS_SESSION_TOKEN` of temporary credentials.
    pub session_token: Option<&'a str>,
}

/// The headers to send: `authorization`, `x-amz-date`, `x-amz-content-sha256` and, with a
/// session token, `x-amz-security-token`. `amz_date` is `YYYYMMDDTHHMMSSZ` in UTC.
pub fn sign(
    req: &Request<'_>,
    access_key: &str,
    secret_key: &str,
    region: &str,
    amz_date: &str,
) -> Vec<(&'static str, String)> {
    let date = &amz_date[..amz_date.len().min(8)];
    let mut headers: Vec<(&'static str, String)> = vec![
        ("host", req.host.to_string()),
        ("x-amz-content-sha256", req.payload_hash.to_string()),
        ("x-amz-date", amz_date.to_string()),
    ];
    if let Some(t) = req.session_token {
        headers.push(("x-amz-security-token", t.to_string()));
    }
    headers.sort();
    let canonical_headers: String = headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        req.method,
        req.path,
        canonical_query(req.query),
        req.payload_hash
    );
    let scope = format!("{date}/{region}/s3/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let key = signing_key(secret_key, date, region);
    let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    headers.retain(|(k, _)| *k != "host");
    headers.push((
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
        ),
    ));
    headers
}

/// The query string, encoded and sorted as SigV4 wants (also what is sent).
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut q: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    q.sort();
    q.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The derived key of one day, region and service.
fn signing_key(secret_key: &str, date: &str, region: &str) -> [u8; 32] {
    let mut k = hmac_sha256(format!("AWS4{secret_key}").as_bytes(), date.as_bytes());
    for part in [region.as_bytes(), b"s3", b"aws4_request"] {
        k = hmac_sha256(&k, part);
    }
    k
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// SigV4 URI encoding: everything but `A-Za-z0-9-_.~` (and `/` in keys) as `%XX`.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signing_key_matches_the_aws_documentation_example() {
        // "Examples of how to derive a signing key for Signature Version 4" (AWS General
        // Reference), for service iam; the derivation is the same for s3.
        let mut k = hmac_sha256(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20120215");
        for part in [b"us-east-1".as_slice(), b"iam", b"aws4_request"] {
            k = hmac_sha256(&k, part);
        }
        assert_eq!(
            hex::encode(k),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn get_object_matches_the_s3_documentation_example() {
        // "Signature Calculations for the Authorization Header: Transferring Payload in a
        // Single Chunk", example GET Object (Range header left out: it is not signed here, so
        // the example with only host, x-amz-content-sha256 and x-amz-date is the
        // ListObjects one below).
        let q = [
            ("max-keys".to_string(), "2".to_string()),
            ("prefix".to_string(), "J".to_string()),
        ];
        let h = sign(
            &Request {
                method: "GET",
                path: "/",
                query: &q,
                host: "examplebucket.s3.amazonaws.com",
                payload_hash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                session_token: None,
            },
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "us-east-1",
            "20130524T000000Z",
        );
        let auth = &h.iter().find(|(k, _)| *k == "authorization").unwrap().1;
        assert!(
            auth.ends_with(
                "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
            ),
            "{auth}"
        );
        assert!(auth.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date"));
    }

    #[test]
    fn keys_and_queries_are_encoded_as_sigv4_wants() {
        assert_eq!(uri_encode("a b/c~d+e", true), "a%20b/c~d%2Be");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        let q = [
            ("prefix".to_string(), "x/y".to_string()),
            ("list-type".to_string(), "2".to_string()),
        ];
        assert_eq!(canonical_query(&q), "list-type=2&prefix=x%2Fy");
    }
}
