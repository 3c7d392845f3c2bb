//! Chart archives: any byte string given as a `.tgz` chart is either refused with an
//! error or loads into a chart whose every file name stays inside the chart (no `..`,
//! no absolute path); a loaded chart then renders or fails with an error. Never a
//! panic, a hang, or unbounded memory.
#![no_main]

use berth_chart::{Chart, RenderOptions};
use libfuzzer_sys::fuzz_target;

fn check(c: &Chart) {
    for f in c.templates.iter().chain(c.files.iter()) {
        assert!(!f.name.starts_with('/'), "absolute name {}", f.name);
        assert!(
            !f.name.split('/').any(|p| p == ".."),
            "traversal in {}",
            f.name
        );
        assert!(f.data.len() as u64 <= berth_chart::MAX_FILE_SIZE);
    }
    for d in &c.dependencies {
        check(d);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(chart) = Chart::load_archive(data, "fuzz.tgz") else {
        return;
    };
    check(&chart);
    let _ = berth_chart::render(&chart, &RenderOptions::default());
});
