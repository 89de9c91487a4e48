#!/usr/bin/env python3
"""Client of tests/injector/injector_e2e.sh: POSTs every AdmissionReview fixture to a
running mcptrail-injector over verified TLS and checks each answer. Patched pods are
produced with python jsonpatch, as the API server applies the patch, and validated with
kubernetes-validate (strict). Usage: e2e_client.py URL CA_FILE FIXTURE_DIR [--only NAME]"""
import base64
import http.client
import json
import os
import ssl
import sys
import urllib.parse

import jsonpatch
import kubernetes_validate

K8S = os.environ.get("MT_K8S_VERSION", "1.37.0")

# fixture -> (outcome, extra check); outcomes: patched, unchanged, denied:<message>
EXPECT = {
    "review-opt-in-label.json": "patched",
    "review-opt-in-annotation.json": "patched",
    "review-several-containers.json": "patched",
    "review-no-volumes.json": "patched",
    "review-no-opt-in.json": "unchanged",
    "review-opt-out.json": "unchanged",
    "review-already-injected.json": "unchanged",
    "review-manual-sidecar.json": "unchanged",
    "review-update.json": "unchanged",
    "review-not-a-pod.json": "unchanged",
    "malformed-not-json.json": "denied:the AdmissionReview is not valid JSON",
    "malformed-truncated.json": "denied:the AdmissionReview is not valid JSON",
    "malformed-v1beta1.json": "denied:expected apiVersion admission.k8s.io/v1",
    "malformed-no-uid.json": "denied:request.uid must be a non-empty string",
    "malformed-no-containers.json": "denied:request.object.spec.containers must be a non-empty array",
    "malformed-port-clash.json": "denied:declares port 8080, which the mcptrail sidecar listens on",
    "malformed-bad-port-annotation.json": "denied:is not a port number",
    "malformed-upstream-is-sidecar-port.json": "denied:is a port of the mcptrail sidecar itself",
    "malformed-labels-not-object.json": "denied:metadata.labels and .annotations must be objects",
}


class Client:
    def __init__(self, url, ca):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.ctx = ssl.create_default_context(cafile=ca)

    def request(self, method, path, body=None):
        c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=20)
        try:
            c.request(method, path, body=body, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()


def check_fixture(client, fixture_dir, name, want, problems):
    with open(os.path.join(fixture_dir, name), "rb") as f:
        body = f.read()
    status, data = client.request("POST", "/mutate", body)
    if status != 200:
        problems.append(f"{name}: HTTP {status}")
        return
    review = json.loads(data)
    resp = review.get("response", {})
    if review.get("apiVersion") != "admission.k8s.io/v1" or review.get("kind") != "AdmissionReview":
        problems.append(f"{name}: not an AdmissionReview v1 answer: {review}")
        return
    try:
        sent_uid = json.loads(body)["request"].get("uid", "")
    except Exception:
        sent_uid = ""
    if resp.get("uid") != (sent_uid if isinstance(sent_uid, str) else ""):
        problems.append(f"{name}: uid {resp.get('uid')!r}, sent {sent_uid!r}")
    if want == "unchanged":
        if resp.get("allowed") is not True or "patch" in resp:
            problems.append(f"{name}: expected admitted unchanged, got {resp}")
        return
    if want.startswith("denied:"):
        msg = resp.get("status", {}).get("message", "")
        if resp.get("allowed") is not False or want[7:] not in msg or "patch" in resp:
            problems.append(f"{name}: expected denial with '{want[7:]}', got {resp}")
        return
    # patched: apply as the API server does, then validate the pod it would store.
    if resp.get("allowed") is not True or resp.get("patchType") != "JSONPatch":
        problems.append(f"{name}: expected a JSONPatch, got {resp}")
        return
    ops = json.loads(base64.b64decode(resp["patch"]))
    pod = json.loads(body)["request"]["object"]
    patched = jsonpatch.apply_patch(pod, ops)
    names = [c["name"] for c in patched["spec"]["containers"]]
    if names.count("mcptrail-sidecar") != 1 or names[:-1] != [c["name"] for c in pod["spec"]["containers"]]:
        problems.append(f"{name}: containers after the patch: {names}")
    vols = [v["name"] for v in patched["spec"].get("volumes", [])]
    if len(vols) != len(set(vols)):
        problems.append(f"{name}: duplicate volume names {vols}")
    mounts = {m["name"] for m in patched["spec"]["containers"][-1].get("volumeMounts", [])}
    if not mounts <= set(vols):
        problems.append(f"{name}: sidecar mounts {sorted(mounts - set(vols))} without volumes")
    if patched["metadata"]["labels"].get("mcptrail.io/sidecar") != "injected":
        problems.append(f"{name}: NetworkPolicy label missing")
    doc = dict(patched, apiVersion="v1", kind="Pod")
    doc["metadata"] = dict(doc["metadata"])
    doc["metadata"].pop("creationTimestamp", None)
    try:
        kubernetes_validate.validate(doc, K8S, strict=True)
    except kubernetes_validate.ValidationError as e:
        problems.append(f"{name}: patched pod invalid at {'.'.join(map(str, e.path))}: {e.message}")
    # The patched pod reviewed again gets no second sidecar.
    again = json.loads(body)
    again["request"]["object"] = patched
    status, data = client.request("POST", "/mutate", json.dumps(again).encode())
    r2 = json.loads(data)["response"] if status == 200 else {}
    if r2.get("allowed") is not True or "patch" in r2:
        problems.append(f"{name}: second review of the patched pod: HTTP {status} {r2}")


def main(argv):
    url, ca, fixture_dir = argv[1:4]
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    client = Client(url, ca)
    problems = []
    for name, want in sorted(EXPECT.items()):
        if only and name != only:
            continue
        before = len(problems)
        check_fixture(client, fixture_dir, name, want, problems)
        print(("ok   " if len(problems) == before else "FAIL ") + f"{name}: {want}")
    if not only:
        missing = set(f for f in os.listdir(fixture_dir) if f.endswith(".json")) - set(EXPECT) - {"template.json", "template-stdio.json"}
        if missing:
            problems.append(f"fixtures without an expectation: {sorted(missing)}")
        status, _ = client.request("GET", "/healthz")
        print(("ok   " if status == 200 else "FAIL ") + f"/healthz -> {status}")
        if status != 200:
            problems.append(f"/healthz answered {status}")
        # Announce 2 MiB against the 1 MiB bound: refused before the body is read.
        import socket
        with socket.create_connection((client.host, client.port), timeout=10) as raw:
            with client.ctx.wrap_socket(raw, server_hostname=client.host) as s:
                s.sendall(b"POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 2097152\r\n\r\n{")
                head = b""
                while b"\r\n" not in head:
                    chunk = s.recv(1024)
                    if not chunk:
                        break
                    head += chunk
        parts = head.split(b" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        print(("ok   " if status == 413 else "FAIL ") + f"2 MiB body over the 1 MiB bound -> {status}")
        if status != 413:
            problems.append(f"oversized body answered {status}, expected 413")
        # A client speaking plain HTTP to the TLS port gets nothing; the server lives on.
        import socket
        with socket.create_connection((client.host, client.port), timeout=10) as s:
            s.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
            try:
                s.recv(100)
            except OSError:
                pass
        status, _ = client.request("GET", "/readyz")
        print(("ok   " if status == 200 else "FAIL ") + f"/readyz after a plain-HTTP client -> {status}")
        if status != 200:
            problems.append(f"/readyz answered {status} after a plain-HTTP client")
    for p in problems:
        print("PROBLEM " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
