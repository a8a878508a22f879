"""Model routing: public model id → deployment → provider."""

from responses_gateway.router.router import Route, Router

__all__ = ["Route", "Router"]
