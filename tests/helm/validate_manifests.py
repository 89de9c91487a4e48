#!/usr/bin/env python3
"""Checks rendered Helm output (multi-document YAML files given as arguments).

Every document must pass kubernetes-validate in strict mode (unknown fields are errors)
for the Kubernetes version in MT_K8S_VERSION, and the chart's own promises hold:
every container runs non-root with a read-only root filesystem, drops ALL capabilities
and uses the RuntimeDefault seccomp profile; every long-running container has probes.
Exits 1 naming the document and the problem."""
import json
import os
import sys

import kubernetes_validate
import yaml

VERSION = os.environ.get("MT_K8S_VERSION", "1.37.0")


def pod_spec(doc):
    kind = doc.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return doc["spec"]["template"]["spec"]
    if kind == "Pod":
        return doc["spec"]
    return None


def check_hardening(name, spec, problems, probes=True):
    psc = spec.get("securityContext", {})
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        sc = c.get("securityContext", {})
        where = f"{name} container {c['name']}"
        if c["name"].startswith("mcp-server"):
            continue  # the example's own MCP server is the user's business
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            problems.append(f"{where}: runAsNonRoot is not set")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: readOnlyRootFilesystem is not true")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            problems.append(f"{where}: capabilities do not drop ALL")
        seccomp = sc.get("seccompProfile") or psc.get("seccompProfile") or {}
        if seccomp.get("type") != "RuntimeDefault":
            problems.append(f"{where}: seccompProfile is not RuntimeDefault")
        if probes and not (c.get("livenessProbe") and c.get("readinessProbe")):
            if not c.get("args", [""])[0] == "run":  # the archiver: probes optional (see values)
                problems.append(f"{where}: liveness/readiness probes missing")


def check_chart_invariants(path, docs, problems):
    """No bypass: every ingress rule of the chart's sidecar NetworkPolicies names its ports
    (a rule without ports would open the MCP server's port too). Every chart workload has
    a PodDisruptionBudget selecting its pods."""
    pdbs = [d for d in docs if d.get("kind") == "PodDisruptionBudget"]
    for d in docs:
        name = f"{path}: {d.get('kind')}/{d.get('metadata', {}).get('name')}"
        if d.get("kind") == "NetworkPolicy" and d["metadata"]["name"].endswith("-sidecar"):
            for i, rule in enumerate(d["spec"].get("ingress", [])):
                if not rule.get("ports"):
                    problems.append(f"{name}: ingress rule {i} has no ports: it opens every port")
        if d.get("kind") in ("Deployment", "StatefulSet") and \
                d["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "mcptrail":
            labels = d["spec"]["template"]["metadata"].get("labels", {})
            if not any(p["metadata"].get("namespace") == d["metadata"].get("namespace") and
                       p["spec"]["selector"]["matchLabels"].items() <= labels.items()
                       for p in pdbs):
                problems.append(f"{name}: no PodDisruptionBudget selects its pods")


def main(paths):
    problems = []
    count = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for doc in docs:
            count += 1
            name = f"{path}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            try:
                kubernetes_validate.validate(doc, VERSION, strict=True)
            except kubernetes_validate.ValidationError as e:
                problems.append(f"{name}: {'.'.join(str(p) for p in e.path)}: {e.message}")
            except Exception as e:  # schema not found and the like
                problems.append(f"{name}: {type(e).__name__}: {e}")
            spec = pod_spec(doc)
            if spec is not None:
                check_hardening(name, spec, problems)
            if doc.get("kind") == "ConfigMap" and "template.json" in doc.get("data", {}):
                tpl = json.loads(doc["data"]["template.json"])
                check_hardening(name + " (injection template)",
                                {"containers": [tpl["container"]]}, problems)
        check_chart_invariants(path, docs, problems)
    if count == 0:
        problems.append("no manifest rendered")
    for p in problems:
        print("INVALID " + p)
    print(f"validate_manifests: {count} manifests, {len(problems)} problems "
          f"(Kubernetes {VERSION}, strict)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
