# Real OCI registry (Debian's docker-registry = CNCF distribution) and skopeo as the
# independent client for berth-oci tests; apache2-utils for htpasswd. The tests start
# their own registries on free 127.0.0.1 ports (plain, and TLS + basic auth).
need_apt docker-registry skopeo apache2-utils
# Debian's package may start a system registry on :5000; the tests do not use it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry >/dev/null 2>&1 || true
fi
BERTH_TEST_DOCKER_REGISTRY="$(command -v docker-registry)"
BERTH_TEST_SKOPEO="$(command -v skopeo)"
export BERTH_TEST_DOCKER_REGISTRY BERTH_TEST_SKOPEO
