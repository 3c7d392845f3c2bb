//! A component's `expose` (berth.yaml) turned into the object the cluster's ingress accepts:
//! its templates rendered with the config ([`values`]), the flavour decided from what the
//! cluster offers or the admin chose ([`decide`], over [`detect::ClusterOffer`]), and the
//! Ingress, HTTPRoute, Route or Istio Gateway + VirtualService generated ([`generate`]).
//! Everything here is pure and deterministic: the same offer and config give the same objects,
//! which join the component's rendered objects and so the app's revision.

pub mod detect;
pub mod generate;

use crate::RenderError;
use berth_spec::expose::{self as check, Bad, Port};
use berth_spec::manifest::{Component, Expose, ScalarValue};
pub use detect::{ClusterOffer, GatewayInfo, IngressClassInfo};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The label every generated object carries: the component it exposes.
pub const LABEL: &str = "berth.dev/expose";

/// What berth can generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavour {
    /// A plain Ingress (the given or default class).
    Ingress,
    /// kubernetes/ingress-nginx.
    Nginx,
    /// F5 NGINX Ingress Controller.
    F5Nginx,
    /// Traefik.
    Traefik,
    /// HAProxy Kubernetes Ingress Controller.
    Haproxy,
    /// Contour.
    Contour,
    /// AWS Load Balancer Controller (ALB).
    Alb,
    /// GKE Ingress (GCE load balancers).
    Gce,
    /// Azure Application Gateway Ingress Controller.
    AzureApplicationGateway,
    /// AKS application routing add-on (managed ingress-nginx).
    AksAppRouting,
    /// A Gateway API HTTPRoute.
    GatewayApi,
    /// An OpenShift Route.
    OpenshiftRoute,
    /// An Istio Gateway and VirtualService.
    Istio,
}

/// Every flavour with its name, IngressClass controllers and conventional class name.
const FLAVOURS: &[(Flavour, &str, &[&str], &str)] = &[
    (Flavour::Ingress, "ingress", &[], ""),
    (Flavour::Nginx, "nginx", &["k8s.io/ingress-nginx"], "nginx"),
    (
        Flavour::F5Nginx,
        "f5-nginx",
        &["nginx.org/ingress-controller"],
        "nginx",
    ),
    (
        Flavour::Traefik,
        "traefik",
        &["traefik.io/ingress-controller"],
        "traefik",
    ),
    (
        Flavour::Haproxy,
        "haproxy",
        &["haproxy.org/ingress-controller/haproxy"],
        "haproxy",
    ),
    (
        Flavour::Contour,
        "contour",
        &["projectcontour.io/ingress-controller"],
        "contour",
    ),
    (Flavour::Alb, "alb", &["ingress.k8s.aws/alb"], "alb"),
    (
        Flavour::Gce,
        "gce",
        &["k8s-io/ingress-gce", "networking.gke.io/ingress-gce"],
        "gce",
    ),
    (
        Flavour::AzureApplicationGateway,
        "azure-application-gateway",
        &["azure/application-gateway"],
        "azure-application-gateway",
    ),
    (
        Flavour::AksAppRouting,
        "aks-app-routing",
        &["webapprouting.kubernetes.azure.com/nginx"],
        "webapprouting.kubernetes.azure.com",
    ),
    (Flavour::GatewayApi, "gateway-api", &[], ""),
    (
        Flavour::OpenshiftRoute,
        "openshift-route",
        &["openshift.io/ingress-to-route"],
        "",
    ),
    (
        Flavour::Istio,
        "istio",
        &["istio.io/ingress-controller"],
        "",
    ),
];

