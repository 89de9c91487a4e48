#!/usr/bin/env bash
# Acceptance of helm/mcptrail (issue 9), with the real helm (built as a Go module by
# scripts/deps-helm.sh) and kubernetes-validate (scripts/requirements-test.txt):
#  1. helm lint --strict and helm template with the default values and every
#     helm/mcptrail/examples/*.yaml; each rendered manifest validates in strict mode for
#     Kubernetes $MT_K8S_VERSION and keeps the hardening (tests/helm/validate_manifests.py);
#  2. a user's chart adding the sidecar with the mcptrail.sidecar named template renders
#     and validates (tests/helm/user-chart);
#  3. every tests/helm/bad/*.yaml makes both helm lint and helm template fail with the
#     message on its first line ("# expect: ...");
#  4. the configuration files the chart renders are accepted by the real binaries'
#     option tables (--print-config) when their paths are given (MT_*_BIN).
set -euo pipefail
root=${MT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
py=${MT_PYTHON:-$HOME/.cache/mcptrail/venv/bin/python}
export MT_K8S_VERSION=${MT_K8S_VERSION:-1.37.0}
chart="$root/helm/mcptrail"
helm=$(bash "$root/scripts/deps-helm.sh" | tail -n 1)
"$py" -c 'import kubernetes_validate, yaml' 2>/dev/null || {
  echo "helm_chart: kubernetes-validate missing in $py (run scripts/deps.sh)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mcptrail-helm.XXXXXX")
trap 'rm -rf "$work"' EXIT
# helm keeps caches and config under $HOME by default; the test owns its own.
export HELM_CACHE_HOME="$work/cache" HELM_CONFIG_HOME="$work/config" HELM_DATA_HOME="$work/data"
fail=0
kv=(--kube-version "$MT_K8S_VERSION")

render() { # name, extra helm args...
  local name=$1; shift
  if ! "$helm" lint --strict "$chart" "${kv[@]}" "$@" >"$work/$name.lint" 2>&1; then
    echo "FAIL lint $name:"; cat "$work/$name.lint"; fail=1; return
  fi
  if ! "$helm" template mt "$chart" --namespace mcptrail "${kv[@]}" "$@" \
       >"$work/$name.yaml" 2>"$work/$name.err"; then
    echo "FAIL template $name:"; cat "$work/$name.err"; fail=1; return
  fi
  if "$py" "$root/tests/helm/validate_manifests.py" "$work/$name.yaml" >"$work/$name.val"; then
    echo "ok   $name: $(tail -n 1 "$work/$name.val")"
  else
    echo "FAIL validate $name:"; cat "$work/$name.val"; fail=1
  fi
}

render defaults
render stdio --set sidecar.stdio.enabled=true
for f in "$chart"/examples/*.yaml; do
  render "example-$(basename "$f" .yaml)" -f "$f"
done

# The named template from a user's own chart, with mcptrail as a subchart.
cp -r "$root/tests/helm/user-chart" "$work/user-chart"
mkdir -p "$work/user-chart/charts"
cp -r "$chart" "$work/user-chart/charts/mcptrail"
if "$helm" template u "$work/user-chart" --namespace apps "${kv[@]}" >"$work/user.yaml" 2>"$work/user.err" &&
   "$py" "$root/tests/helm/validate_manifests.py" "$work/user.yaml" >"$work/user.val" &&
   grep -q "name: mcptrail-sidecar" "$work/user.yaml"; then
  echo "ok   user-chart (mcptrail.sidecar named template): $(tail -n 1 "$work/user.val")"
else
  echo "FAIL user-chart:"; cat "$work/user.err" "$work/user.val" 2>/dev/null; fail=1
fi

# Bad values: both lint and template refuse them with the expected message.
for f in "$root"/tests/helm/bad/*.yaml; do
  want=$(sed -n '1s/^# expect: //p' "$f")
  name=$(basename "$f" .yaml)
  [ -n "$want" ] || { echo "FAIL $name: no '# expect:' line"; fail=1; continue; }
  bad_ok=1
  for cmd in lint template; do
    if [ "$cmd" = lint ]; then args=(lint "$chart"); else args=(template mt "$chart"); fi
    if "$helm" "${args[@]}" "${kv[@]}" -f "$f" >"$work/bad.out" 2>&1; then
      echo "FAIL bad/$name: helm $cmd accepted it"; bad_ok=0
    elif ! grep -qF -- "$want" "$work/bad.out"; then
      echo "FAIL bad/$name: helm $cmd failed without the message '$want':"; cat "$work/bad.out"; bad_ok=0
    fi
  done
  if [ "$bad_ok" -eq 1 ]; then echo "ok   bad/$name rejected: $want"; else fail=1; fi
done

# The rendered configuration files against the real option tables: every key known,
# every value parsed. Paths of mounted files are replaced by stand-ins that exist here.
extract() { # rendered file, ConfigMap name suffix, key -> stdout
  "$py" - "$1" "$2" "$3" <<'PY'
import sys, yaml
path, suffix, key = sys.argv[1:]
for d in yaml.safe_load_all(open(path)):
    if d and d.get("kind") == "ConfigMap" and d["metadata"]["name"].endswith(suffix) \
            and key in d.get("data", {}):
        sys.stdout.write(d["data"][key]); break
else:
    sys.exit(f"no ConfigMap *{suffix} with {key} in {path}")
PY
}
printf 'test-hmac-key\n' >"$work/hmac.key"
check_config() { # label, "binary [subcommand]", config file, env...
  local label=$1 bin=$2 cfg=$3 cmd; shift 3
  if [ -z "$bin" ]; then echo "skip $label (binary path not given)"; return; fi
  read -r -a cmd <<<"$bin"
  if env "$@" "${cmd[@]}" --config "$cfg" --print-config >"$work/pc.out" 2>&1; then
    echo "ok   $label accepted by $(basename "$bin")"
  else
    echo "FAIL $label rejected by $(basename "$bin"):"; cat "$work/pc.out"; fail=1
  fi
}
printf 'not-read-by-print-config\n' >"$work/signing.pem"
printf 'test-password\n' >"$work/kafka.password"
stand_ins=(MCPTRAIL_RECORD_HMAC_KEY_FILE="$work/hmac.key" MCPTRAIL_KAFKA_PROPERTIES=
  MCPTRAIL_KAFKA_SASL_PASSWORD_FILE="$work/kafka.password"
  MCPTRAIL_APPROVALS_SIGNING_KEY_FILE="$work/signing.pem" MCPTRAIL_SIGNING_KEY_FILE="$work/signing.pem")
for name in defaults example-full example-kafka-sasl-tls; do
  extract "$work/$name.yaml" -sidecar sidecar.json >"$work/sidecar.json"
  check_config "$name sidecar.json" "${MT_SIDECAR_BIN:-}" "$work/sidecar.json" "${stand_ins[@]}"
done
extract "$work/defaults.yaml" -injector injector.json >"$work/injector.json"
check_config "defaults injector.json" "${MT_INJECTOR_BIN:-}" "$work/injector.json"
for name in example-full example-kafka-sasl-tls; do
  extract "$work/$name.yaml" -approvals approvals.json >"$work/approvals.json"
  check_config "$name approvals.json" "${MT_APPROVALS_BIN:-}" "$work/approvals.json" "${stand_ins[@]}"
done
extract "$work/example-kafka-sasl-tls.yaml" -archiver archiver.json >"$work/archiver.json"
check_config "example-kafka-sasl-tls archiver.json" "${MT_ARCHIVER_BIN:+$MT_ARCHIVER_BIN run}" "$work/archiver.json" \
  "${stand_ins[@]}"

# Kafka credentials (issue 24): with SASL on, every component has its own principal, its
# password only in a Secret mounted as a file, TLS material mounted; nothing secret in a
# ConfigMap or an environment variable.
if "$py" "$root/tests/helm/check_kafka_principals.py" "$work/example-kafka-sasl-tls.yaml" \
     >"$work/principals.out" 2>&1; then
  echo "ok   $(tail -n 1 "$work/principals.out")"
else
  echo "FAIL Kafka principals:"; cat "$work/principals.out"; fail=1
fi

# The injector's test template (tests/fixtures/admission/template.json) is what the chart
# renders with the default values: the injector tests run against the real thing.
extract "$work/defaults.yaml" -injector template.json >"$work/template.json"
if "$py" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' \
     "$work/template.json" "$root/tests/fixtures/admission/template.json"; then
  echo "ok   tests/fixtures/admission/template.json matches the rendered injection template"
else
  echo "FAIL tests/fixtures/admission/template.json differs from the chart's injection template;"
  echo "     regenerate it from 'helm template mt helm/mcptrail -n mcptrail' (ConfigMap mt-mcptrail-injector)"
  fail=1
fi

# ... and with sidecar.stdio.enabled, tests/fixtures/admission/template-stdio.json (the
# injector's stdio mode, issue 17).
extract "$work/stdio.yaml" -injector template.json >"$work/template-stdio.json"
if "$py" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' \
     "$work/template-stdio.json" "$root/tests/fixtures/admission/template-stdio.json"; then
  echo "ok   tests/fixtures/admission/template-stdio.json matches the rendered stdio injection template"
else
  echo "FAIL tests/fixtures/admission/template-stdio.json differs from the chart's injection template"
  echo "     with sidecar.stdio.enabled=true; regenerate it like template.json"
  fail=1
fi

[ "$fail" -eq 0 ] && echo "helm_chart: all checks passed" || echo "helm_chart: FAILED"
exit "$fail"
