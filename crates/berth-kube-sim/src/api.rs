//! The HTTP front: routing of Kubernetes API paths, body decoding, and the generic
//! create/read/update/patch/delete/list verbs over the store.

use crate::catalog::ResourceType;
use crate::defaults;
use crate::fields;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Gr, Store, now_str};
use crate::{Shared, discovery, logs, protobuf, schema, table, validate, watch};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Largest request body accepted (a real API server's object size limit is 1.5 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024 / 2;

pub type Query = HashMap<String, String>;

pub fn json_response(code: u16, v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = json_response(self.code, &self.body());
        if self.code == 429
            && let Ok(v) = "1".parse()
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

fn parse_query(q: Option<&str>) -> Query {
    let mut out = HashMap::new();
    if let Some(q) = q {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            out.insert(k.into_owned(), v.into_owned());
        }
    }
    out
}

/// A parsed resource URL.
#[derive(Debug, Clone)]
pub struct ResReq {
    pub rt: ResourceType,
    pub ns: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
}

/// Entry point for every request.
pub async fn handle(State(sh): State<Arc<Shared>>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let q = parse_query(parts.uri.query());
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();

    // Discovery, version, OpenAPI: never subject to injected faults.
    {
        let store = sh.read();
        if let ["apis", g, v, ..] = segs.as_slice()
            && crate::aggregation::unavailable(&store, g, v)
        {
            // kube-aggregator's proxy answers in plain text; clients turn a 503 into
            // "the server is currently unable to handle the request".
            return Response::builder()
                .status(503)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(Body::from("service unavailable\n"))
                .unwrap_or_default();
        }
        match segs.as_slice() {
            ["version"] => return json_response(200, &discovery::version_doc(&store)),
            ["healthz"] | ["readyz"] | ["livez"] => {
                return Response::builder()
                    .header(header::CONTENT_TYPE, "text/plain")
                    .body(Body::from("ok"))
                    .unwrap_or_default();
            }
            ["api"] | ["apis"] => {
                let core = segs[0] == "api";
                if let Some(v) = discovery::aggregated_accept(&accept) {
                    let doc = discovery::aggregated(&store, core, v);
                    return Response::builder()
                        .header(
                            header::CONTENT_TYPE,
                            format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"),
                        )
                        .body(Body::from(serde_json::to_vec(&doc).unwrap_or_default()))
                        .unwrap_or_default();
                }
                let doc = if core {
                    discovery::legacy_api(&sh.addr.to_string())
                } else {
                    discovery::legacy_apis(&store)
                };
                return json_response(200, &doc);
            }
            ["api", v] => {
                return match discovery::resource_list(&store, "", v) {
                    Some(d) => json_response(200, &d),
                    None => ApiError::no_resource().into_response(),
                };
            }
            ["apis", g] => {
                return match discovery::legacy_group(&store, g) {
                    Some(d) => json_response(200, &d),
                    None => ApiError::no_resource().into_response(),
                };
            }
            ["apis", g, v] => {
                return match discovery::resource_list(&store, g, v) {
                    Some(d) => json_response(200, &d),
                    None => ApiError::no_resource().into_response(),
                };
            }
            ["openapi", "v3"] => return json_response(200, &discovery::openapi_root(&store)),
            ["openapi", "v2"] | ["swagger.json"] => {
                let git = discovery::version_doc(&store)["gitVersion"]
                    .as_str()
                    .unwrap_or("v1.32.0")
                    .to_string();
                if accept.contains("protobuf") {
                    return Response::builder()
                        .header(
                            header::CONTENT_TYPE,
                            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                        )
                        .body(Body::from(discovery::openapi_v2_proto()))
                        .unwrap_or_default();
                }
                return json_response(
                    200,
                    &json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": git}, "paths": {}, "definitions": {}}),
                );
            }
            ["openapi", "v3", rest @ ..] => {
                return match discovery::openapi_gv(&store, &rest.join("/")) {
                    Some(d) => json_response(200, &d),
                    None => ApiError::no_resource().into_response(),
                };
            }
            _ => {}
        }
    }

    if let Some(err) = sh.injected_fault() {
        return err.into_response();
    }

    let rr = {
        let store = sh.read();
        match parse_resource_path(&store, &segs) {
            Some(r) => r,
            None => return ApiError::no_resource().into_response(),
        }
    };

    if rr.rt.kind == "Pod"
        && rr.sub.as_deref() == Some("exec")
        && let Some(name) = rr.name.clone()
        && matches!(parts.method, Method::GET | Method::POST)
    {
        return crate::exec::serve(&sh, &rr, &name, &mut parts).await;
    }
    let result = dispatch(&sh, &parts.method, &parts.headers, &accept, &q, rr, body).await;
    match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn parse_resource_path(store: &Store, segs: &[&str]) -> Option<ResReq> {
    let (group, version, rest) = match segs {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let (ns, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if !matches!(*plural, "status" | "finalize")
                && store.find_type(group, version, plural).is_some() =>
        {
            (
                Some(ns.to_string()),
                std::iter::once(*plural)
                    .chain(tail.iter().copied())
                    .collect::<Vec<_>>(),
            )
        }
        _ => (None, rest.to_vec()),
    };
    let plural = rest.first()?;
    let rt = store.find_type(group, version, plural)?.clone();
    if rest.len() > 3 {
        return None;
    }
    if rt.namespaced != ns.is_some() && rest.len() > 1 {
        // Namespaced objects need a namespace in the path (lists may span all namespaces).
        return None;
    }
    if !rt.namespaced && ns.is_some() {
        return None;
    }
    Some(ResReq {
        rt,
        ns,
        name: rest.get(1).map(|s| s.to_string()),
        sub: rest.get(2).map(|s| s.to_string()),
    })
}

async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::too_large(MAX_BODY))
}

fn content_type(h: &HeaderMap) -> String {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Decode a JSON, YAML or protobuf body to JSON.
pub fn decode_body(ct: &str, bytes: &[u8], rt: &ResourceType) -> Result<Value, ApiError> {
    match ct {
        "application/json"
        | "application/merge-patch+json"
        | "application/strategic-merge-patch+json"
        | "application/json-patch+json"
        | "" => serde_json::from_slice(bytes).map_err(|e| {
            ApiError::bad_request(format!(
                "error decoding from json: couldn't get version/kind; json parse error: {e}"
            ))
        }),
        "application/yaml" | "application/apply-patch+yaml" | "text/yaml" => {
            match serde_json::from_slice(bytes) {
                Ok(v) => Ok(v),
                Err(_) => {
                    let text = std::str::from_utf8(bytes).map_err(|_| {
                        ApiError::bad_request("error decoding YAML: body is not UTF-8")
                    })?;
                    serde_saphyr::from_str::<Value>(text)
                        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
                }
            }
        }
        "application/vnd.kubernetes.protobuf" => protobuf::decode(bytes, rt).map_err(|e| {
            ApiError::new(
                415,
                "UnsupportedMediaType",
                format!("the simulator cannot decode this protobuf body ({e}); send JSON instead"),
            )
        }),
        other => Err(ApiError::unsupported_media(other)),
    }
}

fn manager_of(q: &Query, h: &HeaderMap) -> String {
    if let Some(m) = q.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.clone();
    }
    let ua = h
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown");
    ua.split('/').next().unwrap_or("unknown").to_string()
}

fn dry_run(q: &Query) -> bool {
    q.get("dryRun").is_some_and(|v| v == "All")
}

/// Find and drop the fields the object's schema does not declare: the built-in kind's
/// OpenAPI fields, or the CRD version's structural schema.
fn prune_unknown(store: &Store, rt: &ResourceType, obj: &mut Value) -> schema::Unknown {
    if rt.crd.is_none() {
        return schema::prune_builtin(rt, store.minor, obj);
    }
    let crd_gr: Gr = (
        "apiextensions.k8s.io".into(),
        "customresourcedefinitions".into(),
    );
    let Some(crd) = store.get(&crd_gr, "", &format!("{}.{}", rt.plural, rt.group)) else {
        return schema::Unknown::default();
    };
    let version = crd["spec"]["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["name"] == rt.version.as_str()));
    match version.map(|v| &v["schema"]["openAPIV3Schema"]) {
        Some(s) if s.is_object() => schema::prune_custom(s, store.minor, obj),
        _ => schema::Unknown::default(),
    }
}

/// What a write does with unknown fields, by `fieldValidation` (default Warn, as the API
/// server): Strict refuses with the strict decoder's error, Warn returns `Warning` texts,
/// Ignore drops them silently. They are dropped from the object in every case.
fn unknown_fields(
    store: &Store,
    rt: &ResourceType,
    obj: &mut Value,
    q: &Query,
    whole_object: bool,
) -> Result<Vec<String>, ApiError> {
    let unknown = prune_unknown(store, rt, obj);
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    match q.get("fieldValidation").map(String::as_str) {
        Some("Strict") if whole_object => Err(ApiError::bad_request(format!(
            "{kind} in version \"{v}\" cannot be handled as a {kind}: {}",
            unknown.strict_message(),
            kind = rt.kind,
            v = rt.version
        ))),
        Some("Strict") => Err(ApiError::bad_request(unknown.strict_message())),
        Some("Ignore") => Ok(Vec::new()),
        _ => Ok(unknown
            .decoder_paths()
            .iter()
            .map(|p| format!("unknown field \"{p}\""))
            .collect()),
    }
}

/// Server-side apply refuses undeclared fields whatever `fieldValidation` says (the
/// structured-merge typed conversion fails; real API servers answer 500 with this text).
fn apply_unknown_fields(
    store: &Store,
    rt: &ResourceType,
    body: &Value,
    ns: &str,
    name: &str,
) -> Result<(), ApiError> {
    let mut probe = body.clone();
    if let Some(md) = probe["metadata"].as_object_mut() {
        md.remove("managedFields");
    }
    let unknown = prune_unknown(store, rt, &mut probe);
    if unknown.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        500,
        "",
        format!(
            "failed to create typed patch object ({ns}/{name}; {}/{}, Kind={}): {}",
            rt.group,
            rt.version,
            rt.kind,
            unknown.apply_message()
        ),
    ))
}

