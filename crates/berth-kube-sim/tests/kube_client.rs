//! Fidelity checks with the kube crate over HTTP (the same path berth uses against real clusters).

mod common;
use common::{eventually, start};
use futures::StreamExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{Discovery, Scope};
use kube::runtime::watcher;
use serde_json::json;
use std::time::Duration;

async fn client(sim: &berth_kube_sim::Simulator) -> kube::Client {
    let kc =
        kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml()).expect("kubeconfig parses");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config");
    kube::Client::try_from(cfg).expect("client")
}

fn gvk(g: &str, v: &str, k: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(g, v, k))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_both_modes() {
    let sim = start().await;
    let c = client(&sim).await;
    for aggregated in [true, false] {
        let d = Discovery::new(c.clone());
        let d = if aggregated {
            d.run_aggregated().await
        } else {
            d.run().await
        }
        .expect("discovery runs");
        let (ar, caps) = d
            .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
            .expect("apps/v1 Deployment is discovered");
        assert_eq!(ar.plural, "deployments");
        assert_eq!(caps.scope, Scope::Namespaced);
        let (ns, caps) = d
            .resolve_gvk(&GroupVersionKind::gvk("", "v1", "Namespace"))
            .expect("core Namespace is discovered");
        assert_eq!(ns.plural, "namespaces");
        assert_eq!(caps.scope, Scope::Cluster);
        assert!(d.has_group("apiextensions.k8s.io"));
        assert!(
            !d.has_group("extensions"),
            "extensions/v1beta1 is gone in 1.32"
        );
    }
    let v = c.apiserver_version().await.expect("version");
    assert_eq!(v.git_version, "v1.32.0");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_crud_and_ssa_conflicts() {
    let sim = start().await;
    let c = client(&sim).await;
    let cms: Api<DynamicObject> =
        Api::namespaced_with(c.clone(), "default", &gvk("", "v1", "ConfigMap"));
    let mut obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "labels": {"app": "shop"}},
        "data": {"mode": "fast"},
    }))
    .unwrap();
    let created = cms
        .create(&PostParams::default(), &obj)
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some());
    let rv1 = created.metadata.resource_version.clone().unwrap();
    let got = cms.get("settings").await.expect("get");
    assert_eq!(got.data["data"]["mode"], "fast");
    // Replace with a stale resourceVersion: 409 Conflict.
    obj.metadata.resource_version = Some("1".into());
    let err = cms
        .replace("settings", &PostParams::default(), &obj)
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(e) => {
            assert_eq!(e.code, 409);
            assert_eq!(e.reason, "Conflict");
        }
        other => panic!("expected a 409, got {other}"),
    }
    obj.metadata.resource_version = Some(rv1);
    obj.data["data"]["mode"] = json!("safe");
    let replaced = cms
        .replace("settings", &PostParams::default(), &obj)
        .await
        .expect("replace");
    assert_eq!(replaced.data["data"]["mode"], "safe");

    // SSA: a second manager changing a field conflicts; force takes it.
    let deploy = |replicas: i64| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}})
    };
    let deps: Api<DynamicObject> =
        Api::namespaced_with(c.clone(), "default", &gvk("apps", "v1", "Deployment"));
    deps.patch(
        "web",
        &PatchParams::apply("berth"),
        &Patch::Apply(&deploy(2)),
    )
    .await
    .expect("ssa create");
    let err = deps
        .patch(
            "web",
            &PatchParams::apply("other"),
            &Patch::Apply(&deploy(4)),
        )
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(e) => {
            assert_eq!(e.code, 409);
            assert_eq!(
                e.message,
                "Apply failed with 1 conflict: conflict with \"berth\": .spec.replicas"
            );
        }
        other => panic!("expected a 409, got {other}"),
    }
    let forced = deps
        .patch(
            "web",
            &PatchParams::apply("other").force(),
            &Patch::Apply(&deploy(4)),
        )
        .await
        .expect("forced apply");
    assert_eq!(forced.data["spec"]["replicas"], 4);

    // List with label and field selectors.
    let l = cms
        .list(&ListParams::default().labels("app=shop"))
        .await
        .expect("list");
    assert_eq!(l.items.len(), 1);
    let l = cms
        .list(&ListParams::default().labels("app!=shop"))
        .await
        .expect("list");
    assert!(
        l.items
            .iter()
            .all(|o| o.metadata.name.as_deref() != Some("settings"))
    );
    let l = cms
        .list(&ListParams::default().fields("metadata.name=settings"))
        .await
        .expect("list");
    assert_eq!(l.items.len(), 1);
    let err = cms
        .list(&ListParams::default().fields("data.mode=x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref e) if e.code == 400),
        "{err}"
    );

    // Delete: 200 Status (Right) without finalizers.
    let r = cms
        .delete("settings", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(r.is_right());
    let err = cms.get("settings").await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref e) if e.code == 404 && e.message == "configmaps \"settings\" not found"),
        "{err}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_survives_410() {
    let sim = start().await;
    sim.set_watch_history(3);
    let c = client(&sim).await;
    let cms: Api<DynamicObject> =
        Api::namespaced_with(c.clone(), "default", &gvk("", "v1", "ConfigMap"));
    let secrets: Api<DynamicObject> =
        Api::namespaced_with(c.clone(), "default", &gvk("", "v1", "Secret"));
    let mut stream = watcher(cms.clone(), watcher::Config::default().timeout(1)).boxed();
    let mut inits = 0;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(ev) = stream.next().await {
            if tx.send(ev).is_err() {
                return;
            }
        }
    });
    // Wait for the first listing.
    loop {
        if let Ok(watcher::Event::InitDone) = rx.recv().await.expect("watcher event") {
            inits += 1;
            break;
        }
    }
    // Many unrelated writes push the watcher's resourceVersion out of the history, so its
    // next reconnect gets 410 Expired and it must relist.
    for i in 0..20 {
        let s: DynamicObject = serde_json::from_value(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": format!("s{i}")}}),
        )
        .unwrap();
        secrets
            .create(&PostParams::default(), &s)
            .await
            .expect("create secret");
    }
    let relisted = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(watcher::Event::InitDone) = rx.recv().await.expect("watcher event") {
                return;
            }
        }
    })
    .await;
    assert!(relisted.is_ok(), "watcher never relisted after 410");
    inits += 1;
    // And it keeps delivering afterwards.
    let cm: DynamicObject = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after-410"}}),
    )
    .unwrap();
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match rx.recv().await.expect("watcher event") {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o))
                    if o.metadata.name.as_deref() == Some("after-410") =>
                {
                    return;
                }
                _ => {}
            }
        }
    })
    .await;
    assert!(
        seen.is_ok(),
        "watcher did not see the object created after the 410"
    );
    assert!(inits >= 2);

    // The raw stream says 410 Expired for a resourceVersion older than the history.
    let http = common::Http::new(&sim);
    let r = http
        .client
        .get(format!(
            "{}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=2&timeoutSeconds=1",
            http.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let first: serde_json::Value = serde_json::from_str(r.lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "ERROR");
    assert_eq!(first["object"]["code"], 410);
    assert_eq!(first["object"]["reason"], "Expired");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_condition_sees_rollout() {
    let sim = start().await;
    let c = client(&sim).await;
    let deps: Api<DynamicObject> =
        Api::namespaced_with(c.clone(), "default", &gvk("apps", "v1", "Deployment"));
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}},
            "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "app", "image": "api:1"}]}}}});
    deps.patch("api", &PatchParams::apply("berth"), &Patch::Apply(&d))
        .await
        .expect("apply");
    let ready = eventually("deployment available", || async {
        let o = deps.get("api").await.ok()?;
        (o.data["status"]["availableReplicas"] == 3).then_some(o)
    })
    .await;
    let conds = ready.data["status"]["conditions"].as_array().unwrap();
    assert!(
        conds
            .iter()
            .any(|c| c["type"] == "Progressing" && c["reason"] == "NewReplicaSetAvailable")
    );
    assert_eq!(
        ready.data["status"]["observedGeneration"],
        ready.metadata.generation.unwrap()
    );
    let pods: Api<DynamicObject> =
        Api::namespaced_with(c.clone(), "default", &gvk("", "v1", "Pod"));
    let l = pods
        .list(&ListParams::default().labels("app=api"))
        .await
        .unwrap();
    assert_eq!(l.items.len(), 3);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_replicasets_beyond_the_revision_history_limit_are_deleted() {
    let sim = start().await;
    let c = client(&sim).await;
    let deps: Api<DynamicObject> =
        Api::namespaced_with(c.clone(), "default", &gvk("apps", "v1", "Deployment"));
    let rss: Api<DynamicObject> =
        Api::namespaced_with(c.clone(), "default", &gvk("apps", "v1", "ReplicaSet"));
    let apply = |version: usize, limit: Option<i64>| {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": format!("web:{version}")}]}}}});
        if let Some(l) = limit {
            d["spec"]["revisionHistoryLimit"] = json!(l);
        }
        d
    };
    // Thirteen rollouts, each waited for: the default limit keeps ten old ReplicaSets.
    for v in 1..=13 {
        deps.patch(
            "web",
            &PatchParams::apply("berth"),
            &Patch::Apply(&apply(v, None)),
        )
        .await
        .expect("apply");
        eventually("rollout complete", || async {
            let o = deps.get("web").await.ok()?;
            let done = o.data["status"]["updatedReplicas"] == 1
                && o.data["status"]["replicas"] == 1
                && o.data["status"]["availableReplicas"] == 1
                && o.data["status"]["observedGeneration"] == json!(o.metadata.generation);
            done.then_some(())
        })
        .await;
    }
    let names = |l: kube::core::ObjectList<DynamicObject>| {
        let mut v: Vec<i64> = l
            .items
            .iter()
            .filter_map(|r| {
                r.metadata.annotations.as_ref()?["deployment.kubernetes.io/revision"]
                    .parse()
                    .ok()
            })
            .collect();
        v.sort();
        v
    };
    let kept = eventually("old ReplicaSets cleaned up", || async {
        let revs = names(rss.list(&ListParams::default()).await.ok()?);
        (revs.len() == 11).then_some(revs)
    })
    .await;
    assert_eq!(
        kept,
        (3..=13).collect::<Vec<_>>(),
        "the oldest revisions go first"
    );
    // A lower limit applies on the next complete rollout.
    deps.patch(
        "web",
        &PatchParams::apply("berth"),
        &Patch::Apply(&apply(14, Some(2))),
    )
    .await
    .expect("apply");
    let kept = eventually("cleaned up to the new limit", || async {
        let revs = names(rss.list(&ListParams::default()).await.ok()?);
        (revs.len() == 3).then_some(revs)
    })
    .await;
    assert_eq!(kept, [12, 13, 14]);
    sim.shutdown().await;
}
