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
        (g, k) => {
            let mut meta = Value::Null;
            let mut rm = Reader::new(raw);
            while let Some((n, f)) = rm.next()? {
                if let (1, Field::Bytes(x)) = (n, f) {
                    meta = object_meta(x)?;
                }
            }
            obj["metadata"] = meta;
            let fields = schema::top(g, k)
                .ok_or_else(|| format!("protobuf bodies for {kind} are not supported"))?;
            let decoded = schema::decode(raw, fields)?;
            if let (Value::Object(dst), Value::Object(src)) = (&mut obj, decoded) {
                for (k, v) in src {
                    dst.insert(k, v);
                }
            }
        }
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

/// Field tables for the workload kinds `kubectl create`/`run`/`expose` send as protobuf
/// (numbers from the upstream `generated.proto` files; fields outside these tables are
/// skipped). Zero numbers, empty strings and `false` are dropped like JSON `omitempty`,
/// except for optional fields where zero is meaningful (replicas, completions...).
mod schema {
    use super::{Field, Reader, map_entry, object_meta, string};
    use serde_json::{Map, Value, json};

    #[derive(Clone, Copy)]
    pub enum T {
        Str,
        Int,
        IntKeep,
        Bool,
        Meta,
        MapStr,
        MapQty,
        RepStr,
        IntOrStr,
        Msg(&'static [F]),
        RepMsg(&'static [F]),
    }

    pub struct F(pub u64, pub &'static str, pub T);

    const INT_OR_STR: T = T::IntOrStr;
    const REQUIREMENT: &[F] = &[
        F(1, "key", T::Str),
        F(2, "operator", T::Str),
        F(3, "values", T::RepStr),
    ];
    const SELECTOR: &[F] = &[
        F(1, "matchLabels", T::MapStr),
        F(2, "matchExpressions", T::RepMsg(REQUIREMENT)),
    ];
    const PORT: &[F] = &[
        F(1, "name", T::Str),
        F(2, "hostPort", T::Int),
        F(3, "containerPort", T::Int),
        F(4, "protocol", T::Str),
        F(5, "hostIP", T::Str),
    ];
    const ENV: &[F] = &[F(1, "name", T::Str), F(2, "value", T::Str)];
    const RESOURCES: &[F] = &[F(1, "limits", T::MapQty), F(2, "requests", T::MapQty)];
    const MOUNT: &[F] = &[
        F(1, "name", T::Str),
        F(2, "readOnly", T::Bool),
        F(3, "mountPath", T::Str),
        F(4, "subPath", T::Str),
    ];
    const CONTAINER: &[F] = &[
        F(1, "name", T::Str),
        F(2, "image", T::Str),
        F(3, "command", T::RepStr),
        F(4, "args", T::RepStr),
        F(5, "workingDir", T::Str),
        F(6, "ports", T::RepMsg(PORT)),
        F(7, "env", T::RepMsg(ENV)),
        F(8, "resources", T::Msg(RESOURCES)),
        F(9, "volumeMounts", T::RepMsg(MOUNT)),
        F(13, "terminationMessagePath", T::Str),
        F(14, "imagePullPolicy", T::Str),
        F(16, "stdin", T::Bool),
        F(18, "tty", T::Bool),
        F(20, "terminationMessagePolicy", T::Str),
    ];
    const LOCAL_REF: &[F] = &[F(1, "name", T::Str)];
    const TOLERATION: &[F] = &[
        F(1, "key", T::Str),
        F(2, "operator", T::Str),
        F(3, "value", T::Str),
        F(4, "effect", T::Str),
        F(5, "tolerationSeconds", T::Int),
    ];
    const POD_SPEC: &[F] = &[
        F(2, "containers", T::RepMsg(CONTAINER)),
        F(3, "restartPolicy", T::Str),
        F(4, "terminationGracePeriodSeconds", T::IntKeep),
        F(5, "activeDeadlineSeconds", T::Int),
        F(6, "dnsPolicy", T::Str),
        F(7, "nodeSelector", T::MapStr),
        F(8, "serviceAccountName", T::Str),
        F(10, "nodeName", T::Str),
        F(11, "hostNetwork", T::Bool),
        F(15, "imagePullSecrets", T::RepMsg(LOCAL_REF)),
        F(16, "hostname", T::Str),
        F(17, "subdomain", T::Str),
        F(19, "schedulerName", T::Str),
        F(20, "initContainers", T::RepMsg(CONTAINER)),
        F(22, "tolerations", T::RepMsg(TOLERATION)),
        F(24, "priorityClassName", T::Str),
    ];
    const TEMPLATE: &[F] = &[F(1, "metadata", T::Meta), F(2, "spec", T::Msg(POD_SPEC))];
    const ROLLING: &[F] = &[
        F(1, "maxUnavailable", INT_OR_STR),
        F(2, "maxSurge", INT_OR_STR),
    ];
    const STRATEGY: &[F] = &[F(1, "type", T::Str), F(2, "rollingUpdate", T::Msg(ROLLING))];
    const DEPLOYMENT_SPEC: &[F] = &[
        F(1, "replicas", T::IntKeep),
        F(2, "selector", T::Msg(SELECTOR)),
        F(3, "template", T::Msg(TEMPLATE)),
        F(4, "strategy", T::Msg(STRATEGY)),
        F(5, "minReadySeconds", T::Int),
        F(6, "revisionHistoryLimit", T::IntKeep),
        F(7, "paused", T::Bool),
        F(9, "progressDeadlineSeconds", T::IntKeep),
    ];
    const JOB_SPEC: &[F] = &[
        F(1, "parallelism", T::IntKeep),
        F(2, "completions", T::IntKeep),
        F(3, "activeDeadlineSeconds", T::Int),
        F(4, "selector", T::Msg(SELECTOR)),
        F(6, "template", T::Msg(TEMPLATE)),
        F(7, "backoffLimit", T::IntKeep),
        F(8, "ttlSecondsAfterFinished", T::IntKeep),
        F(9, "completionMode", T::Str),
        F(10, "suspend", T::Bool),
    ];
    const JOB_TEMPLATE: &[F] = &[F(1, "metadata", T::Meta), F(2, "spec", T::Msg(JOB_SPEC))];
    const CRONJOB_SPEC: &[F] = &[
        F(1, "schedule", T::Str),
        F(2, "startingDeadlineSeconds", T::Int),
        F(3, "concurrencyPolicy", T::Str),
        F(4, "suspend", T::Bool),
        F(5, "jobTemplate", T::Msg(JOB_TEMPLATE)),
        F(6, "successfulJobsHistoryLimit", T::IntKeep),
        F(7, "failedJobsHistoryLimit", T::IntKeep),
        F(8, "timeZone", T::Str),
    ];
    const SERVICE_PORT: &[F] = &[
        F(1, "name", T::Str),
        F(2, "protocol", T::Str),
        F(3, "port", T::Int),
        F(4, "targetPort", INT_OR_STR),
        F(5, "nodePort", T::Int),
    ];
    const SERVICE_SPEC: &[F] = &[
        F(1, "ports", T::RepMsg(SERVICE_PORT)),
        F(2, "selector", T::MapStr),
        F(3, "clusterIP", T::Str),
        F(4, "type", T::Str),
        F(5, "externalIPs", T::RepStr),
        F(7, "sessionAffinity", T::Str),
        F(8, "loadBalancerIP", T::Str),
        F(10, "externalName", T::Str),
    ];
    const DEPLOYMENT: &[F] = &[F(2, "spec", T::Msg(DEPLOYMENT_SPEC))];
    const JOB: &[F] = &[F(2, "spec", T::Msg(JOB_SPEC))];
    const CRONJOB: &[F] = &[F(2, "spec", T::Msg(CRONJOB_SPEC))];
    const POD: &[F] = &[F(2, "spec", T::Msg(POD_SPEC))];
    const SERVICE: &[F] = &[F(2, "spec", T::Msg(SERVICE_SPEC))];

    /// Field table of a top-level kind (metadata is field 1 in all of them).
    pub fn top(group: &str, kind: &str) -> Option<&'static [F]> {
        Some(match (group, kind) {
            ("apps", "Deployment") => DEPLOYMENT,
            ("batch", "Job") => JOB,
            ("batch", "CronJob") => CRONJOB,
            ("", "Pod") => POD,
            ("", "Service") => SERVICE,
            _ => return None,
        })
    }

    fn int(v: u64) -> i64 {
        // int32/int64 fields: negative values arrive as 64-bit two's complement.
        v as i64
    }

    pub fn decode(b: &[u8], fields: &[F]) -> Result<Value, String> {
        let mut r = Reader::new(b);
        let mut out = Map::new();
        while let Some((n, f)) = r.next()? {
            let Some(F(_, name, t)) = fields.iter().find(|x| x.0 == n) else {
                continue;
            };
            let name = name.to_string();
            match (t, f) {
                (T::Str, Field::Bytes(x)) if !x.is_empty() => {
                    out.insert(name, json!(string(x)?));
                }
                (T::Int, Field::Varint(v)) if v != 0 => {
                    out.insert(name, json!(int(v)));
                }
                (T::IntKeep, Field::Varint(v)) => {
                    out.insert(name, json!(int(v)));
                }
                (T::Bool, Field::Varint(v)) if v != 0 => {
                    out.insert(name, json!(true));
                }
                (T::Meta, Field::Bytes(x)) => {
                    out.insert(name, object_meta(x)?);
                }
                (T::MapStr, Field::Bytes(x)) => {
                    let (k, v) = map_entry(x)?;
                    let m = out.entry(name).or_insert_with(|| json!({}));
                    m[k] = json!(string(&v)?);
                }
                (T::MapQty, Field::Bytes(x)) => {
                    let (k, v) = map_entry(x)?;
                    let q = decode(&v, &[F(1, "q", T::Str)])?;
                    let m = out.entry(name).or_insert_with(|| json!({}));
                    m[k] = q["q"].clone();
                }
                (T::RepStr, Field::Bytes(x)) => {
                    let a = out.entry(name).or_insert_with(|| json!([]));
                    if let Some(a) = a.as_array_mut() {
                        a.push(json!(string(x)?));
                    }
                }
                (T::IntOrStr, Field::Bytes(x)) => {
                    let v = decode(
                        x,
                        &[
                            F(1, "type", T::Int),
                            F(2, "i", T::IntKeep),
                            F(3, "s", T::Str),
                        ],
                    )?;
                    let val = if v["type"] == 1 {
                        v["s"].clone()
                    } else {
                        v["i"].clone()
                    };
                    out.insert(name, val);
                }
                (T::Msg(sub), Field::Bytes(x)) => {
                    out.insert(name, decode(x, sub)?);
                }
                (T::RepMsg(sub), Field::Bytes(x)) => {
                    let item = decode(x, sub)?;
                    let a = out.entry(name).or_insert_with(|| json!([]));
                    if let Some(a) = a.as_array_mut() {
                        a.push(item);
                    }
                }
                _ => {}
            }
        }
        Ok(Value::Object(out))
    }
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