/// Add `Warning: 299 - "text"` headers (RFC 7234 warn-text, quotes escaped).
fn with_warnings(mut r: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = header::HeaderValue::from_str(&format!("299 - \"{text}\"")) {
            r.headers_mut().append(header::WARNING, v);
        }
    }
    r
}

async fn dispatch(
    sh: &Arc<Shared>,
    method: &Method,
    headers: &HeaderMap,
    accept: &str,
    q: &Query,
    rr: ResReq,
    body: Body,
) -> Result<Response, ApiError> {
    let want_table = accept.contains("as=Table");
    match (&rr.name, rr.sub.as_deref()) {
        (None, _) => match *method {
            Method::GET => {
                if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
                    return watch::serve_with_accept(sh.clone(), rr, q, Some(accept)).await;
                }
                list(sh, &rr, q, accept)
            }
            Method::POST => {
                let bytes = read_body(body).await?;
                let obj = decode_body(&content_type(headers), &bytes, &rr.rt)?;
                admitted(sh, &rr, q, headers, false, |q| {
                    create(sh, &rr, obj.clone(), q, headers)
                })
                .await
            }
            Method::DELETE => delete_collection(sh, &rr, q),
            _ => Err(ApiError::method_not_allowed()),
        },
        (Some(name), None) => {
            let name = name.clone();
            match *method {
                Method::GET => {
                    let store = sh.read();
                    let ns = rr.ns.clone().unwrap_or_default();
                    let obj = store
                        .get(&rr.rt.storage_key(), &ns, &name)
                        .ok_or_else(|| ApiError::not_found(&rr.rt, &name))?;
                    if want_table {
                        return Ok(json_response(
                            200,
                            &table::table(&store, &rr.rt, &[obj], accept, q),
                        ));
                    }
                    Ok(json_response(200, &output(&obj, &rr.rt)))
                }
                Method::PUT => {
                    let bytes = read_body(body).await?;
                    let obj = decode_body(&content_type(headers), &bytes, &rr.rt)?;
                    admitted(sh, &rr, q, headers, false, |q| {
                        update(sh, &rr, &name, obj.clone(), q, headers, false)
                    })
                    .await
                }
                Method::PATCH => {
                    let bytes = read_body(body).await?;
                    let ct = content_type(headers);
                    admitted(sh, &rr, q, headers, false, |q| {
                        patch(sh, &rr, &name, &ct, &bytes, q, headers, false)
                    })
                    .await
                }
                Method::DELETE => {
                    let bytes = read_body(body).await?;
                    let opts: Value = if bytes.is_empty() {
                        json!({})
                    } else if content_type(headers) == "application/vnd.kubernetes.protobuf" {
                        protobuf::decode_delete_options(&bytes).map_err(|e| {
                            ApiError::bad_request(format!("error decoding DeleteOptions: {e}"))
                        })?
                    } else {
                        serde_json::from_slice(&bytes).map_err(|e| {
                            ApiError::bad_request(format!("error decoding DeleteOptions: {e}"))
                        })?
                    };
                    delete(sh, &rr, &name, &opts, q)
                }
                _ => Err(ApiError::method_not_allowed()),
            }
        }
        (Some(name), Some(sub)) => {
            let name = name.clone();
            if !rr.rt.subresources.iter().any(|s| s == sub) {
                return Err(ApiError::no_resource());
            }
            match sub {
                "status" => match *method {
                    Method::GET => {
                        let store = sh.read();
                        let obj = store
                            .get(&rr.rt.storage_key(), rr.ns.as_deref().unwrap_or(""), &name)
                            .ok_or_else(|| ApiError::not_found(&rr.rt, &name))?;
                        Ok(json_response(200, &output(&obj, &rr.rt)))
                    }
                    Method::PUT => {
                        let bytes = read_body(body).await?;
                        let obj = decode_body(&content_type(headers), &bytes, &rr.rt)?;
                        update(sh, &rr, &name, obj, q, headers, true)
                    }
                    Method::PATCH => {
                        let bytes = read_body(body).await?;
                        patch(
                            sh,
                            &rr,
                            &name,
                            &content_type(headers),
                            &bytes,
                            q,
                            headers,
                            true,
                        )
                    }
                    _ => Err(ApiError::method_not_allowed()),
                },
                "scale" => {
                    let bytes = read_body(body).await?;
                    scale(sh, &rr, &name, method, &content_type(headers), &bytes, q)
                }
                "log" => logs::serve(sh, &rr, &name, q),
                "exec" => Err(ApiError::method_not_allowed()),
                "attach" | "portforward" => Err(ApiError::bad_request(format!(
                    "{sub} is not supported by the simulator (berth cluster sim): pods/{name} has no real containers; read its output with `kubectl logs` or run a command with `kubectl exec` instead"
                ))),
                "finalize" => {
                    let bytes = read_body(body).await?;
                    let obj = decode_body(&content_type(headers), &bytes, &rr.rt)?;
                    update(sh, &rr, &name, obj, q, headers, false)
                }
                _ => Err(ApiError::new(
                    405,
                    "MethodNotAllowed",
                    format!("the simulator does not implement the {sub} subresource"),
                )),
            }
        }
    }
}

