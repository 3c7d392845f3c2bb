//! Sprig crypto functions (`crypto.go`): bcrypt/htpasswd, private keys, certificate
//! authorities and certificates (RSA-2048 keys as Sprig makes them), random bytes.
//! Outputs are random by nature; they match Helm's by shape (PEM types, fields).

use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine;
use rand::RngCore;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};

use super::{FnErr, Func, Res, int, s, strval, want_n};
use crate::value::{MapData, Value};

pub(super) fn register(m: &mut HashMap<&'static str, Func>) {
    m.insert("bcrypt", |_, a| {
        want_n("bcrypt", a, 1)?;
        Ok(Value::str(bcrypt_hash(s(a, 0)?)?))
    });
    m.insert("htpasswd", |_, a| {
        want_n("htpasswd", a, 2)?;
        let (u, p) = (s(a, 0)?, s(a, 1)?);
        if u.contains(':') {
            return Ok(Value::str(format!("invalid username: {u}")));
        }
        Ok(Value::str(format!("{u}:{}", bcrypt_hash(p)?)))
    });
    m.insert("randBytes", |_, a| {
        want_n("randBytes", a, 1)?;
        let n = int(a, 0)?.clamp(0, 1 << 20) as usize;
        let mut b = vec![0u8; n];
        rand::thread_rng().fill_bytes(&mut b);
        Ok(Value::str(
            base64::engine::general_purpose::STANDARD.encode(b),
        ))
    });
    m.insert("genPrivateKey", |_, a| {
        want_n("genPrivateKey", a, 1)?;
        Ok(Value::str(gen_private_key(s(a, 0)?)?))
    });
    m.insert("buildCustomCert", |_, a| {
        want_n("buildCustomCert", a, 2)?;
        let dec = |i: usize| -> Result<String, FnErr> {
            let b = base64::engine::general_purpose::STANDARD
                .decode(s(a, i)?)
                .map_err(|e| FnErr::Call(format!("unable to decode base64: {e}")))?;
            String::from_utf8(b).map_err(|e| FnErr::Call(e.to_string()))
        };
        let (cert, key) = (dec(0)?, dec(1)?);
        if !cert.contains("-----BEGIN CERTIFICATE-----") {
            return Err(FnErr::Call(
                "error parsing certificate: decoded pem is blank".into(),
            ));
        }
        if !key.contains("PRIVATE KEY-----") {
            return Err(FnErr::Call(
                "error parsing private key: decoded pem is blank".into(),
            ));
        }
        Ok(cert_value(cert, key))
    });
    m.insert("genCA", |_, a| {
        want_n("genCA", a, 2)?;
        let (cn, days) = (s(a, 0)?, int(a, 1)?);
        let key = new_rsa()?;
        gen_ca(cn, days, key)
    });
    m.insert("genCAWithKey", |_, a| {
        want_n("genCAWithKey", a, 3)?;
        let (cn, days, k) = (s(a, 0)?, int(a, 1)?, s(a, 2)?);
        gen_ca(cn, days, parse_rsa(k)?)
    });
    m.insert("genSelfSignedCert", |_, a| {
        want_n("genSelfSignedCert", a, 4)?;
        let key = new_rsa()?;
        self_signed(a, key)
    });
    m.insert("genSelfSignedCertWithKey", |_, a| {
        want_n("genSelfSignedCertWithKey", a, 5)?;
        let key = parse_rsa(s(a, 4)?)?;
        self_signed(a, key)
    });
    m.insert("genSignedCert", |_, a| {
        want_n("genSignedCert", a, 5)?;
        let key = new_rsa()?;
        signed(a, key)
    });
    m.insert("genSignedCertWithKey", |_, a| {
        want_n("genSignedCertWithKey", a, 6)?;
        let key = parse_rsa(s(a, 5)?)?;
        signed(a, key)
    });
    m.insert("derivePassword", |_, a| {
        want_n("derivePassword", a, 5)?;
        Err(FnErr::Call(
            "derivePassword is not supported by berth (use a value or randAlphaNum)".into(),
        ))
    });
    for name in ["encryptAES", "decryptAES"] {
        m.insert(name, |_, a| {
            want_n("encryptAES", a, 2)?;
            Err(FnErr::Call(
                "encryptAES/decryptAES are not supported by berth".into(),
            ))
        });
    }
}

