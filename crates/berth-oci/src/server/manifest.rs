//! What a manifest PUT must be before the registry stores it: an OCI or Docker image
//! manifest or index (nothing else; the media type is served back as Content-Type), with
//! every required field and well-formed descriptors. The caller then checks that every
//! referenced blob or child manifest is present with the size the descriptor states.

use crate::digest::Digest;
use crate::model::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use serde_json::{Map, Value};

/// Something a manifest references.
#[derive(Debug, PartialEq, Eq)]
pub struct Reference {
    /// Its digest.
    pub digest: Digest,
    /// The size the descriptor states.
    pub size: u64,
    /// A child manifest of an index (else a config or layer blob).
    pub child: bool,
}

/// A manifest that passed validation.
#[derive(Debug)]
pub struct Valid {
    /// One of the four manifest and index media types.
    pub media_type: &'static str,
    /// What it references.
    pub references: Vec<Reference>,
}

const TYPES: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

fn known(t: &str) -> Option<&'static str> {
    TYPES.iter().copied().find(|k| *k == t)
}

/// Validate manifest bytes sent with `content_type` (the request header, if any).
/// The error says what is wrong, for the client.
pub fn validate(bytes: &[u8], content_type: Option<&str>) -> Result<Valid, String> {
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("manifest is not JSON: {e}"))?;
    let Some(obj) = doc.as_object() else {
        return Err("manifest is not a JSON object".into());
    };
    if obj.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err("schemaVersion must be 2".into());
    }
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or(c).trim())
        .filter(|c| !c.is_empty());
    let declared =
        match obj.get("mediaType") {
            None => None,
            Some(Value::String(s)) => Some(known(s).ok_or_else(|| {
                format!("mediaType {s:?} is not an OCI or Docker manifest or index")
            })?),
            Some(_) => return Err("mediaType must be a string".into()),
        };
    let from_header = match header {
        None => None,
        Some(h) => match known(h) {
            Some(k) => Some(k),
            // A client that does not know the type may say plain JSON; anything else is refused.
            None if h == "application/json" || h == "application/octet-stream" => None,
            None => {
                return Err(format!(
                    "Content-Type {h:?} is not an OCI or Docker manifest or index media type"
                ));
            }
        },
    };
    if let (Some(d), Some(h)) = (declared, from_header)
        && d != h
    {
        return Err(format!(
            "Content-Type {h} does not match the manifest's mediaType {d}"
        ));
    }
    let media_type = match declared.or(from_header) {
        Some(t) => t,
        // OCI allows leaving mediaType out; Docker does not.
        None if obj.contains_key("manifests") => OCI_INDEX,
        None if obj.contains_key("config") => OCI_MANIFEST,
        None => return Err("cannot tell the manifest's media type: give mediaType".into()),
    };
    let references = if media_type == OCI_INDEX || media_type == DOCKER_LIST {
        let list = array(obj, "manifests")?;
        let mut refs = Vec::new();
        for (i, d) in list.iter().enumerate() {
            refs.push(descriptor(d, &format!("manifests[{i}]"), true)?);
        }
        refs
    } else {
        let config = obj.get("config").ok_or("config is missing")?;
        let mut refs = vec![descriptor(config, "config", false)?];
        for (i, d) in array(obj, "layers")?.iter().enumerate() {
            let r = descriptor(d, &format!("layers[{i}]"), false)?;
            // Foreign (non-distributable) layers live elsewhere, at their urls.
            let foreign = d
                .get("urls")
                .and_then(Value::as_array)
                .is_some_and(|u| !u.is_empty());
            if !foreign {
                refs.push(r);
            }
        }
        refs
    };
    Ok(Valid {
        media_type,
        references,
    })
}

fn array<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<&'a Vec<Value>, String> {
    obj.get(field)
        .ok_or_else(|| format!("{field} is missing"))?
        .as_array()
        .ok_or_else(|| format!("{field} must be an array"))
}

