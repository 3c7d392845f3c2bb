//! Links that leave the application directory: a release holds only the app's own files, so
//! lint refuses a chart, manifest directory or check file that reaches outside through a
//! symbolic link (at the path itself or anywhere inside it), and follows links that stay in.
#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::Path;

const MANIFEST: &str = "apiVersion: berth.dev/v1alpha1
kind: Application
metadata:
  name: demo
  version: 1.0.0
spec:
  components:
    - name: web
      chart:
        path: chart
  checks:
    preflights:
      - checks/preflight.yaml
";

const PREFLIGHT: &str = "apiVersion: troubleshoot.sh/v1beta2
kind: Preflight
metadata:
  name: demo
spec:
  analyzers: []
";

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn chart(dir: &Path) {
    write(
        &dir.join("Chart.yaml"),
        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    );
    write(&dir.join("templates/cm.yaml"), "kind: ConfigMap\n");
}

/// An app in `<tmp>/app` with a chart and a check file, and `<tmp>/outside` beside it.
fn app() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    let outside = tmp.path().join("outside");
    write(&app.join("berth.yaml"), MANIFEST);
    write(&outside.join("secret.yaml"), PREFLIGHT);
    (tmp, app, outside)
}

fn link_errors(app: &Path) -> Vec<String> {
    berth_spec::lint_dir(app)
        .problems
        .iter()
        .filter(|p| p.code == "link-outside-app")
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect()
}

#[test]
fn clean_app_has_no_link_errors() {
    let (_tmp, app, _) = app();
    chart(&app.join("chart"));
    write(&app.join("checks/preflight.yaml"), PREFLIGHT);
    let r = berth_spec::lint_dir(&app);
    assert_eq!(r.errors(), 0, "{:?}", r.problems);
}

#[test]
fn a_check_file_linked_to_a_host_file_is_refused() {
    let (_tmp, app, _) = app();
    chart(&app.join("chart"));
    std::fs::create_dir_all(app.join("checks")).unwrap();
    symlink("/etc/passwd", app.join("checks/preflight.yaml")).unwrap();
    let e = link_errors(&app);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("spec.checks.preflights[0]") && e[0].contains("/etc/passwd"),
        "{e:?}"
    );
}

#[test]
fn a_chart_folder_linked_outside_is_refused() {
    let (_tmp, app, outside) = app();
    chart(&outside.join("chart"));
    symlink(outside.join("chart"), app.join("chart")).unwrap();
    write(&app.join("checks/preflight.yaml"), PREFLIGHT);
    let e = link_errors(&app);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("spec.components[0].chart.path"), "{e:?}");
    // A link that climbs out relatively is the same.
    std::fs::remove_file(app.join("chart")).unwrap();
    symlink("../outside/chart", app.join("chart")).unwrap();
    assert_eq!(link_errors(&app).len(), 1);
}

#[test]
fn a_link_inside_the_chart_that_leaves_the_app_is_refused() {
    let (_tmp, app, outside) = app();
    chart(&app.join("chart"));
    write(&app.join("checks/preflight.yaml"), PREFLIGHT);
    symlink(
        outside.join("secret.yaml"),
        app.join("chart/templates/x.yaml"),
    )
    .unwrap();
    let e = link_errors(&app);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("chart/templates/x.yaml"), "{e:?}");
}

#[test]
fn links_that_stay_inside_the_app_are_followed() {
    let (_tmp, app, _) = app();
    chart(&app.join("vendor/web"));
    symlink("vendor/web", app.join("chart")).unwrap();
    write(&app.join("shared/preflight.yaml"), PREFLIGHT);
    std::fs::create_dir_all(app.join("checks")).unwrap();
    symlink(
        "../shared/preflight.yaml",
        app.join("checks/preflight.yaml"),
    )
    .unwrap();
    // A loop inside the app does not hang the walk.
    symlink("..", app.join("vendor/web/templates/up")).unwrap();
    let r = berth_spec::lint_dir(&app);
    assert_eq!(r.errors(), 0, "{:?}", r.problems);
}
