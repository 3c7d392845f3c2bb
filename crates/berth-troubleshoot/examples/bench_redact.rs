//! Redaction and analyzer throughput, berth beside its anchors, on generated logs.
//!
//! ```text
//! cargo run --release -p berth-troubleshoot --example bench_redact -- [MiB, default 1024]
//! ```
//!
//! Workloads (all on the same deterministic log stream; ~1 line in 40 carries a secret):
//! - redact (stream): berth's redactor over the stream in 4 MiB chunks. Anchor: the same rules
//!   applied line by line with troubleshoot's algorithm (every line, per-rule lower-case scan,
//!   then the regex), i.e. berth with its whole-file trigger scan turned off. Outputs are
//!   checked to be identical.
//! - textAnalyze: a `regex` textAnalyze over one log file in the bundle. Anchor: GNU
//!   `grep -cE` with the same pattern on the same bytes (page-cached file).
//!
//! Prints one table with MB/s and the ratio berth / anchor.

use berth_troubleshoot::analyze::{MemBundle, Outcome, Scope, analyze_entry};
use berth_troubleshoot::redact::Redactor;
use std::io::{Read, Write};
use std::time::Instant;

/// Deterministic log lines: mostly ordinary, some with secrets of several kinds.
struct LogGen {
    remaining: u64,
    /// One line in `every` carries a secret.
    every: u64,
    n: u64,
    pending: Vec<u8>,
    pos: usize,
}

impl LogGen {
    fn new(bytes: u64, every: u64) -> Self {
        LogGen {
            remaining: bytes,
            every,
            n: 0,
            pending: Vec::new(),
            pos: 0,
        }
    }

    fn line(&mut self) {
        self.n += 1;
        let n = self.n;
        let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        self.pending.clear();
        let ts = format!(
            "2026-11-26T10:{:02}:{:02}.{:06}Z",
            (n / 60_000) % 60,
            (n / 1000) % 60,
            n % 1_000_000
        );
        let kind = if n.is_multiple_of(self.every) {
            (n / self.every) % 4
        } else {
            4 + h % 36
        };
        let line = match kind {
            0 => format!("{ts} DEBUG login user=svc{h} password=Pw-{h:x} retry=0\n"),
            1 => format!("{ts} INFO connecting to postgres://app:Pg-{h:x}@db.acme.svc:5432/acme\n"),
            2 => format!(
                "{ts} DEBUG Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{h:x}.c2lnbmF0dXJl\n"
            ),
            3 => format!(
                "{ts} WARN values {{\"auth\":{{\"apiKey\":\"key-{h:x}\"}},\"replicas\":3}}\n"
            ),
            4..=12 => format!(
                "{ts} INFO GET /api/v1/orders/{h} 200 {}ms bytes={} ua=\"Mozilla/5.0 (X11; Linux x86_64)\"\n",
                h % 500,
                h % 9000
            ),
            13..=20 => format!(
                "{{\"ts\":\"{ts}\",\"level\":\"info\",\"msg\":\"order processed\",\"order\":{h},\"items\":{},\"latency_ms\":{}}}\n",
                h % 7,
                h % 90
            ),
            _ => format!(
                "{ts} INFO worker-{} processed batch {h} in {} ms (queue depth {})\n",
                h % 8,
                h % 300,
                h % 50
            ),
        };
        self.pending.extend_from_slice(line.as_bytes());
        self.pos = 0;
    }
}

impl Read for LogGen {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut written = 0;
        while written < buf.len() && self.remaining > 0 {
            if self.pos >= self.pending.len() {
                self.line();
            }
            let take = (self.pending.len() - self.pos)
                .min(buf.len() - written)
                .min(self.remaining as usize);
            buf[written..written + take].copy_from_slice(&self.pending[self.pos..self.pos + take]);
            self.pos += take;
            written += take;
            self.remaining -= take as u64;
        }
        Ok(written)
    }
}

/// Hashes what it is given, so two outputs can be compared without keeping them.
#[derive(Default)]
struct HashSink {
    len: u64,
    hash: u64,
}

impl Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for chunk in buf.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.hash = (self.hash ^ u64::from_le_bytes(w))
                .wrapping_mul(0x100_0000_01b3)
                .rotate_left(7);
        }
        self.len += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

/// CPU seconds (user + system) used by this process so far, from /proc/self/stat.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is field 3; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// Wall and CPU seconds of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (c, t) = (cpu_secs(), Instant::now());
    let out = f();
    (out, t.elapsed().as_secs_f64(), cpu_secs() - c)
}

struct Row {
    workload: String,
    berth_wall: f64,
    berth_cpu: f64,
    anchor: String,
    anchor_wall: f64,
    anchor_cpu: f64,
}

