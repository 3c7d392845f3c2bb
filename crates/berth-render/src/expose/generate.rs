//! The object each flavour's controller accepts, per its documentation (the fixtures in
//! `crates/berth-render/tests/expose/` cite the pages): an Ingress with the controller's
//! class and annotations, a Gateway API HTTPRoute, an OpenShift Route, or an Istio Gateway
//! and VirtualService.

use super::{Decision, ExposeValues, Flavour, LABEL, port_text};
use crate::RenderError;
use berth_spec::expose::Port;
use serde_json::{Map, Value, json};

/// Generated objects and what the admin should know about them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generated {
    /// The objects, in apply order.
    pub objects: Vec<Value>,
    /// Notes for the report.
    pub notes: Vec<String>,
}

/// Where the objects go and what they route to.
pub struct Target<'a> {
    /// The component (objects are named after it).
    pub component: &'a str,
    /// Its namespace.
    pub namespace: &'a str,
    /// The app's rendered Services (to resolve port names and numbers).
    pub services: &'a [Value],
}

fn err(t: &Target, field: &str, message: String, help: &str) -> RenderError {
    RenderError::Expose {
        component: t.component.into(),
        field: field.into(),
        message,
        help: help.into(),
    }
}

fn metadata(t: &Target, name: &str, annotations: Map<String, Value>) -> Value {
    let mut m = json!({"name": name, "namespace": t.namespace, "labels": {LABEL: t.component}});
    if !annotations.is_empty() {
        m["annotations"] = Value::Object(annotations);
    }
    m
}

/// The Service `v.service` among the rendered ones (any namespace of the app).
fn service<'s>(t: &Target<'s>, v: &ExposeValues) -> Option<&'s Value> {
    t.services
        .iter()
        .find(|s| s.pointer("/metadata/name").and_then(Value::as_str) == Some(v.service.as_str()))
}