impl Flavour {
    /// Its name in berth.yaml and reports.
    pub fn name(self) -> &'static str {
        FLAVOURS.iter().find(|f| f.0 == self).map_or("", |f| f.1)
    }

    /// The flavour of a name (`auto`/`none` are not flavours).
    pub fn parse(s: &str) -> Option<Flavour> {
        FLAVOURS.iter().find(|f| f.1 == s).map(|f| f.0)
    }

    /// The flavour of an IngressClass's `spec.controller`, if berth knows it.
    pub fn of_controller(controller: &str) -> Option<Flavour> {
        FLAVOURS
            .iter()
            .find(|f| f.2.contains(&controller))
            .map(|f| f.0)
    }

    /// Whether the flavour generates an Ingress.
    pub fn is_ingress(self) -> bool {
        !matches!(
            self,
            Flavour::GatewayApi | Flavour::OpenshiftRoute | Flavour::Istio
        )
    }

    fn conventional_class(self) -> &'static str {
        FLAVOURS.iter().find(|f| f.0 == self).map_or("", |f| f.3)
    }

    /// The IngressClass (name, controller) the flavour's controller usually installs, for
    /// simulated clusters that offer it; `None` for flavours without one.
    pub fn usual_ingress_class(self) -> Option<(&'static str, &'static str)> {
        let f = FLAVOURS.iter().find(|f| f.0 == self)?;
        match (self.is_ingress(), f.2.first()) {
            (true, Some(controller)) => Some((f.3, *controller)),
            _ => None,
        }
    }

    /// Every flavour's name.
    pub fn names() -> impl Iterator<Item = &'static str> {
        FLAVOURS.iter().map(|f| f.1)
    }
}

/// A component's `expose` with its templates rendered and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposeValues {
    /// The Service.
    pub service: String,
    /// Its port.
    pub port: Port,
    /// Host name; empty: any.
    pub host: String,
    /// Path prefix.
    pub path: String,
    /// TLS on.
    pub tls: bool,
    /// The certificate's Secret.
    pub secret_name: String,
    /// TLS passthrough (the app terminates).
    pub passthrough: bool,
    /// The admin's choice: `None` = auto; `Some(None)` = none.
    pub flavour: Option<Option<Flavour>>,
    /// IngressClass or Gateway override.
    pub class_name: String,
    /// Internal load balancer.
    pub internal: bool,
    /// Extra annotations.
    pub annotations: BTreeMap<String, String>,
}

fn scalar_text(v: &ScalarValue) -> String {
    match v {
        ScalarValue::String(s) => s.clone(),
        ScalarValue::Number(n) if n.fract() == 0.0 => format!("{}", *n as i64),
        ScalarValue::Number(n) => n.to_string(),
        ScalarValue::Bool(b) => b.to_string(),
    }
}

fn bad_field(component: &str, field: &str, b: Bad) -> RenderError {
    RenderError::Expose {
        component: component.into(),
        field: field.into(),
        message: b.message,
        help: b.help,
    }
}

