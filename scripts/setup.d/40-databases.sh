# Real database servers for the troubleshoot collectors' tests (postgres, mysql, redis).
# Only the packages are installed here; the tests start throwaway instances on free
# 127.0.0.1 ports in temporary directories and stop them. Their services are kept disabled.
need_apt postgresql mariadb-server mariadb-client redis-server
for svc in postgresql mariadb redis-server; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
BERTH_TEST_POSTGRES_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
export BERTH_TEST_POSTGRES_BIN
BERTH_TEST_MARIADB="$(command -v mariadbd || command -v mysqld || true)"
[ -n "$BERTH_TEST_MARIADB" ] || BERTH_TEST_MARIADB=/usr/sbin/mariadbd
export BERTH_TEST_MARIADB
BERTH_TEST_REDIS="$(command -v redis-server || true)"
export BERTH_TEST_REDIS
