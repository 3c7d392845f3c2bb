//! The demo's drift step: change the simulated cluster under the installed app — a node's
//! kernel and the default StorageClass, through their API objects as an admin's tools would —
//! then show `berth drift` naming both.

use anyhow::{Result, anyhow};
use berth_deploy::engine::{Options, Quiet};
use berth_deploy::{Cluster, ConnectOptions, Engine};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

async fn send(cluster: &Cluster, method: &str, path: &str, ctype: &str, body: Value) -> Result<()> {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", ctype)
        .body(serde_json::to_vec(&body)?)?;
    cluster
        .client()
        .request::<Value>(req)
        .await
        .map_err(|e| anyhow!("{method} {path}: {e}"))?;
    Ok(())
}

/// The step: upgrade a node's kernel, move the default StorageClass, run drift.
pub async fn demo_step(kubeconfig: PathBuf, namespace: String) -> Result<String> {
    let cluster = Arc::new(
        Cluster::connect(&ConnectOptions {
            kubeconfig: Some(kubeconfig),
            context: None,
        })
        .await?,
    );
    let nodes = cluster.list("v1", "Node", "", None).await?;
    let node = nodes
        .first()
        .and_then(|n| n.pointer("/metadata/name").and_then(Value::as_str))
        .ok_or_else(|| anyhow!("the simulated cluster has no node"))?
        .to_string();
    let old_kernel = nodes[0]
        .pointer("/status/nodeInfo/kernelVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let merge = "application/merge-patch+json";
    // An unattended upgrade rebooted the node into a new kernel...
    send(
        &cluster,
        "PATCH",
        &format!("/api/v1/nodes/{node}/status"),
        merge,
        json!({"status": {"nodeInfo": {"kernelVersion": "6.12.9+bpo-amd64"}}}),
    )
    .await?;
    // ...and the storage team made a new class the default.
    for sc in cluster
        .list("storage.k8s.io/v1", "StorageClass", "", None)
        .await?
    {
        let name = sc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        send(
            &cluster,
            "PATCH",
            &format!("/apis/storage.k8s.io/v1/storageclasses/{name}"),
            merge,
            json!({"metadata": {"annotations": {"storageclass.kubernetes.io/is-default-class": "false"}}}),
        )
        .await?;
    }
    send(
        &cluster,
        "POST",
        "/apis/storage.k8s.io/v1/storageclasses",
        "application/json",
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "fast-ssd", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "ebs.csi.aws.com"}),
    )
    .await?;
    let engine = Engine::new(
        cluster.clone(),
        Options {
            namespace: namespace.clone(),
            ..Options::default()
        },
        Arc::new(Quiet),
    );
    let app = namespace.clone();
    let history = engine.revisions(&app).await?;
    let d = berth_deploy::baseline::drift(&cluster, &history, false)
        .await
        .ok_or_else(|| anyhow!("no revision of {app} carries a baseline"))?;
    Ok(format!(
        "(node/{node}: kernel {old_kernel} → 6.12.9+bpo-amd64; default StorageClass → fast-ssd)\n$ berth drift -n {namespace}\n{app} in namespace {namespace}: compared with revision {}\n{}",
        d.since,
        d.report.render()
    ))
}
