//! `pods/{name}/exec`: the API server's checks and refusals, the WebSocket channel protocol
//! (`v5.channel.k8s.io`, `v4.channel.k8s.io`) and the command run as a host process — the
//! berth binary for containers of berth's own image, any other command inside a bubblewrap
//! sandbox in which the pod's volumes appear at their mount paths. Everything here is
//! described in docs/formats/sim-profile.md (section 15).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use crate::Shared;
use crate::api::ResReq;
use crate::status::ApiError;
use crate::store::Store;
use crate::volumes::{self, is_mover_image};

/// The most stdout and stderr one exec may send, together.
const OUTPUT_CAP: u64 = 64 * 1024 * 1024;
/// How long one exec may run.
const TIME_LIMIT: Duration = Duration::from_secs(3600);
/// The sandbox tool.
const BWRAP: &str = "bwrap";
/// The channel protocols served, in the order they are preferred.
const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];
/// The environment's `PATH` in the sandbox.
const SANDBOX_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The query of an exec request.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ExecRequest {
    pub command: Vec<String>,
    pub container: Option<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl ExecRequest {
    /// Reads the query: `command` repeated (one per argument), the flags `true`/`1`.
    pub fn parse(query: Option<&str>) -> ExecRequest {
        let mut r = ExecRequest::default();
        let flag = |v: &str| v == "true" || v == "1";
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "command" => r.command.push(v.into_owned()),
                "container" if !v.is_empty() => r.container = Some(v.into_owned()),
                "stdin" => r.stdin = flag(&v),
                "stdout" => r.stdout = flag(&v),
                "stderr" => r.stderr = flag(&v),
                "tty" => r.tty = flag(&v),
                _ => {}
            }
        }
        r
    }
}

/// Serves one exec request: checks it as the API server and kubelet do, then upgrades the
/// connection and runs the command.
pub async fn serve(sh: &Arc<Shared>, rr: &ResReq, name: &str, parts: &mut Parts) -> Response {
    let req = ExecRequest::parse(parts.uri.query());
    let ns = rr.ns.clone().unwrap_or_default();
    let checked = {
        let store = sh.read();
        match store.get(&rr.rt.storage_key(), &ns, name) {
            None => Err(ApiError::not_found(&rr.rt, name).into_response()),
            Some(pod) => match check(&pod, &req) {
                Ok(c) => {
                    let launch = prepare(sh, &store, &pod, &c, &req);
                    Ok((pod, launch))
                }
                Err(r) => Err(r.into_response()),
            },
        }
    };
    let (pod, launch) = match checked {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let protocol = match negotiate(&parts.headers) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
        return ApiError::bad_request("the connection cannot be upgraded").into_response();
    };
    let key = parts
        .headers
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| derive_accept_key(k.as_bytes()))
        .unwrap_or_default();
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
    let mut stop = sh.shutdown.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        let session = Session {
            ws,
            v5: protocol == PROTOCOLS[0],
            req,
            pod: pod_name,
        };
        tokio::select! {
            () = session.run(launch) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header(header::SEC_WEBSOCKET_ACCEPT, key)
        .header(header::SEC_WEBSOCKET_PROTOCOL, protocol)
        .body(Body::empty())
        .unwrap_or_default()
}

/// Why an exec is refused before it starts.
pub(crate) enum Refusal {
    /// The API server's answer.
    Api(ApiError),
    /// The kubelet's answer for a container that does not run (plain text, 500).
    NotRunning(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Api(e) => e.into_response(),
            Refusal::NotRunning(c) => Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(Body::from(format!("container not found (\"{c}\")")))
                .unwrap_or_default(),
        }
    }
}

/// The API server's and kubelet's refusals, in their order; the container to run in.
pub(crate) fn check(pod: &Value, req: &ExecRequest) -> Result<Value, Refusal> {
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    let bad = |m: String| Err(Refusal::Api(ApiError::bad_request(m)));
    if !req.stdin && !req.stdout && !req.stderr {
        return bad("you must specify at least 1 of stdin, stdout, stderr".into());
    }
    if req.command.is_empty() {
        return bad("you must specify at least 1 command".into());
    }
    let names = |key: &str| -> Vec<String> {
        volumes::strings(&Value::Array(
            pod["spec"][key]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c["name"].clone())
                .collect(),
        ))
    };
    let (main, init) = (names("containers"), names("initContainers"));
    let cname = match &req.container {
        Some(c) => c.clone(),
        None if main.len() == 1 => main[0].clone(),
        None => {
            let mut m = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                main.join(" ")
            );
            if !init.is_empty() {
                m.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            return bad(m);
        }
    };
    let container = ["containers", "initContainers"]
        .iter()
        .flat_map(|k| pod["spec"][*k].as_array().into_iter().flatten())
        .find(|c| c["name"] == cname.as_str())
        .cloned();
    let Some(container) = container else {
        return bad(format!("container {cname} is not valid for pod {name}"));
    };
    if pod["spec"]["nodeName"].as_str().unwrap_or("").is_empty() {
        return bad(format!("pod {name} does not have a host assigned"));
    }
    let running = ["containerStatuses", "initContainerStatuses"]
        .iter()
        .flat_map(|k| pod["status"][*k].as_array().into_iter().flatten())
        .any(|s| s["name"] == cname.as_str() && s["state"]["running"].is_object());
    if !running {
        return Err(Refusal::NotRunning(cname));
    }
    Ok(container)
}

