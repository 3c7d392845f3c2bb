//! Admission webhooks, called as a real API server calls them: Mutating then Validating
//! WebhookConfigurations whose rules, namespaceSelector and objectSelector match a create or
//! update get an `admission.k8s.io/v1` AdmissionReview over HTTPS (trusting the caBundle),
//! within `timeoutSeconds`; `failurePolicy` decides what a failed call means; mutating
//! responses' JSONPatches are applied. Service-backed webhooks cannot run code here: a missing
//! Service or one without ready endpoints fails as on a real cluster, and one with ready
//! endpoints is taken to allow the request unchanged.

use crate::Shared;
use crate::catalog::ResourceType;
use crate::selector::LabelSelector;
use crate::status::ApiError;
use crate::store::Store;
use base64::Engine as _;
use serde_json::{Value, json};
use std::time::Duration;

/// One webhook of a configuration, as the request path sees it.
#[derive(Debug, Clone)]
struct Hook {
    name: String,
    mutating: bool,
    config: Value,
    timeout: u64,
    fail_closed: bool,
    side_effects: String,
}

/// What the webhooks decided for an allowed request.
#[derive(Debug, Default)]
pub struct Admitted {
    /// The object after mutating webhooks' patches, when any patched it.
    pub mutated: Option<Value>,
    /// `warnings` from the webhooks' responses.
    pub warnings: Vec<String>,
}

/// Whether any webhook configuration exists (the fast path skips admission entirely).
pub fn any_configured(store: &Store) -> bool {
    [
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
    ]
    .iter()
    .any(|p| {
        store
            .objects
            .get(&("admissionregistration.k8s.io".to_string(), p.to_string()))
            .is_some_and(|m| !m.is_empty())
    })
}

fn list_has(v: &Value, want: &str) -> bool {
    v.as_array()
        .is_some_and(|a| a.iter().any(|x| x == "*" || x == want))
}

fn rule_matches(rule: &Value, op: &str, rt: &ResourceType, sub: Option<&str>) -> bool {
    let resource = match sub {
        Some(s) => format!("{}/{s}", rt.plural),
        None => rt.plural.clone(),
    };
    let resource_ok = rule["resources"].as_array().is_some_and(|a| {
        a.iter().filter_map(Value::as_str).any(|r| {
            r == resource
                || (r == "*" && sub.is_none())
                || r == "*/*"
                || (sub.is_some() && r == format!("*/{}", sub.unwrap_or("")))
                || (sub.is_some() && r == format!("{}/*", rt.plural))
        })
    });
    let scope_ok = match rule["scope"].as_str().unwrap_or("*") {
        "Cluster" => !rt.namespaced,
        "Namespaced" => rt.namespaced,
        _ => true,
    };
    list_has(&rule["operations"], op)
        && list_has(&rule["apiGroups"], &rt.group)
        && list_has(&rule["apiVersions"], &rt.version)
        && resource_ok
        && scope_ok
}

fn labels_match(sel: &Value, labels: &Value) -> bool {
    if !sel.is_object() || sel.as_object().is_some_and(|m| m.is_empty()) {
        return true;
    }
    let s = crate::controllers::selector_string(sel);
    match LabelSelector::parse(&s) {
        Ok(ls) => ls.matches_labels(labels),
        Err(_) => false,
    }
}

