//! The `registryImages` collector: does each image reference exist in its registry? A HEAD
//! of the manifest with berth-oci's registry client, authenticated with the collector's
//! `imagePullSecret` (inline data or a Secret by name), else the namespace's
//! `kubernetes.io/dockerconfigjson` Secrets, else the local Docker config. Output as
//! troubleshoot writes it: `registry/<collectorName|images>.json` =
//! `{"images": {"<ref>": {"exists": bool, "error"?: "..."}}}`.

use super::{CollectError, Context, field_str, field_strs};
use base64::Engine as _;
use berth_oci::auth::{Credentials, parse_docker_config};
use berth_oci::{Client, ClientConfig, Reference};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Run the cluster collector.
pub async fn registry_images(
    f: &Value,
    name: Option<&str>,
    ctx: &Context,
) -> Result<(), CollectError> {
    let images = field_strs(f, "images");
    if images.is_empty() {
        return Err(CollectError::Spec(
            "registryImages.images is required (a list of image references)".into(),
        ));
    }
    let ns = field_str(f, "namespace").unwrap_or("default");
    let creds = pull_credentials(f, ns, ctx).await?;
    let out = check_images(&images, &creds).await;
    Ok(ctx
        .sink
        .put_json(&format!("registry/{}.json", name.unwrap_or("images")), &out)?)
}

/// Credentials by registry host, from the spec's `imagePullSecret` or the namespace's
/// pull secrets (the local Docker config is the client's own fallback).
async fn pull_credentials(
    f: &Value,
    ns: &str,
    ctx: &Context,
) -> Result<HashMap<String, Credentials>, CollectError> {
    if let Some(ips) = f.get("imagePullSecret").filter(|v| v.is_object()) {
        if let Some(data) = ips.get("data").and_then(Value::as_object) {
            return from_secret_data(data, "imagePullSecret.data");
        }
        if let Some(n) = field_str(ips, "name") {
            let client = ctx.kube()?;
            let path = format!("/api/v1/namespaces/{ns}/secrets/{n}");
            let req = http::Request::get(&path)
                .body(Vec::new())
                .map_err(|e| CollectError::Failed(format!("reading secret {ns}/{n}: {e}")))?;
            let s: Value = client.request(req).await.map_err(|e| {
                CollectError::Failed(format!(
                    "reading image pull secret {n} in namespace {ns}: {}",
                    super::net::error_chain(&e)
                ))
            })?;
            let data = s
                .get("data")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            return from_secret_data(&data, &format!("secret {ns}/{n}"));
        }
    }
    // No secret named: every pull secret of the namespace, when a cluster is there.
    let Some(client) = ctx.kube.clone() else {
        return Ok(HashMap::new());
    };
    let path = format!(
        "/api/v1/namespaces/{ns}/secrets?fieldSelector=type%3Dkubernetes.io%2Fdockerconfigjson"
    );
    let req = http::Request::get(&path)
        .body(Vec::new())
        .map_err(|e| CollectError::Failed(format!("listing secrets in {ns}: {e}")))?;
    let list: Value = client.request(req).await.map_err(|e| {
        CollectError::Failed(format!(
            "listing image pull secrets in namespace {ns}: {}",
            super::net::error_chain(&e)
        ))
    })?;
    let mut out = HashMap::new();
    for s in list
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // A simulator or API server that ignores the field selector: filter here too.
        if s.get("type").and_then(Value::as_str) != Some("kubernetes.io/dockerconfigjson") {
            continue;
        }
        let n = s
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        if let Some(data) = s.get("data").and_then(Value::as_object) {
            for (host, c) in from_secret_data(data, &format!("secret {ns}/{n}"))? {
                out.entry(host).or_insert(c);
            }
        }
    }
    Ok(out)
}

