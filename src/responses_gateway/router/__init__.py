"""Model routing: public model id → deployments → provider, with retries, fallbacks, breakers."""

from responses_gateway.router.breaker import BreakerState, CircuitBreaker
from responses_gateway.router.router import Deployment, Route, Router

__all__ = ["BreakerState", "CircuitBreaker", "Deployment", "Route", "Router"]