/// An object as served at the requested version (no conversion: only apiVersion changes).
pub fn output(obj: &Arc<Value>, rt: &ResourceType) -> Value {
    let mut v = (**obj).clone();
    let av = rt.api_version();
    if v["apiVersion"].as_str() != Some(av.as_str()) {
        v["apiVersion"] = json!(av);
    }
    v
}

pub struct Filters {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

pub fn filters(rt: &ResourceType, q: &Query) -> Result<Filters, ApiError> {
    let labels = match q.get("labelSelector") {
        Some(s) => LabelSelector::parse(s)
            .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?,
        None => LabelSelector::default(),
    };
    let fields = match q.get("fieldSelector") {
        Some(s) => FieldSelector::parse(s, &rt.kind).map_err(ApiError::bad_request)?,
        None => FieldSelector::default(),
    };
    Ok(Filters { labels, fields })
}

impl Filters {
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

fn list(sh: &Arc<Shared>, rr: &ResReq, q: &Query, accept: &str) -> Result<Response, ApiError> {
    let want_table = accept.contains("as=Table");
    let f = filters(&rr.rt, q)?;
    let store = sh.read();
    let all = store.list(&rr.rt.storage_key(), rr.ns.as_deref());
    let mut items: Vec<Arc<Value>> = all.into_iter().filter(|o| f.matches(o)).collect();
    let offset: usize = q
        .get("continue")
        .and_then(|c| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(c).ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
    let total = items.len();
    if offset > 0 {
        items = items.into_iter().skip(offset).collect();
    }
    let mut cont = None;
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        use base64::Engine;
        cont = Some((
            base64::engine::general_purpose::STANDARD.encode((offset + limit).to_string()),
            total - offset - limit,
        ));
    }
    let rv = store.rv.to_string();
    if want_table {
        let mut t = table::table(&store, &rr.rt, &items, accept, q);
        t["metadata"] = json!({"resourceVersion": rv});
        if let Some((c, n)) = &cont {
            t["metadata"]["continue"] = json!(c);
            t["metadata"]["remainingItemCount"] = json!(n);
        }
        return Ok(json_response(200, &t));
    }
    // Serialise straight from the shared objects (lists of thousands stay cheap).
    let av = rr.rt.api_version();
    let mut md = json!({"resourceVersion": rv});
    if let Some((c, n)) = &cont {
        md["continue"] = json!(c);
        md["remainingItemCount"] = json!(n);
    }
    let mut buf = Vec::with_capacity(items.len() * 512 + 128);
    buf.extend_from_slice(b"{\"kind\":");
    let _ = serde_json::to_writer(&mut buf, &format!("{}List", rr.rt.kind));
    buf.extend_from_slice(b",\"apiVersion\":");
    let _ = serde_json::to_writer(&mut buf, &av);
    buf.extend_from_slice(b",\"metadata\":");
    let _ = serde_json::to_writer(&mut buf, &md);
    buf.extend_from_slice(b",\"items\":[");
    for (i, o) in items.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        if o["apiVersion"].as_str() == Some(av.as_str()) {
            let _ = serde_json::to_writer(&mut buf, &**o);
        } else {
            let _ = serde_json::to_writer(&mut buf, &output(o, &rr.rt));
        }
    }
    buf.extend_from_slice(b"]}");
    drop(store);
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(buf))
        .unwrap_or_default())
}

