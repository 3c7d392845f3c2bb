//! The objects that run the console inside the cluster it manages (`berth console
//! --print-manifest`): a ServiceAccount, the Role and ClusterRole it needs, a Deployment of
//! berth's own image whose app directory an init container copies from the vendor's app
//! image, and a ClusterIP Service. docs/formats/console.md ("Running the console in the
//! cluster") explains each choice.

use serde_json::{Value, json};

/// The name of every object.
pub const NAME: &str = "berth-console";
/// The port the console listens on in its pod.
pub const PORT: u16 = 8443;
/// Where the app directory is in the console's container.
pub const APP_DIR: &str = "/berth/app";

/// What the manifest is made of.
#[derive(Debug, Clone)]
pub struct ManifestInput {
    /// The app's namespace (where the console and everything it manages live).
    pub namespace: String,
    /// berth's image (runs `/berth console`).
    pub image: String,
    /// An image holding the app directory (berth.yaml, charts, checks) at `/app`, with `sh`
    /// and `cp` (e.g. `FROM busybox` + `COPY hello/ /app/`).
    pub app_image: String,
    /// `--vendor-url` for the console, if any.
    pub vendor_url: Option<String>,
    /// `--snapshot-repo` for the console, if any (its password from the Secret
    /// `berth-console-snapshots`, key `BERTH_REPO_PASSWORD`).
    pub snapshot_repo: Option<String>,
    /// A `kubernetes.io/tls` Secret with the console's certificate (else self-signed).
    pub tls_secret: Option<String>,
}

fn labels() -> Value {
    json!({"app.kubernetes.io/name": NAME, "app.kubernetes.io/managed-by": "berth"})
}

/// The objects, in apply order.
pub fn objects(i: &ManifestInput) -> Vec<Value> {
    let ns = &i.namespace;
    let cluster_role = format!("{NAME}-{ns}");
    let md = |name: &str, namespaced: bool| {
        let mut m = json!({"name": name, "labels": labels()});
        if namespaced {
            m["namespace"] = json!(ns);
        }
        m
    };
    let mut args: Vec<String> = [
        "console",
        "-n",
        ns,
        "--app",
        APP_DIR,
        "--addr",
        &format!("0.0.0.0:{PORT}"),
        "--data-dir",
        "/berth/data",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(u) = &i.vendor_url {
        args.extend(["--vendor-url".into(), u.clone()]);
    }
    if let Some(r) = &i.snapshot_repo {
        args.extend(["--snapshot-repo".into(), r.clone()]);
    }
    let mut mounts = vec![
        json!({"name": "app", "mountPath": APP_DIR, "readOnly": true}),
        json!({"name": "data", "mountPath": "/berth/data"}),
        // Online upgrades fetch releases into temporary directories.
        json!({"name": "tmp", "mountPath": "/tmp"}),
    ];
    let mut volumes = vec![
        json!({"name": "app", "emptyDir": {}}),
        json!({"name": "data", "emptyDir": {}}),
        json!({"name": "tmp", "emptyDir": {}}),
    ];
    if let Some(t) = &i.tls_secret {
        args.extend([
            "--tls-cert".into(),
            "/berth/tls/tls.crt".into(),
            "--tls-key".into(),
            "/berth/tls/tls.key".into(),
        ]);
        mounts.push(json!({"name": "tls", "mountPath": "/berth/tls", "readOnly": true}));
        volumes.push(json!({"name": "tls", "secret": {"secretName": t}}));
    }
    let secret_env = |var: &str, secret: &str| json!({"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": var, "optional": true}}});
    let mut env = vec![
        secret_env("BERTH_CONSOLE_PASSWORD", "berth-console-password"),
        secret_env("BERTH_CONSOLE_VIEWER_PASSWORD", "berth-console-password"),
    ];
    if i.snapshot_repo.is_some() {
        for k in [
            "BERTH_REPO_PASSWORD",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            env.push(secret_env(k, "berth-console-snapshots"));
        }
    }
    let probe = json!({"httpGet": {"path": "/healthz", "port": PORT, "scheme": "HTTPS"},
        "periodSeconds": 10});
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": md(NAME, true)}),
        // Everything in the app's namespace: the console installs, upgrades and rolls back
        // whatever the app's charts hold there, runs preflight pods and mover Jobs, and keeps
        // its login Secret.
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": md(NAME, true),
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": md(NAME, true),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": ns}]}),
        // Cluster-wide reads the status, preflight checks and support bundles make (never
        // Secrets outside the namespace).
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": md(&cluster_role, false),
        "rules": [
            {"apiGroups": [""], "resources": ["nodes", "namespaces", "persistentvolumes"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses", "volumeattachments", "csidrivers"], "verbs": ["get", "list"]},
            {"apiGroups": ["networking.k8s.io"], "resources": ["ingressclasses"], "verbs": ["get", "list"]},
            {"apiGroups": ["scheduling.k8s.io"], "resources": ["priorityclasses"], "verbs": ["get", "list"]},
            {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["get", "list"]},
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles", "clusterrolebindings"], "verbs": ["get", "list"]},
            {"apiGroups": ["admissionregistration.k8s.io"], "resources": ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"], "verbs": ["get", "list"]},
            {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"], "verbs": ["get", "list"]}
        ]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": md(&cluster_role, false),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": ns}]}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": md(NAME, true),
            "spec": {"replicas": 1,
                // Sessions live in the console's memory: one replica, replaced not doubled.
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                "template": {"metadata": {"labels": labels()},
                    "spec": {"serviceAccountName": NAME,
                        "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"}},
                        "initContainers": [{"name": "app", "image": i.app_image,
                            "command": ["sh", "-c", format!("cp -R /app/. {APP_DIR}/")],
                            "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
                            "volumeMounts": [{"name": "app", "mountPath": APP_DIR}]}],
                        "containers": [{"name": "console", "image": i.image,
                            "command": ["/berth"], "args": args,
                            "env": env,
                            "ports": [{"name": "https", "containerPort": PORT}],
                            "readinessProbe": probe.clone(),
                            "livenessProbe": probe,
                            "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
                            "volumeMounts": mounts}],
                        "volumes": volumes}}}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": md(NAME, true),
            "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": NAME},
                "ports": [{"name": "https", "port": 443, "targetPort": PORT}]}}),
    ]
}

