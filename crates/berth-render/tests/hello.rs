//! examples/hello rendered through its berth.yaml: config → values → chart → objects.

use berth_render::{AppRenderOptions, render_app};
use berth_spec::config::{parse_values, resolve};
use std::path::Path;

fn render(values: &str) -> Vec<berth_render::RenderedComponent> {
    let app = berth_spec::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello"))
        .unwrap();
    let input = parse_values(values).unwrap();
    let config = resolve(&app.app, &input, None, &mut |_| "generated-pw".into()).unwrap();
    let opts = AppRenderOptions {
        namespace: "shop".into(),
        ..Default::default()
    };
    render_app(&app, &config, &opts).unwrap()
}

fn kinds(c: &berth_render::RenderedComponent) -> Vec<String> {
    c.objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o.object["kind"].as_str().unwrap(),
                o.object["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn embedded_database_renders_statefulset_and_hook() {
    let comps = render("");
    assert_eq!(comps.len(), 1);
    let c = &comps[0];
    assert_eq!(c.namespace, "shop");
    let k = kinds(c);
    for expected in [
        "Secret/hello-db",
        "ConfigMap/hello",
        "Service/hello",
        "Deployment/hello",
        "StatefulSet/hello-postgresql",
        "Ingress/hello",
        "Job/hello-migrate",
    ] {
        assert!(
            k.contains(&expected.to_string()),
            "{expected} missing from {k:?}"
        );
    }
    // Helm's order: Secret and ConfigMap before Service before Deployment; the hook last.
    let pos = |n: &str| k.iter().position(|x| x == n).unwrap();
    assert!(pos("Secret/hello-db") < pos("Service/hello"));
    assert!(pos("Service/hello") < pos("Deployment/hello"));
    let job = c
        .objects
        .iter()
        .find(|o| o.object["kind"] == "Job")
        .unwrap();
    assert!(job.hook);
    assert_eq!(job.source, "chart/templates/migrate-job.yaml");
    let dep = c
        .objects
        .iter()
        .find(|o| o.object["kind"] == "Deployment")
        .unwrap();
    assert_eq!(dep.object["spec"]["replicas"], 2);
    // The generated password reaches the Secret, base64-encoded.
    let secret = c
        .objects
        .iter()
        .find(|o| o.object["kind"] == "Secret")
        .unwrap();
    assert_eq!(secret.object["data"]["password"], "Z2VuZXJhdGVkLXB3");
    assert!(c.notes.contains("Hello 1.0.0 is installed"));
}

#[test]
fn external_database_drops_the_statefulset_and_points_at_the_host() {
    let comps = render(
        "database: external\ndb_host: pg.example.com\ndb_password: pw\nreplicas: 3\ningress_enabled: false\n",
    );
    let c = &comps[0];
    let k = kinds(c);
    assert!(!k.iter().any(|x| x.starts_with("StatefulSet/")), "{k:?}");
    assert!(!k.iter().any(|x| x.starts_with("Ingress/")), "{k:?}");
    let dep = c
        .objects
        .iter()
        .find(|o| o.object["kind"] == "Deployment")
        .unwrap();
    assert_eq!(dep.object["spec"]["replicas"], 3);
    let env = dep.object["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let host = env.iter().find(|e| e["name"] == "DATABASE_HOST").unwrap();
    assert_eq!(host["value"], "pg.example.com");
}

#[test]
fn values_template_errors_name_the_component() {
    let mut app =
        berth_spec::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello"))
            .unwrap();
    app.app.spec.components[0].values =
        Some("replicaCount: {{ .Config.replicas | nosuchfunc }}".into());
    let config = resolve(&app.app, &Default::default(), None, &mut |_| "x".into()).unwrap();
    let err = render_app(&app, &config, &AppRenderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("component `hello`"), "{err}");
    assert!(err.contains("nosuchfunc"), "{err}");
}