/// Check the object's apiVersion/kind and namespace against the URL.
fn check_identity(
    rr: &ResReq,
    obj: &mut Value,
    name_from_url: Option<&str>,
) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON or YAML object",
        ));
    }
    if let Some(k) = obj.get("kind").and_then(Value::as_str)
        && !k.is_empty()
        && k != rr.rt.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the body ({k}) does not match the kind of the resource ({})",
            rr.rt.kind
        )));
    }
    if let Some(av) = obj.get("apiVersion").and_then(Value::as_str)
        && !av.is_empty()
        && av != rr.rt.api_version()
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            rr.rt.api_version()
        )));
    }
    obj["apiVersion"] = json!(rr.rt.api_version());
    obj["kind"] = json!(rr.rt.kind);
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    if let Some(ns) = &rr.ns {
        match obj["metadata"].get("namespace").and_then(Value::as_str) {
            Some(b) if !b.is_empty() && b != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => obj["metadata"]["namespace"] = json!(ns),
        }
    } else if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("namespace");
    }
    if let Some(n) = name_from_url {
        match obj["metadata"].get("name").and_then(Value::as_str) {
            Some(b) if !b.is_empty() && b != n => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({b}) does not match the name on the URL ({n})"
                )));
            }
            _ => obj["metadata"]["name"] = json!(n),
        }
    }
    Ok(())
}

