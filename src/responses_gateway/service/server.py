"""Builds the grpc.aio server: our service, health and reflection."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from responses_gateway.api.v1 import service_pb2, service_pb2_grpc
from responses_gateway.config import TLSConfig
from responses_gateway.security import Authenticator
from responses_gateway.service.grpc_auth import AuthInterceptor
from responses_gateway.service.grpc_servicer import ResponsesServicer
from responses_gateway.service.responses import ResponsesService
from responses_gateway.telemetry.tracing import Tracing, grpc_server_interceptors

SERVICE_NAME = service_pb2.DESCRIPTOR.services_by_name["ResponsesService"].full_name
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


# Longer than any upstream call may last (providers' `total` timeout, 900 s by default).
CONNECTION_AGE_GRACE = 3600.0


def bind_server(
    host: str,
    port: int,
    authenticator: Authenticator,
    tls: TLSConfig | None = None,
    tracing: Tracing | None = None,
    *,
    max_connection_age: float | None = None,
) -> tuple[grpc.aio.Server, int]:
    """A server bound to host:port (0 picks one), not started and serving nothing yet; the bound port.

    Every call to our service is authenticated (health and reflection are not). With a
    certificate in `tls` the port speaks TLS only (mutual TLS with `client_ca_file`).
    `max_connection_age` (seconds): clients are asked to reconnect after it (GOAWAY), so
    round-robin clients spread over replicas added since; calls in flight keep their
    connection up to `CONNECTION_AGE_GRACE` longer (a model's stream may run many minutes).
    """
    ages: list[tuple[str, object]] = []
    if max_connection_age is not None:
        ages = [
            ("grpc.max_connection_age_ms", int(max_connection_age * 1000)),
            ("grpc.max_connection_age_grace_ms", int(CONNECTION_AGE_GRACE * 1000)),
        ]
    server = grpc.aio.server(
        # The server span first, so refused calls are traced too.
        interceptors=[*grpc_server_interceptors(tracing), AuthInterceptor(authenticator, SERVICE_NAME)],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            *ages,
        ]
    )
    address = f"{host}:{port}"
    if tls is None or tls.cert_file is None or tls.key_file is None:
        return server, server.add_insecure_port(address)
    client_ca = tls.client_ca_file.read_bytes() if tls.client_ca_file else None
    credentials = grpc.ssl_server_credentials(
        [(tls.key_file.read_bytes(), tls.cert_file.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )
    return server, server.add_secure_port(address, credentials)


async def add_services(server: grpc.aio.Server, service: ResponsesService) -> health.aio.HealthServicer:
    """Our service, health (SERVING) and reflection on a server that has not started."""
    service_pb2_grpc.add_ResponsesServiceServicer_to_server(ResponsesServicer(service), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
    )
    await health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    return health_servicer
