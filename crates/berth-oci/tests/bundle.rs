//! Bundles: create, verify, extract, inspect, deltas, and every kind of bad input.

mod common;

use berth_oci::bundle::{self, Base, Expect};
use berth_oci::keys;
use berth_oci::release::Release;
use common::*;
use std::io::Read;
use std::path::{Path, PathBuf};

struct Fixture {
    dir: tempfile::TempDir,
    key: ed25519_dalek::SigningKey,
    pubkey: ed25519_dalek::VerifyingKey,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (k, p) = keys::generate(&dir.path().join("vendor")).unwrap();
    // A second generate refuses to overwrite the key.
    assert!(keys::generate(&dir.path().join("vendor")).is_err());
    Fixture {
        key: keys::read_signing_key(&k).unwrap(),
        pubkey: keys::read_verifying_key(&p).unwrap(),
        dir,
    }
}

impl Fixture {
    fn p(&self, s: &str) -> PathBuf {
        self.dir.path().join(s)
    }
}

#[test]
fn full_bundle_roundtrip_and_inspect() {
    let f = fixture();
    make_release(&f.p("rel1"), "shop", "1.0.0", 2);
    let rep = bundle::create(&f.p("rel1"), &f.p("shop-1.0.0.bundle"), &f.key, None).unwrap();
    assert_eq!(rep.manifest.kind, "full");
    // Metadata and app files are compressed; gzip layers are stored as they are.
    let json_files: Vec<_> = rep
        .manifest
        .files
        .iter()
        .filter(|e| e.encoding == "zstd")
        .collect();
    assert!(!json_files.is_empty());
    assert!(
        rep.manifest
            .files
            .iter()
            .filter(|e| e.size >= 200_000)
            .all(|e| e.encoding == "none")
    );
    let v = bundle::verify(
        &f.p("shop-1.0.0.bundle"),
        &f.pubkey,
        &Expect {
            app: Some("shop".into()),
        },
        Some(&f.p("out")),
        None,
    )
    .unwrap();
    assert_eq!(v.key_id, keys::key_id(&f.pubkey));
    let orig = Release::open(&f.p("rel1")).unwrap();
    let back = Release::open(&f.p("out")).unwrap();
    assert_eq!(orig.meta, back.meta);
    assert_eq!(
        orig.all_blobs().unwrap().keys().collect::<Vec<_>>(),
        back.all_blobs().unwrap().keys().collect::<Vec<_>>()
    );
    assert_eq!(
        back.read_file("berth.yaml").unwrap().unwrap(),
        orig.read_file("berth.yaml").unwrap().unwrap()
    );
    // Inspect: 3 images, the shared base layer counted once in the bundle.
    let i = bundle::inspect(&f.p("shop-1.0.0.bundle"), Some(&f.pubkey)).unwrap();
    assert_eq!(i.images.len(), 3);
    assert!(
        i.sum_of_images >= i.unique_bytes + 2 * 200_000,
        "{} vs {}",
        i.sum_of_images,
        i.unique_bytes
    );
    assert!(i.file_bytes < i.sum_of_images);
    assert!(i.signed_by.is_some());
    // Extracting over an existing directory is refused.
    assert!(
        bundle::verify(
            &f.p("shop-1.0.0.bundle"),
            &f.pubkey,
            &Expect::default(),
            Some(&f.p("out")),
            None
        )
        .is_err()
    );
}

