# berth-scan's catalogers are tested on real package data of this machine: Debian's jars
# (libmaven3-core-java: /usr/share/java and the maven-repo layout), Node's bundled npm tree
# (its node_modules, `npm ls`, and npm's own semver module as the order oracle), and the Go
# binaries of 30-registry.sh. python3 and dpkg come with the base system.
need_apt libmaven3-core-java nodejs
BERTH_TEST_JAVA_DIR=/usr/share/java
# NodeSource's nodejs bundles npm with its dependencies under /usr/lib/node_modules/npm;
# Debian's own split npm package does not, and the npm test needs that tree.
if [ -d /usr/lib/node_modules/npm/node_modules/semver ]; then
  BERTH_TEST_NPM_DIR=/usr/lib/node_modules/npm
else
  need_apt npm
  BERTH_TEST_NPM_DIR=""
  for d in /usr/lib/node_modules/npm /usr/share/nodejs/npm; do
    if [ -d "$d/node_modules/semver" ]; then BERTH_TEST_NPM_DIR="$d"; fi
  done
fi
export BERTH_TEST_JAVA_DIR BERTH_TEST_NPM_DIR
# rpm databases are tested on data Debian's rpm makes: rpmbuild builds small packages, rpm
# installs them into a temporary root (the sqlite backend) and is the oracle that reads
# them back (and reads Berkeley DB through its bdb_ro backend); rpm's Lua `rpm.vercmp` is
# the version-order oracle; sqlite3 writes a database with an uncheckpointed WAL.
need_apt rpm sqlite3
BERTH_TEST_RPM="$(command -v rpm)"
BERTH_TEST_RPMBUILD="$(command -v rpmbuild)"
BERTH_TEST_SQLITE3="$(command -v sqlite3)"
export BERTH_TEST_RPM BERTH_TEST_RPMBUILD BERTH_TEST_SQLITE3
