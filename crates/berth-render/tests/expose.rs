//! `expose` end to end through examples/expose: every flavour's generated objects checked
//! against the fixture of what its controller accepts (`tests/expose/*.yaml`, each citing the
//! controller's documentation), auto-detection from a cluster's IngressClasses, Gateways,
//! Routes and Istio, and the errors that name the field and the fix.

use berth_render::expose::ClusterOffer;
use berth_render::{
    AppRenderOptions, RenderedComponent, add_exposed, render_app, render_component,
};
use berth_spec::config::resolve;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/expose")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expose")
}

fn config(values: &[(&str, Value)]) -> (berth_spec::LoadedApp, berth_spec::config::ResolvedConfig) {
    let app = berth_spec::load(&example()).expect("examples/expose loads");
    let input: BTreeMap<String, Value> = values
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let config = resolve(&app.app, &input, None, &mut |_| "x".into()).expect("config");
    (app, config)
}

/// Render offline (the admin's flavour) or against `offer` (auto-detection).
fn render(
    values: &[(&str, Value)],
    offer: Option<&ClusterOffer>,
) -> Result<Vec<RenderedComponent>, berth_render::RenderError> {
    let (app, config) = config(values);
    let opts = AppRenderOptions {
        namespace: "shop".into(),
        ..Default::default()
    };
    match offer {
        None => render_app(&app, &config, &opts),
        Some(o) => {
            let comps: Vec<&berth_spec::Component> = app.app.spec.components.iter().collect();
            let mut out = comps
                .iter()
                .map(|c| render_component(&app, c, &config, &opts))
                .collect::<Result<Vec<_>, _>>()?;
            add_exposed(&app, &comps, &config, &opts, Some(o), &mut out)?;
            Ok(out)
        }
    }
}

fn exposed(comps: &[RenderedComponent]) -> Vec<Value> {
    comps
        .iter()
        .flat_map(|c| c.objects.iter())
        .filter(|o| {
            o.object
                .pointer("/metadata/labels/berth.dev~1expose")
                .is_some()
        })
        .map(|o| o.object.clone())
        .collect()
}

// ---------- the fixture checker ----------

fn load_fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join(name)).expect("fixture");
    let docs = berth_spec::yaml::parse_str(&text, &Default::default()).expect("fixture YAML");
    let mut v = docs[0].to_json();
    // `base: FILE`: that fixture's fields, overridden by these.
    for o in v["objects"].as_array_mut().expect("objects") {
        if let Some(base) = o["base"].as_str().map(str::to_string) {
            let b = load_fixture(&base)["objects"][0].clone();
            let mut fields = b["fields"].as_object().cloned().unwrap_or_default();
            fields.extend(o["fields"].as_object().cloned().unwrap_or_default());
            let mut required: Vec<Value> = b["required"].as_array().cloned().unwrap_or_default();
            required.extend(o["required"].as_array().cloned().unwrap_or_default());
            o["apiVersion"] = b["apiVersion"].clone();
            o["kind"] = b["kind"].clone();
            o["fields"] = Value::Object(fields);
            o["required"] = json!(required);
        }
    }
    v
}

/// Every leaf under `spec` as (`spec.a[].b`, value).
fn leaves(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                leaves(&format!("{prefix}.{k}"), x, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                leaves(&format!("{prefix}[]"), x, out);
            }
        }
        _ => out.push((prefix.to_string(), v.clone())),
    }
}

