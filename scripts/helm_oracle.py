#!/usr/bin/env python3
"""Render a chart with real Helm v4 (PyPI helm-python-sdk) and print JSON.

The rendering oracle for berth's differential tests and benchmark.

    helm_oracle.py [CHART] [--batch FILE.json] [--values FILE.json] [--name N] [--namespace NS]
                         [--kube-version V] [--api-version A]... [--bench N]
                         [--kubeconfig FILE]

Prints one JSON object on stdout:
    {"files": {template path: text}, "manifest": "...", "hooks": [...],
     "notes": "..."}  or  {"error": "message"}
`files` is Helm's engine output (`helm_render`: every rendered template);
`manifest`, `hooks` and `notes` come from a client-side dry-run install, i.e.
what `helm template` prints (sorted, hooks separated).

With --kubeconfig FILE the install is a server-side dry run against that cluster, as
`helm install --dry-run=server` does: `.Capabilities` come from the server's /version and
discovery, and `lookup` reads the cluster.

With --batch FILE.json (a list of {"chart", "values", "name", "namespace"} objects) it renders
each chart in turn in this one process and prints a JSON list of the objects above, in order.

With --bench N it instead times N warm runs of load+render and prints
{"median_ms": ..., "min_ms": ..., "runs": N} (with --batch: a list of those, or {"error"}).
"""
import argparse
import json
import statistics
import sys
import time

import helm_python
from helm_python import _native


def render_opts(a):
    opts = {"name": a.name, "namespace": a.namespace, "revision": 1,
            "is_install": True, "is_upgrade": False}
    if a.kube_version:
        opts["kube_version"] = a.kube_version
    if a.api_version:
        opts["api_versions"] = a.api_version
    return opts


def render_files(chart_path, values, a):
    chart = helm_python.Chart.load(chart_path)
    out = _native.call_string("helm_render", chart._raw(), json.dumps(values),
                              json.dumps(render_opts(a)))
    return chart, json.loads(out)


def dry_run(chart, values, a):
    opts = {"namespace": a.namespace, "dry_run": "client"}
    if a.kubeconfig:
        opts["dry_run"] = "server"
        opts["disable_openapi_validation"] = True
        with helm_python.Config(kubeconfig_path=a.kubeconfig, namespace=a.namespace,
                                storage_driver="memory") as cfg:
            handle, ref = cfg._chart_args(chart)
            payload = _native.call_string("helm_install", cfg._raw(), cfg._context_arg(None),
                                          handle, ref, a.name, json.dumps(values),
                                          json.dumps(opts))
        return json.loads(payload)
    if a.kube_version:
        opts["kube_version"] = a.kube_version
    if a.api_version:
        opts["api_versions"] = a.api_version
    with helm_python.Config(namespace=a.namespace, storage_driver="memory") as cfg:
        handle, ref = cfg._chart_args(chart)
        payload = _native.call_string("helm_install", cfg._raw(), cfg._context_arg(None),
                                      handle, ref, a.name, json.dumps(values), json.dumps(opts))
    return json.loads(payload)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("chart", nargs="?")
    p.add_argument("--values", help="JSON file with user values")
    p.add_argument("--name", default="release-name")
    p.add_argument("--namespace", default="default")
    p.add_argument("--kube-version")
    p.add_argument("--api-version", action="append", default=[])
    p.add_argument("--bench", type=int, default=0)
    p.add_argument("--kubeconfig")
    p.add_argument("--batch", help="JSON list of charts to render in one process")
    a = p.parse_args()
    if a.batch:
        with open(a.batch) as f:
            jobs = json.load(f)
        out = []
        for job in jobs:
            a.name = job.get("name", "release-name")
            a.namespace = job.get("namespace", "default")
            if a.bench:
                try:
                    out.append(bench(job["chart"], job.get("values", {}), a))
                except Exception as e:  # a chart Helm cannot render is left out of the sum
                    out.append({"error": str(e)})
            else:
                out.append(oracle_one(job["chart"], job.get("values", {}), a))
        print(json.dumps(out))
        return
    values = {}
    if a.values:
        with open(a.values) as f:
            values = json.load(f)
    if a.bench:
        print(json.dumps(bench(a.chart, values, a)))
        return
    print(json.dumps(oracle_one(a.chart, values, a)))


def bench(chart_path, values, a):
    """Times a.bench warm runs of load+render (after 3 untimed ones)."""
    times = []
    for _ in range(3):
        render_files(chart_path, values, a)
    for _ in range(a.bench):
        t0 = time.perf_counter()
        render_files(chart_path, values, a)
        times.append((time.perf_counter() - t0) * 1000.0)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "runs": a.bench}


def oracle_one(chart_path, values, a):
    try:
        if a.kubeconfig:
            chart, files = helm_python.Chart.load(chart_path), {}
        else:
            chart, files = render_files(chart_path, values, a)
        rel = dry_run(chart, values, a)
    except Exception as e:  # the error text is what the test compares
        return {"error": str(e)}
    return {"files": files, "manifest": rel.get("manifest", ""), "notes": rel.get("notes", "")}


if __name__ == "__main__":
    sys.exit(main())
