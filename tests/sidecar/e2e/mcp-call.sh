#!/usr/bin/env bash
# mcp-call.sh: minimal Streamable HTTP client on curl for the crash tests.
#   mcp-call.sh init URL TOKEN            prints the Mcp-Session-Id (initialize + initialized)
#   mcp-call.sh echo URL TOKEN SID ID MSG tools/call echo with JSON-RPC id ID; exit 1 unless
#                                         the answer carries the echoed text
set -euo pipefail
cmd=$1 url=$2 token=$3
hdr=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json'
     -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25')
case "$cmd" in
  init)
    h=$(mktemp)
    trap 'rm -f "$h"' EXIT
    curl -sS --max-time 10 -D "$h" -o /dev/null "${hdr[@]}" "$url" -d \
      '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mt-e2e-curl","version":"1"}}}'
    sid=$(tr -d '\r' < "$h" | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *//p')
    [ -n "$sid" ] || { echo "mcp-call: no Mcp-Session-Id" >&2; cat "$h" >&2; exit 1; }
    curl -sS --max-time 10 -o /dev/null "${hdr[@]}" -H "Mcp-Session-Id: $sid" "$url" \
      -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
    echo "$sid" ;;
  echo)
    sid=$4 id=$5 msg=$6
    out=$(curl -sS --max-time 10 "${hdr[@]}" -H "Mcp-Session-Id: $sid" "$url" -d \
      "{\"jsonrpc\":\"2.0\",\"id\":$id,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"message\":\"$msg\"}}}")
    grep -q "Echo: $msg" <<<"$out" || { echo "mcp-call: echo $id failed: $out" >&2; exit 1; } ;;
  *) echo "usage: mcp-call.sh init|echo ..." >&2; exit 2 ;;
esac