/// The channel protocol: the first of the served ones the client offers.
fn negotiate(headers: &HeaderMap) -> Result<&'static str, ApiError> {
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let served = || {
        format!(
            "the simulator serves exec over WebSocket with {} only (kubectl 1.30 or later); this request asked for `{upgrade}`",
            PROTOCOLS.join(" or ")
        )
    };
    if !upgrade.eq_ignore_ascii_case("websocket")
        || !headers.contains_key(header::SEC_WEBSOCKET_KEY)
    {
        return Err(ApiError::bad_request(served()));
    }
    let offered: Vec<String> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .collect();
    PROTOCOLS
        .iter()
        .find(|p| offered.iter().any(|o| o == *p))
        .copied()
        .ok_or_else(|| ApiError::bad_request(served()))
}

/// A volume bound into the sandbox.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bind {
    /// The mount path in the sandbox (absolute, no trailing slash).
    pub path: String,
    /// The host directory.
    pub dir: PathBuf,
    pub read_only: bool,
}

/// The command to run (its failure to start is sent on the error channel).
fn prepare(
    sh: &Shared,
    store: &Store,
    pod: &Value,
    container: &Value,
    req: &ExecRequest,
) -> Result<Command, String> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let env = volumes::env(store, ns, container)?;
    if is_mover_image(container["image"].as_str().unwrap_or("")) {
        return prepare_berth(sh, store, pod, container, req, env);
    }
    let binds = binds(sh, store, pod, container)?;
    let bwrap = sandbox_tool(std::env::var_os("PATH"))?;
    let workdir = container["workingDir"]
        .as_str()
        .filter(|w| w.starts_with('/'))
        .unwrap_or("/");
    let mut cmd = Command::new(bwrap);
    cmd.args(sandbox_args(Path::new("/"), &binds, workdir))
        .arg("--")
        .args(&req.command)
        .env_clear()
        .env("PATH", SANDBOX_PATH)
        .env("HOSTNAME", pod["metadata"]["name"].as_str().unwrap_or(""))
        .env("HOME", "/root")
        .envs(env);
    Ok(cmd)
}

/// A container of berth's image: the berth binary, as the kubelet runs it (section 12).
fn prepare_berth(
    sh: &Shared,
    store: &Store,
    pod: &Value,
    container: &Value,
    req: &ExecRequest,
    env: Vec<(String, String)>,
) -> Result<Command, String> {
    let bin = sh.volumes.mover_bin().ok_or_else(|| {
        format!(
            "berth-sim: no berth binary to run berth's image; set {}",
            crate::MOVER_BIN_ENV
        )
    })?;
    let mounts = volumes::mounts(store, pod, container)?;
    let work = sh.volumes.root().join(".work");
    let _ = std::fs::create_dir_all(&work);
    let kubeconfig = sh.volumes.pod_kubeconfig(pod, &work)?;
    let mut cmd = Command::new(bin);
    cmd.args(
        req.command
            .iter()
            .skip(1)
            .map(|a| volumes::map_path(a, &mounts)),
    )
    .env_clear()
    .env("PATH", "/usr/local/bin:/usr/bin:/bin")
    .env("HOME", &work)
    .env("KUBECONFIG", kubeconfig)
    .envs(env)
    .current_dir(&work);
    Ok(cmd)
}

