#!/usr/bin/env bash
# sidecar_sdk_sessions (issue 4, acceptance 2): the TS and Python MCP SDK clients run their
# full session (tests/sdk) against server-everything directly and through the real
# mcptrail-sidecar (strict mode, JWT from the dev JWKS, recording to a fresh topic on
# $MT_KAFKA_BROKERS); transcripts must be identical. Then the topic is read back and
# checked by check-events.py: every client request and its result, server-to-client
# requests and answers, GET stream and DELETE recorded; seq gapless from 0 per session;
# prev_hash chain; identity.subject = the token's sub; token_fingerprint = SHA-256(token);
# the raw token nowhere in the record bytes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_need_kafka
e2e_need_peers
t0=$SECONDS

up=$(free_port)
start_everything "$up"
topic=$(new_topic sdk)
start_sidecar "$tmp/sc" "$up" --topic "$topic"
url=$sidecar_url
sub="e2e-sdk-$$"
token=$("$here/token.sh" "$tmp/sc" "$sub")
echo "sidecar_sdk_sessions: server-everything :$up, sidecar $url, topic $topic"

MT_PYTHON="$py" "$root/tests/sdk/sessions.sh" "http://127.0.0.1:$up/mcp" "$url" "$tmp/sessions" --token-b "$token"

"$e2e_kafka" dump "$topic" "$tmp/raw" 2 3000 60000 > "$tmp/events.jsonl"
"$py" "$here/check-events.py" "$tmp/events.jsonl" "$tmp/raw" --token "$token" --sub "$sub" --sdk-sessions 2
stop_sidecar_checked "$tmp/sc"
echo "sidecar_sdk_sessions: passed in $((SECONDS - t0)) s"
