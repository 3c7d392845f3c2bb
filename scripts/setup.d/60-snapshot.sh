# restic (Debian 0.14), the anchor of berth-snapshot's benchmark
# (crates/berth-snapshot/examples/bench_snapshot.rs).
need_apt restic
BERTH_TEST_RESTIC="$(command -v restic || echo /usr/bin/restic)"
export BERTH_TEST_RESTIC
