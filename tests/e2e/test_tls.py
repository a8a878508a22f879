"""TLS on both listeners and on the bridge's channel to the service (mutual TLS on gRPC), certificates made at test time."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import grpc
import pytest
import trustme

from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2_grpc
from responses_gateway.config import TLSConfig
from tests.e2e.conftest import FAKE_KEY_ENV, gateway_settings, serve
from tests.upstreams.openai_responses import FakeOpenAIResponses


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _pki(tmp_path: Path) -> Pki:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("bridge.responses-gateway.internal")
    pki = Pki(*(tmp_path / name for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")))
    ca.cert_pem.write_to_path(str(pki.ca))
    server.private_key_pem.write_to_path(str(pki.server_key))
    pki.server_cert.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    client.private_key_pem.write_to_path(str(pki.client_key))
    pki.client_cert.write_bytes(b"".join(blob.bytes() for blob in client.cert_chain_pems))
    return pki


@dataclass
class Secured:
    http_url: str
    grpc_target: str
    pki: Pki


@pytest.fixture(params=["inprocess", "remote"])
async def secured(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Secured]:
    pki = _pki(tmp_path)
    upstream = FakeOpenAIResponses(api_key="sk-upstream-secret")
    base_url = await upstream.start()
    monkeypatch.setenv(FAKE_KEY_ENV, "sk-upstream-secret")
    tls = TLSConfig(
        cert_file=pki.server_cert,
        key_file=pki.server_key,
        client_ca_file=pki.ca,
        backend_ca_file=pki.ca,
        backend_cert_file=pki.client_cert,
        backend_key_file=pki.client_key,
    )
    try:
        async with serve(gateway_settings(tmp_path, base_url, tls=tls), request.param) as (http_url, target, _):
            yield Secured(http_url.replace("http://", "https://"), target, pki)
    finally:
        await upstream.close()


async def test_https_answers_a_client_that_trusts_the_ca_and_plain_http_gets_nothing(secured: Secured) -> None:
    trusting = ssl.create_default_context(cafile=str(secured.pki.ca))
    async with aiohttp.ClientSession() as session:
        body = {"model": "gpt-5.4", "input": "over tls"}
        async with session.post(f"{secured.http_url}/v1/responses", json=body, ssl=trusting) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["output"][-1]["content"][0]["text"].startswith("You said: over tls")
        with pytest.raises(aiohttp.ClientError):
            async with session.get(secured.http_url.replace("https://", "http://") + "/healthz") as plain:
                await plain.read()
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async with session.get(f"{secured.http_url}/healthz") as untrusted:  # the system CAs do not know ours
                await untrusted.read()


async def test_grpc_requires_tls_and_a_client_certificate(secured: Secured) -> None:
    request = pb.CreateResponseRequest(model="gpt-5.4", input_text="hello")
    ca, cert, key = (p.read_bytes() for p in (secured.pki.ca, secured.pki.client_cert, secured.pki.client_key))
    mutual = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    async with grpc.aio.secure_channel(secured.grpc_target, mutual) as channel:
        reply = await service_pb2_grpc.ResponsesServiceStub(channel).CreateResponse(request, timeout=10)
        assert reply.status == "completed"
    without_certificate = grpc.ssl_channel_credentials(root_certificates=ca)
    async with grpc.aio.secure_channel(secured.grpc_target, without_certificate) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await service_pb2_grpc.ResponsesServiceStub(channel).CreateResponse(request, timeout=5)
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    async with grpc.aio.insecure_channel(secured.grpc_target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as plain:
            await service_pb2_grpc.ResponsesServiceStub(channel).CreateResponse(request, timeout=5)
        assert plain.value.code() is grpc.StatusCode.UNAVAILABLE


def test_half_a_certificate_pair_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="cert_file and key_file"):
        TLSConfig(cert_file=Path("server.pem"))
    with pytest.raises(ValueError, match="mutual TLS"):
        TLSConfig(client_ca_file=Path("ca.pem"))
