"""Local Slack-compatible webhook receiver for e2e_bot.sh: accepts POSTs on
127.0.0.1 (ephemeral port, written to PORT_FILE), appends each JSON body as
one line to OUT_FILE and answers 200 "ok" like Slack; a body that is not
JSON gets 400 and is recorded as {"invalid": ...}.
Usage: python3 webhook_receiver.py PORT_FILE OUT_FILE"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port_file, out_file = sys.argv[1], sys.argv[2]


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        try:
            rec = {"path": self.path, "content_type": self.headers.get("Content-Type"),
                   "body": json.loads(body)}
            code = 200
        except ValueError:
            rec, code = {"invalid": body.decode("utf-8", "replace")}, 400
        with open(out_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
        reply = b"ok" if code == 200 else b"invalid_payload"
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


srv = HTTPServer(("127.0.0.1", 0), Hook)
with open(port_file + ".tmp", "w", encoding="utf-8") as f:
    f.write(str(srv.server_address[1]))
import os  # noqa: E402  (rename last so the reader never sees a partial file)
os.replace(port_file + ".tmp", port_file)
srv.serve_forever()
