#!/usr/bin/env python3
"""A loopback HTTP receiver for the cross-target smoke test: accepts flume_json
POSTs (gzip or not), appends every event body as a line to OUT, answers 200.

usage: receiver.py PORT OUT
"""
import gzip
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, OUT = int(sys.argv[1]), sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        events = json.loads(body)
        with open(OUT, "a", encoding="utf-8") as out:
            for event in events:
                if event.get("headers", {}).get("sluice.kind") == "report":
                    continue
                out.write(event["body"] + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