/// Render `expose`'s templates with `data` (the `values` template's data) and check them.
pub fn values(c: &Component, e: &Expose, data: &Value) -> Result<ExposeValues, RenderError> {
    let tdata = berth_template::Value::from_json_keep_ints(data);
    let render = |field: &str, text: &str| -> Result<String, RenderError> {
        if !check::is_template(text) {
            return Ok(text.trim().to_string());
        }
        let mut set = berth_template::TemplateSet::new(berth_template::Options::default());
        let name = format!("berth.yaml:components[{}].expose.{field}", c.name);
        let fail = |m: String| RenderError::Expose {
            component: c.name.clone(),
            field: field.into(),
            message: format!("its template failed: {m}"),
            help: "fix the template; it sees the same data as `values` (.Config, .App, .Release)"
                .into(),
        };
        set.add(&name, text).map_err(|e| fail(e.to_string()))?;
        set.execute(&name, &tdata)
            .map(|s| s.trim().to_string())
            .map_err(|e| fail(e.to_string()))
    };
    let opt = |field: &str, v: &Option<String>| -> Result<String, RenderError> {
        v.as_deref().map_or(Ok(String::new()), |t| render(field, t))
    };
    let bad = |field: &str, b: Bad| bad_field(&c.name, field, b);
    let service = render("service", &e.service)?;
    check::service(&service).map_err(|b| bad("service", b))?;
    let port = check::port(&render("port", &scalar_text(&e.port))?).map_err(|b| bad("port", b))?;
    let host = opt("host", &e.host)?;
    check::host(&host).map_err(|b| bad("host", b))?;
    let mut path = opt("path", &e.path)?;
    if path.is_empty() {
        path = "/".into();
    }
    check::path(&path).map_err(|b| bad("path", b))?;
    let tls = e.tls.clone().unwrap_or_default();
    let secret_name = opt("tls.secretName", &tls.secret_name)?;
    let enabled = match &tls.enabled {
        Some(v) => check::boolean("tls.enabled", &render("tls.enabled", &scalar_text(v))?)
            .map_err(|b| bad("tls.enabled", b))?,
        None => false,
    };
    if !secret_name.is_empty() {
        check::service(&secret_name).or_else(|_| check::class_name(&secret_name)).map_err(|_| {
            bad("tls.secretName", Bad {
                message: format!("tls.secretName `{secret_name}` is not a Secret name"),
                help: "name a kubernetes.io/tls Secret in the component's namespace (lowercase letters, digits, `-` and `.`)".into(),
                code: "invalid-expose",
            })
        })?;
    }
    let termination = opt("tls.termination", &tls.termination)?;
    check::termination(&termination).map_err(|b| bad("tls.termination", b))?;
    let passthrough = termination == "passthrough";
    if passthrough && path != "/" {
        return Err(bad(
            "path",
            Bad {
                message: "TLS passthrough routes by host name only, so `path` must be `/`".into(),
                help: "remove `path`, or use `termination: edge`".into(),
                code: "invalid-expose",
            },
        ));
    }
    let flavour_text = opt("flavour", &e.flavour)?;
    check::flavour(&flavour_text).map_err(|b| bad("flavour", b))?;
    let flavour = match flavour_text.as_str() {
        "" | "auto" => None,
        "none" => Some(None),
        f => Some(Flavour::parse(f)),
    };
    let class_name = opt("className", &e.class_name)?;
    check::class_name(&class_name).map_err(|b| bad("className", b))?;
    let internal = match &e.internal {
        Some(v) => check::boolean("internal", &render("internal", &scalar_text(v))?)
            .map_err(|b| bad("internal", b))?,
        None => false,
    };
    let mut annotations = BTreeMap::new();
    for (k, v) in &e.annotations {
        annotations.insert(k.clone(), render(&format!("annotations.{k}"), v)?);
    }
    Ok(ExposeValues {
        service,
        port,
        host,
        path,
        tls: enabled || !secret_name.is_empty() || passthrough,
        secret_name,
        passthrough,
        flavour,
        class_name,
        internal,
        annotations,
    })
}

/// The flavour chosen for a component and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The flavour.
    pub flavour: Flavour,
    /// The IngressClass (Ingress flavours; empty: the cluster's default).
    pub class: String,
    /// The Gateway as `namespace/name` (gateway-api).
    pub gateway: String,
    /// The served API version of the generated kind, when the cluster said.
    pub api_version: Option<String>,
    /// `class` is an IngressClass the cluster has (not only the controller's usual name).
    pub class_in_cluster: bool,
    /// Why this flavour: what was found, or the admin's choice.
    pub reason: String,
}

/// Why nothing can be generated.
fn nothing_found(component: &str, v: &ExposeValues, offer: &ClusterOffer) -> RenderError {
    let mut message = format!(
        "it exposes service {}:{}, but the cluster offers no IngressClass, Gateway, OpenShift Route API or Istio (found: {})",
        v.service,
        port_text(&v.port),
        offer.describe()
    );
    let mut help = "install an ingress controller (for example ingress-nginx or Traefik), or set the flavour in config (`none` to expose nothing)".to_string();
    if !offer.notes.is_empty() {
        // Not being allowed to look is not the same as nothing being there.
        message.push_str(&format!("; {}", offer.notes.join("; ")));
        help.push_str(", or let berth's user list IngressClasses and Gateways");
    }
    RenderError::Expose {
        component: component.into(),
        field: "flavour".into(),
        message,
        help,
    }
}

