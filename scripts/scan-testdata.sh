#!/usr/bin/env bash
# Rebuild crates/berth-scan/tests/data from its public sources (see its README.md).
# Needs curl and python3. Pinned commits: the tracker, secdb and schema files come back
# byte-identical; OSV records are fetched from api.osv.dev as they are today.
set -euo pipefail
cd "$(dirname "$0")/../crates/berth-scan/tests/data"
gh() { curl -fsSL "https://raw.githubusercontent.com/$1/$2/$3" -o "$4"; }
mkdir -p tracker secdb schemas
gh anchore/vunnel 42a1d4233aeb95259ce249778f44dbebc32b9e30 \
  tests/unit/providers/debian/test-fixtures/input/debian.json tracker/debian.json
gh alpinelinux/alpine-secdb 06f6e960194f46c2054522e1c6f90298a8c887e1 v3.10/main.yaml secdb/v3.10-main.yaml
for f in bom-1.6.schema.json spdx.schema.json jsf-0.82.schema.json; do
  gh CycloneDX/specification e02a34ae42a48239f54e04f75280b9000b29f1fb "schema/$f" "schemas/$f"
done
gh spdx/spdx-spec aadf3b0b8dbbabdb4d880b0fc714255fea436ff7 schemas/spdx-schema.json schemas/spdx-2.3.schema.json
# OSV records: fetched one by one, prose fields dropped (osv/README.md).
for id in GO-2023-1878 DSA-3029-1 DSA-5514-1 DEBIAN-CVE-2024-58382 ALPINE-CVE-2023-5363 ALPINE-CVE-2022-28391 GHSA-j8r2-6x86-q33q; do
  curl -fsSL "https://api.osv.dev/v1/vulns/$id" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); [d.pop(k,None) for k in ("details","references","credits")]; json.dump(d,sys.stdout,indent=2)' \
    > "osv/$id.json"
done
# RustSec's record as its advisory-db osv branch has it (prose dropped).
gh rustsec/advisory-db 057cf031107a80d877c35b4e28e1477f7066bc58 crates/RUSTSEC-2021-0003.json /dev/stdout |
  python3 -c 'import json,sys; d=json.load(sys.stdin); [d.pop(k,None) for k in ("details","references")]; json.dump(d,sys.stdout,indent=2)' \
  > osv/RUSTSEC-2021-0003.json
# GitHub's Log4Shell and Spring4Shell advisories (ecosystem Maven) as its advisory-database
# repository has them (prose dropped).
gh github/advisory-database 0cfafc15b8ce7c8a53c8685daa0ec1a0c76d4684 \
  advisories/github-reviewed/2021/12/GHSA-jfh8-c2jp-5v3q/GHSA-jfh8-c2jp-5v3q.json /dev/stdout |
  python3 -c 'import json,sys; d=json.load(sys.stdin); [d.pop(k,None) for k in ("details","references")]; json.dump(d,sys.stdout,indent=2)' \
  > osv/GHSA-jfh8-c2jp-5v3q.json
gh github/advisory-database b4fb55f2669be0216baf4cfb9a01fe4533007957 \
  advisories/github-reviewed/2022/03/GHSA-36p3-wjmg-h94x/GHSA-36p3-wjmg-h94x.json /dev/stdout |
  python3 -c 'import json,sys; d=json.load(sys.stdin); [d.pop(k,None) for k in ("details","references")]; json.dump(d,sys.stdout,indent=2)' \
  > osv/GHSA-36p3-wjmg-h94x.json
# AlmaLinux's errata record, prose dropped and its affected list cut to five glibc packages.
gh AlmaLinux/osv-database 0f58f4620a858b797b968bf3678fc24f78fc088c advisories/almalinux9/ALSA-2023:5453.json /dev/stdout |
  python3 -c 'import json,sys; d=json.load(sys.stdin); keep={"glibc","glibc-common","glibc-minimal-langpack","libnsl","nscd"}
d["affected"]=[a for a in d["affected"] if a["package"]["name"] in keep]
json.dump({k: d[k] for k in ("id","summary","affected","related","published","modified")},sys.stdout,indent=2)' \
  > osv/ALSA-2023-5453.json
# Real rpm databases (README.md): RHEL 8 Berkeley DB, SLE 15 ndb (gzipped).
mkdir -p rpm
gh knqyf263/go-rpmdb 7e39c901d1c42d070a7c681b5d36c92ac6c129d6 pkg/testdata/libuuid/Packages rpm/libuuid-Packages
gh knqyf263/go-rpmdb 7e39c901d1c42d070a7c681b5d36c92ac6c129d6 pkg/testdata/sle15-bci/Packages.db /dev/stdout |
  gzip -9 > rpm/sle15-bci-Packages.db.gz
# rpm/rpmdb.sqlite.gz and rust/berth-audit-fixture.gz are made here, not fetched: README.md
# says how.