/// The objects as one YAML stream, with a header saying how to apply and reach it.
pub fn render(i: &ManifestInput) -> String {
    let mut out = format!(
        "# berth console for namespace {ns} (berth console --print-manifest).\n\
         # kubectl apply -f THIS_FILE, then: kubectl -n {ns} port-forward svc/{NAME} 8443:443\n\
         # The admin password: kubectl -n {ns} create secret generic berth-console-password \\\n\
         #   --from-literal=BERTH_CONSOLE_PASSWORD=… (else it is generated: kubectl -n {ns} logs deploy/{NAME}).\n\
         # Restores into other namespaces, and apps with cluster-scoped objects, need more rights:\n\
         #   see docs/formats/console.md, \"Running the console in the cluster\".\n",
        ns = i.namespace
    );
    for o in objects(i) {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&o).unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ManifestInput {
        ManifestInput {
            namespace: "shop".into(),
            image: "registry.example.com/berth/mover:1.0.0".into(),
            app_image: "registry.example.com/hello-console-app:1.0.0".into(),
            vendor_url: Some("https://updates.example.com".into()),
            snapshot_repo: Some("s3://backups/shop?region=eu".into()),
            tls_secret: Some("console-tls".into()),
        }
    }

    #[test]
    fn the_manifest_runs_the_console_with_its_own_account() {
        let objs = objects(&input());
        let kinds: Vec<&str> = objs.iter().filter_map(|o| o["kind"].as_str()).collect();
        assert_eq!(
            kinds,
            [
                "ServiceAccount",
                "Role",
                "RoleBinding",
                "ClusterRole",
                "ClusterRoleBinding",
                "Deployment",
                "Service"
            ]
        );
        let d = &objs[5];
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        let args: Vec<&str> = c["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for want in [
            "-n",
            "shop",
            "--app",
            APP_DIR,
            "--vendor-url",
            "https://updates.example.com",
            "--snapshot-repo",
            "--tls-cert",
        ] {
            assert!(args.contains(&want), "{want} in {args:?}");
        }
        assert_eq!(d["spec"]["template"]["spec"]["serviceAccountName"], NAME);
        // No secret value in the manifest: passwords come from Secrets by reference.
        let text = render(&input());
        assert!(!text.contains("value:"), "{text}");
        assert!(text.contains("secretKeyRef"), "{text}");
        // Cluster-wide reads never include Secrets.
        let cr = objs[3].to_string();
        assert!(!cr.contains("\"secrets\""), "{cr}");
        // The YAML stream parses back into the same objects.
        let docs: Vec<Value> = text
            .split("\n---\n")
            .skip(1)
            .map(|d| serde_saphyr::from_str(d).expect("yaml"))
            .collect();
        assert_eq!(docs, objs);
    }
}