/// `.dockerconfigjson` (or the older `.dockercfg`) of a Secret's base64 `data`.
fn from_secret_data(
    data: &Map<String, Value>,
    what: &str,
) -> Result<HashMap<String, Credentials>, CollectError> {
    let decode = |k: &str| -> Result<Option<Vec<u8>>, CollectError> {
        let Some(b64) = data.get(k).and_then(Value::as_str) else {
            return Ok(None);
        };
        base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map(Some)
            .map_err(|_| CollectError::Spec(format!("{what}: {k} is not base64")))
    };
    let text = if let Some(t) = decode(".dockerconfigjson")? {
        t
    } else if let Some(t) = decode(".dockercfg")? {
        // The old format is the `auths` map itself.
        let inner: Value = serde_json::from_slice(&t)
            .map_err(|e| CollectError::Spec(format!("{what}: .dockercfg is not JSON: {e}")))?;
        serde_json::to_vec(&json!({ "auths": inner }))
            .map_err(|e| CollectError::Failed(e.to_string()))?
    } else {
        return Err(CollectError::Spec(format!(
            "{what} has neither .dockerconfigjson nor .dockercfg"
        )));
    };
    parse_docker_config(&text).map_err(|e| CollectError::Spec(format!("{what}: {e}")))
}

/// Find credentials for a host the way a kubelet does: exact host, then `https://host`.
fn creds_for(all: &HashMap<String, Credentials>, host: &str) -> Option<Credentials> {
    all.get(host)
        .or_else(|| all.get(&format!("https://{host}")))
        .or_else(|| all.get(&format!("http://{host}")))
        .cloned()
}

/// HEAD every image; a reference that does not parse or a registry that fails is an error
/// for that image only.
pub async fn check_images(images: &[String], creds: &HashMap<String, Credentials>) -> Value {
    let mut out = Map::new();
    for image in images {
        let v = match check_one(image, creds).await {
            Ok(exists) => json!({ "exists": exists }),
            Err(e) => json!({ "exists": false, "error": e }),
        };
        out.insert(image.to_string(), v);
    }
    json!({ "images": out })
}

async fn check_one(image: &str, creds: &HashMap<String, Credentials>) -> Result<bool, String> {
    let r = Reference::parse(image).map_err(|e| e.to_string())?;
    let reference = r
        .digest
        .as_ref()
        .map(|d| d.to_string())
        .or_else(|| r.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let head = |insecure: bool| {
        let cfg = ClientConfig {
            insecure,
            credentials: creds_for(creds, &r.registry),
            retries: 1,
            ..Default::default()
        };
        let reference = reference.clone();
        let r = r.clone();
        async move {
            let client = Client::new(cfg)?;
            client
                .head_manifest(&r.registry, &r.repository, &reference)
                .await
                .map(|d| d.is_some())
        }
    };
    match head(false).await {
        Ok(exists) => Ok(exists),
        // As troubleshoot does: a registry that answers plain HTTP on its TLS port is asked
        // again over HTTP (nothing else falls back, so a TLS failure never downgrades).
        Err(e) if speaks_plain_http(&e) => head(true).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn speaks_plain_http(e: &berth_oci::Error) -> bool {
    let s = format!("{e:?} {e}");
    s.contains("InvalidContentType") || s.contains("HTTP response to HTTPS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_secret_data_gives_credentials_by_host() {
        let cfg = json!({"auths": {"reg.example:5000": {"auth": base64::engine::general_purpose::STANDARD.encode("u:p")}}});
        let mut data = Map::new();
        data.insert(
            ".dockerconfigjson".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(cfg.to_string())),
        );
        let c = from_secret_data(&data, "s").unwrap();
        let got = creds_for(&c, "reg.example:5000").unwrap();
        assert_eq!((got.username.as_str(), got.password.as_str()), ("u", "p"));
        let mut old = Map::new();
        old.insert(
            ".dockercfg".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(
                json!({"https://old.example": {"username": "a", "password": "b"}}).to_string()
            )),
        );
        assert!(creds_for(&from_secret_data(&old, "s").unwrap(), "old.example").is_some());
        let e = from_secret_data(&Map::new(), "secret ns/x").unwrap_err();
        assert!(e.to_string().contains("secret ns/x"), "{e}");
    }
}