fn redact_run(
    r: &Redactor,
    bytes: u64,
    every: u64,
) -> Result<(HashSink, usize, f64, f64), std::io::Error> {
    let mut sink = HashSink::default();
    let (recs, wall, cpu) =
        timed(|| r.redact_stream("bench.log", LogGen::new(bytes, every), &mut sink));
    Ok((sink, recs?.len(), wall, cpu))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1024);
    let bytes = mib * 1024 * 1024;
    // The per-line anchor is slow: it runs on at most 128 MiB of the same stream.
    let anchor_mib = mib.min(128);
    let anchor_bytes = anchor_mib * 1024 * 1024;
    let mut rows = Vec::new();
    let fast = Redactor::new(&[])?;
    let slow = Redactor::new(&[])?.with_line_prefilter(false);
    for (label, every) in [
        ("typical: 1 line in 1000 has a secret", 1000),
        ("dense: 1 line in 10 has a secret", 10),
    ] {
        let (out, n, wall, cpu) = redact_run(&fast, bytes, every)?;
        let (a_out, a_n, a_wall, a_cpu) = redact_run(&slow, anchor_bytes, every)?;
        let (check, check_n, _, _) = redact_run(&fast, anchor_bytes, every)?;
        if (check.len, check.hash, check_n) != (a_out.len, a_out.hash, a_n) {
            return Err("berth and the per-line anchor disagree on the redacted output".into());
        }
        rows.push(Row {
            workload: format!("redact {mib} MiB, {label} ({n} redactions)"),
            berth_wall: mbps(out.len, wall),
            berth_cpu: mbps(out.len, cpu),
            anchor: format!("troubleshoot's per-line algorithm, same rules, {anchor_mib} MiB"),
            anchor_wall: mbps(anchor_bytes, a_wall),
            anchor_cpu: mbps(anchor_bytes, a_cpu),
        });
    }

    // textAnalyze over one file (held in memory by the bundle reader), against grep -cE.
    let file_mib = mib.min(512);
    let file_bytes = file_mib * 1024 * 1024;
    let mut data = Vec::with_capacity(file_bytes as usize);
    LogGen::new(file_bytes, 1000).read_to_end(&mut data)?;
    let pattern = r"password=Pw-[0-9a-f]+ retry=[1-9]";
    let mut bundle = MemBundle::new();
    bundle.insert("api/api-0/api.log", data.clone());
    let spec: serde_json::Value = serde_json::json!({"textAnalyze": {
        "checkName": "retries", "fileName": "api/*/api.log", "regex": pattern,
        "outcomes": [{"fail": {"when": "true", "message": "found"}}, {"pass": {"when": "false", "message": "none"}}]}});
    let (result, wall, cpu) = timed(|| analyze_entry(&spec, Scope::Cluster, &bundle));
    if result.len() != 1 || result[0].outcome != Outcome::Pass {
        return Err(format!("unexpected analyzer result {result:?}").into());
    }
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("api.log");
    std::fs::write(&path, &data)?;
    let _ = std::fs::read(&path)?; // page cache
    let t = Instant::now();
    let grep = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "TIMEFORMAT=%U+%S; time grep -cE '{pattern}' {}",
            path.display()
        ))
        .output()?;
    let g_wall = t.elapsed().as_secs_f64();
    let g_cpu: f64 = String::from_utf8_lossy(&grep.stderr)
        .lines()
        .last()
        .map(|l| {
            l.split('+')
                .filter_map(|x| x.trim().parse::<f64>().ok())
                .sum()
        })
        .unwrap_or(f64::NAN);
    rows.push(Row {
        workload: format!("textAnalyze regex over a {file_mib} MiB log"),
        berth_wall: mbps(file_bytes, wall),
        berth_cpu: mbps(file_bytes, cpu),
        anchor: "GNU grep -cE, same pattern and bytes".into(),
        anchor_wall: mbps(file_bytes, g_wall),
        anchor_cpu: mbps(file_bytes, g_cpu),
    });

    println!(
        "| workload | berth MB/s (wall) | berth MB/s (CPU) | anchor | anchor MB/s (wall) | anchor MB/s (CPU) | ratio (CPU) |"
    );
    println!("|---|---:|---:|---|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {:.0} | {:.0} | {} | {:.0} | {:.0} | {:.2}x |",
            r.workload,
            r.berth_wall,
            r.berth_cpu,
            r.anchor,
            r.anchor_wall,
            r.anchor_cpu,
            r.berth_cpu / r.anchor_cpu
        );
    }
    Ok(())
}
