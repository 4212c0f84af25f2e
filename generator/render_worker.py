"""Render environments in short-lived worker processes, so Node's memory dies with each one.

jsii never releases an object it handed to Python, and V8 keeps the heap it grew, so in one
process every env's cdk8s App stays in Node until the process ends: 1,000 services x 3 envs
peaked at ~1.5 GB for the process tree (docs/performance.md). A worker forks from a
multiprocessing forkserver (a clean interpreter that never started Node), gets the loaded
project pickled, renders one env, sends the render back in the render cache's JSON encoding,
stops its Node and exits.

A worker costs a cdk8s import and a Node start (~0.4 s CPU), so small renders stay in this
process: `isolate` decides (`DRYDOCK_RENDER_WORKERS=always|never|auto`, default auto).
A worker that fails with a drydock error re-raises it here, file and line intact; one that
crashes, is killed or answers garbage is an EngineError (exit 2), never a partial render.
"""
from __future__ import annotations

import copyreg
import io
import multiprocessing
import os
import pickle
import signal
import tempfile
from types import MappingProxyType
from typing import Callable, Sequence

from .cdk8s_runtime import stop_node
from .errors import DrydockError, EngineError
from .model.types import Platform
from .render import RenderedEnv, render_env

ENV_VAR = "DRYDOCK_RENDER_WORKERS"
# Below this many service renders (services x envs to render), Node's memory is small and a
# worker's start-up would only add time: the demo (~40 x 3) renders in this process.
AUTO_MIN_SERVICE_RENDERS = 300
_OK, _FAILED, _BUG = b"0", b"1", b"2"


def isolate(platform: Platform, names: Sequence[str]) -> bool:
    """Whether to render `names` in worker processes (see the module docstring)."""
    mode = os.environ.get(ENV_VAR, "auto").strip().lower()
    if mode in ("always", "1", "yes"):
        return True
    if mode in ("never", "0", "no") or len(names) < 2 or not hasattr(os, "fork"):
        return False
    return len(platform.services) * len(names) >= AUTO_MIN_SERVICE_RENDERS


def render_envs(platform: Platform, names: Sequence[str], *, workers: bool | None = None,
                progress: Callable[[str], None] = lambda m: None) -> dict[str, RenderedEnv]:
    """Render each env of `names`, in a worker process each when `workers` (None: `isolate`)."""
    if workers is None:
        workers = isolate(platform, names)
    if not workers:
        out = {}
        for name in names:
            progress(f"render: {name}")
            out[name] = render_env(platform, name)
        return out
    encoded = {}
    for name in names:
        progress(f"render: {name} (worker process)")
        encoded[name] = _run_worker(platform, name)
    # Decoded only once every worker is gone: while one runs, the others' renders stay compact bytes.
    return {name: _decoded(encoded.pop(name), name, platform) for name in names}


def render_in_worker(platform: Platform, env: str) -> RenderedEnv:
    """render_env(platform, env) in a worker process; only the encoded render comes back."""
    return _decoded(_run_worker(platform, env), env, platform)


def _decoded(body: bytes, env: str, platform: Platform) -> RenderedEnv:
    from .render_cache import decode

    rendered = decode(body, env)
    if rendered is None:
        raise EngineError(f"the render worker for environment {env} answered a render that does not decode; "
                          "nothing was written", file=_env_file(platform, env),
                          hint=f"{ENV_VAR}=never renders in this process")
    return rendered


def _env_file(platform: Platform, env: str) -> str | None:
    envs = getattr(platform, "environments", {})
    return envs[env].source.file if env in envs else None