fn rule_problem(rule: &Value, value: &Value) -> Option<String> {
    let text = value
        .as_str()
        .map(str::to_string)
        .unwrap_or(value.to_string());
    if let Some(why) = rule["forbidden"].as_str() {
        return Some(format!("not accepted: {why}"));
    }
    if let Some(vals) = rule["values"].as_array()
        && !vals.iter().any(|x| x.as_str() == Some(text.as_str()))
    {
        return Some(format!("{text:?} is not one of {vals:?}"));
    }
    if rule["number"] == true && !value.is_u64() {
        return Some(format!("{value} is not a number"));
    }
    if rule["json"] == true && serde_json::from_str::<Value>(&text).is_err() {
        return Some(format!("{text:?} is not JSON"));
    }
    if let Some(p) = rule["startsWith"].as_str()
        && !text.starts_with(p)
    {
        return Some(format!("{text:?} does not start with {p}"));
    }
    if let Some(p) = rule["endsWith"].as_str()
        && !text.ends_with(p)
    {
        return Some(format!("{text:?} does not end with {p}"));
    }
    None
}

/// Everything in `obj` that the fixture's controller would not accept.
fn violations(fixture: &Value, obj: &Value) -> Vec<String> {
    let kind = obj["kind"].as_str().unwrap_or("");
    let Some(f) = fixture["objects"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["kind"] == kind))
    else {
        return vec![format!("the controller takes no {kind}")];
    };
    let mut out = Vec::new();
    if obj["apiVersion"] != f["apiVersion"] {
        out.push(format!(
            "apiVersion {} (expected {})",
            obj["apiVersion"], f["apiVersion"]
        ));
    }
    let fields = f["fields"].as_object().cloned().unwrap_or_default();
    let mut found = Vec::new();
    leaves("spec", &obj["spec"], &mut found);
    for (path, value) in &found {
        match fields.get(path) {
            None => out.push(format!("{path}: not a field the controller reads")),
            Some(rule) => {
                if let Some(p) = rule_problem(rule, value) {
                    out.push(format!("{path}: {p}"));
                }
            }
        }
    }
    for r in f["required"].as_array().into_iter().flatten() {
        let r = r.as_str().unwrap_or("");
        if !found.iter().any(|(p, _)| p == r) {
            out.push(format!("{r}: required"));
        }
    }
    let empty = Map::new();
    let ann = obj["metadata"]["annotations"].as_object().unwrap_or(&empty);
    let rules = &f["annotations"];
    for (k, v) in ann {
        let owned = rules["prefixes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| k.starts_with(p.as_str().unwrap_or("\u{0}")));
        match rules["allowed"].get(k) {
            Some(rule) => {
                if let Some(p) = rule_problem(rule, v) {
                    out.push(format!("annotation {k}: {p}"));
                }
            }
            None if owned || k.contains("ingress") => {
                out.push(format!("annotation {k}: not one this controller documents"))
            }
            None => {}
        }
    }
    for r in rules["required"].as_array().into_iter().flatten() {
        if !ann.contains_key(r.as_str().unwrap_or("")) {
            out.push(format!("annotation {r}: required"));
        }
    }
    // The API server refuses an Ingress with both a class field and the class annotation.
    if kind == "Ingress"
        && !obj["spec"]["ingressClassName"].is_null()
        && ann.contains_key("kubernetes.io/ingress.class")
    {
        out.push("both spec.ingressClassName and kubernetes.io/ingress.class".into());
    }
    out
}

/// The variants every flavour is rendered with.
fn variants() -> Vec<Vec<(&'static str, Value)>> {
    vec![
        vec![],
        vec![("tls", json!(true))],
        vec![("tls", json!(true)), ("tls_secret", json!("demo-tls"))],
        vec![("hostname", json!("")), ("path", json!("/app"))],
        vec![("internal", json!(true)), ("path", json!("/app/"))],
        vec![("hostname", json!("*.apps.example.com"))],
    ]
}

const FLAVOURS: &[&str] = &[
    "ingress",
    "nginx",
    "f5-nginx",
    "traefik",
    "haproxy",
    "contour",
    "alb",
    "gce",
    "azure-application-gateway",
    "aks-app-routing",
    "gateway-api",
    "openshift-route",
    "istio",
];

