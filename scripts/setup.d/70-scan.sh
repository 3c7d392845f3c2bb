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
# Maven's version order is checked against Maven's own ComparableVersion: the maven-artifact
# jar of libmaven3-core-java (above) run by a headless JRE. Debian's log4j-core 2.19 is the
# real jar the Log4Shell test scans (it must not be reported: 2.19 is fixed).
need_apt openjdk-17-jre-headless liblog4j2-java
BERTH_TEST_JAVA="$(command -v java)"
BERTH_TEST_MAVEN_ARTIFACT_JAR=/usr/share/java/maven3-artifact.jar
BERTH_TEST_LOG4J_CORE_JAR=/usr/share/java/log4j-core.jar
export BERTH_TEST_JAVA BERTH_TEST_MAVEN_ARTIFACT_JAR BERTH_TEST_LOG4J_CORE_JAR
