"""The OPA server backend: a running `opa run --server`, reached through opa-python-client.

Fail closed: an unreachable server, a rejected policy, a timeout (a wall-clock deadline per
exchange) or an answer missing a rule is an `EngineError`, never an empty result.
"""
from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlparse

from ....errors import EngineError
from .backends import env_timeout
from .bundle import ENGINE_HINT, RULES_ROOT, PolicyBundle, policy_id
from .results import deny_of, engine_error

DEFAULT_OPA_URL = "http://localhost:8181"


class OpaServerEngine:
    """A running `opa run --server`, through opa-python-client.

    Every module is pushed with the policy API (PUT /v1/policies/drydock/<path>)
    once per process and bundle; each evaluation POSTs the whole render as input
    to the data API (/v1/data/drydock/rules). A result that lacks a rule package
    (server restarted, policies deleted) triggers one re-push; if still missing,
    the gate fails closed.
    """

    name = "opa-server"
    _pushed: dict[tuple[str, str], bool] = {}
    _lock = threading.Lock()

    def __init__(self, bundle: PolicyBundle, url: str | None = None, timeout: float | None = None):
        from opa_client import OpaClient

        self.bundle = bundle
        self.url = (url or DEFAULT_OPA_URL).rstrip("/")
        parsed = urlparse(self.url if "://" in self.url else "http://" + self.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise EngineError(f"opa-server engine: bad --opa-url {url!r}", hint="use e.g. http://localhost:8181")
        self.timeout = timeout or env_timeout()
        self.client = OpaClient(host=parsed.hostname, port=parsed.port or (443 if parsed.scheme == "https" else 8181),
                                ssl=parsed.scheme == "https", timeout=self.timeout, retries=0)
        self._push(force=False)

    def _hint(self) -> str:
        return f"start it with `opa run --server --addr {urlparse(self.url).netloc or 'localhost:8181'}` or use --engine regorus"

    def _transport_error(self, e: Exception, what: str) -> EngineError:
        import requests

        # A read timeout under urllib3 retries arrives as ConnectionError(MaxRetryError(ReadTimeoutError)).
        if isinstance(e, requests.exceptions.Timeout) or "timed out" in str(e).lower():
            return EngineError(f"opa-server engine: {what} at {self.url} timed out after {self.timeout:g}s",
                               hint="set DRYDOCK_OPA_TIMEOUT to a larger value, or " + self._hint().split(" or ", 1)[1])
        if isinstance(e, requests.exceptions.HTTPError) and e.response is not None:
            body = e.response.text[:500]
            try:
                j = e.response.json()
                body = j.get("message", body)
                errs = j.get("errors") or []
                if errs:
                    return self._located(errs[0], what)
            except ValueError:
                pass
            return EngineError(f"opa-server engine: {what} at {self.url} failed: HTTP {e.response.status_code}: {body}",
                               hint=ENGINE_HINT)
        return EngineError(f"opa-server engine: cannot reach OPA at {self.url} ({what}): {type(e).__name__}",
                           hint=self._hint())

    def _located(self, err: dict, what: str) -> EngineError:
        loc = err.get("location") or {}
        raw = f"error: {err.get('message', '')}"
        if loc.get("file"):
            raw = f"--> {loc['file']}:{loc.get('row', 0)}\n" + raw
        return engine_error(self.name, raw, self.bundle, what)

    def _push(self, force: bool) -> None:
        import requests
        from opa_client.errors import RegoParseError

        key = (self.url, self.bundle.digest)
        with self._lock:
            if self._pushed.get(key) and not force:
                return
            # Helpers first: OPA compiles each upload against what it already has,
            # and a rule calling an unknown helper function is a type error.
            ordered = sorted(self.bundle.modules, key=lambda m: (m.package.startswith(RULES_ROOT + "."), m.rel))
            for m in ordered:
                try:
                    self._deadline(lambda: self.client.update_policy_from_string(m.text, policy_id(m), rego_compat=False),
                                   "policy upload")
                except RegoParseError as e:
                    errs = e.errors or [{"message": e.message}]
                    raise self._located(errs[0], f"policy {m.path} rejected") from None
                except requests.exceptions.RequestException as e:
                    raise self._transport_error(e, "policy upload") from None
                except ValueError as e:  # non-JSON error body
                    raise EngineError(f"opa-server engine: {self.url} answered the policy upload with a non-OPA reply: {e}",
                                      hint=self._hint()) from None
            self._pushed[key] = True

    def evaluate(self, input_doc: dict) -> dict:
        value = self._query(input_doc)
        if not self._complete(value):
            self._push(force=True)
            value = self._query(input_doc)
            if not self._complete(value):
                raise EngineError(f"opa-server engine: {self.url} does not serve every drydock rule after upload",
                                  hint="another client may be replacing policies under drydock/; " + self._hint())
        return value

    def _deadline(self, call, what: str):
        """Run one HTTP exchange with a wall-clock deadline.

        requests' timeout bounds each socket read, so a server that trickles a byte a second
        never trips it. The exchange runs in a daemon thread; at the deadline the session is
        closed (unblocking the read) and the gate fails closed.
        """
        box: dict = {}

        def run() -> None:
            try:
                box["value"] = call()
            except BaseException as e:  # handed to the caller's thread
                box["error"] = e

        worker = threading.Thread(target=run, name="drydock-opa", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            try:
                self.client._session.close()
            except Exception:  # closing is best effort; the thread is a daemon anyway
                pass
            type(self)._pushed.pop((self.url, self.bundle.digest), None)
            raise EngineError(f"opa-server engine: {what} at {self.url} timed out after {self.timeout:g}s "
                              "(wall clock for the whole exchange)",
                              hint="set DRYDOCK_OPA_TIMEOUT to a larger value, or " + self._hint().split(" or ", 1)[1])
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def _complete(self, value: Any) -> bool:
        return isinstance(value, dict) and all(deny_of(value, r) is not None for r in self.bundle.rules)

    def _query(self, input_doc: dict) -> Any:
        import requests

        try:
            out = self._deadline(lambda: self.client.query_rule(input_data=input_doc, package_path=RULES_ROOT), "query")
        except requests.exceptions.RequestException as e:
            raise self._transport_error(e, "query") from None
        except ValueError as e:
            raise EngineError(f"opa-server engine: {self.url} returned a non-JSON answer: {e}", hint=self._hint()) from None
        if isinstance(out, dict) and out.get("errors"):
            raise self._located(out["errors"][0], "query failed")
        return out.get("result") if isinstance(out, dict) else None
