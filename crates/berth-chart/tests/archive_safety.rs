//! Untrusted chart archives: every way out of the chart directory, every link,
//! and oversized or bomb-like archives are refused with an error naming the
//! archive and entry; well-formed archives (including nested subchart archives)
//! load. Archives are built byte by byte here, so the malicious headers are real.

use berth_chart::{Chart, ChartError, RenderOptions};
use std::io::Write;

/// Writes a raw ustar header + data (no path sanitising, unlike `tar::Builder::append_path`).
fn entry(out: &mut Vec<u8>, name: &str, typeflag: u8, data: &[u8], link: &str) {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    let size = format!("{:011o}", data.len());
    h[124..135].copy_from_slice(size.as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    let pad = (512 - data.len() % 512) % 512;
    out.extend(std::iter::repeat_n(0u8, pad));
}

fn gz(tar: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(tar).expect("gzip in memory");
    e.finish().expect("gzip in memory")
}

fn chart_tar(extra: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut t = Vec::new();
    entry(
        &mut t,
        "c/Chart.yaml",
        b'0',
        b"apiVersion: v2\nname: c\nversion: 1.0.0\n",
        "",
    );
    entry(
        &mut t,
        "c/templates/cm.yaml",
        b'0',
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        "",
    );
    extra(&mut t);
    t.extend(std::iter::repeat_n(0u8, 1024));
    gz(&t)
}

fn load_err(bytes: &[u8]) -> String {
    match Chart::load_archive(bytes, "evil.tgz") {
        Ok(_) => panic!("a malicious archive loaded"),
        Err(e) => {
            assert!(
                matches!(e, ChartError::Archive { .. }),
                "wrong error kind: {e:?}"
            );
            e.to_string()
        }
    }
}

#[test]
fn a_clean_archive_loads_and_renders() {
    let c = Chart::load_archive(&chart_tar(|_| {}), "ok.tgz").expect("clean archive loads");
    assert_eq!(c.name(), "c");
    let r = berth_chart::render(&c, &RenderOptions::default()).expect("renders");
    assert_eq!(r.manifests.len(), 1);
    assert_eq!(r.manifests[0].kind, "ConfigMap");
}

#[test]
fn traversal_and_absolute_paths_are_refused() {
    let e = load_err(&chart_tar(|t| {
        entry(t, "c/../../etc/cron.d/x", b'0', b"x", "")
    }));
    assert!(
        e.contains("evil.tgz") && e.contains("../../etc/cron.d/x") && e.contains(".."),
        "{e}"
    );
    let e = load_err(&chart_tar(|t| entry(t, "/etc/passwd", b'0', b"x", "")));
    assert!(e.contains("absolute"), "{e}");
    let e = load_err(&chart_tar(|t| {
        entry(t, "c/templates/../../../x", b'0', b"x", "")
    }));
    assert!(e.contains("leaves the chart"), "{e}");
}

#[test]
fn links_and_devices_are_refused() {
    let e = load_err(&chart_tar(|t| {
        entry(t, "c/templates/l.yaml", b'2', b"", "/etc/shadow")
    }));
    assert!(
        e.contains("links are not allowed") && e.contains("c/templates/l.yaml"),
        "{e}"
    );
    let e = load_err(&chart_tar(|t| {
        entry(t, "c/values.yaml", b'1', b"", "c/Chart.yaml")
    }));
    assert!(e.contains("links are not allowed"), "{e}");
    let e = load_err(&chart_tar(|t| entry(t, "c/dev", b'3', b"", "")));
    assert!(e.contains("only regular files"), "{e}");
}

#[test]
fn oversized_files_and_bombs_are_refused() {
    // One file above 5 MiB (declared and real).
    let big = vec![b'a'; (berth_chart::MAX_FILE_SIZE + 1) as usize];
    let e = load_err(&chart_tar(|t| entry(t, "c/files/big.txt", b'0', &big, "")));
    assert!(
        e.contains("maximum file size") && e.contains("c/files/big.txt"),
        "{e}"
    );
    // Many files below the per-file limit adding up past 100 MiB: a gzip bomb
    // (about 100 KiB compressed) that must stop at the limit.
    let chunk = vec![0u8; 4 * 1024 * 1024];
    let bomb = chart_tar(|t| {
        for i in 0..30 {
            entry(t, &format!("c/files/{i}.bin"), b'0', &chunk, "");
        }
    });
    assert!(
        bomb.len() < 1024 * 1024,
        "the bomb should be small compressed"
    );
    let e = load_err(&bomb);
    assert!(e.contains("larger than the maximum size"), "{e}");
}

#[test]
fn garbage_and_empty_archives_are_refused() {
    let e = load_err(b"not gzip at all");
    assert!(e.contains("not a gzipped tar archive"), "{e}");
    let e = load_err(&gz(&[0u8; 1024]));
    assert!(e.contains("no files"), "{e}");
    let mut truncated = chart_tar(|_| {});
    truncated.truncate(truncated.len() / 2);
    assert!(Chart::load_archive(&truncated, "t.tgz").is_err());
    // Chart.yaml outside the chart's directory.
    let mut t = Vec::new();
    entry(&mut t, "Chart.yaml", b'0', b"name: x\n", "");
    t.extend(std::iter::repeat_n(0u8, 1024));
    let e = load_err(&gz(&t));
    assert!(e.contains("top directory"), "{e}");
}

#[test]
fn nested_subchart_archives_are_checked_too() {
    let mut inner = Vec::new();
    entry(
        &mut inner,
        "sub/Chart.yaml",
        b'0',
        b"apiVersion: v2\nname: sub\nversion: 0.1.0\n",
        "",
    );
    entry(&mut inner, "sub/../../escape", b'0', b"x", "");
    inner.extend(std::iter::repeat_n(0u8, 1024));
    let inner = gz(&inner);
    let outer = chart_tar(|t| entry(t, "c/charts/sub-0.1.0.tgz", b'0', &inner, ""));
    match Chart::load_archive(&outer, "outer.tgz") {
        Err(ChartError::Archive { archive, entry, .. }) => {
            assert_eq!(archive, "c/charts/sub-0.1.0.tgz");
            assert_eq!(entry, "sub/../../escape");
        }
        other => panic!("expected the nested archive to be refused, got {other:?}"),
    }
}

#[test]
fn bad_chart_yaml_names_chart_and_field() {
    let mut t = Vec::new();
    entry(
        &mut t,
        "c/Chart.yaml",
        b'0',
        b"apiVersion: v2\nname: c\nversion: one\n",
        "",
    );
    t.extend(std::iter::repeat_n(0u8, 1024));
    let e = Chart::load_archive(&gz(&t), "bad.tgz")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad.tgz") && e.contains("version \"one\" is invalid"),
        "{e}"
    );
}