fn descriptor(d: &Value, at: &str, child: bool) -> Result<Reference, String> {
    let Some(o) = d.as_object() else {
        return Err(format!("{at} is not a descriptor object"));
    };
    match o.get("mediaType").and_then(Value::as_str) {
        Some(m) if !m.is_empty() => {
            if child && known(m).is_none() {
                return Err(format!(
                    "{at}.mediaType {m:?} is not a manifest or index media type"
                ));
            }
        }
        _ => return Err(format!("{at}.mediaType is missing")),
    }
    let digest = o
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}.digest is missing"))
        .and_then(|s| {
            Digest::parse(s).map_err(|_| format!("{at}.digest {s:?} is not sha256:<64 hex>"))
        })?;
    let size = o
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("{at}.size must be a non-negative integer"))?;
    Ok(Reference {
        digest,
        size,
        child,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        Digest::of(&[n]).to_string()
    }

    fn oci_manifest() -> Value {
        serde_json::json!({"schemaVersion":2,"mediaType":OCI_MANIFEST,
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":d(1),"size":1},
            "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":d(2),"size":1},
                      {"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":d(3),"size":1,"urls":["https://x/y"]}]})
    }

    #[test]
    fn valid_manifests_and_indexes_pass_with_their_references() {
        let m = oci_manifest();
        let v = validate(m.to_string().as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(v.media_type, OCI_MANIFEST);
        assert_eq!(v.references.len(), 2, "foreign layer skipped");
        let mut bare = m.clone();
        bare.as_object_mut().unwrap().remove("mediaType");
        assert_eq!(
            validate(bare.to_string().as_bytes(), None)
                .unwrap()
                .media_type,
            OCI_MANIFEST
        );
        let i = serde_json::json!({"schemaVersion":2,"mediaType":DOCKER_LIST,
            "manifests":[{"mediaType":DOCKER_MANIFEST,"digest":d(4),"size":10,"platform":{"os":"linux","architecture":"amd64"}}]});
        let v = validate(i.to_string().as_bytes(), Some("application/json")).unwrap();
        assert_eq!(v.media_type, DOCKER_LIST);
        assert_eq!(
            v.references,
            vec![Reference {
                digest: Digest::of(&[4]),
                size: 10,
                child: true
            }]
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        let html = serde_json::json!({"schemaVersion":2,"mediaType":"text/html","config":{}});
        let e = validate(html.to_string().as_bytes(), None).unwrap_err();
        assert!(e.contains("text/html"), "{e}");
        let m = oci_manifest().to_string();
        let e = validate(m.as_bytes(), Some("text/html")).unwrap_err();
        assert!(e.contains("Content-Type"), "{e}");
        let e = validate(m.as_bytes(), Some(DOCKER_MANIFEST)).unwrap_err();
        assert!(e.contains("does not match"), "{e}");
        let cases = [
            (
                serde_json::json!({"schemaVersion":1,"config":{}}),
                "schemaVersion",
            ),
            (
                serde_json::json!({"schemaVersion":2,"mediaType":OCI_MANIFEST,"layers":[]}),
                "config is missing",
            ),
            (
                serde_json::json!({"schemaVersion":2,"mediaType":OCI_MANIFEST,"config":{"mediaType":"x","digest":d(1),"size":1}}),
                "layers is missing",
            ),
            (
                serde_json::json!({"schemaVersion":2,"mediaType":OCI_MANIFEST,"config":{"mediaType":"x","digest":"sha256:zz","size":1},"layers":[]}),
                "config.digest",
            ),
            (
                serde_json::json!({"schemaVersion":2,"mediaType":OCI_MANIFEST,"config":{"mediaType":"x","digest":d(1),"size":-1},"layers":[]}),
                "config.size",
            ),
            (
                serde_json::json!({"schemaVersion":2,"mediaType":OCI_MANIFEST,"config":{"digest":d(1),"size":1},"layers":[]}),
                "config.mediaType",
            ),
            (
                serde_json::json!({"schemaVersion":2,"mediaType":OCI_INDEX,"manifests":[{"mediaType":"text/html","digest":d(1),"size":1}]}),
                "manifests[0].mediaType",
            ),
            (serde_json::json!({"schemaVersion":2}), "cannot tell"),
            (serde_json::json!([1]), "not a JSON object"),
        ];
        for (doc, want) in cases {
            let e = validate(doc.to_string().as_bytes(), None).unwrap_err();
            assert!(e.contains(want), "{doc}: {e}");
        }
    }
}
