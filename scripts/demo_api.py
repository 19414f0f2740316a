"""A stand-in for the users API that the user-onboarding sample calls (demo only)."""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

ROUTES = {"/users": (201, {"id": 42}), "/workspaces": (201, {"id": "ws-1"}), "/emails": (202, {"queued": True})}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        status, body = ROUTES.get(self.path, (404, {"error": "not found"}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("api: " + fmt % args + "\n")


HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
