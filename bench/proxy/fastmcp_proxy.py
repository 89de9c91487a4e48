"""Peer gateway row of bench/proxy.sh: FastMCP's HTTP-to-HTTP MCP proxy
(fastmcp.server.create_proxy) in front of the bench upstream.

    python fastmcp_proxy.py UPSTREAM_URL PORT

Serves Streamable HTTP on 127.0.0.1:PORT/mcp, stateful (clients initialize
and carry Mcp-Session-Id, as real MCP clients do), JSON responses, no banner,
warning-level logs."""
import sys

from fastmcp.server import create_proxy

upstream, port = sys.argv[1], int(sys.argv[2])
proxy = create_proxy(upstream, name="bench-peer")
proxy.run(transport="http", host="127.0.0.1", port=port, path="/mcp",
          show_banner=False, json_response=True, log_level="warning")
