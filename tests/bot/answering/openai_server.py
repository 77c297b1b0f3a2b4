"""A small OpenAI-compatible chat server on 127.0.0.1 for the tests, scripted per test.

It speaks the wire format real servers (OpenAI, Ollama, llama.cpp, vLLM) do: `POST
/v1/chat/completions` with a JSON body; with `"stream": true` the reply is server-sent events
(`data: {chunk}` lines, then `data: [DONE]`) in chunked transfer encoding, else one JSON object.
What it does is set by `Reply` objects: `server.answer = Reply(text=...)` for answer requests and
`server.rewrite = Reply(...)` for follow-up rewrites (told apart by the system prompt). A reply can
be a status code, a delay before anything is sent, a body that is not JSON, a stream cut off in
the middle, or a reply that runs on. Every request is recorded (body and headers).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    delay_s: float = 0.0  # before the status line
    pieces: int = 3  # stream the text in this many chunks
    gap_s: float = 0.0  # between chunks
    finish: str | None = "stop"  # finish_reason of the last chunk (None: never sent)
    cut_after: int | None = None  # close the connection after this many chunks, mid-stream
    raw: str | None = None  # send this body as is (with status), instead of a completion
    bad_chunk: bool = False  # one SSE event whose data is not JSON
    repeat: int = 1  # send the text this many times (a reply that runs on)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def system(self) -> str:
        return next((m["content"] for m in self.body["messages"] if m["role"] == "system"), "")

    @property
    def last_user(self) -> str:
        return [m["content"] for m in self.body["messages"] if m["role"] == "user"][-1]

    @property
    def is_rewrite(self) -> bool:
        return self.system.startswith("Rewrite the user's last question")


class OpenAIServer:
    def __init__(self, model: str = "test-model") -> None:
        self.model = model
        self.answer = Reply(text="NOT IN THE ARTICLES")
        self.rewrite = Reply(status=500)  # follow-up rewrites fail unless a test scripts them
        self.by_question: dict[str, Reply] = {}  # answer requests whose question contains the key
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def start(self) -> OpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                request = Request(body, {k.lower(): v for k, v in self.headers.items()})
                with server._lock:
                    server.requests.append(request)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, '{"error": {"message": "not found"}}')
                reply = server.rewrite if request.is_rewrite else server.reply_for(request)
                server.serve(self, reply, body)

            def _send(self, status: int, text: str, ctype: str = "application/json") -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._http.handle_error = lambda request, address: None  # a client that gave up: fine
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()

    def answer_requests(self) -> list[Request]:
        return [r for r in self.requests if not r.is_rewrite]

    def rewrite_requests(self) -> list[Request]:
        return [r for r in self.requests if r.is_rewrite]

    # --- replying ---------------------------------------------------------------------------
    def reply_for(self, request: Request) -> Reply:
        question = request.last_user.rpartition("Question: ")[2]
        return next((r for key, r in self.by_question.items() if key in question), self.answer)

    def serve(self, handler: BaseHTTPRequestHandler, reply: Reply, body: dict[str, Any]) -> None:
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.raw is not None or reply.status != 200:
            text = reply.raw if reply.raw is not None else '{"error": {"message": "scripted"}}'
            data = text.encode()
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
            return
        text = reply.text * reply.repeat
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            data = json.dumps(
                {
                    "id": "cmpl-test",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": self.model,
                    "choices": [{"index": 0, "message": message, "finish_reason": reply.finish}],
                }
            ).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        out = handler.wfile

        def chunk(payload: str) -> None:
            data = payload.encode()
            out.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            out.flush()

        size = max(1, -(-len(text) // max(1, reply.pieces)))
        pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
        for number, piece in enumerate(pieces):
            if reply.cut_after is not None and number >= reply.cut_after:
                handler.close_connection = True
                return  # no terminating chunk: the stream is cut off
            if reply.bad_chunk and number == len(pieces) // 2:
                chunk("data: {this is not json\n\n")
            last = number == len(pieces) - 1
            event = {
                "id": "cmpl-test",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": piece},
                        "finish_reason": reply.finish if last else None,
                    }
                ],
            }
            chunk(f"data: {json.dumps(event)}\n\n")
            if reply.gap_s:
                time.sleep(reply.gap_s)
        chunk("data: [DONE]\n\n")
        out.write(b"0\r\n\r\n")
        out.flush()