pub(crate) fn port_text(p: &Port) -> String {
    match p {
        Port::Number(n) => n.to_string(),
        Port::Name(n) => n.clone(),
    }
}

fn class_decision(c: &IngressClassInfo, reason: String) -> Decision {
    Decision {
        flavour: Flavour::of_controller(&c.controller).unwrap_or(Flavour::Ingress),
        class: c.name.clone(),
        gateway: String::new(),
        api_version: None,
        class_in_cluster: true,
        reason,
    }
}

fn gateway_decision(g: &GatewayInfo, offer: &ClusterOffer, reason: String) -> Decision {
    Decision {
        flavour: Flavour::GatewayApi,
        class: String::new(),
        gateway: format!("{}/{}", g.namespace, g.name),
        api_version: offer.gateway_api.clone(),
        class_in_cluster: false,
        reason,
    }
}

/// Choose the flavour: the admin's, else what the cluster offers (`offer`; `None` when
/// rendering offline, which yields a plain Ingress). `Ok(None)`: expose nothing.
pub fn decide(
    component: &str,
    v: &ExposeValues,
    offer: Option<&ClusterOffer>,
) -> Result<Option<Decision>, RenderError> {
    match v.flavour {
        Some(None) => Ok(None),
        Some(Some(f)) => chosen(component, f, v, offer).map(Some),
        None => match offer {
            None => Ok(Some(Decision {
                flavour: Flavour::Ingress,
                class: v.class_name.clone(),
                gateway: String::new(),
                api_version: None,
                class_in_cluster: false,
                reason: "rendered without a cluster: a plain Ingress".into(),
            })),
            Some(o) => auto(component, v, o).map(Some),
        },
    }
}

/// The admin's flavour, with the class or Gateway the cluster has for it.
fn chosen(
    component: &str,
    f: Flavour,
    v: &ExposeValues,
    offer: Option<&ClusterOffer>,
) -> Result<Decision, RenderError> {
    let reason = format!("flavour {} chosen in config", f.name());
    let mut d = Decision {
        flavour: f,
        class: v.class_name.clone(),
        gateway: String::new(),
        api_version: None,
        class_in_cluster: false,
        reason,
    };
    match f {
        Flavour::GatewayApi => {
            d.api_version = offer.and_then(|o| o.gateway_api.clone());
            if !v.class_name.is_empty() {
                d.gateway = v.class_name.clone();
                d.class.clear();
            } else if let Some(o) = offer {
                let g = o.gateways.first().ok_or_else(|| RenderError::Expose {
                    component: component.into(),
                    field: "flavour".into(),
                    message: format!(
                        "flavour gateway-api, but the cluster has no Gateway (found: {})",
                        o.describe()
                    ),
                    help: "create a Gateway (your Gateway API implementation's docs show one), or set className to an existing Gateway as namespace/name".into(),
                })?;
                d.gateway = format!("{}/{}", g.namespace, g.name);
            }
        }
        Flavour::Istio => d.api_version = offer.and_then(|o| o.istio.clone()),
        Flavour::OpenshiftRoute => {}
        _ if d.class.is_empty() && f != Flavour::Gce => {
            let found = offer.and_then(|o| {
                o.ingress_classes
                    .iter()
                    .filter(|c| Flavour::of_controller(&c.controller) == Some(f))
                    .max_by_key(|c| c.default)
            });
            d.class_in_cluster = found.is_some();
            d.class = found.map_or(f.conventional_class().to_string(), |c| c.name.clone());
        }
        _ => {}
    }
    Ok(d)
}