fn create(
    sh: &Arc<Shared>,
    rr: &ResReq,
    mut obj: Value,
    q: &Query,
    h: &HeaderMap,
) -> Result<Response, ApiError> {
    check_identity(rr, &mut obj, None)?;
    let mut store = sh.write();
    let warnings = unknown_fields(&store, &rr.rt, &mut obj, q, true)?;
    let gr = rr.rt.storage_key();
    store.prepare_create(&mut obj);
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        return Err(ApiError::invalid(
            &rr.rt,
            "",
            &[(
                "metadata.name".into(),
                "FieldValueRequired",
                "Required value: name or generateName is required".into(),
            )],
        ));
    }
    validate::object(&rr.rt, &obj)?;
    let ns = rr.ns.clone().unwrap_or_default();
    store.check_namespace(&rr.rt, &ns, &name, true)?;
    if store.get(&gr, &ns, &name).is_some() {
        return Err(ApiError::already_exists(&rr.rt, &name));
    }
    if let Some(m) = obj.as_object_mut()
        && rr.rt.crd.as_ref().is_none_or(|c| c.status_subresource)
        && rr.rt.kind != "Event"
    {
        // Status is set by controllers, not by creators (except where no subresource exists).
        if rr.rt.subresources.iter().any(|s| s == "status") {
            m.remove("status");
        }
    }
    defaults::apply(&mut store, &rr.rt, &mut obj, None);
    admit_pod_create(&store, rr, &obj)?;
    let manager = manager_of(q, h);
    fields::record_update(
        None,
        &mut obj,
        &manager,
        &rr.rt.api_version(),
        false,
        &now_str(),
    );
    if dry_run(q) {
        return Ok(with_warnings(json_response(201, &obj), &warnings));
    }
    let stored = store.commit(&gr, obj, None);
    if rr.rt.kind == "Namespace" && rr.rt.group.is_empty() {
        crate::quota::namespace_defaults(&mut store, &name);
        crate::network::namespace_defaults(&mut store, &name);
    }
    Ok(with_warnings(
        json_response(201, &output(&stored, &rr.rt)),
        &warnings,
    ))
}

/// Run a create or update through the admission webhooks: a dry run of `write` yields the
/// object it would store, the webhooks see that object, then `write` runs for real (or, when
/// a mutating webhook patched the object, the patched object is created or stored).
async fn admitted<F>(
    sh: &Arc<Shared>,
    rr: &ResReq,
    q: &Query,
    h: &HeaderMap,
    status_sub: bool,
    write: F,
) -> Result<Response, ApiError>
where
    F: Fn(&Query) -> Result<Response, ApiError>,
{
    if !crate::admission::any_configured(&sh.read()) {
        return write(q);
    }
    let mut dq = q.clone();
    dq.insert("dryRun".into(), "All".into());
    let candidate = write(&dq)?;
    let created = candidate.status().as_u16() == 201;
    let bytes = axum::body::to_bytes(candidate.into_body(), usize::MAX)
        .await
        .map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
    let cand: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
    let ns = rr.ns.clone().unwrap_or_default();
    let name = cand["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let old = if created {
        None
    } else {
        sh.read().get(&rr.rt.storage_key(), &ns, &name)
    };
    let sub = status_sub.then_some("status");
    let adm =
        crate::admission::admit(sh, &rr.rt, sub, &ns, &cand, old.as_deref(), dry_run(q)).await?;
    let mut resp = match adm.mutated {
        None => write(q)?,
        Some(mut m) if created => {
            // Server-set fields are set again by the create.
            if let Some(md) = m["metadata"].as_object_mut() {
                for k in [
                    "uid",
                    "resourceVersion",
                    "creationTimestamp",
                    "managedFields",
                ] {
                    md.remove(k);
                }
            }
            create(sh, rr, m, q, h)?
        }
        Some(m) => update(sh, rr, &name, m, q, h, status_sub)?,
    };
    for w in adm.warnings {
        let v = format!("299 - \"{}\"", w.replace('"', "'"));
        if let Ok(v) = http::HeaderValue::from_str(&v) {
            resp.headers_mut().append("Warning", v);
        }
    }
    Ok(resp)
}

/// The built-in admission a pod create passes: its ServiceAccount must exist, Pod Security
/// (or OpenShift's SCC) and the namespace's ResourceQuotas must allow it.
fn admit_pod_create(store: &Store, rr: &ResReq, obj: &Value) -> Result<(), ApiError> {
    if rr.rt.group.is_empty() && rr.rt.kind == "Pod" {
        let ns = rr.ns.as_deref().unwrap_or_default();
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        if let Some(e) = crate::references::service_account_error(store, ns, obj, name) {
            return Err(e);
        }
        if let Some(e) = crate::pod_security::admission_error(store, ns, obj, name) {
            return Err(e);
        }
        if let Some(e) = crate::quota::admission_error(store, ns, obj, name) {
            return Err(e);
        }
    }
    Ok(())
}

