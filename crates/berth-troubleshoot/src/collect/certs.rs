//! Certificate inspection shared by the host `certificate`/`certificatesCollection` collectors
//! and the cluster `certificates` collector: chain details (subject, SANs, issuer, validity)
//! and whether a key file belongs to a certificate.

use serde_json::{Value, json};
use std::path::Path;
use x509_parser::prelude::*;

/// PEM blocks of a text: (label, DER bytes).
fn pem_blocks(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for p in Pem::iter_from_buffer(data) {
        match p {
            Ok(p) => out.push((p.label, p.contents)),
            Err(_) => break,
        }
    }
    out
}

/// One certificate's details, troubleshoot's `certificateChain` entry shape.
pub fn cert_info(der: &[u8]) -> Option<Value> {
    let (_, c) = X509Certificate::from_der(der).ok()?;
    let nb = c.validity().not_before.timestamp();
    let na = c.validity().not_after.timestamp();
    let now = jiff::Timestamp::now().as_second();
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = c.subject_alternative_name() {
        for n in &ext.value.general_names {
            match n {
                GeneralName::DNSName(d) => sans.push(d.to_string()),
                GeneralName::IPAddress(ip) => {
                    let s = match ip.len() {
                        4 => std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string(),
                        16 => {
                            let mut a = [0u8; 16];
                            a.copy_from_slice(ip);
                            std::net::Ipv6Addr::from(a).to_string()
                        }
                        _ => continue,
                    };
                    sans.push(s)
                }
                _ => {}
            }
        }
    }
    let ts = |t: i64| {
        jiff::Timestamp::from_second(t)
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    Some(json!({
        "certificate": c.subject().iter_common_name().next().and_then(|n| n.as_str().ok()).unwrap_or(""),
        "subject": c.subject().to_string(),
        "subjectAlternativeNames": sans,
        "issuer": c.issuer().to_string(),
        "notAfter": ts(na),
        "notBefore": ts(nb),
        "isValid": nb <= now && now <= na,
        "isCA": c.is_ca(),
    }))
}

/// Chain details of every certificate in PEM data; `None` if there is none.
pub fn chain_info(data: &[u8]) -> Option<Vec<Value>> {
    let chain: Vec<Value> = pem_blocks(data)
        .iter()
        .filter(|(l, _)| l == "CERTIFICATE")
        .filter_map(|(_, d)| cert_info(d))
        .collect();
    (!chain.is_empty()).then_some(chain)
}

/// `certificatesCollection` entry for one file.
pub fn certificate_file_info(path: &Path) -> Value {
    let p = path.display().to_string();
    match std::fs::read(path) {
        Err(_) => json!({"certificatePath": p, "message": "cert-missing"}),
        Ok(data) => match chain_info(&data) {
            None => {
                json!({"certificatePath": p, "certificateChain": [], "message": "cert-invalid"})
            }
            Some(chain) => {
                let valid = chain.iter().all(|c| c["isValid"] == true);
                json!({
                    "certificatePath": p,
                    "certificateChain": chain,
                    "message": if valid { "cert-valid" } else { "cert-invalid" },
                })
            }
        },
    }
}

/// The `certificate` collector's verdict on a certificate + key file pair: one of
/// `key-pair-missing`, `key-pair-switched`, `key-pair-encrypted`, `key-pair-mismatch`,
/// `key-pair-invalid`, `key-pair-valid`.
pub fn key_pair_status(cert: &Path, key: &Path) -> &'static str {
    let (Ok(c), Ok(k)) = (std::fs::read(cert), std::fs::read(key)) else {
        return "key-pair-missing";
    };
    let cblocks = pem_blocks(&c);
    let kblocks = pem_blocks(&k);
    let is_key = |l: &str| l.ends_with("PRIVATE KEY");
    if cblocks.iter().any(|(l, _)| is_key(l)) && kblocks.iter().any(|(l, _)| l == "CERTIFICATE") {
        return "key-pair-switched";
    }
    if kblocks.iter().any(|(l, _)| l.contains("ENCRYPTED"))
        || String::from_utf8_lossy(&k).contains("Proc-Type: 4,ENCRYPTED")
    {
        return "key-pair-encrypted";
    }
    let Some((_, cder)) = cblocks.iter().find(|(l, _)| l == "CERTIFICATE") else {
        return "key-pair-invalid";
    };
    let Some((_, kder)) = kblocks.iter().find(|(l, _)| is_key(l)) else {
        return "key-pair-invalid";
    };
    let Ok((_, cert)) = X509Certificate::from_der(cder) else {
        return "key-pair-invalid";
    };
    // The private key encodes the public part (RSA modulus, EC point); find it in the key.
    let spki = cert.public_key();
    let needle: Vec<u8> = match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => rsa.modulus.to_vec(),
        _ => spki.subject_public_key.data.to_vec(),
    };
    let needle: &[u8] = {
        let mut n = needle.as_slice();
        while n.len() > 1 && n[0] == 0 {
            n = &n[1..];
        }
        n
    };
    if needle.len() >= 16 && kder.windows(needle.len()).any(|w| w == needle) {
        "key-pair-valid"
    } else {
        "key-pair-mismatch"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A throwaway self-signed pair generated for these tests (EC P-256), and a second key.
    const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBfTCCASOgAwIBAgIUSxMqF5e7ePfK1BMvd6jg1LwYiuMwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MB4XDTI2MTEyNjE3MDAwMFoXDTM2MTEyNDE3
MDAwMFowFDESMBAGA1UEAwwJbG9jYWxob3N0MFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEq1BhFa6YzM5UeI7tB1nLZ4b5J5i0qGmN1m7X3b7u4y9q9sM0S8m0j6u1
2wQeY6M1yq8f9G0xv5bZ3m2qkQm1OKNTMFEwHQYDVR0OBBYEFHn7p4Dq0mW9m0xF
-----END CERTIFICATE-----
";

    #[test]
    fn missing_and_invalid_pairs() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join("c.pem");
        let k = d.path().join("k.pem");
        assert_eq!(key_pair_status(&c, &k), "key-pair-missing");
        std::fs::write(&c, "garbage").unwrap();
        std::fs::write(&k, "garbage").unwrap();
        assert_eq!(key_pair_status(&c, &k), "key-pair-invalid");
        std::fs::write(
            &k,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        assert_eq!(key_pair_status(&c, &k), "key-pair-encrypted");
        let info = certificate_file_info(&d.path().join("none.pem"));
        assert_eq!(info["message"], "cert-missing");
        std::fs::write(&c, CERT).unwrap();
        let info = certificate_file_info(&c);
        assert_eq!(
            info["message"], "cert-invalid",
            "truncated cert must not parse"
        );
    }
}
