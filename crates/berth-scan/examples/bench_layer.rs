//! Time berth-scan's layer reading against the decompression floor, side by side:
//! `cargo run -p berth-scan --example bench_layer -- LAYER.tar.gz [LAYER…]`.
//! Prints, per layer, the time to gunzip it to nothing (the floor any scanner pays)
//! and the time `image::read_layer` takes to keep the wanted files, and the ratio.

use berth_scan::image::{Limits, read_layer};
use std::io::Read;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        return Err("usage: bench_layer LAYER.tar.gz [LAYER…]".into());
    }
    println!("| layer | size | gunzip floor | read_layer | ratio | wanted files |");
    println!("|---|---|---|---|---|---|");
    for p in paths {
        let data = std::fs::read(&p)?;
        let t = Instant::now();
        let mut d = flate2::read::MultiGzDecoder::new(&data[..]);
        let mut buf = vec![0u8; 256 << 10];
        while d.read(&mut buf)? > 0 {}
        let floor = t.elapsed();
        let t = Instant::now();
        let delta = read_layer(&data[..], &p, &Limits::default())?;
        let ours = t.elapsed();
        println!(
            "| {p} | {:.1} MB | {:.2} s | {:.2} s | {:.2}x | {} |",
            data.len() as f64 / 1e6,
            floor.as_secs_f64(),
            ours.as_secs_f64(),
            ours.as_secs_f64() / floor.as_secs_f64(),
            delta.files.len()
        );
    }
    Ok(())
}