def _run_worker(platform: Platform, env: str) -> bytes:
    """The encoded render of env, made by a worker process (see render_in_worker)."""
    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    # The forkserver froze its environment and folder when it started; the worker takes ours.
    ignores_ctrl_c = signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # e.g. started as `drydock ... &` in a script
    proc = ctx.Process(target=_work, args=(send, _dumps(platform), env, dict(os.environ), os.getcwd(), ignores_ctrl_c),
                       name=f"drydock-render-{env}", daemon=True)
    proc.start()
    send.close()  # the worker holds the only write end: EOF as soon as it is gone
    try:
        try:
            status, body = receive.recv_bytes(), receive.recv_bytes()
        except (EOFError, OSError):
            status, body = b"", b""
        proc.join()
    finally:
        receive.close()
        if proc.is_alive():  # interrupted while waiting: the worker (and its Node) must not outlive us
            proc.kill()
            proc.join()
    if status == _FAILED:
        cls, problems = pickle.loads(body)  # our own worker's answer: a DrydockError class and its problems
        if isinstance(cls, type) and issubclass(cls, DrydockError):
            raise cls(problems)
    if status == _OK and proc.exitcode == 0:
        return body
    file = _env_file(platform, env)
    if status == _BUG:  # an exception that is not a drydock error: a bug, or a broken Node / cdk8s install
        raise EngineError(f"the render worker for environment {env} failed: {body.decode('utf-8', 'replace')}; "
                          "nothing was written", file=file,
                          hint=f"check that cdk8s's Node runs (JSII_NODE); {ENV_VAR}=never --debug renders in this "
                               "process and shows the traceback")
    if proc.exitcode == -signal.SIGINT:
        # Ctrl-C reached the worker's process group; this process may not have raised it yet.
        raise KeyboardInterrupt
    if proc.exitcode and proc.exitcode < 0:
        what = f"was killed by signal {signal.Signals(-proc.exitcode).name}"
    elif proc.exitcode:
        what = f"exited with code {proc.exitcode}"
    else:
        what = "ended without a complete render"
    raise EngineError(f"the render worker for environment {env} {what}; nothing was written", file=file,
                      hint="if the machine ran out of memory (the kernel's OOM killer sends SIGKILL), free some or "
                           "render fewer envs at a time (--env)")


def _work(send, platform_bytes: bytes, env: str, environ: dict[str, str], cwd: str, ignores_ctrl_c: bool = False) -> None:
    """The worker: render, send two messages (status, body), stop Node, exit."""
    # Ctrl-C ends the worker (after jsii's Node and runtime folder) and the parent reports the
    # interruption; unless the parent ignores Ctrl-C, then so does its worker (the fork server
    # ignores it for its own sake).
    signal.signal(signal.SIGINT, signal.SIG_IGN if ignores_ctrl_c else _die_of_ctrl_c)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.environ.clear()
    os.environ.update(environ)  # JSII_NODE, NODE_OPTIONS, TMPDIR, ... as the caller has them now
    tempfile.tempdir = None  # the fork server may have cached its own TMPDIR
    os.chdir(cwd)
    from .render_cache import encode

    try:
        status, body = _OK, encode(render_env(pickle.loads(platform_bytes), env, synthesized=stop_node))
    except DrydockError as exc:
        status, body = _FAILED, pickle.dumps((type(exc), exc.problems))
    except BaseException as exc:  # noqa: BLE001  (a bug: reported by the parent as an engine error)
        status, body = _BUG, f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")
    try:
        send.send_bytes(status)
        send.send_bytes(body)
    finally:
        send.close()
        stop_node()  # its atexit hook (Node's exit, jsii's runtime folder) does not run in a worker


def _die_of_ctrl_c(signum, frame) -> None:
    stop_node()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)  # the parent reads "killed by SIGINT" as an interruption


def _context():
    """forkserver: workers fork from a clean server that never started Node, whatever this process did
    (a test process may already run jsii, whose pipes a plain fork would share)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["generator.render_worker"])
    return ctx


def _proxy(items: dict) -> MappingProxyType:
    return MappingProxyType(items)


def _dumps(platform: Platform) -> bytes:
    """Pickle the loaded project (its frozen types hold read-only mapping proxies)."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, MappingProxyType: lambda m: (_proxy, (dict(m),))}
    pickler.dump(platform)
    return buf.getvalue()
