//! The client against a real S3 server: SeaweedFS (`weed mini`, BERTH_TEST_WEED) with SigV4
//! enforced. Put from memory and from a file (signed with the file's SHA-256), ranged and
//! whole reads, listing past a page, deletes, a wrong secret refused, a dead server reported
//! as transient.

use berth_s3::testing::Seaweed;
use berth_s3::{Body, Client, Credentials, Error};

fn weed() -> Option<Seaweed> {
    match Seaweed::start() {
        Ok(w) => Some(w),
        Err(e) if std::env::var("BERTH_TEST_ALLOW_SKIP").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: {e}");
            if let Ok(log) = std::env::var("BERTH_TEST_SKIP_LOG") {
                use std::io::Write as _;
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                {
                    let _ = writeln!(f, "berth-s3 seaweedfs: {e}");
                }
            }
            None
        }
        Err(e) => panic!("{e} (or set BERTH_TEST_ALLOW_SKIP=1 to skip)"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_round_trip_through_a_real_s3_server() {
    let Some(mut w) = weed() else { return };
    let c = w.client("berth-test", "pre/fix").await.unwrap();
    c.put("a/one", Body::Bytes("hello".into())).await.unwrap();
    assert_eq!(c.get_bytes("a/one").await.unwrap(), b"hello");
    assert_eq!(c.head("a/one").await.unwrap(), Some(5));
    assert_eq!(c.head("a/none").await.unwrap(), None);
    assert!(matches!(
        c.get_bytes("a/none").await,
        Err(Error::NotFound { .. })
    ));

    // A file body, signed with its SHA-256, and a ranged read of it.
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let path = dir.path().join("blob");
    std::fs::write(&path, &data).unwrap();
    use sha2::Digest as _;
    let sha = hex::encode(sha2::Sha256::digest(&data));
    c.put(
        "a/big",
        Body::File {
            path: path.clone(),
            len: data.len() as u64,
            sha256: Some(sha),
        },
    )
    .await
    .unwrap();
    let back = dir.path().join("back");
    assert_eq!(
        c.get_to_file("a/big", &back).await.unwrap(),
        data.len() as u64
    );
    assert_eq!(std::fs::read(&back).unwrap(), data);
    let mut part = Vec::new();
    let mut s = std::pin::pin!(c.get("a/big", Some((1000, 10))).await.unwrap());
    use futures::TryStreamExt as _;
    while let Some(b) = s.try_next().await.unwrap() {
        part.extend_from_slice(&b);
    }
    assert_eq!(part, &data[1000..1010]);
    // SeaweedFS 4.48 does not compare x-amz-content-sha256 with the body (AWS S3 does), so
    // callers verify what they read back by its digest; the vendor store does.
    drop(path);

    // Listing follows continuation tokens past the 1000-key page.
    for i in 0..1005 {
        c.put(&format!("many/{i:05}"), Body::Bytes(Vec::new().into()))
            .await
            .unwrap();
    }
    let listed = c.list("many/").await.unwrap();
    assert_eq!(listed.len(), 1005);
    assert_eq!(listed[0].name, "many/00000");

    c.delete("a/one").await.unwrap();
    c.delete("a/one").await.unwrap();
    assert_eq!(c.head("a/one").await.unwrap(), None);

    // A wrong secret is refused, and named as a credentials problem.
    let bad = Client::new(
        c.location().clone(),
        Credentials {
            access_key: berth_s3::testing::ACCESS_KEY.into(),
            secret_key: "nope".into(),
            session_token: None,
        },
    )
    .unwrap();
    let e = bad.get_bytes("a/big").await.unwrap_err();
    assert!(matches!(e, Error::Denied { .. }), "{e}");
    assert!(!e.to_string().contains("nope"));

    // The server gone: a transient error, worth retrying.
    w.kill();
    let e = c.head("a/big").await.unwrap_err();
    assert!(e.is_transient(), "{e}");
}
