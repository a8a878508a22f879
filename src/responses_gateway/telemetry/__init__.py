"""Telemetry: metrics, tracing and logging set up for a process (not one of the request path's layers)."""
