//! A small decoder of Kubernetes protobuf bodies (`application/vnd.kubernetes.protobuf`)
//! for the core kinds clients send that way: Namespace, Secret, ConfigMap and
//! ServiceAccount (`kubectl create ...` and client-go typed clients such as Helm's
//! Secret storage). Only the fields those clients set are decoded.

use crate::catalog::ResourceType;
use base64::Engine;
use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\0";

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { b, i: 0 }
    }
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.i).ok_or("truncated varint")?;
            self.i += 1;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }
    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>, String> {
        if self.i >= self.b.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let (num, wt) = (key >> 3, key & 7);
        let f = match wt {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.i += 8;
                Field::Fixed
            }
            2 => {
                let len = self.varint()? as usize;
                let end = self.i.checked_add(len).ok_or("length overflow")?;
                let s = self.b.get(self.i..end).ok_or("truncated field")?;
                self.i = end;
                Field::Bytes(s)
            }
            5 => {
                self.i += 4;
                Field::Fixed
            }
            w => return Err(format!("unsupported wire type {w}")),
        };
        if self.i > self.b.len() {
            return Err("truncated message".into());
        }
        Ok(Some((num, f)))
    }
}

fn string(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "invalid UTF-8 string".to_string())
}

/// A map<string, T> entry: (key, raw value bytes).
fn map_entry(b: &[u8]) -> Result<(String, Vec<u8>), String> {
    let mut r = Reader::new(b);
    let (mut k, mut v) = (String::new(), Vec::new());
    while let Some((n, f)) = r.next()? {
        match (n, f) {
            (1, Field::Bytes(x)) => k = string(x)?,
            (2, Field::Bytes(x)) => v = x.to_vec(),
            _ => {}
        }
    }
    Ok((k, v))
}

fn time(b: &[u8]) -> Result<Value, String> {
    let mut r = Reader::new(b);
    let mut secs = 0i64;
    while let Some((n, f)) = r.next()? {
        if let (1, Field::Varint(v)) = (n, f) {
            secs = v as i64;
        }
    }
    Ok(jiff::Timestamp::from_second(secs)
        .map(|t| json!(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()))
        .unwrap_or(Value::Null))
}

fn owner_ref(b: &[u8]) -> Result<Value, String> {
    let mut r = Reader::new(b);
    let mut o = Map::new();
    while let Some((n, f)) = r.next()? {
        match (n, f) {
            (1, Field::Bytes(x)) => {
                o.insert("kind".into(), json!(string(x)?));
            }
            (3, Field::Bytes(x)) => {
                o.insert("name".into(), json!(string(x)?));
            }
            (4, Field::Bytes(x)) => {
                o.insert("uid".into(), json!(string(x)?));
            }
            (5, Field::Bytes(x)) => {
                o.insert("apiVersion".into(), json!(string(x)?));
            }
            (6, Field::Varint(v)) => {
                o.insert("controller".into(), json!(v != 0));
            }
            (7, Field::Varint(v)) => {
                o.insert("blockOwnerDeletion".into(), json!(v != 0));
            }
            _ => {}
        }
    }
    Ok(Value::Object(o))
}