/// A chart archive named `name` holding `files` (paths inside the chart) and, under
/// `charts/`, `copies` copies of the archive `sub`.
fn nested(name: &str, files: &[(&str, &[u8])], sub: Option<&[u8]>, copies: usize) -> Vec<u8> {
    let mut t = Vec::new();
    let meta = format!("apiVersion: v2\nname: {name}\nversion: 1.0.0\n");
    entry(
        &mut t,
        &format!("{name}/Chart.yaml"),
        b'0',
        meta.as_bytes(),
        "",
    );
    for (p, data) in files {
        entry(&mut t, &format!("{name}/{p}"), b'0', data, "");
    }
    if let Some(sub) = sub {
        for i in 0..copies {
            entry(&mut t, &format!("{name}/charts/s{i}.tgz"), b'0', sub, "");
        }
    }
    t.extend(std::iter::repeat_n(0u8, 1024));
    gz(&t)
}

/// Subchart archives inside subchart archives, `levels` deep, `copies` wide, with `leaf`
/// files in the innermost chart: small compressed, exponential decompressed.
fn nested_bomb(levels: usize, copies: usize, leaf: &[(&str, &[u8])]) -> Vec<u8> {
    let mut a = nested("l0", leaf, None, 0);
    for l in 1..=levels {
        a = nested(&format!("l{l}"), &[], Some(&a), copies);
    }
    a
}

fn limit_err(bytes: &[u8]) -> (String, String) {
    match Chart::load_archive(bytes, "bomb.tgz") {
        Err(ChartError::Limit { chart, limit, .. }) => (chart, limit),
        other => panic!("expected a whole-tree limit error, got {other:?}"),
    }
}

