# Real kubectl (Debian package `kubectl`) drives the Kubernetes API simulator's fidelity tests
# (crates/berth-kube-sim/tests). Each test gives kubectl a fresh HOME and its own kubeconfig.
need_apt kubectl
BERTH_TEST_KUBECTL="$(command -v kubectl)"
export BERTH_TEST_KUBECTL
