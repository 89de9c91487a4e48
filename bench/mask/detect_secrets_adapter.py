"""detect-secrets adapter of bench/mask.sh: every plugin and filter of its default
settings, through the same line-based path `detect-secrets scan` takes for a file.

detect-secrets reads files line by line, and its entropy plugins only look at quoted
strings while its keyword plugin wants `name: value` context. So each decoded JSON
string is presented the way it would appear in a file: a one-line value as the line
`<member name>: "<value>"` (as in a YAML or pretty-printed JSON file), a multi-line
value (a log, env dump, YAML or INI text) as its own lines. Every finding's secret value
is then replaced wherever it occurs in the line it was found on. The file name given to
the plugins ends in .yaml, which selects the keyword plugin's config-file patterns (no
quotes required).
"""

import sys

from common import find_all, per_string_main

FILENAME = "mcp-message.yaml"


def make_detector(_args):
    from detect_secrets.core.scan import _process_line_based_plugins
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.settings import cache_bust, configure_settings_from_baseline

    # what detect_secrets.settings.default_settings() sets up, for the whole process
    cache_bust()
    configure_settings_from_baseline({"plugins_used": [
        {"name": cls.__name__} for cls in get_mapping_from_secret_type_to_class().values()]})

    def spans_in(line, base, found, out):
        for sec in found:
            v = sec.secret_value
            if not v:
                continue
            for i in find_all(line, v):
                out.append((base + i, base + i + len(v), sec.type))

    def detect(text, key):
        out = []
        if "\n" not in text:
            wrapped = '%s: "%s"' % (key, text) if key else '"%s"' % text
            found = list(_process_line_based_plugins([(1, wrapped)], FILENAME))
            spans_in(text, 0, found, out)
            return out
        lines = text.split("\n")
        starts, pos = [], 0
        for ln in lines:
            starts.append(pos)
            pos += len(ln) + 1
        by_line = {}
        for sec in _process_line_based_plugins(list(enumerate(lines, start=1)), FILENAME):
            by_line.setdefault(sec.line_number, []).append(sec)
        for n, found in by_line.items():
            spans_in(lines[n - 1], starts[n - 1], found, out)
        return out

    return detect


if __name__ == "__main__":
    from importlib.metadata import version
    per_string_main("detect-secrets", version("detect-secrets"),
                    "default plugins and filters, per JSON string", make_detector, sys.argv[1:])
