"""drydock's inputs: services/*.yaml and environments/*.yaml as frozen dataclasses."""
from .loader import load_project, load_environment, load_service  # noqa: F401
from .types import Environment, Platform, Port, Probe, SecretRef, Service  # noqa: F401