#[test]
fn every_flavour_generates_what_its_controller_accepts() {
    let mut failures = Vec::new();
    let gateway = ClusterOffer::from_parts(
        &["gateway.networking.k8s.io/v1/HTTPRoute".to_string()],
        &[],
        &[
            json!({"metadata": {"name": "public", "namespace": "gateways"}, "spec": {"gatewayClassName": "eg"}}),
        ],
    );
    for flavour in FLAVOURS {
        let fixture = load_fixture(&format!(
            "{}.yaml",
            if *flavour == "ingress" {
                "ingress-v1"
            } else {
                flavour
            }
        ));
        for variant in variants() {
            let mut values = variant.clone();
            values.push(("ingress_flavour", json!(flavour)));
            // Istio terminates TLS only with a certificate Secret (tested below).
            if *flavour == "istio"
                && values.iter().any(|(k, _)| *k == "tls")
                && !values.iter().any(|(k, _)| *k == "tls_secret")
            {
                continue;
            }
            let offer = (*flavour == "gateway-api").then_some(&gateway);
            let comps = match render(&values, offer) {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("{flavour} {variant:?}: {e}"));
                    continue;
                }
            };
            let objs = exposed(&comps);
            let kinds = fixture["objects"].as_array().map_or(0, Vec::len);
            if objs.len() != kinds {
                failures.push(format!(
                    "{flavour} {variant:?}: {} objects, expected {kinds}",
                    objs.len()
                ));
            }
            for o in &objs {
                for v in violations(&fixture, o) {
                    failures.push(format!("{flavour} {variant:?} {}: {v}", o["kind"]));
                }
                assert_eq!(o["metadata"]["namespace"], "shop");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_checker_rejects_what_controllers_do_not_accept() {
    // nginx's annotations on F5 NGINX, a made-up ALB scheme, GKE without its class: each
    // is something the controller's documentation says it does not take.
    let f5 = load_fixture("f5-nginx.yaml");
    let mut ing =
        exposed(&render(&[("ingress_flavour", json!("f5-nginx"))], None).expect("render"))[0]
            .clone();
    assert!(violations(&f5, &ing).is_empty());
    ing["metadata"]["annotations"] = json!({"nginx.ingress.kubernetes.io/ssl-redirect": "true"});
    assert!(!violations(&f5, &ing).is_empty());
    let alb = load_fixture("alb.yaml");
    let mut ing =
        exposed(&render(&[("ingress_flavour", json!("alb"))], None).expect("render"))[0].clone();
    assert!(
        violations(&alb, &ing).is_empty(),
        "{:?}",
        violations(&alb, &ing)
    );
    ing["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] = json!("public");
    assert!(violations(&alb, &ing).iter().any(|v| v.contains("scheme")));
    let gce = load_fixture("gce.yaml");
    let mut ing =
        exposed(&render(&[("ingress_flavour", json!("gce"))], None).expect("render"))[0].clone();
    ing["metadata"]["annotations"]
        .as_object_mut()
        .expect("annotations")
        .clear();
    ing["spec"]["ingressClassName"] = json!("gce");
    let v = violations(&gce, &ing);
    assert!(
        v.iter().any(|x| x.contains("ingressClassName"))
            && v.iter().any(|x| x.contains("required")),
        "{v:?}"
    );
}

#[test]
fn controllers_get_their_own_annotations() {
    let one = |values: &[(&str, Value)]| exposed(&render(values, None).expect("render"))[0].clone();
    let alb = one(&[
        ("ingress_flavour", json!("alb")),
        ("internal", json!(true)),
        ("tls", json!(true)),
    ]);
    let a = &alb["metadata"]["annotations"];
    assert_eq!(a["alb.ingress.kubernetes.io/scheme"], "internal");
    assert_eq!(a["alb.ingress.kubernetes.io/target-type"], "ip");
    assert_eq!(a["alb.ingress.kubernetes.io/ssl-redirect"], "443");
    assert_eq!(alb["spec"]["ingressClassName"], "alb");
    let gce = one(&[("ingress_flavour", json!("gce")), ("path", json!("/app"))]);
    assert_eq!(
        gce["metadata"]["annotations"]["kubernetes.io/ingress.class"],
        "gce"
    );
    assert_eq!(
        gce["spec"]["rules"][0]["http"]["paths"][0]["path"],
        "/app/*"
    );
    assert_eq!(
        gce["spec"]["rules"][0]["http"]["paths"][0]["pathType"],
        "ImplementationSpecific"
    );
    let nginx = one(&[("ingress_flavour", json!("nginx")), ("tls", json!(true))]);
    assert_eq!(
        nginx["metadata"]["annotations"]["nginx.ingress.kubernetes.io/ssl-redirect"],
        "true"
    );
    let f5 = one(&[("ingress_flavour", json!("f5-nginx")), ("tls", json!(true))]);
    assert_eq!(
        f5["metadata"]["annotations"]["ingress.kubernetes.io/ssl-redirect"],
        "true"
    );
    assert!(
        f5["metadata"]["annotations"]
            .get("nginx.ingress.kubernetes.io/ssl-redirect")
            .is_none()
    );
    let traefik = one(&[
        ("ingress_flavour", json!("traefik")),
        ("tls", json!(true)),
        ("tls_secret", json!("demo-tls")),
    ]);
    assert_eq!(
        traefik["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.entrypoints"],
        "websecure"
    );
    assert_eq!(traefik["spec"]["tls"][0]["secretName"], "demo-tls");
    assert_eq!(traefik["spec"]["tls"][0]["hosts"][0], "demo.example.com");
    // A Route's targetPort is the Service's port name, not its port number.
    let route = one(&[
        ("ingress_flavour", json!("openshift-route")),
        ("tls", json!(true)),
    ]);
    assert_eq!(route["spec"]["port"]["targetPort"], "http");
    assert_eq!(route["spec"]["tls"]["termination"], "edge");
    assert_eq!(
        route["spec"]["tls"]["insecureEdgeTerminationPolicy"],
        "Redirect"
    );
}

fn class(name: &str, controller: &str, default: bool) -> Value {
    let mut o = json!({"metadata": {"name": name}, "spec": {"controller": controller}});
    if default {
        o["metadata"]["annotations"] =
            json!({"ingressclass.kubernetes.io/is-default-class": "true"});
    }
    o
}

fn plan_of(offer: &ClusterOffer, values: &[(&str, Value)]) -> (String, Vec<Value>) {
    let comps = render(values, Some(offer)).expect("render");
    let plan = comps[0].expose.clone().expect("plan");
    (plan.summary(), exposed(&comps))
}

#[test]
fn auto_detection_follows_what_the_cluster_offers() {
    let ingress_only = ["networking.k8s.io/v1/IngressClass".to_string()];
    // The default class wins over the others.
    let offer = ClusterOffer::from_parts(
        &ingress_only,
        &[
            class("nginx", "k8s.io/ingress-nginx", false),
            class("traefik", "traefik.io/ingress-controller", true),
        ],
        &[],
    );
    let (summary, objs) = plan_of(&offer, &[]);
    assert!(
        summary.starts_with("web: traefik (default IngressClass traefik"),
        "{summary}"
    );
    assert_eq!(objs[0]["spec"]["ingressClassName"], "traefik");
    // className picks another.
    let (summary, objs) = plan_of(&offer, &[("ingress_class", json!("nginx"))]);
    assert!(summary.starts_with("web: nginx"), "{summary}");
    assert_eq!(objs[0]["spec"]["ingressClassName"], "nginx");
    // OpenShift: a Route, even though an IngressClass exists.
    let os = ClusterOffer::from_parts(
        &["route.openshift.io/v1/Route".to_string()],
        &[class(
            "openshift-default",
            "openshift.io/ingress-to-route",
            false,
        )],
        &[],
    );
    assert_eq!(plan_of(&os, &[]).1[0]["kind"], "Route");
    // Gateway API: an HTTPRoute on the Gateway, in its namespace.
    let gw = ClusterOffer::from_parts(
        &["gateway.networking.k8s.io/v1/HTTPRoute".to_string()],
        &[],
        &[
            json!({"metadata": {"name": "public", "namespace": "gateways"}, "spec": {"gatewayClassName": "eg"}}),
        ],
    );
    let (_, objs) = plan_of(&gw, &[]);
    assert_eq!(objs[0]["kind"], "HTTPRoute");
    assert_eq!(
        objs[0]["spec"]["parentRefs"][0],
        json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public", "namespace": "gateways"})
    );
    assert_eq!(
        objs[0]["spec"]["rules"][0]["backendRefs"][0],
        json!({"name": "web", "port": 80})
    );
    // Istio: Gateway + VirtualService at the served version.
    let istio = ClusterOffer::from_parts(
        &["networking.istio.io/v1beta1/VirtualService".to_string()],
        &[],
        &[],
    );
    let (_, objs) = plan_of(&istio, &[]);
    let kinds: Vec<&str> = objs.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert_eq!(kinds, vec!["Gateway", "VirtualService"]);
    assert_eq!(objs[1]["apiVersion"], "networking.istio.io/v1beta1");
    assert_eq!(
        objs[1]["spec"]["http"][0]["route"][0]["destination"]["host"],
        "web.shop.svc.cluster.local"
    );
    // Several classes, none default: the first known one, and the report says so.
    let two = ClusterOffer::from_parts(
        &ingress_only,
        &[
            class("b-haproxy", "haproxy.org/ingress-controller/haproxy", false),
            class("a-custom", "example.com/custom", false),
        ],
        &[],
    );
    let (summary, objs) = plan_of(&two, &[]);
    assert!(summary.contains("none marked default"), "{summary}");
    assert_eq!(objs[0]["spec"]["ingressClassName"], "b-haproxy");
    // flavour none: nothing.
    assert!(
        plan_of(&offer, &[("ingress_flavour", json!("none"))])
            .1
            .is_empty()
    );
    // Same cluster, same objects.
    assert_eq!(plan_of(&offer, &[]).1, plan_of(&offer, &[]).1);
}

#[test]
fn nothing_to_expose_through_names_the_fix() {
    let e = render(&[], Some(&ClusterOffer::default())).expect_err("nothing offered");
    let m = e.to_string();
    assert!(m.contains("component `web`: expose.flavour"), "{m}");
    assert!(
        m.contains("offers no IngressClass, Gateway, OpenShift Route API or Istio"),
        "{m}"
    );
    assert!(
        m.contains("install an ingress controller") && m.contains("set the flavour in config"),
        "{m}"
    );
    let mut forbidden = ClusterOffer::default();
    forbidden
        .notes
        .push("could not list IngressClasses: forbidden".into());
    let m = render(&[], Some(&forbidden))
        .expect_err("not allowed to look")
        .to_string();
    assert!(
        m.contains("could not list IngressClasses: forbidden"),
        "{m}"
    );
    assert!(m.contains("let berth's user list IngressClasses"), "{m}");
    let e = render(
        &[("ingress_flavour", json!("gateway-api"))],
        Some(&ClusterOffer::default()),
    )
    .expect_err("no gateway");
    assert!(e.to_string().contains("create a Gateway"), "{e}");
}

#[test]
fn bad_values_name_the_field_and_the_fix() {
    type Case<'a> = (&'a [(&'a str, Value)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            &[("path", json!("app"))],
            "expose.path",
            "start it with `/`",
        ),
        (
            &[("ingress_flavour", json!("istio")), ("tls", json!(true))],
            "expose.tls.secretName",
            "istio-system",
        ),
        (
            &[
                ("ingress_flavour", json!("traefik")),
                ("ingress_class", json!("Bad Class")),
            ],
            "expose.className",
            "IngressClass name",
        ),
    ];
    for (values, field, fix) in cases {
        let e = render(values, None).expect_err("bad value").to_string();
        assert!(e.contains(field) && e.contains(fix), "{values:?}: {e}");
    }
}

/// An app whose `expose` names a Service or port the app does not render.
fn broken_app(expose: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("manifests")).expect("mkdir");
    std::fs::copy(
        example().join("manifests/web.yaml"),
        dir.path().join("manifests/web.yaml"),
    )
    .expect("copy");
    std::fs::write(
        dir.path().join("berth.yaml"),
        format!("apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata: {{name: broken}}\nspec:\n  components:\n    - name: web\n      manifests: {{path: manifests}}\n      expose:\n{expose}"),
    )
    .expect("write");
    let p = dir.path().to_path_buf();
    (dir, p)
}

#[test]
fn lint_reports_a_missing_service_and_port() {
    for (expose, want) in [
        (
            "        service: webb\n        port: 80\n",
            "service webb is not among the Services the app renders (web)",
        ),
        (
            "        service: web\n        port: 8080\n",
            "service web has no port 8080; its ports are 80 (http)",
        ),
    ] {
        let (_keep, dir) = broken_app(expose);
        let app = berth_spec::load(&dir).expect("loads");
        let problems = berth_render::lint_render(&app, &dir.join("berth.yaml"));
        assert!(
            problems
                .iter()
                .any(|p| p.code == "invalid-expose" && p.message.contains(want)),
            "{want}: {problems:?}"
        );
    }
    let app = berth_spec::load(&example()).expect("loads");
    assert!(berth_render::lint_render(&app, &example().join("berth.yaml")).is_empty());
}

#[test]
fn tls_passthrough_where_the_controller_can_and_an_error_where_it_cannot() {
    let expose = "        service: web\n        port: http\n        host: demo.example.com\n        tls: {termination: passthrough}\n        flavour: FLAVOUR\n";
    let objects = |flavour: &str| {
        let (_keep, dir) = broken_app(&expose.replace("FLAVOUR", flavour));
        let app = berth_spec::load(&dir).expect("loads");
        let config =
            resolve(&app.app, &BTreeMap::new(), None, &mut |_| "x".into()).expect("config");
        let opts = AppRenderOptions {
            namespace: "shop".into(),
            ..Default::default()
        };
        render_app(&app, &config, &opts).map(|c| exposed(&c))
    };
    let route = &objects("openshift-route").expect("route")[0];
    assert_eq!(route["spec"]["tls"]["termination"], "passthrough");
    assert!(route["spec"].get("path").is_none());
    assert_eq!(route["spec"]["port"]["targetPort"], "http");
    let route_fixture = load_fixture("openshift-route.yaml");
    assert!(violations(&route_fixture, route).is_empty());
    let nginx = &objects("nginx").expect("nginx")[0];
    assert_eq!(
        nginx["metadata"]["annotations"]["nginx.ingress.kubernetes.io/ssl-passthrough"],
        "true"
    );
    assert!(violations(&load_fixture("nginx.yaml"), nginx).is_empty());
    let istio = objects("istio").expect("istio");
    assert_eq!(istio[0]["spec"]["servers"][0]["tls"]["mode"], "PASSTHROUGH");
    assert_eq!(
        istio[1]["spec"]["tls"][0]["match"][0]["sniHosts"][0],
        "demo.example.com"
    );
    assert_eq!(
        istio[1]["spec"]["tls"][0]["route"][0]["destination"]["port"]["number"],
        80
    );
    for o in &istio {
        assert!(violations(&load_fixture("istio.yaml"), o).is_empty(), "{o}");
    }
    for flavour in ["traefik", "alb", "gateway-api"] {
        let e = objects(flavour).expect_err(flavour).to_string();
        assert!(
            e.contains("expose.tls.termination") && e.contains("edge"),
            "{flavour}: {e}"
        );
    }
}
