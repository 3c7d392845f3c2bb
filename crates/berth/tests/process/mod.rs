//! Real berth processes paused and signalled by the tests that check locks and interrupts.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Wait until the process has stopped itself (state `T` in /proc/PID/stat).
pub fn wait_stopped(child: &mut Child, who: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap_or_default();
        if stat.rsplit_once(") ").and_then(|(_, r)| r.chars().next()) == Some('T') {
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{who} ended ({st}) before reaching its pause point");
        }
        assert!(Instant::now() < deadline, "{who} never paused");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Send `sig` (`-STOP`, `-CONT`, `-INT`, …) with kill(1).
pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill {sig} failed");
}
