# restic (Debian 0.14), the anchor of berth-snapshot's benchmark
# (crates/berth-snapshot/examples/bench_snapshot.rs).
need_apt restic
BERTH_TEST_RESTIC="$(command -v restic || echo /usr/bin/restic)"
export BERTH_TEST_RESTIC

# SeaweedFS for the S3 backend's tests comes from 55-seaweedfs.sh (BERTH_TEST_WEED).

# OpenSSH server for the SFTP backend's tests (crates/berth/tests/snapshot_sftp.rs): each test
# starts its own throwaway sshd on a free 127.0.0.1 port; the system service stays disabled.
need_apt openssh-server openssh-client
systemctl disable --now ssh >/dev/null 2>&1 || true
mkdir -p /run/sshd 2>/dev/null || true
BERTH_TEST_SSHD="$(command -v sshd || echo /usr/sbin/sshd)"
export BERTH_TEST_SSHD