/// Auto-detection, in the order docs/formats/berth-yaml.md gives.
fn auto(component: &str, v: &ExposeValues, o: &ClusterOffer) -> Result<Decision, RenderError> {
    if !v.class_name.is_empty() {
        if let Some(c) = o.ingress_classes.iter().find(|c| c.name == v.class_name) {
            return Ok(class_decision(
                c,
                format!("IngressClass {} named in config", c.name),
            ));
        }
        if let Some(g) = o.gateways.iter().find(|g| {
            v.class_name == g.name || v.class_name == format!("{}/{}", g.namespace, g.name)
        }) {
            return Ok(gateway_decision(
                g,
                o,
                format!("Gateway {}/{} named in config", g.namespace, g.name),
            ));
        }
        return Err(RenderError::Expose {
            component: component.into(),
            field: "className".into(),
            message: format!(
                "className `{}` is neither an IngressClass nor a Gateway of this cluster (found: {})",
                v.class_name,
                o.describe()
            ),
            help: "name one that exists, or leave className empty to let berth choose".into(),
        });
    }
    if o.openshift_routes {
        return Ok(Decision {
            flavour: Flavour::OpenshiftRoute,
            class: String::new(),
            gateway: String::new(),
            api_version: Some("route.openshift.io/v1".into()),
            class_in_cluster: false,
            reason: "the cluster serves OpenShift Routes (route.openshift.io)".into(),
        });
    }
    if let Some(c) = o.ingress_classes.iter().find(|c| c.default) {
        return Ok(class_decision(
            c,
            format!(
                "default IngressClass {} (controller {})",
                c.name, c.controller
            ),
        ));
    }
    if let [c] = o.ingress_classes.as_slice() {
        return Ok(class_decision(
            c,
            format!(
                "the only IngressClass, {} (controller {})",
                c.name, c.controller
            ),
        ));
    }
    if let Some(g) = o.gateways.first() {
        return Ok(gateway_decision(
            g,
            o,
            format!(
                "Gateway API Gateway {}/{} (class {})",
                g.namespace, g.name, g.class
            ),
        ));
    }
    if o.istio.is_some() {
        return Ok(Decision {
            flavour: Flavour::Istio,
            class: String::new(),
            gateway: String::new(),
            api_version: o.istio.clone(),
            class_in_cluster: false,
            reason: "the cluster serves Istio (networking.istio.io)".into(),
        });
    }
    let known = o
        .ingress_classes
        .iter()
        .find(|c| Flavour::of_controller(&c.controller).is_some())
        .or(o.ingress_classes.first());
    match known {
        Some(c) => Ok(class_decision(
            c,
            format!(
                "IngressClass {} (controller {}), the first of {} with none marked default; set className to choose another",
                c.name,
                c.controller,
                o.ingress_classes.len()
            ),
        )),
        None => Err(nothing_found(component, v, o)),
    }
}

/// What will be exposed for one component: for reports and `--dry-run`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExposePlan {
    /// The component.
    pub component: String,
    /// The decision (`None`: flavour `none`).
    pub decision: Option<Decision>,
    /// The objects generated, as `kind/name`.
    pub objects: Vec<String>,
    /// What the admin should know (certificates, controller flags, missing classes).
    pub notes: Vec<String>,
}

impl ExposePlan {
    /// One line: `web: traefik (default IngressClass traefik ...) → Ingress/web`.
    pub fn summary(&self) -> String {
        let mut s = match &self.decision {
            None => format!("{}: flavour none, nothing exposed", self.component),
            Some(d) => format!(
                "{}: {} ({}) → {}",
                self.component,
                d.flavour.name(),
                d.reason,
                self.objects.join(", ")
            ),
        };
        for n in &self.notes {
            s.push_str(&format!("\n  note: {n}"));
        }
        s
    }
}
