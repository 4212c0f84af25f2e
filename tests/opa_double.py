"""Test doubles for OPA that evaluate with the real OPA Go engine.

No `opa` binary exists in this environment, but PyPI's
`opa-golib-python-bindings` (import `opa_bindings`) embeds OPA's own
`github.com/open-policy-agent/opa/v1/rego` package through a Go c-shared
library. These doubles put the REST API and the CLI surface drydock uses in
front of it, so the engines in generator/gate/engines/rego/ are exercised
against real OPA parsing, compilation and evaluation:

* `OpaServerDouble`: an HTTP server on 127.0.0.1 (random port, own thread)
  implementing only what opa-python-client calls for drydock:
  `PUT /v1/policies/<id>` (compile with every stored module; 400 with OPA's
  error shape on failure), `POST /v1/data/<path>` (evaluate with `input`) and
  `GET /health`. `delay` makes every request sleep first (timeout tests).
* `main(["eval", ...])`: the subset of `opa eval` that `OpaCliEngine` runs
  (`--format json --stdin-input --data FILE... QUERY`), for a fake `opa` on PATH.

What is NOT real: the HTTP layer and argument parsing are ours, written from
OPA's REST API and CLI docs; error payloads carry the same fields
(`code`, `message`, `errors[].location.{file,row,col}`) but not byte-for-byte
the same text.
"""
from __future__ import annotations

import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opa_bindings import OpaEngine, OpaError, OpaUndefinedError

_LOC_RE = re.compile(r"(?P<file>[^\s:]+):(?P<row>\d+):\s*(?P<code>rego_\w+):\s*(?P<msg>.*)")


def opa_errors(err: OpaError) -> list[dict]:
    """OPA-style error objects from an opa_bindings error message."""
    out = []
    for m in _LOC_RE.finditer(err.message):
        out.append({"code": m.group("code"), "message": m.group("msg").strip(),
                    "location": {"file": m.group("file"), "row": int(m.group("row")), "col": 1}})
    return out or [{"code": err.code, "message": err.message}]


class _Store:
    def __init__(self) -> None:
        self.modules: dict[str, str] = {}
        self.lock = threading.Lock()
        self.engine = OpaEngine()

    def _build(self, modules: dict[str, str]) -> OpaEngine:
        engine = OpaEngine()
        for pid, text in modules.items():
            engine.add_policy(pid, text)
        engine.eval_query("x = 1")  # forces compilation of every module
        return engine

    def put(self, pid: str, text: str) -> None:
        """Store a module if every module still compiles (like OPA's policy API)."""
        with self.lock:
            try:
                self.engine.add_policy(pid, text)
                self.engine.eval_query("x = 1")  # forces compilation of every module
            except OpaError:
                self.engine = self._build(self.modules)  # roll back: nothing stored
                raise
            self.modules[pid] = text

    def query(self, path: str, inp) -> object:
        with self.lock:
            engine = self.engine
        return engine.eval_document(path, inp)


class OpaServerDouble:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.store = _Store()
        self.requests: list[tuple[str, str]] = []
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, status: int, body: dict | None) -> None:
                raw = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _start(self) -> None:
                double.requests.append((self.command, self.path))
                if double.delay:
                    time.sleep(double.delay)

            def do_GET(self) -> None:
                self._start()
                if self.path.startswith("/health"):
                    self._send(200, {})
                elif self.path.rstrip("/") == "/v1/policies":
                    self._send(200, {"result": [{"id": k, "raw": v} for k, v in double.store.modules.items()]})
                else:
                    self._send(404, {"code": "resource_not_found", "message": f"{self.path} not found"})

            def do_PUT(self) -> None:
                self._start()
                body = self._body()
                if not self.path.startswith("/v1/policies/"):
                    self._send(404, {"code": "resource_not_found", "message": self.path})
                    return
                pid = self.path[len("/v1/policies/"):]
                try:
                    double.store.put(pid, body.decode())
                except OpaError as e:
                    self._send(400, {"code": "invalid_parameter",
                                     "message": "error(s) occurred while compiling module(s)",
                                     "errors": opa_errors(e)})
                    return
                self._send(200, {})

            def do_POST(self) -> None:
                self._start()
                body = self._body()
                if not self.path.startswith("/v1/data"):
                    self._send(404, {"code": "resource_not_found", "message": self.path})
                    return
                path = self.path[len("/v1/data"):].split("?")[0].strip("/").replace("/", ".")
                try:
                    inp = json.loads(body or b"{}").get("input")
                except json.JSONDecodeError as e:
                    self._send(400, {"code": "invalid_parameter", "message": str(e)})
                    return
                try:
                    result = double.store.query(path, inp)
                except OpaUndefinedError:
                    self._send(200, {})  # OPA answers an undefined document without "result"
                    return
                except OpaError as e:
                    self._send(500, {"code": "internal_error", "message": e.message, "errors": opa_errors(e)})
                    return
                self._send(200, {"result": result})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "OpaServerDouble":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv: list[str]) -> int:
    """`opa eval --format json [--stdin-input] [--data FILE]... QUERY` on the real OPA library."""
    if not argv or argv[0] != "eval":
        print(f"opa double: only `eval` is implemented, got {argv[:1]}", file=sys.stderr)
        return 2
    files: list[str] = []
    query = None
    stdin_input = False
    args = iter(argv[1:])
    for a in args:
        if a in ("-d", "--data"):
            files.append(next(args))
        elif a in ("-I", "--stdin-input"):
            stdin_input = True
        elif a in ("-f", "--format"):
            if next(args) != "json":
                print("opa double: only --format json", file=sys.stderr)
                return 2
        elif a.startswith("-"):
            print(f"opa double: unsupported flag {a}", file=sys.stderr)
            return 2
        else:
            query = a
    inp = json.loads(sys.stdin.read() or "null") if stdin_input else None
    engine = OpaEngine()
    try:
        for f in files:
            with open(f, encoding="utf-8") as fh:
                engine.add_policy(f, fh.read())
        value = engine.eval_document(query[len("data."):], inp)
    except OpaUndefinedError:
        print(json.dumps({}))
        return 0
    except OpaError as e:
        print(json.dumps({"errors": opa_errors(e)}, indent=2))
        return 1
    print(json.dumps({"result": [{"expressions": [{"value": value, "text": query,
                                                   "location": {"row": 1, "col": 1}}]}]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