/// Merge an incoming full object with the stored one: keep server-owned metadata; a main
/// write keeps the old status, a status write changes only the status.
fn carry_over(old: &Value, new: &mut Value, status_sub: bool) {
    if status_sub {
        let status = new.get("status").cloned();
        let mut base = old.clone();
        match status {
            Some(s) => base["status"] = s,
            None => {
                if let Some(m) = base.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        *new = base;
        return;
    }
    for k in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old["metadata"].get(k) {
            Some(v) => new["metadata"][k] = v.clone(),
            None => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove(k);
                }
            }
        }
    }
    match old.get("status") {
        Some(s) => new["status"] = s.clone(),
        None => {
            if let Some(m) = new.as_object_mut() {
                m.remove("status");
            }
        }
    }
}

/// Store an updated object; completes deletion when the last finalizer went away.
fn finish_write(
    store: &mut Store,
    rr: &ResReq,
    gr: &Gr,
    mut obj: Value,
    old: Arc<Value>,
    dry: bool,
) -> Result<Response, ApiError> {
    let ns = rr.ns.clone().unwrap_or_default();
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    defaults::apply(store, &rr.rt, &mut obj, Some(&old));
    validate::object(&rr.rt, &obj)?;
    validate::update(&rr.rt, &old, &obj)?;
    if dry {
        return Ok(json_response(200, &obj));
    }
    let finalizers_empty = obj["metadata"]["finalizers"]
        .as_array()
        .is_none_or(|a| a.is_empty());
    if obj["metadata"].get("deletionTimestamp").is_some()
        && finalizers_empty
        && rr.rt.kind != "Namespace"
    {
        store.commit(gr, obj, Some(old));
        let last = store
            .remove(gr, &ns, &name)
            .ok_or_else(|| ApiError::not_found(&rr.rt, &name))?;
        return Ok(json_response(200, &output(&last, &rr.rt)));
    }
    let stored = store.commit(gr, obj, Some(old));
    Ok(json_response(200, &output(&stored, &rr.rt)))
}

fn update(
    sh: &Arc<Shared>,
    rr: &ResReq,
    name: &str,
    mut obj: Value,
    q: &Query,
    h: &HeaderMap,
    status_sub: bool,
) -> Result<Response, ApiError> {
    check_identity(rr, &mut obj, Some(name))?;
    let gr = rr.rt.storage_key();
    let ns = rr.ns.clone().unwrap_or_default();
    let mut store = sh.write();
    let Some(old) = store.get(&gr, &ns, name) else {
        return Err(ApiError::not_found(&rr.rt, name));
    };
    let warnings = unknown_fields(&store, &rr.rt, &mut obj, q, true)?;
    if let Some(rv) = obj["metadata"]
        .get("resourceVersion")
        .and_then(Value::as_str)
        && !rv.is_empty()
        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(&rr.rt, name));
    }
    if let Some(uid) = obj["metadata"].get("uid").and_then(Value::as_str)
        && !uid.is_empty()
        && Some(uid) != old["metadata"]["uid"].as_str()
    {
        return Err(ApiError::conflict_msg(
            &rr.rt,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                old["metadata"]["uid"].as_str().unwrap_or_default()
            ),
        ));
    }
    carry_over(&old, &mut obj, status_sub);
    let manager = manager_of(q, h);
    fields::record_update(
        Some(&old),
        &mut obj,
        &manager,
        &rr.rt.api_version(),
        status_sub,
        &now_str(),
    );
    finish_write(&mut store, rr, &gr, obj, old, dry_run(q)).map(|r| with_warnings(r, &warnings))
}

#[allow(clippy::too_many_arguments)]
fn patch(
    sh: &Arc<Shared>,
    rr: &ResReq,
    name: &str,
    ct: &str,
    bytes: &[u8],
    q: &Query,
    h: &HeaderMap,
    status_sub: bool,
) -> Result<Response, ApiError> {
    let body = decode_body(ct, bytes, &rr.rt)?;
    let gr = rr.rt.storage_key();
    let ns = rr.ns.clone().unwrap_or_default();
    if ct == "application/apply-patch+yaml" {
        return apply(sh, rr, name, body, q, status_sub);
    }
    let mut store = sh.write();
    let Some(old) = store.get(&gr, &ns, name) else {
        return Err(ApiError::not_found(&rr.rt, name));
    };
    let mut obj = (*old).clone();
    match ct {
        "application/merge-patch+json" => fields::merge_patch(&mut obj, &body),
        "application/strategic-merge-patch+json" => {
            if rr.rt.crd.is_some() {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    "strategic merge patch is not supported for custom resources; use --type=merge",
                ));
            }
            fields::strategic_merge_patch(&mut obj, &body, &mut Vec::new())
        }
        "application/json-patch+json" => fields::json_patch(&mut obj, &body).map_err(|e| {
            ApiError::new(
                422,
                "Invalid",
                format!("the server rejected our request due to an error in our request: {e}"),
            )
        })?,
        other => return Err(ApiError::unsupported_media(other)),
    }
    if let Some(rv) = body["metadata"]
        .get("resourceVersion")
        .and_then(Value::as_str)
        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(&rr.rt, name));
    }
    check_identity(rr, &mut obj, Some(name))?;
    let warnings = unknown_fields(&store, &rr.rt, &mut obj, q, false)?;
    carry_over(&old, &mut obj, status_sub);
    let manager = manager_of(q, h);
    fields::record_update(
        Some(&old),
        &mut obj,
        &manager,
        &rr.rt.api_version(),
        status_sub,
        &now_str(),
    );
    finish_write(&mut store, rr, &gr, obj, old, dry_run(q)).map(|r| with_warnings(r, &warnings))
}