/// The container's volumeMounts that can be given: claims, hostPath and emptyDir volumes.
fn binds(sh: &Shared, store: &Store, pod: &Value, container: &Value) -> Result<Vec<Bind>, String> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("pod");
    let mut out = Vec::new();
    for m in container["volumeMounts"].as_array().into_iter().flatten() {
        let vname = m["name"].as_str().unwrap_or("");
        let path = m["mountPath"].as_str().unwrap_or("").trim_end_matches('/');
        if !path.starts_with('/') {
            continue;
        }
        let vol = pod["spec"]["volumes"]
            .as_array()
            .and_then(|a| a.iter().find(|v| v["name"] == vname))
            .ok_or_else(|| format!("berth-sim: volumeMount {vname} names no volume of the pod"))?;
        let mut dir = if let Some(claim) = vol["persistentVolumeClaim"]["claimName"].as_str() {
            volumes::claim_dir(store, ns, claim)?
        } else if let Some(p) = vol["hostPath"]["path"].as_str() {
            PathBuf::from(p)
        } else if vol["emptyDir"].is_object() {
            let d = sh.volumes.root().join(".emptydir").join(uid).join(vname);
            std::fs::create_dir_all(&d).map_err(|e| format!("berth-sim: {}: {e}", d.display()))?;
            d
        } else {
            continue;
        };
        if let Some(sub) = m["subPath"].as_str().filter(|s| !s.is_empty()) {
            if sub.starts_with('/') || sub.split('/').any(|c| c == "..") {
                return Err(format!(
                    "berth-sim: volumeMount {vname}: subPath {sub} leaves the volume"
                ));
            }
            dir = dir.join(sub);
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("berth-sim: {}: {e}", dir.display()))?;
        }
        out.push(Bind {
            path: path.to_string(),
            dir,
            read_only: m["readOnly"] == true,
        });
    }
    Ok(out)
}

/// bubblewrap's arguments: a new root in which the host's entries are bound at their paths,
/// except the directories on the way to a mount path, which are new directories holding the
/// host's entries one by one, so nothing is created on the host; then each volume at its
/// mount path, a new `/proc` and the working directory.
pub(crate) fn sandbox_args(host_root: &Path, binds: &[Bind], workdir: &str) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["--unshare-pid", "--die-with-parent", "--proc", "/proc"]
        .iter()
        .map(OsString::from)
        .collect();
    let mut sorted: Vec<&Bind> = binds.iter().collect();
    sorted.sort_by_key(|b| b.path.matches('/').count());
    layout(host_root, "", &sorted, &mut args);
    args.extend([OsString::from("--chdir"), OsString::from(workdir)]);
    args
}

/// Lays out the sandbox directory `at` ("" for the root), a new directory of the sandbox.
fn layout(host_root: &Path, at: &str, binds: &[&Bind], args: &mut Vec<OsString>) {
    let below = |b: &&Bind| b.path.starts_with(&format!("{at}/"));
    let inside: Vec<&Bind> = binds.iter().copied().filter(below).collect();
    // The first component below `at` of each mount path inside it.
    let mut ways: Vec<String> = inside
        .iter()
        .filter_map(|b| b.path[at.len() + 1..].split('/').next().map(String::from))
        .collect();
    ways.sort();
    ways.dedup();
    let host_dir = host_root.join(at.trim_start_matches('/'));
    let mut entries: Vec<(String, std::fs::FileType)> = std::fs::read_dir(&host_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.file_type().ok()?)))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, ft) in entries {
        if ways.contains(&name) || (at.is_empty() && name == "proc") {
            continue;
        }
        let path = format!("{at}/{name}");
        let host = host_dir.join(&name);
        if ft.is_symlink() {
            if let Ok(target) = std::fs::read_link(&host) {
                args.extend([OsString::from("--symlink"), target.into_os_string()]);
                args.push(OsString::from(&path));
            }
        } else {
            args.extend([OsString::from("--dev-bind"), host.into_os_string()]);
            args.push(OsString::from(&path));
        }
    }
    for w in ways {
        let path = format!("{at}/{w}");
        if let Some(b) = inside.iter().find(|b| b.path == path) {
            // The volume, then any mount path inside it (created in the volume, as the
            // kubelet does).
            let bind = |b: &Bind, args: &mut Vec<OsString>| {
                let flag = if b.read_only { "--ro-bind" } else { "--bind" };
                args.extend([OsString::from(flag), b.dir.clone().into_os_string()]);
                args.push(OsString::from(&b.path));
            };
            bind(b, args);
            for nested in inside
                .iter()
                .filter(|n| n.path.starts_with(&format!("{path}/")))
            {
                bind(nested, args);
            }
        } else {
            args.extend([OsString::from("--dir"), OsString::from(&path)]);
            let rest: Vec<&Bind> = inside
                .iter()
                .copied()
                .filter(|b| b.path.starts_with(&format!("{path}/")))
                .collect();
            layout(host_root, &path, &rest, args);
        }
    }
}