fn bcrypt_hash(p: &str) -> Result<String, FnErr> {
    bcrypt::hash_with_result(p, 10)
        .map(|h| h.format_for_version(bcrypt::Version::TwoA))
        .map_err(|e| FnErr::Call(e.to_string()))
}

fn new_rsa_bits(bits: usize) -> Result<rsa::RsaPrivateKey, FnErr> {
    rsa::RsaPrivateKey::new(&mut rand::thread_rng(), bits)
        .map_err(|e| FnErr::Call(format!("error generating RSA key: {e}")))
}

fn new_rsa() -> Result<rsa::RsaPrivateKey, FnErr> {
    new_rsa_bits(2048)
}

fn parse_rsa(pem: &str) -> Result<rsa::RsaPrivateKey, FnErr> {
    rsa::RsaPrivateKey::from_pkcs1_pem(pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(pem))
        .map_err(|_| {
            FnErr::Call(
                "error parsing private key: only RSA keys (PKCS#1 or PKCS#8 PEM) are supported"
                    .into(),
            )
        })
}

fn rsa_pkcs1_pem(k: &rsa::RsaPrivateKey) -> Result<String, FnErr> {
    k.to_pkcs1_pem(LineEnding::LF)
        .map(|z| z.to_string())
        .map_err(|e| FnErr::Call(e.to_string()))
}

fn rsa_keypair(k: &rsa::RsaPrivateKey) -> Result<rcgen::KeyPair, FnErr> {
    let pem = k
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| FnErr::Call(e.to_string()))?;
    rcgen::KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256)
        .map_err(|e| FnErr::Call(format!("error loading RSA key: {e}")))
}

fn gen_private_key(kind: &str) -> Result<String, FnErr> {
    match kind {
        "" | "rsa" => rsa_pkcs1_pem(&new_rsa_bits(4096)?),
        "ecdsa" => {
            let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                .map_err(|e| FnErr::Call(e.to_string()))?;
            let inner = pkcs8_inner(&kp.serialize_der())
                .ok_or_else(|| FnErr::Call("error encoding EC key".into()))?;
            Ok(pem_encode("EC PRIVATE KEY", &inner))
        }
        "ed25519" => {
            let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
                .map_err(|e| FnErr::Call(e.to_string()))?;
            Ok(kp.serialize_pem())
        }
        "dsa" => Err(FnErr::Call("DSA keys are not supported by berth".into())),
        other => Ok(format!("Unknown type {other}")),
    }
}

/// The privateKey OCTET STRING of a PKCS#8 document (the SEC1 ECPrivateKey for EC keys).
fn pkcs8_inner(der: &[u8]) -> Option<Vec<u8>> {
    fn read(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let tag = *b.first()?;
        let l0 = *b.get(1)? as usize;
        let (len, hdr) = if l0 < 0x80 {
            (l0, 2)
        } else {
            let n = l0 & 0x7f;
            let mut len = 0usize;
            for i in 0..n {
                len = (len << 8) | *b.get(2 + i)? as usize;
            }
            (len, 2 + n)
        };
        let body = b.get(hdr..hdr + len)?;
        Some((tag, body, &b[hdr + len..]))
    }
    let (_, seq, _) = read(der)?;
    let (_, _, rest) = read(seq)?; // version
    let (_, _, rest) = read(rest)?; // algorithm
    let (tag, key, _) = read(rest)?;
    (tag == 0x04).then(|| key.to_vec())
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn cert_value(cert: String, key: String) -> Value {
    let mut m = MapData::new();
    m.insert("Cert".into(), Value::str(cert));
    m.insert("Key".into(), Value::str(key));
    Value::map(m)
}

fn base_params(
    cn: &str,
    ips: &[IpAddr],
    dns: &[String],
    days: i64,
) -> Result<rcgen::CertificateParams, FnErr> {
    let mut p = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, cn);
    p.distinguished_name = dn;
    let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC);
    let end = now
        .checked_add(jiff::Span::new().hours(24 * days.clamp(-36500, 36500)))
        .unwrap_or_else(|_| now.clone());
    p.not_before = rcgen::date_time_ymd(now.year() as i32, now.month() as u8, now.day() as u8);
    p.not_after = rcgen::date_time_ymd(end.year() as i32, end.month() as u8, end.day() as u8);
    let mut serial = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut serial);
    serial[0] &= 0x7f;
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    p.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.is_ca = rcgen::IsCa::ExplicitNoCa;
    for ip in ips {
        p.subject_alt_names.push(rcgen::SanType::IpAddress(*ip));
    }
    for d in dns {
        let name = rcgen::string::Ia5String::try_from(d.as_str())
            .map_err(|e| FnErr::Call(format!("invalid DNS name {d:?}: {e}")))?;
        p.subject_alt_names.push(rcgen::SanType::DnsName(name));
    }
    Ok(p)
}