fn object_meta(b: &[u8]) -> Result<Value, String> {
    let mut r = Reader::new(b);
    let mut m = Map::new();
    let mut labels = Map::new();
    let mut anns = Map::new();
    let mut fins = Vec::new();
    let mut owners = Vec::new();
    while let Some((n, f)) = r.next()? {
        match (n, f) {
            (1, Field::Bytes(x)) if !x.is_empty() => {
                m.insert("name".into(), json!(string(x)?));
            }
            (2, Field::Bytes(x)) if !x.is_empty() => {
                m.insert("generateName".into(), json!(string(x)?));
            }
            (3, Field::Bytes(x)) if !x.is_empty() => {
                m.insert("namespace".into(), json!(string(x)?));
            }
            (5, Field::Bytes(x)) if !x.is_empty() => {
                m.insert("uid".into(), json!(string(x)?));
            }
            (6, Field::Bytes(x)) if !x.is_empty() => {
                m.insert("resourceVersion".into(), json!(string(x)?));
            }
            (8, Field::Bytes(x)) => {
                m.insert("creationTimestamp".into(), time(x)?);
            }
            (11, Field::Bytes(x)) => {
                let (k, v) = map_entry(x)?;
                labels.insert(k, json!(string(&v)?));
            }
            (12, Field::Bytes(x)) => {
                let (k, v) = map_entry(x)?;
                anns.insert(k, json!(string(&v)?));
            }
            (13, Field::Bytes(x)) => owners.push(owner_ref(x)?),
            (14, Field::Bytes(x)) => fins.push(json!(string(x)?)),
            _ => {}
        }
    }
    if !labels.is_empty() {
        m.insert("labels".into(), Value::Object(labels));
    }
    if !anns.is_empty() {
        m.insert("annotations".into(), Value::Object(anns));
    }
    if !fins.is_empty() {
        m.insert("finalizers".into(), Value::Array(fins));
    }
    if !owners.is_empty() {
        m.insert("ownerReferences".into(), Value::Array(owners));
    }
    Ok(Value::Object(m))
}

