#!/usr/bin/env bash
# replay_fixture_v1 (issue 15, acceptance 3): an archive written before streams existed
# (tests/fixtures/archive-v1, SessionEvent version 1, regenerate.sh there rebuilds it from
# that commit) verifies and replays unchanged: verify is VALID, `list` and `show --format
# jsonl` print what that commit's replay printed (list.jsonl, show.jsonl there), with only
# the new fields added (list: kind, recorded_sessions, streams; events: stream and
# instance, null for version 1 records; call and client of version 3).
set -euo pipefail
fix=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../fixtures/archive-v1" && pwd)
replay=${MT_REPLAY_BIN:?set MT_REPLAY_BIN}
archiver=${MT_ARCHIVER_BIN:?set MT_ARCHIVER_BIN}
py=${MT_PYTHON:-python3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mt-fixture-v1.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$archiver" verify "$fix/archive" --pubkey "$fix/pub.pem" > "$tmp/verify.txt" ||
  { cat "$tmp/verify.txt"; echo "FAIL: the version 1 archive does not verify" >&2; exit 1; }
grep -q "58 records (58 session events in 3 sessions)" "$tmp/verify.txt"
src=(--archive "$fix/archive" --pubkey "$fix/pub.pem")
"$replay" list "${src[@]}" --format jsonl > "$tmp/list.jsonl"
: > "$tmp/show.jsonl"
for sid in $("$py" -c 'import json,sys; [print(json.loads(l)["session_id"]) for l in open(sys.argv[1])]' "$fix/list.jsonl"); do
  "$replay" show "$sid" "${src[@]}" --format jsonl >> "$tmp/show.jsonl"
  "$replay" show "$sid" "${src[@]}" --format text --color never > "$tmp/show-$sid.txt"
  if grep -q "logical session" "$tmp/show-$sid.txt"; then echo "FAIL: text of $sid changed" >&2; exit 1; fi
done
"$py" - "$fix" "$tmp" <<'PY'
import json, sys
fix, tmp = sys.argv[1:]
def lines(p): return [json.loads(l) for l in open(p)]
old, new = lines(fix + "/list.jsonl"), lines(tmp + "/list.jsonl")
assert len(old) == len(new), (len(old), len(new))
for o, n in zip(old, new):
    extra = set(n) - set(o)
    assert extra <= {"kind", "recorded_sessions", "streams", "streams_truncated"}, extra
    assert {k: n[k] for k in o} == o, (o, n)
    assert n["kind"] == "recorded" and n["recorded_sessions"] == [o["session_id"]] and n["streams"] == []
old, new = lines(fix + "/show.jsonl"), lines(tmp + "/show.jsonl")
assert len(old) == len(new), (len(old), len(new))
for o, n in zip(old, new):
    assert n.pop("stream") is None and n.pop("instance") is None, n
    # version 3 fields (logical calls, client metadata): null as well
    assert all(n.pop(k) is None for k in ("call", "client")), n
    assert n == o, (o, n)
print("replay_fixture_v1: %d sessions and %d events replay unchanged" % (len(old and lines(fix + "/list.jsonl")), len(old)))
PY
