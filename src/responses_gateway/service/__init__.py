"""The Responses service (transport-free core) and its gRPC face."""

from responses_gateway.service.responses import CallContext, ResponsesService

__all__ = ["CallContext", "ResponsesService"]
