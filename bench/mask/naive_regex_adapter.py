"""Naive baseline of bench/mask.sh: a dozen Python `re` patterns of the kind one writes
in an afternoon (token prefixes, PEM blocks, JWTs, URL passwords, `password=` style
keywords, emails, SSN/card/phone-shaped digits) plus "mask the whole value when the JSON
member name sounds secret". No validators, no allow-lists. Standard library only.
"""

import re
import sys

from common import per_string_main

PATTERNS = [
    ("aws_access_key_id", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), 0),
    ("token", re.compile(
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{82}|glpat-[\w-]{20}|xox[bpas]-[\w-]+"
        r"|[sr]k_live_\w+|npm_\w{36}|hf_\w{34}|SG\.[\w-]{22}\.[\w-]{43}|AIza[\w-]{35}"
        r"|dckr_pat_[\w-]{27}|hvs\.[\w-]+|ya29\.[\w.-]+|GOCSPX-[\w-]{28}|pypi-AgEI[\w-]+"
        r"|shpat_[0-9a-f]{32}|sk-proj-[\w-]+|key-[0-9a-f]{32})"), 0),
    ("jwt", re.compile(r"\beyJ[\w-]+\.eyJ[\w-]+\.[\w-]+"), 0),
    ("private_key", re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S), 0),
    ("url_password", re.compile(r"://[^/\s:@\"']+:([^/\s@\"']+)@"), 1),
    ("keyword", re.compile(
        r"(?i)(?:password|passwd|secret|token|api_?key)[\"']?\s*[:=]\s*[\"']?([^\s\"',]{6,})"), 1),
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), 0),
    ("ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), 0),
    ("card", re.compile(r"\b(?:\d{4}[ -]?){3}\d{1,4}\b"), 0),
    ("phone", re.compile(r"(?<![\w.])\+?\d{0,2}[ .-]?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b"), 0),
]
SECRET_KEY = re.compile(r"(?i)pass|secret|token|api_?key|authorization|credential")


def make_detector(_args):
    def detect(text, key):
        if key and text and SECRET_KEY.search(key):
            return [(0, len(text), "keyed_value")]
        out = []
        for name, rx, group in PATTERNS:
            for m in rx.finditer(text):
                out.append((m.start(group), m.end(group), name))
        return out

    return detect


if __name__ == "__main__":
    per_string_main("naive regex", "Python %d.%d re" % sys.version_info[:2],
                    "10 patterns + secret-sounding member names", make_detector, sys.argv[1:])
