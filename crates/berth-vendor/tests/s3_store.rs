//! Release blobs in an S3-compatible bucket (SeaweedFS, real SigV4): a blob counts as stored
//! only once the bucket has it; another process's store (its own cache directory) sees and
//! serves it, verified against its digest; a bucket object that does not match its name is
//! never served; with the store unreachable a push fails with a clear error and leaves
//! nothing behind. Support bundles go to the bucket the same way, streamed through a local
//! file that is removed.

use berth_oci::digest::Digest;
use berth_s3::testing::Seaweed;
use berth_vendor::store::{Store, StoreError};
use tokio::io::AsyncReadExt as _;

fn body(data: &[u8]) -> impl futures::Stream<Item = Result<bytes::Bytes, String>> + Unpin {
    futures::stream::iter(vec![Ok(bytes::Bytes::copy_from_slice(data))])
}

async fn read(store: &Store, d: &Digest) -> Option<Vec<u8>> {
    let (mut f, _) = store.open_blob(d).await?;
    let mut out = Vec::new();
    f.read_to_end(&mut out).await.ok()?;
    Some(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_live_in_the_bucket_and_caches_are_verified() {
    let mut weed = match Seaweed::start() {
        Ok(w) => w,
        Err(e) if std::env::var("BERTH_TEST_ALLOW_SKIP").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("{e} (or set BERTH_TEST_ALLOW_SKIP=1 to skip)"),
    };
    let bucket = weed.client("releases", "v").await.unwrap();
    let (t1, t2, t3) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let s1 = Store::open(t1.path(), 1 << 20)
        .unwrap()
        .with_remote(bucket.clone());
    let s2 = Store::open(t2.path(), 1 << 20)
        .unwrap()
        .with_remote(bucket.clone());
    let data = b"layer bytes".repeat(1000);
    let d = Digest::of(&data);
    assert!(!s2.has(&d).await);
    s1.put(&d, body(&data)).await.unwrap();
    assert_eq!(
        bucket
            .head(&format!("blobs/sha256/{}", d.hex()))
            .await
            .unwrap(),
        Some(data.len() as u64)
    );
    // The other process's store sees it, and fills its cache from the bucket.
    assert!(s2.has(&d).await);
    assert_eq!(s2.size(&d).await, Some(data.len() as u64));
    assert_eq!(read(&s2, &d).await.unwrap(), data);
    assert!(t2.path().join("blobs/sha256").join(d.hex()).exists());

    // An object whose bytes do not match its name is never served from a fresh cache.
    let other = b"something else".to_vec();
    let forged = Digest::of(b"what the name promises");
    bucket
        .put(
            &format!("blobs/sha256/{}", forged.hex()),
            berth_s3::Body::Bytes(other.into()),
        )
        .await
        .unwrap();
    let s3 = Store::open(t3.path(), 1 << 20)
        .unwrap()
        .with_remote(bucket.clone());
    assert_eq!(read(&s3, &forged).await, None);
    assert!(!t3.path().join("blobs/sha256").join(forged.hex()).exists());
    assert!(matches!(
        s3.fetch(&forged).await,
        Err(StoreError::DigestMismatch { .. })
    ));

    // The store unreachable: the push fails naming the store, and nothing is left that looks
    // stored.
    weed.kill();
    let fresh = b"pushed while the store is down".to_vec();
    let fd = Digest::of(&fresh);
    let e = s1.put(&fd, body(&fresh)).await.unwrap_err();
    assert!(e.to_string().contains("object store"), "{e}");
    assert!(!s1.has(&fd).await);
    assert!(!t1.path().join("blobs/sha256").join(fd.hex()).exists());
}

async fn read_support(store: &Store, id: &str) -> Option<Vec<u8>> {
    use futures::StreamExt as _;
    match store.open_support_bundle(id).await.unwrap()? {
        berth_vendor::store::SupportBody::File(mut f) => {
            let mut out = Vec::new();
            f.read_to_end(&mut out).await.ok()?;
            Some(out)
        }
        berth_vendor::store::SupportBody::Remote(mut s) => {
            let mut out = Vec::new();
            while let Some(c) = s.next().await {
                out.extend_from_slice(&c.ok()?);
            }
            Some(out)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_bundles_go_to_the_bucket_and_leave_no_local_copy() {
    let mut weed = match Seaweed::start() {
        Ok(w) => w,
        Err(e) if std::env::var("BERTH_TEST_ALLOW_SKIP").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("{e} (or set BERTH_TEST_ALLOW_SKIP=1 to skip)"),
    };
    let bucket = weed.client("support", "v").await.unwrap();
    let (t1, t2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let s1 = Store::open(t1.path(), 1 << 20)
        .unwrap()
        .with_remote(bucket.clone());
    let s2 = Store::open(t2.path(), 1 << 20)
        .unwrap()
        .with_remote(bucket.clone());
    let mut data = vec![0x1f, 0x8b];
    data.extend(b"bundle bytes".repeat(5000));
    // Many small chunks: written as they come.
    let chunks: Vec<Result<bytes::Bytes, String>> = data
        .chunks(1000)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let id = "0193a5e2-7c1b-7d4e-9a51-2b6f0c1d2e3f";
    let (size, sha) = s1
        .put_support_bundle(id, futures::stream::iter(chunks), 1 << 20)
        .await
        .unwrap();
    assert_eq!(size, data.len() as u64);
    assert_eq!(sha, Digest::of(&data).hex());
    assert_eq!(
        bucket
            .head(&format!("support-bundles/{id}.tar.gz"))
            .await
            .unwrap(),
        Some(data.len() as u64)
    );
    let leftovers: Vec<_> = std::fs::read_dir(t1.path().join("support-bundles"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Another replica serves it from the bucket.
    assert_eq!(read_support(&s2, id).await.unwrap(), data);
    assert!(
        read_support(&s2, "0193a5e2-7c1b-7d4e-9a51-000000000000")
            .await
            .is_none()
    );

    // Over the limit: refused, nothing in the bucket or on disk.
    let id2 = "0193a5e2-7c1b-7d4e-9a51-2b6f0c1d2e40";
    let e = s1
        .put_support_bundle(id2, body(&data), 1000)
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::BundleTooLarge { limit: 1000 }),
        "{e}"
    );
    assert_eq!(
        bucket
            .head(&format!("support-bundles/{id2}.tar.gz"))
            .await
            .unwrap(),
        None
    );

    // The bucket down: the upload fails naming the store, and no local file is left.
    weed.kill();
    let e = s1
        .put_support_bundle(id2, body(&data), 1 << 20)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("object store"), "{e}");
    let leftovers: Vec<_> = std::fs::read_dir(t1.path().join("support-bundles"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
