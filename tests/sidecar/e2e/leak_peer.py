#!/usr/bin/env python3
"""Peers and checker of sidecar_leak.sh (issue 5): the labeled masking corpus through the
real sidecar, then every byte the sidecar wrote searched for every planted secret.

  leak_peer.py upstream CORPUS PORTFILE
      MCP upstream on 127.0.0.1 (ephemeral port, written to PORTFILE once listening). Each
      POSTed JSON-RPC request is answered with the next result / error message of the
      corpus, in corpus order, its "id" rewritten to the request's; anything else POSTed
      (client responses, notifications) gets 202 with no body.
  leak_peer.py client CORPUS URL TOKEN SPOOL_DIR CAPTURE_DIR
      POSTs, one at a time, every corpus request, then the results / errors the upstream
      did not use as answers (a client may POST JSON-RPC responses), so every corpus
      message passes through the sidecar exactly once. After each exchange it hard-links
      new spool files into CAPTURE_DIR: the sidecar unlinks acknowledged spool files once
      they rotate, and the link keeps every byte ever appended. Prints the number of POSTs.
  leak_peer.py check CORPUS LABELS EVENTS_JSONL POSTS PRODUCED TOKEN FILE...
      Searches FILE... (raw topic records, spool files, the sidecar log) for every planted
      secret (kind "secret") in its raw and JSON-escaped forms; checks that the topic holds
      the PRODUCED events the sidecar counted, one client_to_server message event and one
      server_to_client response per POST and session_start / session_end and instance_start / heartbeat / instance_stop events besides, and that
      mask_summary counted something. Control: the same search over the corpus messages
      as sent must find every secret. Never prints a secret: a hit shows the
      type, the first 4 characters and the length.

The corpus is deterministic and the client sequential, so which response answers which
request is fixed by the corpus order. Standard library only.
"""

import collections
import http.client
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MIN_SECRET_LEN = 6  # shorter values would match innocent bytes (see sidecar_leak.sh)
UESC_RE = re.compile(r"\\u[0-9a-f]{4}")
TOP_ID_RE = re.compile(r'^\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*')


def load_corpus(path):
    """(requests, responses, others): message texts in corpus order."""
    reqs, resps, others = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            text = json.loads(line)["message"]
            msg = json.loads(text)
            if "method" in msg and "id" in msg:
                reqs.append(text)
            elif "result" in msg or "error" in msg:
                resps.append(text)
            else:
                others.append(text)
    return reqs, resps, others


def with_id(text, new_id):
    """text with its top-level "id" value replaced, every other byte kept (the corpus
    escapes some messages as \\uXXXX; re-serializing would change that)."""
    m = TOP_ID_RE.match(text)
    if not m:
        msg = json.loads(text)
        msg["id"] = new_id
        return json.dumps(msg, ensure_ascii=False, separators=(",", ":"))
    _, end = json.JSONDecoder().raw_decode(text, m.end())
    return text[: m.end()] + json.dumps(new_id) + text[end:]


def cmd_upstream(corpus, portfile):
    reqs, resps, _ = load_corpus(corpus)
    lock = threading.Lock()
    state = {"next": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, code, body=b""):
            self.send_response(code)
            if body:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            try:
                msg = json.loads(body)
            except ValueError:
                self.reply(400)
                return
            if not (isinstance(msg, dict) and "method" in msg and "id" in msg):
                self.reply(202)
                return
            with lock:
                i = state["next"]
                state["next"] += 1
            if i < len(resps):
                out = with_id(resps[i], msg["id"])
            else:  # more requests than responses in the corpus: an empty result
                out = json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {}})
            self.reply(200, out.encode("utf-8"))

        def do_GET(self):
            self.reply(405)

        do_DELETE = do_GET

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{srv.server_address[1]}\n")
    os.rename(tmp, portfile)
    srv.serve_forever()


def link_spool(spool, capture, linked):
    try:
        names = os.listdir(spool)
    except FileNotFoundError:
        return
    for name in names:
        if name.startswith("spool-") and name not in linked:
            try:
                os.link(os.path.join(spool, name), os.path.join(capture, name))
                linked.add(name)
            except FileNotFoundError:
                pass


def cmd_client(corpus, url, token, spool, capture):
    reqs, resps, others = load_corpus(corpus)
    bodies = reqs + resps[len(reqs):] + others
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-06-18",
    }
    linked = set()
    os.makedirs(capture, exist_ok=True)
    # what the client received (mask.client_responses): searched with the rest
    received = open(os.path.join(capture, "client-received.bin"), "wb")
    for i, text in enumerate(bodies):
        conn.request("POST", u.path, body=text.encode("utf-8"), headers=headers)
        r = conn.getresponse()
        data = r.read()
        received.write(data + b"\n")
        if i < len(reqs):
            want = 200
            if r.status == want:
                got = json.loads(data)
                if got.get("id") != json.loads(text)["id"]:
                    sys.exit(f"leak_peer: POST {i}: answer carries id {got.get('id')!r}")
        else:
            want = 202
        if r.status != want:
            sys.exit(f"leak_peer: POST {i}: HTTP {r.status} (want {want}): {data[:300]!r}")
        link_spool(spool, capture, linked)
    received.close()
    conn.close()
    print(len(bodies))


def upper_hex(m):
    return "\\u" + m.group(0)[2:].upper()