fn apply(
    sh: &Arc<Shared>,
    rr: &ResReq,
    name: &str,
    mut body: Value,
    q: &Query,
    status_sub: bool,
) -> Result<Response, ApiError> {
    let Some(manager) = q.get("fieldManager").filter(|m| !m.is_empty()).cloned() else {
        return Err(ApiError::new(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    };
    if body["metadata"].get("managedFields").is_some() {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    if body
        .get("kind")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(ApiError::bad_request("invalid object type: /, Kind="));
    }
    check_identity(rr, &mut body, Some(name))?;
    let force = q.get("force").is_some_and(|f| f == "true");
    let gr = rr.rt.storage_key();
    let ns = rr.ns.clone().unwrap_or_default();
    let mut store = sh.write();
    apply_unknown_fields(&store, &rr.rt, &body, &ns, name)?;
    let old = store.get(&gr, &ns, name);
    let now = now_str();
    match old {
        None => {
            if status_sub {
                return Err(ApiError::not_found(&rr.rt, name));
            }
            store.check_namespace(&rr.rt, &ns, name, true)?;
            let mut obj = fields::server_side_apply(
                None,
                &body,
                &manager,
                &rr.rt.api_version(),
                force,
                false,
                &now,
            )
            .map_err(|c| conflict_error(&rr.rt, name, &c))?;
            obj["apiVersion"] = json!(rr.rt.api_version());
            obj["kind"] = json!(rr.rt.kind);
            obj["metadata"]["name"] = json!(name);
            if rr.rt.namespaced {
                obj["metadata"]["namespace"] = json!(ns);
            }
            store.prepare_create(&mut obj);
            // Nothing unknown is left (checked above); this applies a CRD schema's defaults.
            prune_unknown(&store, &rr.rt, &mut obj);
            validate::object(&rr.rt, &obj)?;
            defaults::apply(&mut store, &rr.rt, &mut obj, None);
            admit_pod_create(&store, rr, &obj)?;
            if dry_run(q) {
                return Ok(json_response(201, &obj));
            }
            let stored = store.commit(&gr, obj, None);
            if rr.rt.kind == "Namespace" && rr.rt.group.is_empty() {
                crate::quota::namespace_defaults(&mut store, name);
                crate::network::namespace_defaults(&mut store, name);
            }
            Ok(json_response(201, &output(&stored, &rr.rt)))
        }
        Some(old) => {
            if let Some(rv) = body["metadata"]
                .get("resourceVersion")
                .and_then(Value::as_str)
                && Some(rv) != old["metadata"]["resourceVersion"].as_str()
            {
                return Err(ApiError::conflict(&rr.rt, name));
            }
            let obj = fields::server_side_apply(
                Some(&old),
                &body,
                &manager,
                &rr.rt.api_version(),
                force,
                status_sub,
                &now,
            )
            .map_err(|c| conflict_error(&rr.rt, name, &c))?;
            let mut obj = obj;
            carry_over_apply(&old, &mut obj, status_sub);
            prune_unknown(&store, &rr.rt, &mut obj);
            finish_write(&mut store, rr, &gr, obj, old, dry_run(q))
        }
    }
}

fn carry_over_apply(old: &Value, new: &mut Value, status_sub: bool) {
    for k in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "generation",
        "name",
        "namespace",
    ] {
        if let Some(v) = old["metadata"].get(k) {
            new["metadata"][k] = v.clone();
        }
    }
    if !status_sub {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
}

fn conflict_error(rt: &ResourceType, name: &str, c: &[fields::Conflict]) -> ApiError {
    ApiError::new(409, "Conflict", fields::conflict_message(c)).with_details(json!({
        "name": name,
        "group": rt.group,
        "kind": rt.plural,
        "causes": c.iter().map(|(m, p)| json!({
            "reason": "FieldManagerConflict",
            "message": format!("conflict with {m}"),
            "field": p,
        })).collect::<Vec<_>>(),
    }))
}

/// Delete one object, honouring finalizers and the propagation policy.
pub fn delete_object(
    store: &mut Store,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    opts: &Value,
    q: &Query,
) -> Result<(u16, Value), ApiError> {
    let gr = rt.storage_key();
    let Some(old) = store.get(&gr, ns, name) else {
        return Err(ApiError::not_found(rt, name));
    };
    let pre = &opts["preconditions"];
    if let Some(uid) = pre["uid"].as_str()
        && Some(uid) != old["metadata"]["uid"].as_str()
    {
        return Err(ApiError::conflict_msg(
            rt,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                old["metadata"]["uid"].as_str().unwrap_or_default()
            ),
        ));
    }
    if let Some(rv) = pre["resourceVersion"].as_str()
        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict_msg(
            rt,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                old["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
            ),
        ));
    }
    let dry = dry_run(q)
        || opts["dryRun"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    let policy = q
        .get("propagationPolicy")
        .cloned()
        .or_else(|| opts["propagationPolicy"].as_str().map(String::from))
        .or_else(|| match opts["orphanDependents"].as_bool() {
            Some(true) => Some("Orphan".into()),
            _ => None,
        })
        .unwrap_or_else(|| "Background".into());
    let uid = old["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if dry {
        return Ok((200, output(&old, rt)));
    }
    let mut finalizers: Vec<Value> = old["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if policy == "Orphan" {
        crate::controllers::orphan_dependents(store, &uid);
    }
    let has_dependents = crate::controllers::has_dependents(store, &uid);
    if policy == "Foreground"
        && has_dependents
        && !finalizers.iter().any(|f| f == "foregroundDeletion")
    {
        finalizers.push(json!("foregroundDeletion"));
    }
    let is_ns = rt.kind == "Namespace";
    if !finalizers.is_empty() || is_ns {
        let mut obj = (*old).clone();
        if obj["metadata"].get("deletionTimestamp").is_none() {
            obj["metadata"]["deletionTimestamp"] = json!(now_str());
            obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        }
        if !finalizers.is_empty() {
            obj["metadata"]["finalizers"] = Value::Array(finalizers);
        }
        if is_ns {
            obj["status"]["phase"] = json!("Terminating");
        }
        let stored = store.commit(&gr, obj, Some(old));
        store.need_gc = true;
        // A namespace answers 200 with its Terminating self; others 202 while finalizers hold.
        return Ok((if is_ns { 200 } else { 202 }, output(&stored, rt)));
    }
    store.remove(&gr, ns, name);
    Ok((
        200,
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": uid},
        }),
    ))
}

