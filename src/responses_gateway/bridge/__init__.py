"""The HTTP face: OpenAI-compatible REST + SSE, translating to the service's RPCs."""

from responses_gateway.bridge.app import create_app
from responses_gateway.bridge.backend import Backend, RemoteBackend

__all__ = ["Backend", "RemoteBackend", "create_app"]
