#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need on a fresh
# Debian 12 machine, then checks formatting and lints, then runs the whole suite.
# Idempotent: a second run installs nothing and reuses the build cache.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export ROOT
# Reuse a build cache outside the clone when present (never required). One cache per clone
# path: cargo keys workspace crates by their path inside the workspace, so a clone elsewhere
# would take another clone's test binaries as fresh, with that clone's CARGO_MANIFEST_DIR
# compiled in (and fixtures looked for there).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target/$(printf %s "$ROOT" | sha256sum | cut -c1-12)}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Test tools and services are found through BERTH_TEST_* variables the setup scripts export;
# a test whose tool is missing fails (BERTH_TEST_ALLOW_SKIP=1 skips it, listed at the end).
export BERTH_TEST_SKIP_LOG="$CARGO_TARGET_DIR/berth-skipped-tests.log"
rm -f "$BERTH_TEST_SKIP_LOG"

apt_updated=0
# need_apt PKG...: install the Debian packages that are not installed yet.
need_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

for f in scripts/setup.d/*.sh; do
  [ -e "$f" ] || continue
  echo "== setup: $f" >&2
  # shellcheck source=/dev/null
  source "$f"
done

# A full disk shows up as unrelated failures (servers refusing writes, databases not
# starting): say it first. The build needs about 10 GiB, the tests about 2 GiB more.
mkdir -p "$CARGO_TARGET_DIR"
for d in "$CARGO_TARGET_DIR" "${TMPDIR:-/tmp}"; do
  free_kib=$(df -Pk "$d" | awk 'NR==2 {print $4}')
  echo "== free disk at $d: $((free_kib / 1024)) MiB" >&2
  if [ "$free_kib" -lt $((4 * 1024 * 1024)) ]; then
    echo "warning: less than 4 GiB free at $d; tests that write (S3, databases, charts) may fail for want of space" >&2
  fi
done

echo "== cargo fmt --check" >&2
cargo fmt --all --check
echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo nextest" >&2
status=0
cargo nextest run --workspace --no-fail-fast --cargo-quiet "$@" || status=$?
if [ -s "$BERTH_TEST_SKIP_LOG" ]; then
  echo "== skipped tests (BERTH_TEST_ALLOW_SKIP=1): $(wc -l <"$BERTH_TEST_SKIP_LOG")" >&2
  cat "$BERTH_TEST_SKIP_LOG" >&2
fi
exit "$status"
