"""Kafka credentials in a rendered chart (tests/helm/helm_chart.sh, issue 24).

Every container that runs an mcptrail binary talking to Kafka (sidecar injection template,
approvals, archiver) must: read a config file whose kafka.properties name its own
sasl.username (distinct per component), take the password from
kafka.sasl_password_file inside a mounted Secret volume (mcptrail-kafka-sasl), mount the
TLS Secret (mcptrail-kafka-tls), and carry no Kafka property or password in its
environment. No ConfigMap may hold a sasl.password.
"""
import json
import sys

import yaml

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
problems, users = [], {}

for name, data in configmaps.items():
    for key, text in data.items():
        if '"sasl.password"' in text:
            problems.append(f"ConfigMap {name} key {key} holds a sasl.password")


def config_of(volumes, mounts, args):
    """The JSON config file a container reads (--config PATH), from its ConfigMap."""
    path = args[args.index("--config") + 1]
    for m in mounts:
        if path.startswith(m["mountPath"] + "/"):
            vol = next(v for v in volumes if v["name"] == m["name"])
            cm = configmaps[vol["configMap"]["name"]]
            return json.loads(cm[path[len(m["mountPath"]) + 1:]])
    raise KeyError(path)


def check(component, container, volumes):
    mounts = container.get("volumeMounts", [])
    cfg = config_of(volumes, mounts, container["args"])
    props = cfg.get("kafka.properties", {})
    user = props.get("sasl.username")
    if not user:
        problems.append(f"{component}: no sasl.username")
    users.setdefault(user, []).append(component)
    if "sasl.password" in props:
        problems.append(f"{component}: sasl.password in its config file")
    pw = cfg.get("kafka.sasl_password_file", "")
    mount = next((m for m in mounts if pw.startswith(m["mountPath"] + "/")), None)
    vol = next((v for v in volumes if mount and v["name"] == mount["name"]), None)
    if not vol or "secret" not in vol:
        problems.append(f"{component}: kafka.sasl_password_file {pw!r} is not in a Secret volume")
    if props.get("security.protocol") != "SASL_SSL" or not any(
            m["name"] == "mcptrail-kafka-tls" for m in mounts):
        problems.append(f"{component}: not SASL_SSL with the TLS Secret mounted")
    for e in container.get("env", []):
        if e["name"] in ("MCPTRAIL_KAFKA_PROPERTIES", "MCPTRAIL_KAFKA_SASL_PASSWORD_FILE"):
            problems.append(f"{component}: Kafka settings in its environment ({e['name']})")


for d in docs:
    if d["kind"] in ("Deployment", "StatefulSet"):
        spec = d["spec"]["template"]["spec"]
        for c in spec["containers"]:
            if c["name"] in ("approvals", "archiver"):
                check(c["name"], c, spec.get("volumes", []))
    if d["kind"] == "ConfigMap" and "template.json" in d.get("data", {}):
        t = json.loads(d["data"]["template.json"])
        check("sidecar", t["container"], t["volumes"])

if set(sum(users.values(), [])) != {"sidecar", "approvals", "archiver"}:
    problems.append(f"components checked: {users}")
for u, comps in users.items():
    if len(comps) > 1:
        problems.append(f"principal {u} shared by {comps}")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print("Kafka principals: " + ", ".join(f"{c[0]}={u}" for u, c in sorted(users.items())) +
      "; passwords only in mounted Secrets")
