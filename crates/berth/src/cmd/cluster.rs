//! `berth cluster sim`: run the Kubernetes API simulator in the foreground.

use anyhow::Context;
use berth_kube_sim::{Profile, SimOptions, Simulator};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Simulated clusters.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  berth cluster sim --kubeconfig /tmp/sim.kubeconfig   # until Ctrl-C"
)]
pub struct Args {
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(clap::Subcommand)]
enum ClusterCommand {
    /// Run a simulated Kubernetes API server (kubectl, Helm and the kube crate accept it).
    Sim(SimArgs),
}

/// Run a simulated Kubernetes cluster on 127.0.0.1 until Ctrl-C.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  berth cluster sim --port 6443 --kubeconfig /tmp/sim.yaml --profile k3s\n  \
kubectl --kubeconfig /tmp/sim.yaml get nodes\n  \
kubectl --kubeconfig /tmp/sim.yaml create deployment web --image=nginx\n  \
kubectl --kubeconfig /tmp/sim.yaml rollout status deployment/web\n\n\
Built-in profiles: default, k3s, eks, gke, openshift, rke2, bare (no StorageClass or \
IngressClass), k8s-1.NN (the default cluster at Kubernetes 1.NN). A YAML file works too \
(docs/formats/sim-profile.md), as do per-object fault annotations such as \
sim.berth.dev/fail: image-pull."
)]
pub struct SimArgs {
    /// Port to listen on (127.0.0.1); 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where to write a kubeconfig pointing at the simulator (context "berth-sim").
    /// Default: ~/.kube/berth-sim.yaml
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Built-in profile name or a profile YAML file.
    #[arg(long, default_value = "default")]
    profile: String,
    /// Keep cluster state in this directory so it survives a restart.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Make the simulated kubelet check that every image exists in its registry.
    #[arg(long)]
    registry_check: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    match args.command {
        ClusterCommand::Sim(a) => sim(a),
    }
}

fn sim(a: SimArgs) -> anyhow::Result<u8> {
    let profile = Profile::resolve(&a.profile)?;
    let kubeconfig = match a.kubeconfig {
        Some(p) => p,
        None => match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".kube").join("berth-sim.yaml"),
            None => PathBuf::from("berth-sim.kubeconfig"),
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let opts = SimOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], a.port)),
            profile,
            state_dir: a.state_dir,
            registry_check: a.registry_check,
        };
        let sim = Simulator::start(opts).await?;
        // Containers of berth's mover image run as processes of this very binary.
        if std::env::var_os(berth_kube_sim::MOVER_BIN_ENV).is_none() {
            sim.set_mover_bin(std::env::current_exe().ok());
        }
        sim.write_kubeconfig(&kubeconfig)?;
        println!("volumes: {}", sim.volume_root().display());
        println!("berth simulated cluster listening on {}", sim.url());
        println!("kubeconfig: {}", kubeconfig.display());
        println!(
            "try: kubectl --kubeconfig {} get nodes",
            kubeconfig.display()
        );
        eprintln!("press Ctrl-C to stop");
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
        eprintln!("stopping");
        sim.shutdown().await;
        Ok::<_, anyhow::Error>(crate::exit::OK)
    })
}