/// bubblewrap on `path` (the simulator's `PATH`), or the error that names it and its package.
pub(crate) fn sandbox_tool(path: Option<OsString>) -> Result<PathBuf, String> {
    let path = path.unwrap_or_else(|| OsString::from(SANDBOX_PATH));
    std::env::split_paths(&path)
        .map(|d| d.join(BWRAP))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "berth-sim: exec needs bubblewrap (`{BWRAP}`) on the simulator's host to show the pod's volumes at their mount paths; install it (Debian/Ubuntu: apt-get install bubblewrap)"
            )
        })
}

type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// One upgraded exec connection.
struct Session {
    ws: Ws,
    v5: bool,
    req: ExecRequest,
    pod: String,
}

/// How a command ended.
enum Ending {
    Exit(i32),
    Failure(String),
    /// The client went away: nothing more is sent.
    Gone,
}

impl Session {
    async fn run(mut self, launch: Result<Command, String>) {
        let ending = match launch {
            Err(msg) => Ending::Failure(msg),
            Ok(cmd) => self.run_command(cmd).await,
        };
        let status = match ending {
            Ending::Gone => return,
            Ending::Exit(0) => json!({"metadata": {}, "status": "Success"}),
            Ending::Exit(code) => json!({"metadata": {}, "status": "Failure",
                "message": format!("command terminated with non-zero exit code: error executing command [{}], exit code {code}", self.req.command.join(" ")),
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}}),
            Ending::Failure(msg) => json!({"metadata": {}, "status": "Failure",
                "message": msg, "reason": "InternalError"}),
        };
        let mut frame = vec![3u8];
        frame.extend(serde_json::to_vec(&status).unwrap_or_default());
        let _ = self.ws.send(Message::Binary(frame.into())).await;
        // A normal closure (1000): clients take a close without a code (1005) as an error.
        let normal = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        let _ = self.ws.close(Some(normal)).await;
        // Let the client read the close and answer it.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }

    async fn run_command(&mut self, mut cmd: Command) -> Ending {
        use std::process::Stdio;
        let pipe = |on: bool| if on { Stdio::piped() } else { Stdio::null() };
        cmd.stdin(pipe(self.req.stdin))
            .stdout(pipe(self.req.stdout))
            .stderr(pipe(self.req.stderr))
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Ending::Failure(format!(
                    "berth-sim: cannot run {:?} in pod {}: {e}",
                    self.req.command, self.pod
                ));
            }
        };
        match tokio::time::timeout(TIME_LIMIT, self.pump(&mut child)).await {
            Ok(Some(e)) => {
                let _ = child.kill().await;
                e
            }
            Ok(None) => match child.wait().await {
                Ok(st) => Ending::Exit(exit_code(st)),
                Err(e) => Ending::Failure(format!("berth-sim: waiting for the command: {e}")),
            },
            Err(_) => {
                let _ = child.kill().await;
                Ending::Failure(format!(
                    "berth-sim: the command ran longer than the simulator's exec limit of {} s and was killed",
                    TIME_LIMIT.as_secs()
                ))
            }
        }
    }

    /// Moves stdin, stdout and stderr until both outputs are closed; `Some` when the exec
    /// ends early (client gone, output cap).
    async fn pump(&mut self, child: &mut Child) -> Option<Ending> {
        let mut stdin = child.stdin.take();
        let mut out = child.stdout.take();
        let mut err = child.stderr.take();
        let (mut ob, mut eb) = (vec![0u8; 32 * 1024], vec![0u8; 32 * 1024]);
        let mut sent: u64 = 0;
        while out.is_some() || err.is_some() {
            tokio::select! {
                n = read_some(&mut out, &mut ob) => {
                    if let Some(e) = self.forward(1, n, &mut out, &ob, &mut sent).await { return Some(e); }
                }
                n = read_some(&mut err, &mut eb) => {
                    if let Some(e) = self.forward(2, n, &mut err, &eb, &mut sent).await { return Some(e); }
                }
                msg = self.ws.next() => match msg {
                    Some(Ok(Message::Binary(b))) => self.incoming(&b, &mut stdin).await,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Some(Ending::Gone),
                    Some(Ok(_)) => {}
                },
            }
        }
        None
    }

    /// Sends what a read of output channel `ch` gave.
    async fn forward<R>(
        &mut self,
        ch: u8,
        n: std::io::Result<usize>,
        src: &mut Option<R>,
        buf: &[u8],
        sent: &mut u64,
    ) -> Option<Ending> {
        let n = match n {
            Ok(0) | Err(_) => {
                *src = None;
                return None;
            }
            Ok(n) => n,
        };
        *sent += n as u64;
        if *sent > OUTPUT_CAP {
            return Some(Ending::Failure(format!(
                "berth-sim: the command wrote more than the simulator's exec limit of {} MiB of output and was killed",
                OUTPUT_CAP / (1024 * 1024)
            )));
        }
        let mut frame = Vec::with_capacity(n + 1);
        frame.push(ch);
        frame.extend_from_slice(&buf[..n]);
        if self.ws.send(Message::Binary(frame.into())).await.is_err() {
            return Some(Ending::Gone);
        }
        None
    }

    /// A client message: stdin data, v5's close of stdin; resize and others are ignored.
    async fn incoming(&mut self, b: &[u8], stdin: &mut Option<tokio::process::ChildStdin>) {
        match b {
            [0, data @ ..] => {
                if let Some(s) = stdin.as_mut()
                    && s.write_all(data).await.is_err()
                {
                    *stdin = None;
                }
            }
            [255, 0, ..] if self.v5 => *stdin = None,
            _ => {}
        }
    }
}

