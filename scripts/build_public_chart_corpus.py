#!/usr/bin/env python3
"""Rebuild berth's corpus of real public Helm charts (crates/berth-chart/tests/public-charts/).

    build_public_chart_corpus.py OUT_DIR SOURCE=GIT_DIR:SUBDIR...

Each SOURCE is a git repository of charts (a bare clone is enough) and the folder in it that
holds one chart per subfolder, for example
    bitnami=/work/.mirror/bitnami+charts/repo:bitnami
    prometheus-community=/path/helm-charts:charts

Every chart is exported at the repository's HEAD (`git archive`), and each dependency that
Chart.yaml declares is vendored as a directory under the chart's charts/ folder, taken from
the source whose chart repository URL it names (REPOSITORIES below), recursively. A chart
whose dependency no source holds is left out and listed in the manifest with the reason.

Writes, per source, OUT_DIR/<source>.tar.zst (one top-level folder per chart; zstd --long so
the many vendored copies of a library chart cost little), and OUT_DIR/manifest.json: for
each source its git commit, and each chart's name, version and vendored dependencies.
Needs python3-yaml and zstd.
"""
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

import yaml

# Chart repository URL (as written in Chart.yaml) -> source name given on the command line.
REPOSITORIES = {
    "oci://registry-1.docker.io/bitnamicharts": "bitnami",
    "https://charts.bitnami.com/bitnami": "bitnami",
    "https://prometheus-community.github.io/helm-charts": "prometheus-community",
    "https://grafana-community.github.io/helm-charts": "grafana-community",
    "https://grafana.github.io/helm-charts": "grafana-community",
    "https://dandydeveloper.github.io/charts": "dandydeveloper",
    "https://argoproj.github.io/argo-helm": "argo",
}


def export(git_dir, subdir, dest):
    """Exports SUBDIR at HEAD of GIT_DIR into DEST; returns the commit."""
    commit = subprocess.check_output(["git", "-C", git_dir, "rev-parse", "HEAD"], text=True).strip()
    data = subprocess.check_output(["git", "-C", git_dir, "archive", "--format=tar", "HEAD", subdir])
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        t.extractall(dest, filter="data")
    return commit


def chart_meta(path):
    with open(os.path.join(path, "Chart.yaml")) as f:
        return yaml.safe_load(f) or {}


def vendor(chart_dir, index, stack):
    """Copies every declared dependency of CHART_DIR into its charts/ folder (recursively)."""
    meta = chart_meta(chart_dir)
    deps = list(meta.get("dependencies") or [])
    req = os.path.join(chart_dir, "requirements.yaml")
    if os.path.exists(req):
        with open(req) as f:
            deps += (yaml.safe_load(f) or {}).get("dependencies") or []
    vendored = []
    for d in deps:
        name, repo = d.get("name"), (d.get("repository") or "").rstrip("/")
        if repo.startswith("file://"):
            local = os.path.normpath(os.path.join(chart_dir, repo[len("file://"):]))
            if not os.path.exists(os.path.join(local, "Chart.yaml")):
                raise LookupError(f"{name}: {repo} is not in the chart")
            continue
        target = os.path.join(chart_dir, "charts", name)
        if os.path.exists(os.path.join(target, "Chart.yaml")):
            continue  # already vendored by the chart itself
        source = REPOSITORIES.get(repo)
        if source is None or (source, name) not in index:
            raise LookupError(f"{name}: no source holds {repo or '(no repository)'}")
        if name in stack:
            raise LookupError(f"{name}: dependency cycle")
        src = index[(source, name)]
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copytree(src, target)
        sub = vendor(target, index, stack + [name])
        vendored.append({"name": name, "range": str(d.get("version", "")),
                         "version": str(chart_meta(target).get("version", "")),
                         "from": source, "dependencies": sub})
    return vendored


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="berth-corpus-")
    sources, index = {}, {}
    for spec in sys.argv[2:]:
        name, rest = spec.split("=", 1)
        git_dir, subdir = rest.rsplit(":", 1)
        raw = os.path.join(work, "raw", name)
        commit = export(git_dir, subdir, raw)
        root = os.path.join(raw, subdir)
        charts = sorted(c for c in os.listdir(root) if os.path.exists(os.path.join(root, c, "Chart.yaml")))
        sources[name] = {"git_dir": git_dir, "subdir": subdir, "commit": commit, "root": root, "charts": charts}
        for c in charts:
            index[(name, chart_meta(os.path.join(root, c)).get("name", c))] = os.path.join(root, c)
    manifest = {}
    for name, s in sources.items():
        stage = os.path.join(work, "stage", name)
        entries, skipped = [], []
        for c in s["charts"]:
            dest = os.path.join(stage, c)
            shutil.copytree(os.path.join(s["root"], c), dest)
            try:
                deps = vendor(dest, index, [c])
            except LookupError as e:
                shutil.rmtree(dest)
                skipped.append({"chart": c, "reason": str(e)})
                continue
            meta = chart_meta(dest)
            entries.append({"chart": c, "version": str(meta.get("version", "")),
                            "type": meta.get("type", "application"), "dependencies": deps})
        archive = os.path.join(out, f"{name}.tar.zst")
        tar = subprocess.run(["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner",
                              "--mtime=2000-01-01", "-C", stage, "-cf", "-", "."],
                             check=True, stdout=subprocess.PIPE).stdout
        with open(archive, "wb") as f:
            subprocess.run(["zstd", "-19", "--long=27", "-q", "-c"], input=tar, stdout=f, check=True)
        manifest[name] = {"repository": s["git_dir"], "path": s["subdir"], "commit": s["commit"],
                          "charts": entries, "skipped": skipped}
        print(f"{name}: {len(entries)} charts, {len(skipped)} skipped, "
              f"{os.path.getsize(archive) / 1e6:.1f} MB", file=sys.stderr)
    for m in manifest.values():
        m.pop("repository")
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
