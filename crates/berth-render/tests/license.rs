//! `.License.Entitlements` reaches both a component's `values` template and the chart's
//! templates; without a license templates see an empty map (lint and `berth template` work).

use berth_render::{AppRenderOptions, render_app};
use std::path::Path;

fn app(dir: &Path) {
    std::fs::create_dir_all(dir.join("chart/templates")).unwrap();
    std::fs::write(
        dir.join("berth.yaml"),
        "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: lic\n  version: 1.0.0\nspec:\n  components:\n    - name: lic\n      chart:\n        path: chart\n      values: |\n        seats: {{ .License.Entitlements.seats | default 1 }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("chart/Chart.yaml"),
        "apiVersion: v2\nname: lic\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("chart/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lic\ndata:\n  seats: {{ .Values.seats | quote }}\n  tier: {{ .License.Entitlements.tier | default \"none\" | quote }}\n",
    )
    .unwrap();
}

fn render(dir: &Path, license: Option<serde_json::Value>) -> serde_json::Value {
    let loaded = berth_spec::load(dir).unwrap();
    let config = berth_spec::config::resolve(&loaded.app, &Default::default(), None, &mut |_| {
        String::new()
    })
    .unwrap();
    let opts = AppRenderOptions {
        namespace: "shop".into(),
        license,
        ..Default::default()
    };
    let comps = render_app(&loaded, &config, &opts).unwrap();
    comps[0].objects[0].object["data"].clone()
}

#[test]
fn entitlements_reach_values_and_chart_templates() {
    let tmp = tempfile::tempdir().unwrap();
    app(tmp.path());
    let lic = serde_json::json!({"Entitlements": {"seats": 50, "tier": "gold"}});
    assert_eq!(
        render(tmp.path(), Some(lic)),
        serde_json::json!({"seats": "50", "tier": "gold"})
    );
    assert_eq!(
        render(tmp.path(), None),
        serde_json::json!({"seats": "1", "tier": "none"})
    );
}
