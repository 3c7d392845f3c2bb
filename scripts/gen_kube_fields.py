#!/usr/bin/env python3
"""Generate crates/berth-kube-sim/data/kube-fields.json.gz: the field tree of every built-in
Kubernetes kind, for the simulator's strict field validation (fieldValidation=Strict/Warn).

Source: the k8s-openapi crate (Apache-2.0), whose Rust types are generated from the
Kubernetes OpenAPI specifications (Apache-2.0, The Kubernetes Authors) of each release it
supports. Only field names and their types are kept.

Format (JSON, gzip):
  {"source": "...", "minors": [33, ...],
   "kinds": {"apps/v1/Deployment": "api.apps.v1.Deployment", ...},
   "types": {"api.apps.v1.DeploymentSpec": {"replicas": "", "template": "api.core.v1.PodTemplateSpec",
                                            "newField": "@34|", ...}}}
  A field's type: "" scalar or free-form, "T" a type in "types", "[X" a list of X, "{X" a map
  of string to X. A leading "@A-B|" (either bound optional) limits the field to Kubernetes
  minors A..B; no prefix means every minor in "minors".

Run: python3 scripts/gen_kube_fields.py [path/to/k8s-openapi-X.Y.Z]
"""
import glob, gzip, json, os, re, sys

def crate_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    found = sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/k8s-openapi-*")))
    if not found:
        sys.exit("k8s-openapi source not found; pass its directory")
    return found[-1]

FIELD = re.compile(r"^    pub (\w+): (.+),$")
MAPPING = re.compile(r'^\s*"([^"]+)" => Field::Key_(\w+),$')
STRUCT = re.compile(r"^pub struct (\w+) \{$")

def encode(ty):
    ty = ty.strip()
    m = re.fullmatch(r"Option<(.+)>", ty)
    if m:
        return encode(m.group(1))
    m = re.fullmatch(r"std::boxed::Box<(.+)>", ty)
    if m:
        return encode(m.group(1))
    m = re.fullmatch(r"std::vec::Vec<(.+)>", ty)
    if m:
        return "[" + encode(m.group(1))
    m = re.fullmatch(r"std::collections::BTreeMap<std::string::String, (.+)>", ty)
    if m:
        return "{" + encode(m.group(1))
    if ty.startswith("crate::") and "::" in ty:
        return ty[len("crate::"):].replace("::", ".")
    return ""

def parse_version(root):
    types, kinds = {}, {}
    for path in glob.glob(os.path.join(root, "**", "*.rs"), recursive=True):
        text = open(path).read().splitlines()
        rel = os.path.relpath(os.path.dirname(path), root).replace(os.sep, ".")
        name, fields, mapping = None, [], {}
        in_struct = False
        for line in text:
            m = STRUCT.match(line)
            if m and name is None:
                name, in_struct = m.group(1), True
                continue
            if in_struct:
                if line == "}":
                    in_struct = False
                    continue
                f = FIELD.match(line)
                if f:
                    fields.append((f.group(1), f.group(2)))
                continue
            mm = MAPPING.match(line)
            if mm:
                mapping[mm.group(2)] = mm.group(1)
        if name is None or not mapping:
            continue  # newtypes and enums: free-form leaves
        full = f"{rel}.{name}"
        types[full] = {mapping[r]: encode(t) for r, t in fields if r in mapping}
        src = "\n".join(text)
        r = re.search(r'impl crate::Resource for \w+ \{\s*const API_VERSION: &\'static str = "([^"]+)";\s*const GROUP: &\'static str = "[^"]*";\s*const KIND: &\'static str = "([^"]+)";', src)
        if r and not r.group(2).endswith("List"):
            kinds[f"{r.group(1)}/{r.group(2)}"] = full
    # Types only referenced but without fields (enums, newtypes) stay free-form: drop refs to them.
    return types, kinds

def main():
    crate = crate_dir()
    versions = sorted(
        int(d.split("_")[1]) for d in os.listdir(os.path.join(crate, "src")) if re.fullmatch(r"v1_\d+", d)
    )
    per = {v: parse_version(os.path.join(crate, "src", f"v1_{v}")) for v in versions}
    lo, hi = versions[0], versions[-1]
    all_types = sorted(set().union(*(per[v][0].keys() for v in versions)))
    known = set(all_types)
    def fix(enc):
        inner = enc.lstrip("[{")
        return enc if inner == "" or inner in known else enc[: len(enc) - len(inner)]
    types = {}
    for t in all_types:
        fields = {}
        names = sorted(set().union(*(per[v][0].get(t, {}).keys() for v in versions)))
        for f in names:
            present = [v for v in versions if f in per[v][0].get(t, {})]
            encs = {fix(per[v][0][t][f]) for v in present}
            enc = sorted(encs)[-1]
            a, b = present[0], present[-1]
            if (a, b) != (lo, hi):
                enc = "@" + (str(a) if a != lo else "") + "-" + (str(b) if b != hi else "") + "|" + enc
            fields[f] = enc
        types[t] = fields
    kinds = {}
    for v in versions:
        for k, t in per[v][1].items():
            kinds[k] = t
    # Shorten type names: drop the common "api." / "apimachinery.pkg.apis." noise is not worth
    # the obscurity; gzip takes care of repetition.
    doc = {
        "source": os.path.basename(crate) + " (Rust types generated from the Kubernetes OpenAPI specifications, Apache-2.0, The Kubernetes Authors)",
        "minors": versions,
        "kinds": dict(sorted(kinds.items())),
        "types": types,
    }
    out = os.path.join(os.path.dirname(__file__), "..", "crates", "berth-kube-sim", "data", "kube-fields.json.gz")
    raw = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    with gzip.GzipFile(out, "wb", mtime=0) as f:
        f.write(raw)
    print(f"{len(kinds)} kinds, {len(types)} types, minors {lo}-{hi}: {len(raw)} bytes JSON, {os.path.getsize(out)} gzipped")

main()
