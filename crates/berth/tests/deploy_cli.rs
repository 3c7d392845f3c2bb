//! `berth install|diff|status|history|uninstall` as a user runs them, against the simulator.

use berth_kube_sim::{SimOptions, Simulator};
use std::path::Path;
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

fn hello() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/hello")
        .display()
        .to_string()
}

#[test]
fn config_problems_are_reported_all_at_once_before_any_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("values.yaml");
    std::fs::write(&cfg, "replicas: 0\nhostname: Not_A_Host\nreplicaz: 3\n").expect("values");
    // No cluster is needed to find these: the kubeconfig points nowhere.
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
    )
    .expect("kubeconfig");
    let out = berth(
        &["install", &hello(), "--config", &cfg.display().to_string()],
        &kc,
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("replicas") && t.contains("hostname") && t.contains("replicaz"),
        "{t}"
    );
    assert!(t.contains("3 problem(s)"), "{t}");
}

#[test]
fn a_missing_config_file_is_an_input_error_like_a_bad_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, "apiVersion: v1\nkind: Config\n").expect("kubeconfig");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "replicas: [\n").expect("values");
    for cfg in [dir.path().join("missing.yaml"), bad] {
        let out = berth(
            &["install", &hello(), "--config", &cfg.display().to_string()],
            &kc,
        );
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains(&cfg.display().to_string()), "{t}");
    }
}

#[test]
fn an_unreachable_cluster_is_named_with_its_url_and_context() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: ghost\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:{port}'}}\ncontexts:\n- name: ghost\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .expect("kubeconfig");
    let out = berth(&["status", "hello"], &kc);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains(&format!("https://127.0.0.1:{port}")) && t.contains("context ghost"),
        "{t}"
    );
    let missing = dir.path().join("nope");
    let out = berth(&["status", "hello"], &missing);
    let t = text(&out);
    assert!(t.contains(&missing.display().to_string()), "{t}");
    assert!(!t.contains("'\""), "no double-quoted path: {t}");
}

#[test]
fn install_status_history_diff_uninstall_on_the_simulator() {
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
    // No -n below: the namespace comes from the kubeconfig's current context, as in kubectl.
    std::fs::write(
        &kc,
        sim.kubeconfig_yaml()
            .replace("namespace: default", "namespace: hello"),
    )
    .expect("kubeconfig");

    let out = berth(&["install", &hello(), "--dry-run"], &kc);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("+ deployment/hello in namespace hello (create)"),
        "{t}"
    );
    assert!(
        t.contains("plan: 7 to create, 0 to update, 0 to prune, 0 unchanged"),
        "{t}"
    );

    let out = berth(&["install", &hello()], &kc);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("install of hello 1.0.0 in namespace hello succeeded (revision 1)"),
        "{t}"
    );

    let out = berth(&["status", "hello"], &kc);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("7/7 objects ready"), "{t}");

    // A changed config shows as a field diff of the objects it touches.
    let cfg = dir.path().join("values.yaml");
    std::fs::write(&cfg, "replicas: 3\n").expect("values");
    let out = berth(
        &["diff", &hello(), "--config", &cfg.display().to_string()],
        &kc,
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("~ deployment/hello in namespace hello (update)")
            && t.contains(".spec.replicas: 2 -> 3"),
        "{t}"
    );
    // Passwords never show: the generated database password is kept, so the Secret is unchanged.
    assert!(
        t.contains("= secret/hello-db in namespace hello (unchanged)"),
        "{t}"
    );

    let out = berth(&["history", "hello", "-o", "json"], &kc);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).expect("history json");
    assert_eq!(h[0]["status"], "deployed", "{h}");

    let out = berth(&["uninstall", "hello"], &kc);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("uninstalled hello from namespace hello"), "{t}");
    // "Not installed" has its own exit code (5), for status and history alike: it is
    // neither a usage error nor a success.
    let out = berth(&["status", "hello"], &kc);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    let out = berth(&["history", "hello"], &kc);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(5), "{t}");
    assert!(
        t.contains("hello is not installed in namespace hello"),
        "{t}"
    );
    drop(sim);
}

/// A kubeconfig for `sim` whose current context has namespace `ns`.
fn kubeconfig_in(sim: &Simulator, dir: &Path, ns: &str) -> std::path::PathBuf {
    let kc = dir.join("kubeconfig");
    std::fs::write(
        &kc,
        sim.kubeconfig_yaml()
            .replace("namespace: default", &format!("namespace: {ns}")),
    )
    .expect("kubeconfig");
    kc
}

