//! `berth registry serve` under hostile load: half-open connections and wrong-password
//! floods must not lock out a valid client. Latency figures are printed, never asserted.
//!
//! Linux routes all of 127.0.0.0/8 to loopback, so the flood comes from 127.0.0.1 and the
//! valid client from 127.0.0.2 (a different client address, as on a real network).

mod common;

use berth_oci::server::{self, ServerConfig};
use common::*;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn valid_client(from: &str) -> reqwest::Client {
    berth_oci::client::install_crypto_provider();
    reqwest::Client::builder()
        .local_address(Some(from.parse::<IpAddr>().unwrap()))
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn half_open(addr: SocketAddr) -> Option<TcpStream> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    // A request line and part of a header, never the blank line that ends the headers.
    let _ = s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\nX-Slow: ");
    Some(s)
}

/// Whether the server answers a full request on a fresh connection from 127.0.0.1.
fn answered(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    if s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200")
}

fn percentiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let p = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
    format!(
        "n={} p50={:?} p90={:?} max={:?}",
        v.len(),
        p(0.5),
        p(0.9),
        p(1.0)
    )
}

/// Hundreds of connections that never finish their headers: a client from another address
/// is served at once, the flooding address gets no more than its share, and once the header
/// timeout passes the server has closed every one of them.
#[test]
fn half_open_connections_do_not_lock_out_a_valid_client() {
    let rt = rt();
    let work = tempfile::tempdir().unwrap();
    let test_start = Instant::now();
    // A header timeout far longer than the test: the slots stay taken while we look.
    let mut cfg = ServerConfig::new(work.path().join("a"), "127.0.0.1:0".parse().unwrap());
    cfg.limits.header_read_timeout = Duration::from_secs(120);
    cfg.limits.max_connections_per_client = 32;
    cfg.limits.max_connections = 400;
    let srv = rt.block_on(server::start(cfg)).unwrap();
    let flood: Vec<TcpStream> = (0..300).filter_map(|_| half_open(srv.addr)).collect();
    assert!(flood.len() >= 250, "only {} flood connections", flood.len());
    let valid = valid_client("127.0.0.2");
    let t = Instant::now();
    let status = rt.block_on(async {
        valid
            .get(format!("http://{}/v2/", srv.addr))
            .send()
            .await
            .unwrap()
            .status()
    });
    eprintln!(
        "valid request beside {} half-open connections: {:?}",
        flood.len(),
        t.elapsed()
    );
    assert_eq!(status, 200);
    assert!(
        !answered(srv.addr),
        "the flooding address got more than its share of connections"
    );
    drop(flood);
    rt.block_on(srv.shutdown());

    // A short header timeout: the server closes the half-open connections itself.
    let mut cfg = ServerConfig::new(work.path().join("b"), "127.0.0.1:0".parse().unwrap());
    cfg.limits.header_read_timeout = Duration::from_secs(2);
    cfg.limits.max_connections_per_client = 32;
    let srv = rt.block_on(server::start(cfg)).unwrap();
    let mut flood: Vec<TcpStream> = (0..200).filter_map(|_| half_open(srv.addr)).collect();
    for s in &mut flood {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut b = [0u8; 64];
        // EOF or reset: the server gave up on it (a response would mean it parsed headers).
        match s.read(&mut b) {
            Ok(n) => assert!(
                n == 0 || !b.starts_with(b"HTTP/1.1 2"),
                "half-open request answered"
            ),
            Err(e) => assert!(
                e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut,
                "a half-open connection was still open after 30 s"
            ),
        }
    }
    eprintln!(
        "200 half-open connections closed by the server after {:?}",
        test_start.elapsed()
    );
    // The flooding address is served again, and an idle keep-alive connection is closed too.
    assert!(answered(srv.addr), "the flooding address stayed locked out");
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\n\r\n")
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let after = s.read(&mut buf);
    assert!(
        matches!(after, Ok(0))
            || matches!(&after, Err(e) if e.kind() != std::io::ErrorKind::WouldBlock),
        "an idle keep-alive connection stayed open: {after:?}"
    );
    rt.block_on(srv.shutdown());
    eprintln!("test took {:?}", test_start.elapsed());
}

