//! `pods/exec` with real kubectl (BERTH_TEST_KUBECTL) over WebSocket: the command runs as a
//! host process in a bubblewrap sandbox with the pod's claim at its mount path, so what it
//! writes lands in the volume's directory; exit codes, stdin and the API's refusals.

mod common;
use common::{Kubectl, eventually, program_on_path, start};

const POD: &str = r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: db, labels: {app: db}}
spec:
  containers:
  - name: postgres
    image: postgres:16
    workingDir: /var/lib/berth-exec-test/data
    env: [{name: GREETING, value: hello from the pod}]
    volumeMounts: [{name: data, mountPath: /var/lib/berth-exec-test/data}]
  - name: sidecar
    image: busybox:1.36
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_writes_into_the_pods_volume_and_reports_exit_codes() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    if program_on_path("bwrap").is_none() {
        return;
    }
    k.ok_stdin(&["apply", "-f", "-"], POD).await;
    eventually("pod db running", || async {
        let o = k
            .run(&["get", "pod", "db", "-o", "jsonpath={.status.phase}"])
            .await;
        (o.stdout == "Running").then_some(())
    })
    .await;
    let pv = k
        .ok(&["get", "pvc", "data", "-o", "jsonpath={.spec.volumeName}"])
        .await;
    let pv_json = k.json(&["get", "pv", &pv]).await;
    let dir = berth_kube_sim::volume_dir(&pv_json).expect("the claim's volume directory");

    // The command writes into the mount path (which does not exist on the host) with the
    // container's env and working directory; the file is in the volume's directory.
    let out = k
        .ok(&[
            "exec",
            "db",
            "-c",
            "postgres",
            "--",
            "sh",
            "-c",
            "echo \"$GREETING\" > dump.txt && pwd && cat /var/lib/berth-exec-test/data/dump.txt",
        ])
        .await;
    assert_eq!(
        out, "/var/lib/berth-exec-test/data\nhello from the pod\n",
        "{out}"
    );
    let written = std::fs::read_to_string(dir.join("dump.txt")).expect("dump.txt in the volume");
    assert_eq!(written, "hello from the pod\n");
    assert!(
        !std::path::Path::new("/var/lib/berth-exec-test").exists(),
        "the sandbox created the mount path on the host"
    );

    // What is on the volume is read back through the mount path.
    std::fs::write(dir.join("from-host.txt"), "written on the host\n").expect("write");
    let out = k
        .ok(&[
            "exec",
            "db",
            "-c",
            "postgres",
            "--",
            "cat",
            "/var/lib/berth-exec-test/data/from-host.txt",
        ])
        .await;
    assert_eq!(out, "written on the host\n");

    // stdin reaches the command and its end closes the command's stdin.
    let o = k
        .run_stdin(
            &[
                "exec",
                "-i",
                "db",
                "-c",
                "postgres",
                "--",
                "sh",
                "-c",
                "cat > in.txt; wc -c < in.txt",
            ],
            Some("twelve bytes"),
        )
        .await;
    assert_eq!((o.code, o.stdout.trim()), (0, "12"), "{}", o.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("in.txt")).expect("in.txt"),
        "twelve bytes"
    );

    // stderr is kept apart and a non-zero exit code is kubectl's.
    let o = k
        .run(&[
            "exec",
            "db",
            "-c",
            "postgres",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ])
        .await;
    assert_eq!(o.code, 3, "{} {}", o.stdout, o.stderr);
    assert_eq!(o.stdout, "out\n");
    assert!(o.stderr.contains("err\n"), "{}", o.stderr);
    assert!(
        o.stderr.contains("command terminated with exit code 3"),
        "{}",
        o.stderr
    );

    // The API's refusals, worded as a real cluster's.
    let err = k.fails(&["exec", "db", "-c", "nope", "--", "true"]).await;
    assert!(
        err.contains("container nope is not valid for pod db"),
        "{err}"
    );
    let err = k.fails(&["exec", "missing", "--", "true"]).await;
    assert!(err.contains(r#"pods "missing" not found"#), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_into_a_container_that_is_not_running_is_refused() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    let job = r#"
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  restartPolicy: Never
  containers: [{name: work, image: busybox:1.36}]
"#;
    k.ok_stdin(&["apply", "-f", "-"], job).await;
    eventually("pod once succeeded", || async {
        let o = k
            .run(&["get", "pod", "once", "-o", "jsonpath={.status.phase}"])
            .await;
        (o.stdout == "Succeeded").then_some(())
    })
    .await;
    // kubectl refuses a completed pod itself; the API answers a raw request as the kubelet
    // does.
    let err = k.fails(&["exec", "once", "--", "true"]).await;
    assert!(
        err.contains("cannot exec into a container in a completed pod"),
        "{err}"
    );
    let url = format!(
        "{}/api/v1/namespaces/default/pods/once/exec?command=true&stdout=true&container=work",
        sim.url()
    );
    let resp = reqwest::Client::new()
        .post(&url)
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Protocol", "v5.channel.k8s.io")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 500);
    assert_eq!(
        resp.text().await.expect("body"),
        "container not found (\"work\")"
    );

    // A pod no node takes has no host to run anything on.
    let unschedulable = r#"
apiVersion: v1
kind: Pod
metadata: {name: nowhere}
spec:
  nodeSelector: {berth.dev/no-such-node: "true"}
  containers: [{name: work, image: busybox:1.36}]
"#;
    k.ok_stdin(&["apply", "-f", "-"], unschedulable).await;
    eventually("pod nowhere unschedulable", || async {
        let o = k
            .run(&[
                "get",
                "pod",
                "nowhere",
                "-o",
                "jsonpath={.status.conditions[?(@.type=='PodScheduled')].reason}",
            ])
            .await;
        (o.stdout == "Unschedulable").then_some(())
    })
    .await;
    let err = k.fails(&["exec", "nowhere", "--", "true"]).await;
    assert!(
        err.contains("pod nowhere does not have a host assigned"),
        "{err}"
    );
}

/// One exec over a raw WebSocket offering only `protocol`: the binary messages received, as
/// (channel, bytes), until the server closes.
async fn raw_exec(
    sim: &berth_kube_sim::Simulator,
    query: &str,
    protocol: &str,
) -> Vec<(u8, Vec<u8>)> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!(
        "{}/api/v1/namespaces/default/pods/db/exec?{query}",
        sim.url().replacen("http", "ws", 1)
    );
    let mut req = url.into_client_request().expect("request");
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        protocol.parse().expect("header value"),
    );
    let (mut ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("WebSocket upgrade");
    assert_eq!(
        resp.headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok()),
        Some(protocol)
    );
    let mut got = Vec::new();
    while let Some(m) = ws.next().await {
        match m.expect("message") {
            Message::Binary(b) if !b.is_empty() => got.push((b[0], b[1..].to_vec())),
            Message::Close(_) => break,
            _ => {}
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_v4_channel_protocol_carries_output_and_the_exit_status() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    if program_on_path("bwrap").is_none() {
        return;
    }
    k.ok_stdin(&["apply", "-f", "-"], POD).await;
    eventually("pod db running", || async {
        let o = k
            .run(&["get", "pod", "db", "-o", "jsonpath={.status.phase}"])
            .await;
        (o.stdout == "Running").then_some(())
    })
    .await;
    let got = raw_exec(
        &sim,
        "command=sh&command=-c&command=echo+out%3B+echo+err+%3E%262%3B+exit+2&container=postgres&stdout=true&stderr=true",
        "v4.channel.k8s.io",
    )
    .await;
    let channel = |c: u8| -> Vec<u8> {
        got.iter()
            .filter(|(ch, _)| *ch == c)
            .flat_map(|(_, b)| b.clone())
            .collect()
    };
    assert_eq!(channel(1), b"out\n");
    assert_eq!(channel(2), b"err\n");
    let status: serde_json::Value = serde_json::from_slice(&channel(3)).expect("a Status");
    assert_eq!(status["status"], "Failure", "{status}");
    assert_eq!(status["reason"], "NonZeroExitCode", "{status}");
    assert_eq!(
        status["details"]["causes"][0],
        serde_json::json!({"reason": "ExitCode", "message": "2"})
    );
    // The status is the last message.
    assert_eq!(got.last().map(|(c, _)| *c), Some(3));

    // Without a WebSocket upgrade (SPDY) the request is refused, naming what is served.
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/namespaces/default/pods/db/exec?command=true&stdout=true&container=postgres",
            sim.url()
        ))
        .header("Connection", "Upgrade")
        .header("Upgrade", "SPDY/3.1")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    let body = resp.text().await.expect("body");
    assert!(
        body.contains("v5.channel.k8s.io or v4.channel.k8s.io"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_of_berths_image_runs_the_berth_binary_with_mount_paths_mapped() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    // Any program stands in for the berth binary: `sh`, so the arguments show what it got.
    let sh = program_on_path("sh").expect("sh");
    sim.set_mover_bin(Some(sh));
    let pod = r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: mover-data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: mover}
spec:
  containers:
  - name: berth
    image: registry.berth.dev/berth/mover:1.0.0
    env: [{name: WHO, value: berth}]
    volumeMounts: [{name: data, mountPath: /berth/volume}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: mover-data}
"#;
    k.ok_stdin(&["apply", "-f", "-"], pod).await;
    eventually("pod mover running", || async {
        let o = k
            .run(&["get", "pod", "mover", "-o", "jsonpath={.status.phase}"])
            .await;
        (o.stdout == "Running").then_some(())
    })
    .await;
    let out = k
        .ok(&[
            "exec",
            "mover",
            "--",
            "/berth",
            "-c",
            "echo \"$WHO\" > \"$1\"; echo done",
            "sh",
            "/berth/volume/marker",
        ])
        .await;
    assert_eq!(out, "done\n");
    let pv = k
        .ok(&[
            "get",
            "pvc",
            "mover-data",
            "-o",
            "jsonpath={.spec.volumeName}",
        ])
        .await;
    let dir = berth_kube_sim::volume_dir(&k.json(&["get", "pv", &pv]).await).expect("volume dir");
    assert_eq!(
        std::fs::read_to_string(dir.join("marker")).expect("marker in the volume"),
        "berth\n"
    );
}
