#!/usr/bin/env python3
"""A tiny HTTP server for the webhook tests: it records every POST it receives.

Each request becomes one JSON line in --out, written and flushed before the
answer goes out:
    {"path": ..., "content_type": ..., "user_agent": ..., "body": ..., "status": ...}
The path chooses the answer:
    /status/<code>/...   answers <code>
    /fail/<n>/...        answers 503 to the first <n> requests to that path, then 200
    /hang/...            reads the request and never answers
    anything else        answers 200
It listens on 127.0.0.1:--port and exits when its parent process goes away, so a
test that dies leaves no server behind.
"""
import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
counts = {}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        parts = self.path.strip("/").split("/")
        status = 200
        if parts[0] == "status" and len(parts) > 1:
            status = int(parts[1])
        elif parts[0] == "fail" and len(parts) > 1:
            with lock:
                counts[self.path] = counts.get(self.path, 0) + 1
                status = 503 if counts[self.path] <= int(parts[1]) else 200
        elif parts[0] == "hang":
            status = "hang"
        record = {
            "path": self.path,
            "content_type": self.headers.get("Content-Type"),
            "user_agent": self.headers.get("User-Agent"),
            "body": body,
            "status": status,
        }
        with lock:
            with open(self.server.out, "a") as f:
                f.write(json.dumps(record) + "\n")
        if status == "hang":
            time.sleep(3600)
            return
        self.send_response(status)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass


def watch_parent(parent):
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.out = args.out
    server.serve_forever()


if __name__ == "__main__":
    main()