def needles(value):
    """The forms a secret may take in written bytes: raw, JSON-escaped (with and without
    \\uXXXX for non-ASCII, in lower or upper case hex as jansson writes it, with and
    without \\/), and escaped twice (a JSON payload inside a JSON log line)."""
    forms = {value}
    for ascii_only in (False, True):
        e1 = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
        e2 = json.dumps(e1, ensure_ascii=ascii_only)[1:-1]
        for e in (e1, e2):
            forms |= {e, e.replace("/", "\\/"), UESC_RE.sub(upper_hex, e)}
    return {f.encode("utf-8") for f in forms if len(f) >= MIN_SECRET_LEN}


def search(index, data):
    """Numbers of the secrets whose needles occur in data: one window slid over data,
    looked up in the needles indexed by their first MIN_SECRET_LEN bytes."""
    found = set()
    get = index.get
    for pos in range(len(data) - MIN_SECRET_LEN + 1):
        cands = get(data[pos : pos + MIN_SECRET_LEN])
        if cands:
            for nd, n in cands:
                if n not in found and data.startswith(nd, pos):
                    found.add(n)
    return found


def cmd_check(corpus, labels, events_path, posts, produced, token, files):
    fails = []
    secrets = []  # (type, value)
    skipped = 0
    with open(labels, encoding="utf-8") as f:
        for line in f:
            for lab in json.loads(line)["labels"]:
                if lab["kind"] != "secret":
                    continue
                if len(lab["value"]) < MIN_SECRET_LEN:
                    skipped += 1
                    continue
                secrets.append((lab["type"], lab["value"]))
    secrets.append(("bearer_token", token))
    # Index every needle by its first MIN_SECRET_LEN bytes, then slide one window over
    # each file: one pass per file, whatever the number of secrets.
    index = {}
    for n, (typ, value) in enumerate(secrets):
        for nd in needles(value):
            index.setdefault(nd[:MIN_SECRET_LEN], []).append((nd, n))
    hits = {}  # secret number -> set of files
    total = 0
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        total += len(data)
        for n in search(index, data):
            hits.setdefault(n, set()).add(
                os.path.join(os.path.basename(os.path.dirname(path)), os.path.basename(path)))
    # Control: the same search over the bytes sent finds every secret, so zero hits in
    # what the sidecar wrote means masked, not searched for in the wrong form.
    with open(corpus, encoding="utf-8") as f:
        wire = "\n".join(json.loads(line)["message"] for line in f).encode("utf-8")
    unseen = set(range(len(secrets) - 1)) - search(index, wire)
    if unseen:
        typ, value = secrets[min(unseen)]
        fails.append(f"control: {len(unseen)} secrets not found in the corpus as sent, e.g. "
                     f"{typ} {value[:4]!r}... ({len(value)} chars): the search is broken")
    for n, where in sorted(hits.items()):
        typ, value = secrets[n]
        fails.append(f"secret {typ} {value[:4]!r}... ({len(value)} chars) found in "
                     f"{', '.join(sorted(where))}")

    events = []
    with open(events_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                events.append(json.loads(line))
    # the instance's own events (instance_stop, idle heartbeats) may come after the
    # produced counter was read
    instance = {"instance_start", "instance_stop", "heartbeat"}
    n_inst = sum(1 for e in events if e["kind"] in instance)
    if not produced <= len(events) <= produced + n_inst:
        fails.append(f"{len(events)} events on the topic, the sidecar produced {produced}")
    kinds = collections.Counter((e["kind"], e["direction"]) for e in events)
    sent = sum(v for (k, d), v in kinds.items() if d == "client_to_server"
               and k in ("request", "notification", "response"))
    answered = kinds[("response", "server_to_client")]
    others = {f"{k}/{d}": v for (k, d), v in kinds.items()
              if k not in ("session_start", "session_end") and k not in instance
              and not (d == "client_to_server" and k in ("request", "notification", "response"))
              and (k, d) != ("response", "server_to_client")}
    if sent != posts or answered != posts or others:
        fails.append(f"events by kind/direction {dict(kinds)}: want {posts} client_to_server "
                     f"and {posts} server_to_client responses, only session_start / "
                     f"session_end and the instance's events besides")
    masked = 0
    detectors = set()
    for e in events:
        for s in e.get("mask_summary") or []:
            masked += int(s.get("count", 0))
            detectors.add(s.get("detector"))
    if masked == 0:
        fails.append("mask_summary counts are all zero: nothing was masked")
    print(f"leak: {len(secrets) - 1} secrets (+ the bearer token) checked in {len(files)} "
          f"files, {total} bytes; {skipped} shorter than {MIN_SECRET_LEN} skipped; "
          f"{len(hits)} found; {len(events)} events, {masked} spans masked by "
          f"{len(detectors)} detectors")
    if fails:
        print("leak: FAILED:\n  " + "\n  ".join(fails), file=sys.stderr)
        sys.exit(1)


def main(argv):
    cmds = {"upstream": (cmd_upstream, 2), "client": (cmd_client, 5)}
    if len(argv) >= 2 and argv[1] in cmds and len(argv) == cmds[argv[1]][1] + 2:
        cmds[argv[1]][0](*argv[2:])
    elif len(argv) >= 9 and argv[1] == "check":
        cmd_check(argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]), argv[7], argv[8:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
