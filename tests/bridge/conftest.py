"""Fixtures for the bridge's tests: the app over a fake backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.bridge.fakes import FakeBackend, serve


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
async def client(backend: FakeBackend) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with serve(backend) as client:
        yield client
