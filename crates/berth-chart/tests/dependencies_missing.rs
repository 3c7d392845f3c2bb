//! An enabled dependency without a vendored chart of a matching version fails the render
//! as Helm v4 fails it (bitnami grafana-loki's memcached aliases against memcached 8.x).

use berth_chart::{Chart, RenderOptions};
use std::path::Path;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

fn chart(dir: &Path, range: &str) {
    write(
        dir,
        "Chart.yaml",
        &format!(
            "apiVersion: v2\nname: top\nversion: 1.0.0\ndependencies:\n- name: cache\n  alias: cachea\n  version: {range}\n  condition: cachea.enabled\n- name: cache\n  alias: cacheb\n  version: {range}\n  condition: cacheb.enabled\n"
        ),
    );
    write(
        dir,
        "values.yaml",
        "cachea:\n  enabled: true\ncacheb:\n  enabled: false\n",
    );
    write(
        dir,
        "templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: top\n",
    );
    write(
        dir,
        "charts/cache/Chart.yaml",
        "apiVersion: v2\nname: cache\nversion: 8.1.0\n",
    );
    write(
        dir,
        "charts/cache/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}\n",
    );
}

#[test]
fn enabled_alias_outside_the_version_range_is_missing() {
    let tmp = tempfile::tempdir().expect("temp dir");
    chart(tmp.path(), "7.x.x");
    let c = Chart::load(tmp.path()).expect("chart loads");
    let text = match berth_chart::render(&c, &RenderOptions::default()) {
        Ok(_) => panic!("render must fail: cachea's chart is 8.1.0, outside 7.x.x"),
        Err(e) => e.to_string(),
    };
    assert!(
        text.contains("found in Chart.yaml, but missing in charts/ directory: cachea"),
        "{text}"
    );
    assert!(
        !text.contains("cacheb"),
        "a disabled dependency is not missing: {text}"
    );
}

#[test]
fn enabled_alias_in_range_renders() {
    let tmp = tempfile::tempdir().expect("temp dir");
    chart(tmp.path(), "8.x.x");
    let c = Chart::load(tmp.path()).expect("chart loads");
    let r = berth_chart::render(&c, &RenderOptions::default()).expect("renders");
    assert!(
        r.files.keys().any(|k| k.starts_with("top/charts/cachea/")),
        "{:?}",
        r.files.keys().collect::<Vec<_>>()
    );
}

/// A subchart's own dependency missing from its `charts/`: Helm checks only the top level
/// and renders the subchart without it; berth renders the same and warns, unless the
/// dependency is disabled.
#[test]
fn subchart_missing_its_own_dependency_renders_without_it_and_warns() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    write(
        dir,
        "Chart.yaml",
        "apiVersion: v2\nname: top\nversion: 1.0.0\ndependencies:\n- name: mid\n  version: 1.x\n",
    );
    write(
        dir,
        "charts/mid/Chart.yaml",
        "apiVersion: v2\nname: mid\nversion: 1.2.0\ndependencies:\n- name: leaf\n  version: ^2.0.0\n  repository: oci://registry.example/charts\n  condition: leaf.enabled\n",
    );
    write(
        dir,
        "charts/mid/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mid\n",
    );
    let c = Chart::load(dir).expect("chart loads");
    let r = berth_chart::render(&c, &RenderOptions::default()).expect("renders as Helm does");
    assert!(
        r.files
            .keys()
            .any(|k| k == "top/charts/mid/templates/cm.yaml"),
        "{:?}",
        r.files.keys().collect::<Vec<_>>()
    );
    let w = r.warnings.join("\n");
    assert!(
        w.contains("subchart mid")
            && w.contains("dependency leaf \"^2.0.0\" from oci://registry.example/charts")
            && w.contains("vendor it into mid's package"),
        "{w}"
    );

    let opts = RenderOptions {
        values: serde_json::from_str(r#"{"mid": {"leaf": {"enabled": false}}}"#).expect("json"),
        ..RenderOptions::default()
    };
    let r = berth_chart::render(&c, &opts).expect("renders");
    assert!(
        !r.warnings.iter().any(|w| w.contains("leaf")),
        "a disabled dependency is not missing: {:?}",
        r.warnings
    );
}
