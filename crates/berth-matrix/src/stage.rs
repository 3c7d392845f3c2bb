//! The vendor's side of the air-gapped cells, done once per matrix run: a release of the app
//! and a signed bundle of it. Given an app directory, its images are stand-ins generated
//! under the app's own image names (small random layers, linux/amd64) in a throwaway vendor
//! registry, and the release is built from that registry exactly as `berth release build
//! --mirror` builds one; given a release directory (from `berth release build`), its
//! images are the real ones. Either way the bundle is signed with a key made for this run.

use crate::MatrixError;
use crate::app::{self, ConfigValues};
use berth_oci::model::Platform;
use berth_oci::release::{self, Release, ReleaseInput};
use berth_oci::transfer::{self, NoProgress, PushItem};
use berth_oci::{Client, ClientConfig, Layout, Reference, generate, keys, server};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A staged release: app files to render and a signed bundle to install from.
#[derive(Debug, Clone)]
pub struct Staged {
    /// The app directory that cells render (for a release: its app files, extracted).
    pub app_dir: PathBuf,
    /// App name.
    pub app: String,
    /// Version.
    pub version: String,
    /// The release directory (an OCI layout).
    pub release_dir: PathBuf,
    /// The signed bundle.
    pub bundle: PathBuf,
    /// The public key that verifies the bundle.
    pub pubkey: PathBuf,
}

fn oci(what: &str) -> impl Fn(berth_oci::Error) -> MatrixError + '_ {
    move |e| MatrixError::Stage(format!("{what}: {e}"))
}

/// Whether `dir` is a release directory (an OCI layout) rather than an app directory.
pub fn is_release_dir(dir: &Path) -> bool {
    dir.join("oci-layout").is_file() && !dir.join("berth.yaml").is_file()
}

/// Stage `source` (app or release directory) under `work/label`.
pub async fn stage(
    source: &Path,
    values: &ConfigValues,
    work: &Path,
    label: &str,
) -> Result<Staged, MatrixError> {
    let dir = work.join(label);
    std::fs::create_dir_all(&dir).map_err(|e| MatrixError::io(&dir, e))?;
    let release_dir = dir.join("release");
    let app_dir = if is_release_dir(source) {
        let rel = Release::open(source).map_err(oci("opening the release"))?;
        let app_dir = dir.join("app");
        rel.write_app_files(&app_dir)
            .map_err(oci("extracting the release's app files"))?;
        copy_dir(source, &release_dir)?;
        app_dir
    } else {
        build_release(source, values, &dir, &release_dir).await?;
        source.to_path_buf()
    };
    let (app, version) = app::identity(&app_dir)?;
    let (key, pubkey) = keys::generate(&dir.join("vendor")).map_err(oci("signing key"))?;
    let bundle = dir.join(format!("{app}-{version}.bundle"));
    let signing = keys::read_signing_key(&key).map_err(oci("signing key"))?;
    let (rd, b) = (release_dir.clone(), bundle.clone());
    tokio::task::spawn_blocking(move || berth_oci::bundle::create(&rd, &b, &signing, None))
        .await
        .map_err(|e| MatrixError::Stage(format!("bundle task: {e}")))?
        .map_err(oci("creating the bundle"))?;
    Ok(Staged {
        app_dir,
        app,
        version,
        release_dir,
        bundle,
        pubkey,
    })
}

/// Generate stand-in images under the app's image names in a throwaway registry and build
/// the release from it.
async fn build_release(
    app_dir: &Path,
    values: &ConfigValues,
    dir: &Path,
    out: &Path,
) -> Result<(), MatrixError> {
    let (name, version) = app::identity(app_dir)?;
    let rel = app::render(
        app_dir,
        values,
        &name,
        None,
        berth_render::AppRenderOptions::default(),
    )?;
    let objects: Vec<serde_json::Value> = rel.objects.iter().map(|m| m.object.clone()).collect();
    let extras = app::extra_images(app_dir)?;
    let (refs, _) = release::plan_images(&objects, &extras).map_err(oci("listing images"))?;
    let vendor = server::start(server::ServerConfig::new(
        dir.join("vendor-registry"),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    ))
    .await
    .map_err(oci("starting the vendor registry"))?;
    let host = vendor.addr.to_string();
    let result = async {
        let seed = Layout::create(dir.join("stand-in-images")).map_err(oci("image layout"))?;
        let amd64 = Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        };
        let base = generate::random_layer(1, 64 << 10).map_err(oci("stand-in layer"))?;
        let mut items = Vec::new();
        let mut mirrors = BTreeMap::new();
        for (i, r) in refs.iter().enumerate() {
            let own =
                generate::random_layer(100 + i as u64, 16 << 10).map_err(oci("stand-in layer"))?;
            let mut d = generate::write_image(&seed, &[base.clone(), own], &amd64)
                .map_err(oci("stand-in image"))?;
            d.platform = None;
            let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
            let target = Reference::parse(&format!("{host}/{}:{tag}", r.repository))
                .map_err(oci("stand-in reference"))?;
            items.push(PushItem {
                descriptor: d,
                target,
            });
            mirrors.insert(r.registry.clone(), host.clone());
        }
        let client = Client::new(ClientConfig {
            insecure: true,
            mirrors,
            ..Default::default()
        })
        .map_err(oci("registry client"))?;
        transfer::push_images(&client, &seed, &items, &NoProgress)
            .await
            .map_err(oci("pushing stand-in images"))?;
        let input = ReleaseInput {
            app: name,
            version,
            files: release::collect_app_files(app_dir).map_err(oci("reading app files"))?,
            objects,
            extra_images: extras,
            platforms: vec![],
            references: vec![],
            // The matrix's steps take no snapshot: no mover image to carry.
            executable_images: vec![],
        };
        release::build(&client, &input, out, &NoProgress)
            .await
            .map_err(oci("building the release"))?;
        Ok(())
    }
    .await;
    vendor.shutdown().await;
    result
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), MatrixError> {
    for e in walk(from)? {
        let rel = e.strip_prefix(from).unwrap_or(&e);
        let dst = to.join(rel);
        if let Some(p) = dst.parent() {
            std::fs::create_dir_all(p).map_err(|err| MatrixError::io(p, err))?;
        }
        std::fs::copy(&e, &dst).map_err(|err| MatrixError::io(&e, err))?;
    }
    Ok(())
}

/// Regular files under `dir` (links are not followed).
fn walk(dir: &Path) -> Result<Vec<PathBuf>, MatrixError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|err| MatrixError::io(&d, err))? {
            let e = e.map_err(|err| MatrixError::io(&d, err))?;
            let t = e
                .file_type()
                .map_err(|err| MatrixError::io(e.path(), err))?;
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                out.push(e.path());
            }
        }
    }
    Ok(out)
}