/// The Service port `v.port` names, checked against the rendered Service when there is one.
fn service_port<'s>(t: &Target<'s>, v: &ExposeValues) -> Result<Option<&'s Value>, RenderError> {
    let Some(svc) = service(t, v) else {
        return Ok(None);
    };
    let ports = svc["spec"]["ports"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let found = ports.iter().find(|p| match &v.port {
        Port::Number(n) => p["port"].as_u64() == Some(u64::from(*n)),
        Port::Name(n) => p["name"].as_str() == Some(n.as_str()),
    });
    match found {
        Some(p) => Ok(Some(p)),
        None => Err(err(
            t,
            "port",
            format!(
                "service {} has no port {}; its ports are {}",
                v.service,
                port_text(&v.port),
                ports
                    .iter()
                    .map(|p| match p["name"].as_str() {
                        Some(n) => format!("{} ({n})", p["port"]),
                        None => p["port"].to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "use one of the Service's port numbers, or a port's name",
        )),
    }
}

/// A port number for kinds that need one (HTTPRoute, VirtualService).
fn port_number(t: &Target, v: &ExposeValues, kind: &str) -> Result<u64, RenderError> {
    match (&v.port, service_port(t, v)?) {
        (Port::Number(n), _) => Ok(u64::from(*n)),
        (Port::Name(_), Some(p)) if p["port"].as_u64().is_some() => {
            Ok(p["port"].as_u64().unwrap_or(0))
        }
        (Port::Name(n), _) => Err(err(
            t,
            "port",
            format!(
                "a {kind} needs the port's number, and port `{n}` of service {} is not among the app's rendered Services",
                v.service
            ),
            "give the port as a number",
        )),
    }
}

/// Generate the objects for `d`. Errors name the field and the fix (an unsupported
/// combination, a port the Service lacks).
pub fn generate(t: &Target, v: &ExposeValues, d: &Decision) -> Result<Generated, RenderError> {
    let mut g = Generated::default();
    if service(t, v).is_none() && !t.services.is_empty() {
        return Err(err(
            t,
            "service",
            format!(
                "service {} is not among the Services the app renders ({})",
                v.service,
                t.services
                    .iter()
                    .filter_map(|s| s.pointer("/metadata/name").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "name one of the app's Services (check the chart's fullname, e.g. `{{ .Release.Name }}-web`)",
        ));
    }
    if t.services.is_empty() {
        g.notes.push(format!(
            "service {} is not rendered by the app; it must exist in namespace {} at install",
            v.service, t.namespace
        ));
    }
    match d.flavour {
        Flavour::OpenshiftRoute => g.objects.push(route(t, v, &mut g.notes)?),
        Flavour::GatewayApi => g.objects.push(http_route(t, v, d, &mut g.notes)?),
        Flavour::Istio => g.objects.extend(istio(t, v, d)?),
        f => {
            service_port(t, v)?;
            g.objects.push(ingress(t, v, d, f, &mut g.notes)?);
        }
    }
    for o in &mut g.objects {
        if let Some(m) = o["metadata"].as_object_mut() {
            let ann = m.entry("annotations").or_insert_with(|| json!({}));
            for (k, val) in &v.annotations {
                ann[k] = json!(val);
            }
            if ann.as_object().is_some_and(Map::is_empty) {
                m.remove("annotations");
            }
        }
    }
    Ok(g)
}

fn backend_port(p: &Port) -> Value {
    match p {
        Port::Number(n) => json!({"number": n}),
        Port::Name(n) => json!({"name": n}),
    }
}

fn unsupported_passthrough(t: &Target, f: Flavour) -> RenderError {
    err(
        t,
        "tls.termination",
        format!(
            "flavour {} cannot pass TLS through to the app from an Ingress",
            f.name()
        ),
        "use `termination: edge`, or a flavour that passes TLS through (nginx, haproxy, openshift-route, istio)",
    )
}

/// The flavour's own annotations (documented in each controller's annotation reference).
fn ingress_annotations(
    t: &Target,
    v: &ExposeValues,
    d: &Decision,
    f: Flavour,
    notes: &mut Vec<String>,
) -> Result<Map<String, Value>, RenderError> {
    let mut a = Map::new();
    let mut put = |k: &str, val: &str| {
        a.insert(k.to_string(), json!(val));
    };
    let internal_ignored = || {
        format!(
            "`internal` has no meaning for flavour {}; ignored",
            f.name()
        )
    };
    match f {
        Flavour::Nginx | Flavour::AksAppRouting => {
            if v.passthrough {
                put("nginx.ingress.kubernetes.io/ssl-passthrough", "true");
                notes.push(
                    "ssl-passthrough needs ingress-nginx started with --enable-ssl-passthrough"
                        .into(),
                );
            } else if v.tls {
                put("nginx.ingress.kubernetes.io/ssl-redirect", "true");
            }
        }
        Flavour::F5Nginx if v.passthrough => return Err(unsupported_passthrough(t, f)),
        Flavour::F5Nginx if v.tls => put("ingress.kubernetes.io/ssl-redirect", "true"),
        Flavour::Traefik if v.passthrough => return Err(unsupported_passthrough(t, f)),
        Flavour::Traefik => {
            put(
                "traefik.ingress.kubernetes.io/router.entrypoints",
                if v.tls { "websecure" } else { "web" },
            );
            if v.tls {
                put("traefik.ingress.kubernetes.io/router.tls", "true");
            }
        }
        Flavour::Haproxy if v.passthrough => put("haproxy.org/ssl-passthrough", "true"),
        Flavour::Haproxy if v.tls => put("haproxy.org/ssl-redirect", "true"),
        Flavour::Contour if v.passthrough => return Err(unsupported_passthrough(t, f)),
        Flavour::Contour if v.tls => put("ingress.kubernetes.io/force-ssl-redirect", "true"),
        Flavour::Alb => {
            if v.passthrough {
                return Err(unsupported_passthrough(t, f));
            }
            put(
                "alb.ingress.kubernetes.io/scheme",
                if v.internal {
                    "internal"
                } else {
                    "internet-facing"
                },
            );
            put("alb.ingress.kubernetes.io/target-type", "ip");
            if v.tls {
                put(
                    "alb.ingress.kubernetes.io/listen-ports",
                    r#"[{"HTTP": 80}, {"HTTPS": 443}]"#,
                );
                put("alb.ingress.kubernetes.io/ssl-redirect", "443");
                notes.push(if v.secret_name.is_empty() {
                    "ALB finds its certificate in ACM by the host name; import or request one there".into()
                } else {
                    "ALB takes certificates from ACM, not Secrets: tls.secretName is not used; import the certificate into ACM".into()
                });
            } else {
                put(
                    "alb.ingress.kubernetes.io/listen-ports",
                    r#"[{"HTTP": 80}]"#,
                );
            }
        }
        Flavour::Gce => {
            if v.passthrough {
                return Err(unsupported_passthrough(t, f));
            }
            put(
                "kubernetes.io/ingress.class",
                if v.internal { "gce-internal" } else { "gce" },
            );
            if v.tls && v.secret_name.is_empty() {
                notes.push("GKE Ingress needs a certificate: set tls.secretName, or add a ManagedCertificate (annotation networking.gke.io/managed-certificates)".into());
            }
        }
        Flavour::AzureApplicationGateway => {
            if v.passthrough {
                return Err(unsupported_passthrough(t, f));
            }
            if !d.class_in_cluster {
                // AGIC's documented selector when no IngressClass of its own is installed.
                put("kubernetes.io/ingress.class", "azure/application-gateway");
            }
            if v.tls {
                put("appgw.ingress.kubernetes.io/ssl-redirect", "true");
            }
            if v.internal {
                put("appgw.ingress.kubernetes.io/use-private-ip", "true");
            }
        }
        Flavour::Ingress if v.passthrough => return Err(unsupported_passthrough(t, f)),
        _ => {}
    }
    if v.internal
        && !matches!(
            f,
            Flavour::Alb | Flavour::Gce | Flavour::AzureApplicationGateway
        )
    {
        notes.push(internal_ignored());
    }
    Ok(a)
}

fn ingress(
    t: &Target,
    v: &ExposeValues,
    d: &Decision,
    f: Flavour,
    notes: &mut Vec<String>,
) -> Result<Value, RenderError> {
    let annotations = ingress_annotations(t, v, d, f, notes)?;
    // GKE matches `/*` as a prefix (ImplementationSpecific); the others take Prefix.
    let (path, path_type) = if f == Flavour::Gce {
        let base = v.path.trim_end_matches('/');
        (format!("{base}/*"), "ImplementationSpecific")
    } else {
        (v.path.clone(), "Prefix")
    };
    let mut rule = json!({"http": {"paths": [{
        "path": path,
        "pathType": path_type,
        "backend": {"service": {"name": v.service, "port": backend_port(&v.port)}},
    }]}});
    if !v.host.is_empty() {
        rule["host"] = json!(v.host);
    }
    let mut spec = json!({"rules": [rule]});
    let by_annotation =
        f == Flavour::Gce || (f == Flavour::AzureApplicationGateway && !d.class_in_cluster);
    if !by_annotation && !d.class.is_empty() {
        spec["ingressClassName"] = json!(d.class);
    }
    if v.tls && !v.passthrough {
        let mut tls = Map::new();
        if !v.host.is_empty() {
            tls.insert("hosts".into(), json!([v.host]));
        }
        if !v.secret_name.is_empty() && f != Flavour::Alb {
            tls.insert("secretName".into(), json!(v.secret_name));
        }
        if !tls.is_empty() {
            spec["tls"] = json!([tls]);
        }
    }
    Ok(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(t, t.component, annotations),
        "spec": spec,
    }))
}

/// OpenShift Route: `port.targetPort` is the Service's port name or its target port, so a
/// port number is translated through the rendered Service when it has one.
fn route(t: &Target, v: &ExposeValues, notes: &mut Vec<String>) -> Result<Value, RenderError> {
    let target = match (&v.port, service_port(t, v)?) {
        (Port::Name(n), _) => json!(n),
        (Port::Number(_), Some(p)) if p["name"].is_string() => p["name"].clone(),
        (Port::Number(_), Some(p)) if !p["targetPort"].is_null() => p["targetPort"].clone(),
        (Port::Number(n), _) => json!(n),
    };
    let mut spec = json!({
        "to": {"kind": "Service", "name": v.service, "weight": 100},
        "port": {"targetPort": target},
        "wildcardPolicy": "None",
    });
    if !v.host.is_empty() {
        if let Some(rest) = v.host.strip_prefix("*.") {
            spec["host"] = json!(format!("wildcard.{rest}"));
            spec["wildcardPolicy"] = json!("Subdomain");
        } else {
            spec["host"] = json!(v.host);
        }
    }
    if !v.passthrough && v.path != "/" {
        spec["path"] = json!(v.path);
    }
    if v.tls {
        let mut tls = json!({
            "termination": if v.passthrough { "passthrough" } else { "edge" },
            "insecureEdgeTerminationPolicy": if v.passthrough { "None" } else { "Redirect" },
        });
        if !v.secret_name.is_empty() && !v.passthrough {
            tls["externalCertificate"] = json!({"name": v.secret_name});
            notes.push("the Route reads its certificate from the Secret (OpenShift 4.16 or later; the router's service account must be allowed to read it)".into());
        }
        spec["tls"] = tls;
    }
    Ok(json!({
        "apiVersion": "route.openshift.io/v1",
        "kind": "Route",
        "metadata": metadata(t, t.component, Map::new()),
        "spec": spec,
    }))
}

fn http_route(
    t: &Target,
    v: &ExposeValues,
    d: &Decision,
    notes: &mut Vec<String>,
) -> Result<Value, RenderError> {
    if v.passthrough {
        return Err(err(
            t,
            "tls.termination",
            "an HTTPRoute cannot pass TLS through; that takes a TLSRoute on a TLS listener".into(),
            "use `termination: edge` (TLS ends at the Gateway's HTTPS listener)",
        ));
    }
    let port = port_number(t, v, "HTTPRoute")?;
    let mut spec = json!({
        "rules": [{
            "matches": [{"path": {"type": "PathPrefix", "value": v.path}}],
            "backendRefs": [{"name": v.service, "port": port}],
        }],
    });
    if !d.gateway.is_empty() {
        let (ns, name) = d
            .gateway
            .split_once('/')
            .unwrap_or((t.namespace, d.gateway.as_str()));
        let mut parent =
            json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": name});
        if ns != t.namespace {
            parent["namespace"] = json!(ns);
        }
        spec["parentRefs"] = json!([parent]);
    } else {
        notes.push(
            "no Gateway named: the HTTPRoute attaches to nothing until className names one".into(),
        );
    }
    if !v.host.is_empty() {
        spec["hostnames"] = json!([v.host]);
    }
    if v.tls {
        notes.push(format!(
            "TLS ends at the Gateway's HTTPS listener{}: the Gateway's owner configures its certificate",
            if d.gateway.is_empty() { String::new() } else { format!(" ({})", d.gateway) }
        ));
    }
    Ok(json!({
        "apiVersion": d.api_version.clone().unwrap_or_else(|| "gateway.networking.k8s.io/v1".into()),
        "kind": "HTTPRoute",
        "metadata": metadata(t, t.component, Map::new()),
        "spec": spec,
    }))
}

fn istio(t: &Target, v: &ExposeValues, d: &Decision) -> Result<Vec<Value>, RenderError> {
    let av = d
        .api_version
        .clone()
        .unwrap_or_else(|| "networking.istio.io/v1".into());
    let port = port_number(t, v, "VirtualService")?;
    let hosts = json!([if v.host.is_empty() {
        "*"
    } else {
        v.host.as_str()
    }]);
    let gateway = format!("{}-gateway", t.component);
    let http = json!({"number": 80, "name": "http", "protocol": "HTTP"});
    let servers = if v.passthrough {
        json!([{"port": {"number": 443, "name": "tls", "protocol": "TLS"}, "hosts": hosts, "tls": {"mode": "PASSTHROUGH"}}])
    } else if v.tls {
        if v.secret_name.is_empty() {
            return Err(err(
                t,
                "tls.secretName",
                "an Istio Gateway terminating TLS needs a certificate (credentialName)".into(),
                "set tls.secretName to a kubernetes.io/tls Secret in the ingress gateway's namespace (istio-system)",
            ));
        }
        json!([
            {"port": http, "hosts": hosts, "tls": {"httpsRedirect": true}},
            {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": hosts,
             "tls": {"mode": "SIMPLE", "credentialName": v.secret_name}},
        ])
    } else {
        json!([{"port": http, "hosts": hosts}])
    };
    let destination = json!({"destination": {
        "host": format!("{}.{}.svc.cluster.local", v.service, t.namespace),
        "port": {"number": port},
    }});
    let mut vs = json!({"hosts": hosts, "gateways": [gateway]});
    if v.passthrough {
        let sni = if v.host.is_empty() {
            json!(["*"])
        } else {
            json!([v.host])
        };
        vs["tls"] = json!([{"match": [{"port": 443, "sniHosts": sni}], "route": [destination]}]);
    } else {
        vs["http"] = json!([{"match": [{"uri": {"prefix": v.path}}], "route": [destination]}]);
    }
    Ok(vec![
        json!({"apiVersion": av, "kind": "Gateway", "metadata": metadata(t, &gateway, Map::new()),
               "spec": {"selector": {"istio": "ingressgateway"}, "servers": servers}}),
        json!({"apiVersion": av, "kind": "VirtualService", "metadata": metadata(t, t.component, Map::new()),
               "spec": vs}),
    ])
}