/// The webhooks that apply to this request, mutating first, each list in name order.
fn matching(
    store: &Store,
    rt: &ResourceType,
    sub: Option<&str>,
    op: &str,
    ns: &str,
    obj: &Value,
    old: Option<&Value>,
) -> Vec<Hook> {
    // A real server never calls webhooks for webhook configurations themselves.
    if rt.group == "admissionregistration.k8s.io" {
        return vec![];
    }
    let ns_labels = if rt.kind == "Namespace" {
        obj["metadata"]["labels"].clone()
    } else {
        store
            .get_core("namespaces", "", ns)
            .map(|n| n["metadata"]["labels"].clone())
            .unwrap_or(Value::Null)
    };
    let mut out = Vec::new();
    for (plural, mutating) in [
        ("mutatingwebhookconfigurations", true),
        ("validatingwebhookconfigurations", false),
    ] {
        let g = (
            "admissionregistration.k8s.io".to_string(),
            plural.to_string(),
        );
        for cfg in store.list(&g, None) {
            for w in cfg["webhooks"].as_array().into_iter().flatten() {
                let rules_ok = w["rules"]
                    .as_array()
                    .is_some_and(|rs| rs.iter().any(|r| rule_matches(r, op, rt, sub)));
                let ns_ok = (!rt.namespaced && rt.kind != "Namespace")
                    || labels_match(&w["namespaceSelector"], &ns_labels);
                let obj_ok = labels_match(&w["objectSelector"], &obj["metadata"]["labels"])
                    || old.is_some_and(|o| {
                        labels_match(&w["objectSelector"], &o["metadata"]["labels"])
                    });
                if !(rules_ok && ns_ok && obj_ok) {
                    continue;
                }
                out.push(Hook {
                    name: w["name"].as_str().unwrap_or("").to_string(),
                    mutating,
                    config: w["clientConfig"].clone(),
                    timeout: w["timeoutSeconds"].as_u64().unwrap_or(10).clamp(1, 30),
                    fail_closed: w["failurePolicy"].as_str().unwrap_or("Fail") != "Ignore",
                    side_effects: w["sideEffects"].as_str().unwrap_or("Unknown").to_string(),
                });
            }
        }
    }
    out
}

/// A call that did not produce a response (the "failed calling webhook" cases).
enum CallError {
    /// The service-backed webhook has a live backend the simulator cannot run: allow.
    Simulated,
    Failed(String),
}

fn service_url(cfg: &Value, timeout: u64) -> (String, Option<(String, String)>) {
    if let Some(u) = cfg["url"].as_str() {
        let sep = if u.contains('?') { '&' } else { '?' };
        return (format!("{u}{sep}timeout={timeout}s"), None);
    }
    let s = &cfg["service"];
    let name = s["name"].as_str().unwrap_or("").to_string();
    let ns = s["namespace"].as_str().unwrap_or("").to_string();
    let port = s["port"].as_i64().unwrap_or(443);
    let path = s["path"].as_str().unwrap_or("");
    (
        format!("https://{name}.{ns}.svc:{port}{path}?timeout={timeout}s"),
        Some((ns, name)),
    )
}

fn service_state(store: &Store, ns: &str, name: &str) -> Result<(), String> {
    if store.get_core("services", ns, name).is_none() {
        return Err(format!("service \"{name}\" not found"));
    }
    let ready = store
        .get_core("endpoints", ns, name)
        .and_then(|e| e["subsets"].as_array().cloned())
        .is_some_and(|s| {
            s.iter()
                .any(|s| s["addresses"].as_array().is_some_and(|a| !a.is_empty()))
        });
    if ready {
        Ok(())
    } else {
        Err(format!("no endpoints available for service \"{name}\""))
    }
}

async fn post(url: &str, cfg: &Value, timeout: u64, review: &Value) -> Result<Value, String> {
    let mut b = reqwest::Client::builder().timeout(Duration::from_secs(timeout));
    if let Some(ca) = cfg["caBundle"].as_str() {
        let pem = base64::engine::general_purpose::STANDARD
            .decode(ca.trim())
            .map_err(|e| format!("caBundle is not base64: {e}"))?;
        for c in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("caBundle holds no PEM certificate: {e}"))?
        {
            b = b.add_root_certificate(c);
        }
    }
    let client = b.build().map_err(|e| e.to_string())?;
    let resp = client.post(url).json(review).send().await.map_err(|e| {
        if e.is_timeout() {
            "context deadline exceeded".to_string()
        } else {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            msg
        }
    })?;
    let code = resp.status().as_u16();
    if !(200..300).contains(&code) {
        return Err(format!(
            "the server responded with the status code {code} but did not return more information"
        ));
    }
    let v: Value = resp
        .json()
        .await
        .map_err(|e| format!("failed to decode the response: {e}"))?;
    Ok(v)
}

async fn call(sh: &Shared, h: &Hook, review: &Value) -> Result<Value, CallError> {
    let (url, service) = service_url(&h.config, h.timeout);
    if let Some((ns, name)) = service {
        let state = service_state(&sh.read(), &ns, &name);
        return match state {
            Ok(()) => Err(CallError::Simulated),
            Err(e) => Err(CallError::Failed(format!(
                "failed to call webhook: Post \"{url}\": {e}"
            ))),
        };
    }
    let v = post(&url, &h.config, h.timeout, review)
        .await
        .map_err(|e| CallError::Failed(format!("failed to call webhook: Post \"{url}\": {e}")))?;
    let uid = review["request"]["uid"].as_str().unwrap_or("");
    let got = v["response"]["uid"].as_str().unwrap_or("");
    if got != uid {
        return Err(CallError::Failed(format!(
            "expected response.uid=\"{uid}\", got \"{got}\""
        )));
    }
    Ok(v["response"].clone())
}

