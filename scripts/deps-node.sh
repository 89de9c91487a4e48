#!/usr/bin/env bash
# Installs the Node test peers of tests/peers/package-lock.json (MCP conformance suite,
# playwright-core for the approvals console test (it drives Debian's /usr/bin/chromium),
# @modelcontextprotocol/sdk, server-everything, Node 22 as an npm package) into
# tests/peers/node_modules with `npm ci`. Idempotent: skipped when the lockfile's hash
# equals the stamp written by the last successful install.
# Usage: scripts/deps-node.sh [--force]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
peers="$here/../tests/peers"
peers=$(cd "$peers" && pwd)
lock="$peers/package-lock.json"
stamp="$peers/node_modules/.mcptrail-lock.sha256"

command -v npm >/dev/null || { echo "deps-node: npm not found (install Node.js >= 20)" >&2; exit 1; }
[ -f "$lock" ] || { echo "deps-node: $lock missing" >&2; exit 1; }
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ "${1:-}" != "--force" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
   && [ -x "$peers/node_modules/.bin/node" ]; then
  echo "deps-node: ok (up to date)" >&2
  exit 0
fi
echo "deps-node: npm ci in $peers" >&2
# The node@22 package fetches its platform binary in a preinstall script: scripts must run.
(cd "$peers" && timeout 600 npm ci --no-audit --no-fund --loglevel=error >&2)
v=$("$peers/node_modules/.bin/node" --version)
case "$v" in v22.*) ;; *) echo "deps-node: expected Node 22 in node_modules/.bin/node, got $v" >&2; exit 1 ;; esac
echo "$want" > "$stamp"
echo "deps-node: ok (node $v for the conformance suite)" >&2