#[test]
fn nested_archive_bomb_stops_at_the_total_size_limit() {
    // 4 MiB of zeros per leaf, 4 copies per level, 7 levels: 64 GiB if read fully,
    // a few KiB compressed. Each archive alone is far below Helm's 100 MiB.
    let zeros = vec![0u8; 4 << 20];
    let bomb = nested_bomb(7, 4, &[("files/zero.bin", &zeros)]);
    assert!(bomb.len() < 300 * 1024, "bomb is {} bytes", bomb.len());
    let (chart, limit) = limit_err(&bomb);
    assert!(limit.contains("total decompressed size"), "{limit}");
    assert!(
        limit.contains(&berth_chart::MAX_TREE_SIZE.to_string()),
        "{limit}"
    );
    // The error names the chain of archives it was reading.
    assert!(
        chart.starts_with("l7/charts/s") && chart.matches("/charts/").count() >= 2,
        "{chart}"
    );
    let e = Chart::load_archive(&bomb, "bomb.tgz")
        .unwrap_err()
        .to_string();
    assert!(e.contains("files/zero.bin") || e.contains(".tgz"), "{e}");
}

#[test]
fn nested_archives_share_one_file_count_limit() {
    // 2,000 empty files per leaf (each leaf far below the per-archive entry cap), 16 leaves.
    let names: Vec<String> = (0..2000).map(|i| format!("files/{i}")).collect();
    let leaf: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    let bomb = nested_bomb(2, 4, &leaf);
    let (chart, limit) = limit_err(&bomb);
    assert!(limit.contains("file count"), "{limit}");
    assert!(
        limit.contains(&berth_chart::MAX_TREE_FILES.to_string()),
        "{limit}"
    );
    assert!(chart.starts_with("l2/charts/s"), "{chart}");
}

#[test]
fn nesting_deeper_than_the_limit_is_refused_with_its_chain() {
    let deep = nested_bomb(berth_chart::MAX_SUBCHART_DEPTH + 2, 1, &[]);
    let (chart, limit) = limit_err(&deep);
    assert!(limit.contains("nesting"), "{limit}");
    assert_eq!(
        chart.matches("/charts/").count(),
        berth_chart::MAX_SUBCHART_DEPTH + 1,
        "{chart}"
    );
    // At the limit it loads.
    let ok = nested_bomb(berth_chart::MAX_SUBCHART_DEPTH, 1, &[]);
    let c = Chart::load_archive(&ok, "ok.tgz").expect("16 levels load");
    assert_eq!(c.dependencies.len(), 1);
}

#[test]
fn a_repeated_entry_takes_the_last_copy_for_every_file() {
    let mut t = Vec::new();
    let files: [(&str, &[u8]); 10] = [
        ("c/Chart.yaml", b"apiVersion: v2\nname: c\nversion: 1.0.0\n"),
        ("c/values.yaml", b"v: first\n"),
        ("c/templates/cm.yaml", b"kind: First\n"),
        ("c/files/f.txt", b"first"),
        ("c/values.schema.json", b"{\"title\":\"first\"}"),
        ("c/Chart.yaml", b"apiVersion: v2\nname: c\nversion: 2.0.0\n"),
        ("c/values.yaml", b"v: last\n"),
        (
            "c/templates/cm.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.v }}\n",
        ),
        ("c/files/f.txt", b"last"),
        ("c/values.schema.json", b"{\"title\":\"last\"}"),
    ];
    for (n, d) in files {
        entry(&mut t, n, b'0', d, "");
    }
    t.extend(std::iter::repeat_n(0u8, 1024));
    let c = Chart::load_archive(&gz(&t), "dup.tgz").expect("loads");
    assert_eq!(c.metadata.version, "2.0.0");
    assert_eq!(c.values.get("v").and_then(|v| v.as_str()), Some("last"));
    assert_eq!(c.templates.len(), 1);
    assert_eq!(c.files.len(), 1);
    assert_eq!(&*c.files[0].data, b"last");
    assert_eq!(c.schema.as_deref(), Some(&b"{\"title\":\"last\"}"[..]));
    let r = berth_chart::render(&c, &RenderOptions::default()).expect("renders");
    assert_eq!(r.manifests.len(), 1);
    assert_eq!(r.manifests[0].object().unwrap()["metadata"]["name"], "last");
}