/// Reads from an output that may be closed (then never ready).
async fn read_some<R: AsyncRead + Unpin>(
    src: &mut Option<R>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match src {
        Some(r) => r.read(buf).await,
        None => std::future::pending().await,
    }
}

/// The exit code as a container runtime reports it (128 + signal when killed).
fn exit_code(st: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_keeps_every_command_argument_in_order() {
        let r = ExecRequest::parse(Some(
            "command=sh&command=-c&command=echo+a+%26%26+exit+3&container=db&stdout=true&stderr=1&tty=false",
        ));
        assert_eq!(r.command, ["sh", "-c", "echo a && exit 3"]);
        assert_eq!(r.container.as_deref(), Some("db"));
        assert!(r.stdout && r.stderr && !r.stdin && !r.tty);
    }

    #[test]
    fn a_missing_sandbox_tool_is_named_with_its_package() {
        let empty = tempfile::tempdir().expect("tempdir");
        let err = sandbox_tool(Some(empty.path().as_os_str().to_os_string()))
            .expect_err("no bwrap in an empty directory");
        assert!(
            err.contains("bubblewrap (`bwrap`)") && err.contains("apt-get install bubblewrap"),
            "{err}"
        );
        let with = tempfile::tempdir().expect("tempdir");
        std::fs::write(with.path().join("bwrap"), "").expect("write");
        let path = std::env::join_paths([empty.path(), with.path()]).expect("PATH");
        assert_eq!(sandbox_tool(Some(path)), Ok(with.path().join("bwrap")));
    }

    #[test]
    fn the_sandbox_binds_host_entries_and_puts_volumes_where_the_host_has_nothing() {
        let host = tempfile::tempdir().expect("tempdir");
        let h = host.path();
        std::fs::create_dir_all(h.join("usr/bin")).expect("mkdir");
        std::fs::create_dir_all(h.join("var/lib/other")).expect("mkdir");
        std::os::unix::fs::symlink("usr/bin", h.join("bin")).expect("symlink");
        std::fs::create_dir_all(h.join("proc")).expect("mkdir");
        let binds = [
            Bind {
                path: "/var/lib/postgresql/data".into(),
                dir: "/vols/pvc-1".into(),
                read_only: false,
            },
            Bind {
                path: "/cfg".into(),
                dir: "/vols/pvc-2".into(),
                read_only: true,
            },
        ];
        let args: Vec<String> = sandbox_args(h, &binds, "/var/lib/postgresql/data")
            .into_iter()
            .map(|a| a.into_string().expect("utf-8"))
            .collect();
        let text = args.join(" ");
        let hs = h.display();
        assert!(text.contains("--symlink usr/bin /bin"), "{text}");
        assert!(
            text.contains(&format!("--dev-bind {hs}/usr /usr")),
            "{text}"
        );
        // /var is on the way: a new directory holding the host's entries, not a bind of it.
        assert!(
            !text.contains(&format!("--dev-bind {hs}/var /var")),
            "{text}"
        );
        assert!(text.contains("--dir /var --dir /var/lib"), "{text}");
        assert!(
            text.contains(&format!("--dev-bind {hs}/var/lib/other /var/lib/other")),
            "{text}"
        );
        assert!(
            text.contains("--dir /var/lib/postgresql --bind /vols/pvc-1 /var/lib/postgresql/data"),
            "{text}"
        );
        assert!(text.contains("--ro-bind /vols/pvc-2 /cfg"), "{text}");
        assert!(!text.contains(&format!("{hs}/proc")), "{text}");
        assert!(text.ends_with("--chdir /var/lib/postgresql/data"), "{text}");
    }
}
