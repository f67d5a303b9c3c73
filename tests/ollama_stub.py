"""A loopback HTTP server that speaks the part of Ollama's API laimark uses.

No Ollama binary can be installed on the development machines, so the `ollama` backend is tested
with the real `ollama` Python client against this stub: GET /api/tags, POST /api/chat and
POST /api/generate, with NDJSON streaming when the request asks for it. Replies are a
deterministic function of the request so tests can check what the client sent.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODELS = [
    {
        "model": "tiny:latest",
        "name": "tiny:latest",
        "digest": "sha256:" + "ab" * 32,
        "size": 1234,
        "modified_at": "2026-11-01T00:00:00Z",
    },
    {
        "model": "thinker:latest",
        "name": "thinker:latest",
        "digest": "sha256:" + "cd" * 32,
        "size": 4321,
        "modified_at": "2026-11-01T00:00:00Z",
    },
]
# What /api/show reports; like the real server, chat refuses `think` for a model without "thinking".
CAPABILITIES = {"tiny": ["completion"], "thinker": ["completion", "thinking"]}


def reply_text(request: dict) -> str:
    """What the stub 'generates': echoes the prompt and the options it received."""
    if "messages" in request:
        prompt = "chat:" + request["messages"][-1]["content"]
    else:
        prompt = ("raw:" if request.get("raw") else "templated:") + request["prompt"]
    options = request.get("options", {})
    return f"{prompt}|seed={options.get('seed')}|t={options.get('temperature')}|STOP|tail"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def _send(self, status: int, lines: list[dict], ndjson: bool = False):
        body = "".join(json.dumps(x) + "\n" for x in lines).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-ndjson" if ndjson else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/api/tags":
            return self._send(200, [{"models": MODELS}])
        self._send(404, [{"error": "not found"}])

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, request))
        model = str(request.get("model")).removesuffix(":latest")
        if model not in CAPABILITIES:
            return self._send(404, [{"error": f"model '{request.get('model')}' not found"}])
        if self.path == "/api/show":
            return self._send(200, [{"capabilities": CAPABILITIES[model], "model_info": {}}])
        if "think" in request and "thinking" not in CAPABILITIES[model]:
            return self._send(400, [{"error": f'"{model}" does not support thinking'}])
        text = reply_text(request)
        if self.path not in ("/api/chat", "/api/generate"):
            return self._send(404, [{"error": "not found"}])
        key = "message" if self.path == "/api/chat" else "response"

        def part(chunk, done):
            value = {"role": "assistant", "content": chunk} if key == "message" else chunk
            return {
                "model": request["model"],
                "created_at": "2026-11-01T00:00:00Z",
                key: value,
                "done": done,
                **({"done_reason": "stop"} if done else {}),
            }

        if request.get("stream", True):  # Ollama streams by default
            chunks = [text[i : i + 7] for i in range(0, len(text), 7)]
            return self._send(200, [part(c, False) for c in chunks] + [part("", True)], ndjson=True)
        self._send(200, [part(text, True)])


def start_stub() -> tuple[ThreadingHTTPServer, str]:
    """Start the stub on a free loopback port; returns (server, base URL). Call server.shutdown()."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
