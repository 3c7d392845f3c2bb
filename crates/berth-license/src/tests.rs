use super::*;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn spec() -> Spec {
    let mut entitlements = BTreeMap::new();
    entitlements.insert("seats".to_string(), Entitlement::Int(50));
    entitlements.insert("tier".to_string(), Entitlement::String("gold".into()));
    Spec {
        license_id: "0193a5e2-7c1b-7d4e-9a51-2b6f0c1d2e3f".into(),
        app: "hello".into(),
        customer: "acme".into(),
        vendor_url: "http://127.0.0.1:8800".into(),
        channels: vec!["stable".into()],
        license_type: LicenseType::Paid,
        issued_at: "2026-12-04T22:00:00.123Z".parse().unwrap(),
        expires_at: Some("2027-12-31T00:00:00Z".parse().unwrap()),
        airgap: true,
        snapshots: false,
        support_bundle_upload: false,
        cluster_id: None,
        entitlements,
        credential: "ab".repeat(32),
    }
}

fn at(s: &str) -> Expect {
    Expect {
        app: Some("hello".into()),
        now: s.parse().unwrap(),
        cluster_id: None,
    }
}

#[test]
fn signed_license_round_trips_through_yaml_and_verifies() {
    let k = key(1);
    let lic = sign(spec(), &k);
    let text = lic.to_yaml();
    let back = License::parse(&text, "t").unwrap();
    assert_eq!(back, lic);
    back.verify(&[k.verifying_key()], &at("2027-01-01T00:00:00Z"), "t")
        .unwrap();
    // whole seconds in the canonical form
    assert_eq!(back.spec.issued_at.to_string(), "2026-12-04T22:00:00Z");
}

#[test]
fn canonical_form_is_sorted_and_compact() {
    let c = String::from_utf8(canonical(&sign(spec(), &key(1)).spec)).unwrap();
    assert!(c.starts_with("{\"airgap\":true,\"app\":\"hello\","), "{c}");
    assert!(
        c.contains("\"entitlements\":{\"seats\":{\"type\":\"int\",\"value\":50},\"tier\":{\"type\":\"string\",\"value\":\"gold\"}}"),
        "{c}"
    );
    assert!(!c.contains(' '), "{c}");
    assert!(
        !c.contains("clusterId"),
        "absent optionals are omitted: {c}"
    );
}

#[test]
fn every_changed_value_is_refused() {
    let k = key(1);
    let text = sign(spec(), &k).to_yaml();
    for (from, to) in [
        ("seats", "seatz"),
        ("value: 50", "value: 500"),
        ("customer: acme", "customer: acmf"),
        ("airgap: true", "airgap: false"),
        ("2027-12-31", "2099-12-31"),
        ("- stable", "- beta"),
    ] {
        assert!(text.contains(from), "{from} not in {text}");
        let changed = text.replacen(from, to, 1);
        let lic = License::parse(&changed, "t").unwrap();
        let err = lic
            .verify(&[k.verifying_key()], &at("2027-01-01T00:00:00Z"), "t")
            .unwrap_err();
        assert!(matches!(err, Error::BadSignature { .. }), "{from}: {err}");
    }
}

#[test]
fn smuggled_field_is_refused_at_parse() {
    let text = sign(spec(), &key(1)).to_yaml();
    let changed = text.replacen("spec:\n", "spec:\n  admin: true\n", 1);
    let err = License::parse(&changed, "x.yaml").unwrap_err().to_string();
    assert!(err.contains("x.yaml") && err.contains("admin"), "{err}");
}

#[test]
fn wrong_key_app_expiry_and_cluster_are_refused_with_reasons() {
    let lic = sign(spec(), &key(1));
    let e = lic
        .verify(&[key(2).verifying_key()], &at("2027-01-01T00:00:00Z"), "l")
        .unwrap_err();
    assert!(matches!(e, Error::UnknownKey { .. }), "{e}");
    assert!(e.to_string().contains("--pubkey"), "{e}");

    let mut other = at("2027-01-01T00:00:00Z");
    other.app = Some("other".into());
    let e = lic
        .verify(&[key(1).verifying_key()], &other, "l")
        .unwrap_err();
    assert!(matches!(e, Error::WrongApp { .. }), "{e}");

    let e = lic
        .verify(&[key(1).verifying_key()], &at("2028-01-01T00:00:00Z"), "l")
        .unwrap_err();
    assert!(matches!(e, Error::Expired { .. }), "{e}");
    assert!(e.to_string().contains("running app is not affected"), "{e}");

    let mut s = spec();
    s.cluster_id = Some("uid-a".into());
    let bound = sign(s, &key(1));
    let mut exp = at("2027-01-01T00:00:00Z");
    exp.cluster_id = Some("uid-b".into());
    let e = bound
        .verify(&[key(1).verifying_key()], &exp, "l")
        .unwrap_err();
    assert!(matches!(e, Error::WrongCluster { .. }), "{e}");
    exp.cluster_id = Some("uid-a".into());
    bound.verify(&[key(1).verifying_key()], &exp, "l").unwrap();
}

#[test]
fn rotated_keys_keep_old_licenses_verifiable() {
    let old = sign(spec(), &key(1));
    let new = sign(spec(), &key(2));
    let keys = [key(2).verifying_key(), key(1).verifying_key()];
    let now = at("2027-01-01T00:00:00Z");
    old.verify(&keys, &now, "old").unwrap();
    new.verify(&keys, &now, "new").unwrap();
}

#[test]
fn entitlement_assignments_parse_typed_values() {
    assert_eq!(
        Entitlement::parse_assignment("seats=int:50").unwrap(),
        ("seats".into(), Entitlement::Int(50))
    );
    assert_eq!(
        Entitlement::parse_assignment("sso=bool:true").unwrap(),
        ("sso".into(), Entitlement::Bool(true))
    );
    assert_eq!(
        Entitlement::parse_assignment("tier=string:a:b").unwrap(),
        ("tier".into(), Entitlement::String("a:b".into()))
    );
    for bad in [
        "seats",
        "seats=50",
        "seats=int:x",
        "1x=int:1",
        "s=float:1.0",
    ] {
        assert!(Entitlement::parse_assignment(bad).is_err(), "{bad}");
    }
}

#[test]
fn bearer_tokens_split_and_reject_garbage() {
    let lic = sign(spec(), &key(1));
    let b = lic.bearer();
    assert_eq!(
        parse_bearer(&b),
        Some((lic.spec.license_id.as_str(), lic.spec.credential.as_str()))
    );
    assert_eq!(parse_bearer("lic..x"), None);
    assert_eq!(parse_bearer("bvt_abc"), None);
    assert!(!lic.masked().to_yaml().contains(&lic.spec.credential));
}

#[test]
fn oversized_and_foreign_documents_are_refused() {
    let big = "a".repeat(MAX_BYTES + 1);
    assert!(
        License::parse(&big, "big")
            .unwrap_err()
            .to_string()
            .contains("more than")
    );
    let text = sign(spec(), &key(1))
        .to_yaml()
        .replace("kind: License", "kind: Bundle");
    assert!(
        License::parse(&text, "k")
            .unwrap_err()
            .to_string()
            .contains("expected")
    );
}
