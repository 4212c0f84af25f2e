"""drydock's inputs: services/*.yaml and environments/*.yaml as frozen dataclasses.

The loader (and with it jsonschema) is imported on first use, so commands that only
read manifests (`check`, `validate`) start faster.
"""
from .types import Environment, Platform, Port, Probe, SecretRef, Service  # noqa: F401

_LAZY = {"load_project"}


def __getattr__(name: str):
    if name in _LAZY:
        from . import loader

        return getattr(loader, name)
    raise AttributeError(name)
