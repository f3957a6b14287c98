"""Test double: a local HTTP server speaking the OpenAI chat-completions, Anthropic messages and Gemini
generateContent shapes, answering from a script (texts, HTTP errors, delays). Tests only."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JudgeDouble:
    """``script`` items: a str (the model's text), ("status", code), ("sleep", seconds, text)."""

    def __init__(self, script=None, default: str | None = None):
        self.script, self.default = list(script or []), default
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with double._lock:
                    double.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    step = double.script.pop(0) if double.script else double.default
                if isinstance(step, tuple) and step[0] == "status":
                    self.send_response(step[1])
                    self.send_header("Retry-After", "0")
                    self.end_headers()
                    return
                if isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                    step = step[2]
                text = step if isinstance(step, str) else step(body)
                if self.path.endswith("/messages"):
                    payload = {"content": [{"type": "text", "text": text}]}
                elif ":generateContent" in self.path:
                    payload = {"candidates": [{"content": {"parts": [{"text": text}]}}]}
                else:
                    payload = {"choices": [{"message": {"role": "assistant", "content": text}}]}
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