/// A flood of wrong passwords and unknown users beside a valid client: every valid request
/// succeeds, the flooding address is rate-limited (429) after its allowance, and bcrypt never
/// runs on the async workers.
#[test]
fn wrong_password_flood_does_not_stop_valid_requests() {
    let rt = rt();
    let work = tempfile::tempdir().unwrap();
    let ht = work.path().join("htpasswd");
    std::fs::write(
        &ht,
        format!("{USER}:{}\n", bcrypt::hash(PASSWORD, 8).unwrap()),
    )
    .unwrap();
    let mut cfg = ServerConfig::new(work.path().join("root"), "127.0.0.1:0".parse().unwrap());
    cfg.htpasswd = Some(ht);
    cfg.limits.auth_failures_per_window = 20;
    cfg.limits.auth_failure_window = Duration::from_secs(600);
    let srv = rt.block_on(server::start(cfg)).unwrap();
    let url = format!("http://{}/v2/_catalog", srv.addr);
    let valid = valid_client("127.0.0.2");
    let timed_valid = |n: usize| {
        let valid = valid.clone();
        let url = url.clone();
        async move {
            let mut lat = Vec::new();
            for _ in 0..n {
                let t = Instant::now();
                let r = valid
                    .get(&url)
                    .basic_auth(USER, Some(PASSWORD))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "a valid request failed during the flood");
                lat.push(t.elapsed());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            lat
        }
    };
    let baseline = rt.block_on(timed_valid(30));
    // One address floods: 16 workers x 25 requests, wrong passwords and unknown users.
    const WORKERS: usize = 16;
    let (during, statuses) = rt.block_on(async {
        let flood = valid_client("127.0.0.1");
        let mut tasks = Vec::new();
        for w in 0..WORKERS {
            let flood = flood.clone();
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let mut st = Vec::new();
                for i in 0..25 {
                    let user = if (w + i) % 2 == 0 { USER } else { "nobody" };
                    let r = flood.get(&url).basic_auth(user, Some("wrong")).send().await;
                    st.push(r.map(|r| r.status().as_u16()).unwrap_or(0));
                }
                st
            }));
        }
        let during = timed_valid(30).await;
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.extend(t.await.unwrap());
        }
        (during, statuses)
    });
    let refused = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    eprintln!("valid requests, no flood:      {}", percentiles(baseline));
    eprintln!("valid requests, during flood:  {}", percentiles(during));
    eprintln!(
        "flood answers: {refused} x 401, {limited} x 429, {} other",
        statuses.len() - refused - limited
    );
    assert_eq!(refused + limited, statuses.len(), "{statuses:?}");
    // Failures are counted once checked; at most one request per worker was in flight.
    assert!(
        refused <= 20 + WORKERS,
        "{refused} failures checked before the limit held"
    );
    assert!(limited > 0);

    // Many addresses under their allowance each: every failure costs a bcrypt, which runs
    // beside the async workers, so valid requests keep flowing.
    let (during, times) = rt.block_on(async {
        let mut tasks = Vec::new();
        for a in 10..26 {
            let c = valid_client(&format!("127.0.0.{a}"));
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let mut times = (Vec::new(), Vec::new());
                for i in 0..10 {
                    let user = if i % 2 == 0 { USER } else { "nobody" };
                    let t = Instant::now();
                    let r = c
                        .get(&url)
                        .basic_auth(user, Some("wrong"))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 401);
                    if i % 2 == 0 {
                        &mut times.0
                    } else {
                        &mut times.1
                    }
                    .push(t.elapsed());
                }
                times
            }));
        }
        let during = timed_valid(30).await;
        let mut wrong_pw = Vec::new();
        let mut unknown = Vec::new();
        for t in tasks {
            let (a, b) = t.await.unwrap();
            wrong_pw.extend(a);
            unknown.extend(b);
        }
        (during, (wrong_pw, unknown))
    });
    eprintln!(
        "valid requests, 160 bcrypt failures from 16 addresses: {}",
        percentiles(during)
    );
    eprintln!("wrong password answers: {}", percentiles(times.0));
    eprintln!("unknown user answers:   {}", percentiles(times.1));
    rt.block_on(srv.shutdown());
}
