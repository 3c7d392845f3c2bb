//! Post-renderers and `--set-json`/`--set-literal` in install and upgrade, against the
//! simulator: berth.yaml's `chart.postRenderer` runs first, the `--post-renderer` flag after
//! it, and the applied objects carry both changes; a failing post-renderer fails the upgrade
//! naming its exit status and stderr, with nothing applied and no revision recorded.

use berth_kube_sim::{SimOptions, Simulator};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn berth(args: &[&str], kubeconfig: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .args(["--kubeconfig", &kubeconfig.display().to_string()])
        .env("NO_COLOR", "1")
        .output()
        .expect("berth runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// An app with one chart component whose berth.yaml post-renderer adds `team: $1` labels.
fn app(dir: &Path, command: &str) -> PathBuf {
    let app = dir.join("app");
    std::fs::create_dir_all(app.join("chart/templates")).expect("mkdir");
    std::fs::write(
        app.join("chart/Chart.yaml"),
        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    )
    .expect("Chart.yaml");
    std::fs::write(
        app.join("chart/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  replicas: {{ .Values.replicas | quote }}\n",
    )
    .expect("template");
    script(
        &app.join("label.sh"),
        "sed \"s/^metadata:/metadata:\\n  labels:\\n    team: $1/\"",
    );
    std::fs::write(
        app.join("berth.yaml"),
        format!(
            "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: web\n  version: 0.1.0\nspec:\n  components:\n  - name: web\n    chart:\n      path: chart\n      postRenderer: {{command: {command}, args: [shop]}}\n    values: |\n      greeting: {{{{ .Config.greeting | quote }}}}\n      replicas: {{{{ .Config.replicas }}}}\n  config:\n  - name: general\n    items:\n    - {{name: greeting, type: text, default: hi}}\n    - {{name: replicas, type: number, default: 1}}\n"
        ),
    )
    .expect("berth.yaml");
    app
}

#[test]
fn post_renderers_change_what_is_applied_and_a_failing_one_changes_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(Simulator::start(SimOptions::default()))
        .expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        sim.kubeconfig_yaml()
            .replace("namespace: default", "namespace: shop"),
    )
    .expect("kubeconfig");
    let app = app(dir.path(), "./label.sh");
    let a = app.display().to_string();
    let stage = dir.path().join("stage.sh");
    script(&stage, "sed \"s/^  labels:/  labels:\\n    stage: $1/\"");
    let fail = dir.path().join("fail.sh");
    script(
        &fail,
        "cat >/dev/null; echo 'boom: cannot patch' >&2; exit 3",
    );

    let lint = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["lint", &a])
        .output()
        .expect("lint");
    assert!(lint.status.success(), "{}", text(&lint));

    let out = berth(
        &[
            "install",
            &a,
            "--post-renderer",
            &stage.display().to_string(),
            "--post-renderer-args",
            "prod",
            "--set-json",
            "replicas=3",
            "--set-literal",
            "greeting=a,b\\,c",
        ],
        &kc,
    );
    assert!(out.status.success(), "{}", text(&out));
    let cm = get_configmap(&rt, &kc);
    assert_eq!(cm["metadata"]["labels"]["team"], "shop", "{cm}");
    assert_eq!(
        cm["metadata"]["labels"]["stage"], "prod",
        "flag runs after berth.yaml's: {cm}"
    );
    assert_eq!(
        cm["data"]["greeting"], "a,b\\,c",
        "--set-literal keeps it all: {cm}"
    );
    assert_eq!(
        cm["data"]["replicas"], "3",
        "--set-json sets the number: {cm}"
    );

    let out = berth(
        &[
            "upgrade",
            &a,
            "--set",
            "replicas=4",
            "--post-renderer",
            &fail.display().to_string(),
        ],
        &kc,
    );
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("boom: cannot patch") && t.contains("exit status: 3") && t.contains("fail.sh"),
        "the program, its exit status and stderr are named: {t}"
    );
    let out = berth(&["history", "web", "-o", "json"], &kc);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).expect("history json");
    assert_eq!(
        h.as_array().map(Vec::len),
        Some(1),
        "no revision recorded: {h}"
    );
    let cm = get_configmap(&rt, &kc);
    assert_eq!(cm["data"]["replicas"], "3", "nothing applied: {cm}");

    // A first install whose post-renderer fails leaves no trace either.
    let fail_arg = fail.display().to_string();
    let out = berth(
        &["install", &a, "-n", "other", "--post-renderer", &fail_arg],
        &kc,
    );
    assert!(!out.status.success(), "{}", text(&out));
    let out = berth(&["history", "web", "-n", "other"], &kc);
    assert_eq!(out.status.code(), Some(5), "not installed: {}", text(&out));
    drop(sim);
}

#[test]
fn lint_names_a_post_renderer_that_does_not_exist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(dir.path(), "./missing.sh");
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["lint", &app.display().to_string()])
        .output()
        .expect("lint");
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("missing-file") && t.contains("missing.sh") && t.contains("postRenderer"),
        "{t}"
    );
    let app2 = dir.path().join("other");
    std::fs::create_dir_all(&app2).expect("mkdir");
    let app2 = self::app(&app2, "no-such-post-renderer-on-path");
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["lint", &app2.display().to_string()])
        .output()
        .expect("lint");
    let t = text(&out);
    assert!(!out.status.success() && t.contains("is not on PATH"), "{t}");
}

fn get_configmap(rt: &tokio::runtime::Runtime, kc: &Path) -> serde_json::Value {
    rt.block_on(async {
        let cfg = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(kc).expect("kubeconfig"),
            &Default::default(),
        )
        .await
        .expect("config");
        let client = kube::Client::try_from(cfg).expect("client");
        let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
            client,
            "shop",
            &kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
                "",
                "v1",
                "ConfigMap",
            )),
        );
        serde_json::to_value(api.get("settings").await.expect("configmap")).expect("json")
    })
}

#[test]
fn release_build_scans_what_the_post_renderer_prints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(dir.path(), "./label.sh");
    let extra = dir.path().join("extra.sh");
    script(
        &extra,
        "cat; printf -- '---\\napiVersion: v1\\nkind: Pod\\nmetadata:\\n  name: extra\\nspec:\\n  containers:\\n  - name: c\\n    image: registry.example/extra:1.0\\n'",
    );
    let plan = |post: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
        c.args(["release", "build", &app.display().to_string()])
            .args(["--dry-run", "--no-mover-image", "-o", "json"]);
        if post {
            c.arg("--post-renderer").arg(&extra);
        }
        let out = c.output().expect("release build");
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan json");
        v["images"].clone()
    };
    assert_eq!(
        plan(false),
        serde_json::json!([]),
        "the chart runs no image"
    );
    assert_eq!(
        plan(true),
        serde_json::json!(["registry.example/extra:1.0"]),
        "the image the post-renderer adds is in the release"
    );
}