#[test]
fn delta_bundle_carries_only_new_blobs() {
    let f = fixture();
    make_release(&f.p("rel1"), "shop", "1.0.0", 2);
    make_release(&f.p("rel2"), "shop", "1.1.0", 99);
    let full1 = bundle::create(&f.p("rel1"), &f.p("v1.bundle"), &f.key, None).unwrap();
    let d = bundle::create(
        &f.p("rel2"),
        &f.p("v2-delta.bundle"),
        &f.key,
        Some(&Base::from_path(&f.p("rel1"))),
    )
    .unwrap();
    assert_eq!(d.manifest.kind, "delta");
    assert!(d.blobs_omitted >= 4, "{}", d.blobs_omitted);
    // The changed top layer is 50 kB of random data; the delta is that plus metadata.
    assert!(d.bytes < 50_000 + 40_000, "delta is {} bytes", d.bytes);
    assert!(
        d.bytes * 3 < full1.bytes,
        "delta {} vs full {}",
        d.bytes,
        full1.bytes
    );
    // Same delta computed against the older bundle file instead of the release directory.
    let d2 = bundle::create(
        &f.p("rel2"),
        &f.p("v2-delta-b.bundle"),
        &f.key,
        Some(&Base::from_path(&f.p("v1.bundle"))),
    )
    .unwrap();
    assert_eq!(d2.manifest.files, d.manifest.files);
    // Applying needs the base ...
    let e = bundle::verify(
        &f.p("v2-delta.bundle"),
        &f.pubkey,
        &Expect::default(),
        Some(&f.p("x")),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("--base") && e.contains("1.0.0"), "{e}");
    assert!(!f.p("x").exists());
    // ... and with it yields the complete new release.
    let base = berth_oci::Layout::open(f.p("rel1")).unwrap();
    bundle::verify(
        &f.p("v2-delta.bundle"),
        &f.pubkey,
        &Expect::default(),
        Some(&f.p("v2")),
        Some(&base),
    )
    .unwrap();
    let r2 = Release::open(&f.p("v2")).unwrap();
    assert_eq!(r2.meta.version, "1.1.0");
    assert_eq!(
        r2.all_blobs().unwrap().len(),
        Release::open(&f.p("rel2"))
            .unwrap()
            .all_blobs()
            .unwrap()
            .len()
    );
    // A base that lacks what the delta needs is refused.
    make_release(&f.p("unrelated"), "shop", "0.9.0", 7);
    std::fs::remove_dir_all(f.p("unrelated/blobs")).unwrap();
    std::fs::create_dir_all(f.p("unrelated/blobs/sha256")).unwrap();
    let wrong = berth_oci::Layout::open(f.p("unrelated")).unwrap();
    let e = bundle::verify(
        &f.p("v2-delta.bundle"),
        &f.pubkey,
        &Expect::default(),
        Some(&f.p("y")),
        Some(&wrong),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("base does not contain"), "{e}");
    assert!(!f.p("y").exists());
    // A delta against another app's release is refused at creation.
    make_release(&f.p("other-app"), "billing", "1.0.0", 2);
    let e = bundle::create(
        &f.p("rel2"),
        &f.p("bad.bundle"),
        &f.key,
        Some(&Base::from_path(&f.p("other-app"))),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("billing"), "{e}");
    assert!(!f.p("bad.bundle").exists());
}

type Entries = Vec<(String, tar::EntryType, Vec<u8>)>;

/// Rewrite a bundle's tar, letting `edit` change entries (name, content) or add some.
fn rewrite(src: &Path, dst: &Path, edit: &mut dyn FnMut(&mut Entries)) {
    let mut entries = Vec::new();
    let mut ar = tar::Archive::new(std::fs::File::open(src).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        entries.push((name, e.header().entry_type(), data));
    }
    edit(&mut entries);
    let mut b = tar::Builder::new(std::fs::File::create(dst).unwrap());
    for (name, ty, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(ty);
        h.set_mode(0o644);
        h.set_size(if ty == tar::EntryType::Regular {
            data.len() as u64
        } else {
            0
        });
        if ty == tar::EntryType::Regular {
            // Raw name bytes so `..` survives (tar::Builder::append_data would refuse it).
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_cksum();
            b.append(&h, data.as_slice()).unwrap();
        } else {
            h.set_link_name("/etc/passwd").unwrap();
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_cksum();
            b.append(&h, std::io::empty()).unwrap();
        }
    }
    b.finish().unwrap();
}

