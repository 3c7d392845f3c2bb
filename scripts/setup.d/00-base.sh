# Base tools: a Rust toolchain with rustfmt/clippy and cargo-nextest.
rustup component add rustfmt clippy >/dev/null 2>&1 || true
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
need_apt ca-certificates