fn delete(
    sh: &Arc<Shared>,
    rr: &ResReq,
    name: &str,
    opts: &Value,
    q: &Query,
) -> Result<Response, ApiError> {
    let mut store = sh.write();
    let ns = rr.ns.clone().unwrap_or_default();
    let (code, body) = delete_object(&mut store, &rr.rt, &ns, name, opts, q)?;
    Ok(json_response(code, &body))
}

fn delete_collection(sh: &Arc<Shared>, rr: &ResReq, q: &Query) -> Result<Response, ApiError> {
    let f = filters(&rr.rt, q)?;
    let mut store = sh.write();
    let items: Vec<Arc<Value>> = store
        .list(&rr.rt.storage_key(), rr.ns.as_deref())
        .into_iter()
        .filter(|o| f.matches(o))
        .collect();
    let mut out = Vec::new();
    for o in items {
        let ns = o["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = o["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if delete_object(&mut store, &rr.rt, &ns, &name, &json!({}), q).is_ok() {
            out.push(output(&o, &rr.rt));
        }
    }
    Ok(json_response(
        200,
        &json!({"kind": format!("{}List", rr.rt.kind), "apiVersion": rr.rt.api_version(), "metadata": {"resourceVersion": store.rv.to_string()}, "items": out}),
    ))
}

fn scale(
    sh: &Arc<Shared>,
    rr: &ResReq,
    name: &str,
    method: &Method,
    ct: &str,
    bytes: &[u8],
    q: &Query,
) -> Result<Response, ApiError> {
    let gr = rr.rt.storage_key();
    let ns = rr.ns.clone().unwrap_or_default();
    let mut store = sh.write();
    let Some(old) = store.get(&gr, &ns, name) else {
        return Err(ApiError::not_found(&rr.rt, name));
    };
    let scale_of = |o: &Value| {
        let sel = crate::controllers::selector_string(&o["spec"]["selector"]);
        json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {"name": name, "namespace": ns, "uid": o["metadata"]["uid"], "resourceVersion": o["metadata"]["resourceVersion"], "creationTimestamp": o["metadata"]["creationTimestamp"]},
            "spec": {"replicas": o["spec"]["replicas"].as_i64().unwrap_or(1)},
            "status": {"replicas": o["status"]["replicas"].as_i64().unwrap_or(0), "selector": sel},
        })
    };
    match *method {
        Method::GET => Ok(json_response(200, &scale_of(&old))),
        Method::PUT | Method::PATCH => {
            let body = decode_body(ct, bytes, &rr.rt)?;
            let mut s = scale_of(&old);
            match ct {
                "application/json" | "application/yaml" => s = body,
                "application/json-patch+json" => fields::json_patch(&mut s, &body)
                    .map_err(|e| ApiError::new(422, "Invalid", e))?,
                _ => fields::merge_patch(&mut s, &body),
            }
            let Some(r) = s["spec"]["replicas"].as_i64() else {
                return Err(ApiError::bad_request(
                    "Scale.spec.replicas must be an integer",
                ));
            };
            let mut obj = (*old).clone();
            obj["spec"]["replicas"] = json!(r);
            if dry_run(q) {
                return Ok(json_response(200, &scale_of(&obj)));
            }
            let stored = store.commit(&gr, obj, Some(old));
            Ok(json_response(200, &scale_of(&stored)))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}
