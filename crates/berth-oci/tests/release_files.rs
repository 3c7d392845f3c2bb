//! A release is complete or refused: the files of the app directory are read without
//! dropping anything silently (links inside the app are followed and stored as files, links
//! leaving it are refused), and a build whose files lack a path berth.yaml references fails
//! before anything is pulled or written.
#![cfg(unix)]

use berth_oci::release::{self, AppReference, ReleaseInput};
use berth_oci::transfer::NoProgress;
use berth_oci::{Client, ClientConfig};
use std::os::unix::fs::symlink;
use std::path::Path;

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

fn names(files: &[(String, Vec<u8>)]) -> Vec<&str> {
    files.iter().map(|(p, _)| p.as_str()).collect()
}

#[test]
fn a_chart_folder_linked_outside_the_app_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    write(&app.join("berth.yaml"), "kind: Application\n");
    chart(&tmp.path().join("elsewhere/web"));
    symlink(tmp.path().join("elsewhere/web"), app.join("chart")).unwrap();
    let e = release::collect_app_files(&app).unwrap_err().to_string();
    assert!(
        e.contains("`chart`") && e.contains("outside the app"),
        "{e}"
    );
}

#[test]
fn a_check_file_linked_to_a_host_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    write(&app.join("berth.yaml"), "kind: Application\n");
    std::fs::create_dir_all(app.join("checks")).unwrap();
    symlink("/etc/passwd", app.join("checks/preflight.yaml")).unwrap();
    let e = release::collect_app_files(&app).unwrap_err().to_string();
    assert!(
        e.contains("checks/preflight.yaml") && e.contains("/etc/passwd"),
        "{e}"
    );
    // A dangling link is refused too, rather than dropped.
    std::fs::remove_file(app.join("checks/preflight.yaml")).unwrap();
    symlink("missing.yaml", app.join("checks/preflight.yaml")).unwrap();
    let e = release::collect_app_files(&app).unwrap_err().to_string();
    assert!(e.contains("leads nowhere"), "{e}");
}

#[test]
fn links_inside_the_app_are_stored_as_files_and_outputs_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    write(&app.join("berth.yaml"), "kind: Application\n");
    chart(&app.join("vendor/web"));
    write(&app.join("vendor/web/.helmignore"), "*.bak\n");
    symlink("vendor/web", app.join("chart")).unwrap();
    write(&app.join(".git/config"), "x");
    write(&app.join("old-1.0.0.release/index.json"), "{}");
    write(&app.join("old-1.0.0.bundle"), "x");
    let files = release::collect_app_files(&app).unwrap();
    assert_eq!(
        names(&files),
        [
            "berth.yaml",
            "chart/.helmignore",
            "chart/Chart.yaml",
            "chart/templates/cm.yaml",
            "vendor/web/.helmignore",
            "vendor/web/Chart.yaml",
            "vendor/web/templates/cm.yaml",
        ]
    );
    // A link loop inside the app is an error, not an endless walk.
    symlink("..", app.join("vendor/web/templates/up")).unwrap();
    let e = release::collect_app_files(&app).unwrap_err().to_string();
    assert!(e.contains("loop"), "{e}");
}

#[test]
fn a_build_lacking_a_referenced_path_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = vec![
        AppReference {
            field: "the manifest".into(),
            path: "berth.yaml".into(),
        },
        AppReference {
            field: "spec.components[0].chart.path".into(),
            path: "chart".into(),
        },
        AppReference {
            field: "spec.components[0].chart.path".into(),
            path: "chart/Chart.yaml".into(),
        },
    ];
    let only_manifest = vec![("berth.yaml".to_string(), b"x".to_vec())];
    let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    let paths = names(&only_manifest);
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let e = release::check_references(&paths, &refs)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("spec.components[0].chart.path") && e.contains("`chart`"),
        "{e}"
    );
    // A chart directory without its Chart.yaml is incomplete too.
    let mut files = only_manifest.clone();
    files.push(("chart/templates/cm.yaml".into(), b"x".to_vec()));
    let paths = names(&files);
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let e = release::check_references(&paths, &refs)
        .unwrap_err()
        .to_string();
    assert!(e.contains("chart/Chart.yaml"), "{e}");
    files.push(("chart/Chart.yaml".into(), b"x".to_vec()));
    let paths = names(&files);
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    release::check_references(&paths, &refs).unwrap();
    // `build` checks before pulling any image or creating the output.
    let out = tmp.path().join("demo-1.0.0.release");
    let input = ReleaseInput {
        app: "demo".into(),
        version: "1.0.0".into(),
        files: only_manifest,
        extra_images: vec!["127.0.0.1:9/none/image:1".into()],
        references: refs,
        ..Default::default()
    };
    let client = Client::new(ClientConfig::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt
        .block_on(release::build(&client, &input, &out, &NoProgress))
        .unwrap_err()
        .to_string();
    assert!(e.contains("would not contain"), "{e}");
    assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none());
}

#[test]
fn a_release_whose_app_file_paths_leave_the_app_does_not_open() {
    use berth_oci::Layout;
    use berth_oci::release::{Release, ReleaseMeta};
    let meta = ReleaseMeta {
        format: 1,
        app: "demo".into(),
        version: "1.0.0".into(),
        images: Vec::new(),
    };
    for files in [
        vec![("../../evil".to_string(), b"x".to_vec())],
        vec![("/etc/cron.d/x".to_string(), b"x".to_vec())],
        vec![
            ("berth.yaml".to_string(), b"a".to_vec()),
            ("berth.yaml".to_string(), b"b".to_vec()),
        ],
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::create(tmp.path()).unwrap();
        release::write_app_entry(&layout, &meta, &files).unwrap();
        let e = Release::open(tmp.path()).unwrap_err().to_string();
        assert!(
            e.contains("not a relative path") || e.contains("appears twice"),
            "{files:?}: {e}"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::create(tmp.path()).unwrap();
    let ok = vec![("chart/Chart.yaml".to_string(), b"x".to_vec())];
    release::write_app_entry(&layout, &meta, &ok).unwrap();
    let r = Release::open(tmp.path()).unwrap();
    assert_eq!(r.read_file("chart/Chart.yaml").unwrap().unwrap(), b"x");
}