/// The request a webhook receives.
#[allow(clippy::too_many_arguments)]
fn review(
    rt: &ResourceType,
    sub: Option<&str>,
    op: &str,
    ns: &str,
    obj: &Value,
    old: Option<&Value>,
    dry: bool,
) -> Value {
    let gvk = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
    let gvr = json!({"group": rt.group, "version": rt.version, "resource": rt.plural});
    let mut req = json!({
        "uid": uuid::Uuid::new_v4().to_string(),
        "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": obj["metadata"]["name"], "operation": op,
        "userInfo": {"username": "berth-sim", "groups": ["system:masters", "system:authenticated"]},
        "object": obj, "oldObject": old.cloned().unwrap_or(Value::Null), "dryRun": dry,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": if op == "CREATE" { "CreateOptions" } else { "UpdateOptions" }},
    });
    if rt.namespaced {
        req["namespace"] = json!(ns);
    }
    if let Some(s) = sub {
        req["subResource"] = json!(s);
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
}

fn denied(name: &str, resp: &Value) -> ApiError {
    let st = &resp["status"];
    let code = st["code"].as_u64().filter(|c| *c >= 400).unwrap_or(403) as u16;
    let msg = match st["message"].as_str().filter(|m| !m.is_empty()) {
        Some(m) => format!("admission webhook \"{name}\" denied the request: {m}"),
        None => format!("admission webhook \"{name}\" denied the request without explanation"),
    };
    let reason = match code {
        400 => "BadRequest",
        404 => "NotFound",
        409 => "Conflict",
        422 => "Invalid",
        _ => "Forbidden",
    };
    ApiError::new(code, reason, msg)
}

/// Run the matching webhooks for a create (`old` None) or update of `obj`.
#[allow(clippy::too_many_arguments)]
pub async fn admit(
    sh: &Shared,
    rt: &ResourceType,
    sub: Option<&str>,
    ns: &str,
    obj: &Value,
    old: Option<&Value>,
    dry: bool,
) -> Result<Admitted, ApiError> {
    let op = if old.is_some() { "UPDATE" } else { "CREATE" };
    let hooks = matching(&sh.read(), rt, sub, op, ns, obj, old);
    let mut out = Admitted::default();
    let mut cur = obj.clone();
    for h in hooks {
        if dry && !matches!(h.side_effects.as_str(), "None" | "NoneOnDryRun") {
            return Err(ApiError::bad_request(format!(
                "admission webhook \"{}\" does not support dry run",
                h.name
            )));
        }
        let rev = review(rt, sub, op, ns, &cur, old, dry);
        let resp = match call(sh, &h, &rev).await {
            Ok(r) => r,
            Err(CallError::Simulated) => continue,
            Err(CallError::Failed(e)) => {
                if h.fail_closed {
                    return Err(ApiError::new(
                        500,
                        "InternalError",
                        format!(
                            "Internal error occurred: failed calling webhook \"{}\": {e}",
                            h.name
                        ),
                    ));
                }
                tracing::warn!(webhook = %h.name, "failed calling webhook, failurePolicy Ignore: {e}");
                continue;
            }
        };
        for w in resp["warnings"].as_array().into_iter().flatten() {
            if let Some(w) = w.as_str() {
                out.warnings.push(w.to_string());
            }
        }
        if resp["allowed"] != true {
            return Err(denied(&h.name, &resp));
        }
        if h.mutating
            && let Some(p) = resp["patch"].as_str()
        {
            let ops = base64::engine::general_purpose::STANDARD
                .decode(p)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            let applied = ops
                .ok_or_else(|| "the patch is not base64 JSON".to_string())
                .and_then(|ops| crate::fields::json_patch(&mut cur, &ops));
            if let Err(e) = applied {
                return Err(ApiError::new(
                    500,
                    "InternalError",
                    format!(
                        "Internal error occurred: failed calling webhook \"{}\": {e}",
                        h.name
                    ),
                ));
            }
            out.mutated = Some(cur.clone());
        }
    }
    Ok(out)
}