#[test]
fn namespace_defaults_to_the_context_and_not_installed_says_where_the_app_is() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(Simulator::start(SimOptions::default()))
        .expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = kubeconfig_in(&sim, dir.path(), "shop");

    // Without -n: the context's namespace (shop), not the app's name (hello).
    let out = berth(&["install", &hello(), "--timeout", "60s"], &kc);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("install of hello 1.0.0 in namespace shop succeeded"),
        "{t}"
    );

    // Looking in the wrong namespace says where the app is instead of advising an install
    // (which would make a second copy).
    for args in [
        vec!["status", "hello", "-n", "prod"],
        vec!["upgrade", hello().as_str(), "-n", "prod"],
        vec!["rollback", "hello", "-n", "prod"],
    ] {
        let out = berth(&args, &kc);
        let t = text(&out);
        // not installed here: exit code 5 (crate::exit), with where it is installed
        assert_eq!(out.status.code(), Some(5), "{args:?}: {t}");
        assert!(
            t.contains("hello is not installed in namespace prod; hello is installed in namespace shop; pass -n shop"),
            "{args:?}: {t}"
        );
        assert!(!t.contains("berth install"), "{args:?}: {t}");
    }
    let out = berth(&["uninstall", "hello", "-n", "prod"], &kc);
    let t = text(&out);
    assert!(t.contains("pass -n shop"), "{t}");
    assert!(!t.contains("berth install"), "{t}");

    // Gone everywhere: uninstall says so, without suggesting an install.
    let out = berth(&["uninstall", "hello"], &kc);
    assert!(out.status.success(), "{}", text(&out));
    let out = berth(&["uninstall", "hello"], &kc);
    let t = text(&out);
    assert_eq!(
        out.status.code(),
        Some(5),
        "not installed (crate::exit): {t}"
    );
    assert!(
        t.contains("hello is not installed in namespace shop; nothing to uninstall"),
        "{t}"
    );
    assert!(!t.contains("install it"), "{t}");
    drop(sim);
}

#[test]
fn values_alias_and_set_flags_feed_config_items() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(Simulator::start(SimOptions::default()))
        .expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = kubeconfig_in(&sim, dir.path(), "hello");
    let values = dir.path().join("config.yaml");
    std::fs::write(&values, "replicas: 5\ngreeting: from the file\n").expect("values");
    let greeting = dir.path().join("greeting.txt");
    std::fs::write(&greeting, "from a file").expect("greeting");

    // --values is -f; --set wins over the file; --set-string and --set-file feed text items.
    let v = values.display().to_string();
    let gf = format!("greeting={}", greeting.display());
    let flags = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "--values",
            &v,
            "--set-string",
            "hostname=shop.example.com",
            "--set-file",
            &gf,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |cmd: &str, extra: &[&str]| {
        let mut args = vec![cmd.to_string(), hello()];
        args.extend(flags(extra));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        berth(&args, &kc)
    };
    let out = run("install", &["--set", "replicas=3", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    // The same flags change nothing.
    let out = run("diff", &["--set", "replicas=3"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("0 to create, 0 to update"), "{t}");
    // Without --set, the file's replicas (5) applies: so --set had overridden it.
    let out = run("diff", &[]);
    let t = text(&out);
    assert!(t.contains(".spec.replicas: 3 -> 5"), "{t}");
    // And the --set-string hostname was used: a later one wins and shows in the Ingress.
    let out = run(
        "upgrade",
        &[
            "--set",
            "replicas=3",
            "--set-string",
            "hostname=www.example.com",
            "--dry-run",
        ],
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("ingress/hello in namespace hello (update)"),
        "{t}"
    );

    // A --set value is checked like a file value.
    let out = berth(
        &["install", &hello(), "--set", "replicas=0", "--dry-run"],
        &kc,
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("`replicas`") && t.contains("--set"), "{t}");

    // Unknown keys: one suggestion per key (replicaCount -> replicas), the list of items once.
    let out = berth(
        &[
            "install",
            &hello(),
            "--set",
            "replicaCount=3,zzzqqq=1,xxyyww=2",
            "--dry-run",
        ],
        &kc,
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("config item `replicaCount`: is not a config item of this application (did you mean `replicas`?)"),
        "{t}"
    );
    assert_eq!(t.matches("known items:").count(), 1, "{t}");
    assert!(t.contains("3 problem(s)"), "{t}");
    drop(sim);
}

#[test]
fn expose_objects_are_reported_and_belong_to_the_revision() {
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
    sim.write_kubeconfig(&kc).expect("kubeconfig");
    let app = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/expose")
        .display()
        .to_string();
    let out = berth(&["install", &app, "-n", "demo", "--dry-run"], &kc);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("expose web: nginx (default IngressClass nginx (controller k8s.io/ingress-nginx)) → Ingress/web"),
        "{t}"
    );
    assert!(
        t.contains("+ ingress/web in namespace demo (create)"),
        "{t}"
    );
    let out = berth(&["install", &app, "-n", "demo"], &kc);
    assert!(out.status.success(), "{}", text(&out));
    let out = berth(&["status", "expose-demo", "-n", "demo"], &kc);
    let t = text(&out);
    assert!(t.contains("ingress/web"), "{t}");
    let ingress = || {
        rt.block_on(async {
            reqwest::Client::new()
                .get(format!(
                    "{}/apis/networking.k8s.io/v1/namespaces/demo/ingresses/web",
                    sim.url()
                ))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok()
        })
    };
    // The generated Ingress belongs to the revision: an upgrade to flavour none prunes it,
    // a rollback brings it back, uninstall removes it.
    let out = berth(
        &[
            "upgrade",
            &app,
            "-n",
            "demo",
            "--set",
            "ingress_flavour=none",
        ],
        &kc,
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("expose web: flavour none, nothing exposed"),
        "{t}"
    );
    assert_eq!(ingress(), Some(404));
    let out = berth(&["rollback", "expose-demo", "-n", "demo"], &kc);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(ingress(), Some(200));
    let out = berth(&["uninstall", "expose-demo", "-n", "demo"], &kc);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(ingress(), Some(404));
}