fn gen_ca(cn: &str, days: i64, key: rsa::RsaPrivateKey) -> Res {
    let mut p = base_params(cn, &[], &[], days)?;
    p.key_usages.push(rcgen::KeyUsagePurpose::KeyCertSign);
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let kp = rsa_keypair(&key)?;
    let cert = p
        .self_signed(&kp)
        .map_err(|e| FnErr::Call(format!("error creating certificate: {e}")))?;
    Ok(cert_value(cert.pem(), rsa_pkcs1_pem(&key)?))
}

fn ips_dns(a: &[Value]) -> Result<(Vec<IpAddr>, Vec<String>), FnErr> {
    let mut ips = Vec::new();
    if let Some(l) = a[1].as_list() {
        for v in l.iter() {
            let t = strval(v);
            ips.push(
                t.parse::<IpAddr>()
                    .map_err(|_| FnErr::Call(format!("error parsing ip: {t}")))?,
            );
        }
    }
    let mut dns = Vec::new();
    if let Some(l) = a[2].as_list() {
        for v in l.iter() {
            dns.push(strval(v));
        }
    }
    Ok((ips, dns))
}

fn self_signed(a: &[Value], key: rsa::RsaPrivateKey) -> Res {
    let cn = s(a, 0)?;
    let (ips, dns) = ips_dns(a)?;
    let days = int(a, 3)?;
    let p = base_params(cn, &ips, &dns, days)?;
    let kp = rsa_keypair(&key)?;
    let cert = p
        .self_signed(&kp)
        .map_err(|e| FnErr::Call(format!("error creating certificate: {e}")))?;
    Ok(cert_value(cert.pem(), rsa_pkcs1_pem(&key)?))
}

fn signed(a: &[Value], key: rsa::RsaPrivateKey) -> Res {
    let cn = s(a, 0)?;
    let (ips, dns) = ips_dns(a)?;
    let days = int(a, 3)?;
    let ca = a[4]
        .as_map()
        .ok_or_else(|| FnErr::Arg(4, "wrong type for value; expected sprig.certificate".into()))?;
    let ca_cert = ca.get("Cert").map(|v| strval(&v)).unwrap_or_default();
    let ca_key = ca.get("Key").map(|v| strval(&v)).unwrap_or_default();
    let ca_kp = rsa_keypair(
        &parse_rsa(&ca_key)
            .map_err(|_| FnErr::Call("error parsing private key: decoded pem is blank".into()))?,
    )?;
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_cert, ca_kp)
        .map_err(|e| FnErr::Call(format!("error parsing certificate: {e}")))?;
    let p = base_params(cn, &ips, &dns, days)?;
    let kp = rsa_keypair(&key)?;
    let cert = p
        .signed_by(&kp, &issuer)
        .map_err(|e| FnErr::Call(format!("error creating certificate: {e}")))?;
    Ok(cert_value(cert.pem(), rsa_pkcs1_pem(&key)?))
}