/// Decode an enveloped protobuf body of `rt`'s kind to JSON.
pub fn decode(body: &[u8], rt: &ResourceType) -> Result<Value, String> {
    let inner = body
        .strip_prefix(MAGIC)
        .ok_or("missing the k8s protobuf envelope prefix")?;
    let mut r = Reader::new(inner);
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), None);
    while let Some((n, f)) = r.next()? {
        match (n, f) {
            (1, Field::Bytes(tm)) => {
                let mut t = Reader::new(tm);
                while let Some((n, f)) = t.next()? {
                    match (n, f) {
                        (1, Field::Bytes(x)) => api_version = string(x)?,
                        (2, Field::Bytes(x)) => kind = string(x)?,
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(x)) => raw = Some(x),
            _ => {}
        }
    }
    let raw = raw.ok_or("protobuf envelope has no object")?;
    let kind = if kind.is_empty() {
        rt.kind.clone()
    } else {
        kind
    };
    if api_version.is_empty() {
        api_version = rt.api_version();
    }
    let mut obj = json!({"apiVersion": api_version, "kind": kind, "metadata": {}});
    let b64 = |v: &[u8]| json!(base64::engine::general_purpose::STANDARD.encode(v));
    let mut r = Reader::new(raw);
    match (rt.group.as_str(), kind.as_str()) {
        ("", "Secret") => {
            let mut data = Map::new();
            let mut sdata = Map::new();
            while let Some((n, f)) = r.next()? {
                match (n, f) {
                    (1, Field::Bytes(x)) => obj["metadata"] = object_meta(x)?,
                    (2, Field::Bytes(x)) => {
                        let (k, v) = map_entry(x)?;
                        data.insert(k, b64(&v));
                    }
                    (3, Field::Bytes(x)) if !x.is_empty() => obj["type"] = json!(string(x)?),
                    (4, Field::Bytes(x)) => {
                        let (k, v) = map_entry(x)?;
                        sdata.insert(k, json!(string(&v)?));
                    }
                    (5, Field::Varint(v)) => obj["immutable"] = json!(v != 0),
                    _ => {}
                }
            }
            if !data.is_empty() {
                obj["data"] = Value::Object(data);
            }
            if !sdata.is_empty() {
                obj["stringData"] = Value::Object(sdata);
            }
        }
        ("", "ConfigMap") => {
            let mut data = Map::new();
            let mut bdata = Map::new();
            while let Some((n, f)) = r.next()? {
                match (n, f) {
                    (1, Field::Bytes(x)) => obj["metadata"] = object_meta(x)?,
                    (2, Field::Bytes(x)) => {
                        let (k, v) = map_entry(x)?;
                        data.insert(k, json!(string(&v)?));
                    }
                    (3, Field::Bytes(x)) => {
                        let (k, v) = map_entry(x)?;
                        bdata.insert(k, b64(&v));
                    }
                    (4, Field::Varint(v)) => obj["immutable"] = json!(v != 0),
                    _ => {}
                }
            }
            if !data.is_empty() {
                obj["data"] = Value::Object(data);
            }
            if !bdata.is_empty() {
                obj["binaryData"] = Value::Object(bdata);
            }
        }
        ("", "Namespace") => {
            while let Some((n, f)) = r.next()? {
                if let (1, Field::Bytes(x)) = (n, f) {
                    obj["metadata"] = object_meta(x)?;
                }
            }
        }
        ("", "ServiceAccount") => {
            while let Some((n, f)) = r.next()? {
                match (n, f) {
                    (1, Field::Bytes(x)) => obj["metadata"] = object_meta(x)?,
                    (4, Field::Varint(v)) => obj["automountServiceAccountToken"] = json!(v != 0),
                    _ => {}
                }
            }
        }
        _ => return Err(format!("protobuf bodies for {kind} are not supported")),
    }
    Ok(obj)
}

/// Decode a protobuf `DeleteOptions` body (client-go typed clients send it that way).
pub fn decode_delete_options(body: &[u8]) -> Result<Value, String> {
    let inner = body
        .strip_prefix(MAGIC)
        .ok_or("missing the k8s protobuf envelope prefix")?;
    let mut r = Reader::new(inner);
    let mut raw = None;
    while let Some((n, f)) = r.next()? {
        if let (2, Field::Bytes(x)) = (n, f) {
            raw = Some(x);
        }
    }
    let mut out = Map::new();
    let mut r = Reader::new(raw.ok_or("protobuf envelope has no object")?);
    let mut dry = Vec::new();
    while let Some((n, f)) = r.next()? {
        match (n, f) {
            (1, Field::Varint(v)) => {
                out.insert("gracePeriodSeconds".into(), json!(v as i64));
            }
            (2, Field::Bytes(x)) => {
                let mut p = Reader::new(x);
                let mut pre = Map::new();
                while let Some((n, f)) = p.next()? {
                    match (n, f) {
                        (1, Field::Bytes(v)) if !v.is_empty() => {
                            pre.insert("uid".into(), json!(string(v)?));
                        }
                        (2, Field::Bytes(v)) if !v.is_empty() => {
                            pre.insert("resourceVersion".into(), json!(string(v)?));
                        }
                        _ => {}
                    }
                }
                out.insert("preconditions".into(), Value::Object(pre));
            }
            (3, Field::Varint(v)) => {
                out.insert("orphanDependents".into(), json!(v != 0));
            }
            (4, Field::Bytes(x)) if !x.is_empty() => {
                out.insert("propagationPolicy".into(), json!(string(x)?));
            }
            (5, Field::Bytes(x)) => dry.push(json!(string(x)?)),
            _ => {}
        }
    }
    if !dry.is_empty() {
        out.insert("dryRun".into(), Value::Array(dry));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, b: &[u8]) -> Vec<u8> {
        let mut out = vec![((n << 3) | 2) as u8, b.len() as u8];
        out.extend_from_slice(b);
        out
    }

    #[test]
    fn decodes_a_secret() {
        let mut meta = field(1, b"sh.helm.release.v1.demo.v1");
        let mut label = field(1, b"owner");
        label.extend(field(2, b"helm"));
        meta.extend(field(11, &label));
        let mut entry = field(1, b"release");
        entry.extend(field(2, b"\x01\x02"));
        let mut raw = field(1, &meta);
        raw.extend(field(2, &entry));
        raw.extend(field(3, b"helm.sh/release.v1"));
        let mut tm = field(1, b"v1");
        tm.extend(field(2, b"Secret"));
        let mut body = MAGIC.to_vec();
        body.extend(field(1, &tm));
        body.extend(field(2, &raw));
        let rt = crate::catalog::builtin_types(32, false)
            .into_iter()
            .find(|t| t.kind == "Secret")
            .unwrap();
        let v = decode(&body, &rt).unwrap();
        assert_eq!(v["metadata"]["name"], "sh.helm.release.v1.demo.v1");
        assert_eq!(v["metadata"]["labels"]["owner"], "helm");
        assert_eq!(v["data"]["release"], "AQI=");
        assert_eq!(v["type"], "helm.sh/release.v1");
        assert!(decode(b"nope", &rt).is_err());
    }
}
