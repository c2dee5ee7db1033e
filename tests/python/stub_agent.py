"""An in-process HTTP server that answers like aims-agent's intake from a
script, and keeps every request it got (for tests of aims_client)."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any, Dict, List, Optional, Tuple

# (status, headers, body): the answers to give, in order; once used up,
# every request is accepted whole.
Answer = Tuple[int, Dict[str, str], Optional[Dict[str, Any]]]


class StubAgent:
    def __init__(self, answers: Optional[List[Answer]] = None) -> None:
        self.answers = list(answers or [])
        self.requests: List[Dict[str, Any]] = []  # path, headers, body
        self.lock = threading.Lock()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub.lock:
                    stub.requests.append({"path": self.path, "body": body,
                                          "headers": dict(self.headers)})
                    answer = stub.answers.pop(0) if stub.answers else None
                if answer is None:
                    answer = (200, {}, {"accepted": len(body), "rejected": 0,
                                        "errors": [], "warnings": []})
                status, headers, payload = answer
                raw = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    def posts(self, path: str) -> List[Dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def items(self, path: str) -> List[Dict[str, Any]]:
        return [item for r in self.posts(path) for item in r["body"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