#[test]
fn hostile_and_broken_bundles_are_rejected() {
    let f = fixture();
    make_release(&f.p("rel"), "shop", "1.0.0", 2);
    let good = f.p("good.bundle");
    bundle::create(&f.p("rel"), &good, &f.key, None).unwrap();
    let check = |file: &Path, want: &str| {
        let dest = f.p("extract");
        let e = bundle::verify(
            file,
            &f.pubkey,
            &Expect {
                app: Some("shop".into()),
            },
            Some(&dest),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.to_lowercase().contains(want), "expected {want:?} in: {e}");
        assert!(!dest.exists(), "a half-written release was left behind");
        let leftovers: Vec<_> = std::fs::read_dir(f.dir.path())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".unbundle-partial")
            })
            .collect();
        assert!(leftovers.is_empty());
    };
    // Truncated.
    let data = std::fs::read(&good).unwrap();
    std::fs::write(f.p("trunc.bundle"), &data[..data.len() / 2]).unwrap();
    check(&f.p("trunc.bundle"), "truncated");
    // Signed by someone else.
    let other = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    bundle::create(&f.p("rel"), &f.p("other-key.bundle"), &other, None).unwrap();
    check(&f.p("other-key.bundle"), "bad signature");
    // Another app.
    make_release(&f.p("rel-b"), "billing", "1.0.0", 2);
    bundle::create(&f.p("rel-b"), &f.p("billing.bundle"), &f.key, None).unwrap();
    check(&f.p("billing.bundle"), "for app \"billing\"");
    // A blob whose bytes changed (signature still fine): digest mismatch.
    rewrite(&good, &f.p("corrupt.bundle"), &mut |es| {
        let big = es
            .iter_mut()
            .find(|(n, _, d)| n.starts_with("blobs/") && d.len() > 100_000)
            .unwrap();
        big.2[50_000] ^= 0xff;
    });
    check(&f.p("corrupt.bundle"), "digest mismatch");
    // The manifest edited (to claim another version): the signature breaks.
    rewrite(&good, &f.p("edited.bundle"), &mut |es| {
        let m = String::from_utf8(es[0].2.clone())
            .unwrap()
            .replace("1.0.0", "9.9.9");
        es[0].2 = m.into_bytes();
    });
    check(&f.p("edited.bundle"), "bad signature");
    // Path traversal entry.
    rewrite(&good, &f.p("traversal.bundle"), &mut |es| {
        es.insert(
            3,
            ("../../evil".into(), tar::EntryType::Regular, b"x".to_vec()),
        );
    });
    check(&f.p("traversal.bundle"), "not listed");
    // Extract deep inside this test's own directory, so that wherever `../../evil` would
    // land (next to the staging directory or above it) is still ours to look at.
    let deep = f.p("deep/a/extract");
    let e = bundle::verify(
        &f.p("traversal.bundle"),
        &f.pubkey,
        &Expect {
            app: Some("shop".into()),
        },
        Some(&deep),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("not listed"), "{e}");
    let written = find_named(f.dir.path(), "evil");
    assert!(written.is_empty(), "traversal entry written: {written:?}");
    assert!(!deep.exists());
    // A symlink entry.
    rewrite(&good, &f.p("link.bundle"), &mut |es| {
        es.insert(
            3,
            ("index.json".into(), tar::EntryType::Symlink, Vec::new()),
        );
    });
    check(&f.p("link.bundle"), "not a regular file");
    // Not a bundle at all.
    std::fs::write(f.p("junk.bundle"), b"hello, this is not a tar file at all").unwrap();
    check(&f.p("junk.bundle"), "bundle");
    // A zstd entry that inflates beyond its declared size (bomb) is stopped.
    rewrite(&good, &f.p("bomb.bundle"), &mut |es| {
        let z = es.iter_mut().find(|(n, _, _)| n.ends_with(".zst")).unwrap();
        z.2 = zstd::encode_all(&vec![0u8; 50_000_000][..], 19).unwrap();
    });
    check(&f.p("bomb.bundle"), "larger than");
}

#[test]
fn full_disk_leaves_nothing_half_written() {
    let f = fixture();
    make_release(&f.p("rel"), "shop", "1.0.0", 2);
    let mnt = f.p("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=128k", "tmpfs"])
        .arg(&mnt)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipping: cannot mount a small tmpfs here (needs root)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let e = bundle::create(&f.p("rel"), &mnt.join("shop.bundle"), &f.key, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("disk is full") || e.contains("No space"), "{e}");
    let left: Vec<_> = std::fs::read_dir(&mnt)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // Extraction into a full disk: same.
    bundle::create(&f.p("rel"), &f.p("shop.bundle"), &f.key, None).unwrap();
    let e = bundle::verify(
        &f.p("shop.bundle"),
        &f.pubkey,
        &Expect::default(),
        Some(&mnt.join("rel")),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("disk is full") || e.contains("No space"), "{e}");
    let left: Vec<_> = std::fs::read_dir(&mnt)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn corrupted_release_is_not_signed() {
    let f = fixture();
    make_release(&f.p("rel"), "shop", "1.0.0", 2);
    // Flip a byte in the biggest blob of the release directory.
    let blobs = f.p("rel/blobs/sha256");
    let biggest = std::fs::read_dir(&blobs)
        .unwrap()
        .flatten()
        .max_by_key(|e| e.metadata().unwrap().len())
        .unwrap()
        .path();
    let mut data = std::fs::read(&biggest).unwrap();
    data[1000] ^= 1;
    std::fs::write(&biggest, data).unwrap();
    let e = bundle::create(&f.p("rel"), &f.p("out.bundle"), &f.key, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("corrupted"), "{e}");
    assert!(!f.p("out.bundle").exists());
    let stray: Vec<_> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".bundle-"))
        .collect();
    assert!(stray.is_empty(), "temporary files left behind");
}

/// Every path named `name` under `dir` (links not followed).
fn find_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if e.file_name() == name {
            out.push(p.clone());
        }
        if e.file_type().unwrap().is_dir() {
            out.extend(find_named(&p, name));
        }
    }
    out
}
