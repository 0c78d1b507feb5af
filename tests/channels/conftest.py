"""Shared fixtures for the connector tests: local fakes only, never the internet."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:          # `pytest` run without `python -m` or a pythonpath setting
    sys.path.insert(0, str(ROOT))

# Proxy variables would send loopback traffic to the proxy (notes/provider-libraries.md,
# "Test-environment gotchas"): exempt the fakes.
for _var in ("NO_PROXY", "no_proxy"):
    _have = [h for h in os.environ.get(_var, "").split(",") if h]
    os.environ[_var] = ",".join(_have + [h for h in ("127.0.0.1", "localhost") if h not in _have])

from tests.fakes.fake_telegram import FakeTelegram  # noqa: E402
from tests.fakes.fake_twilio import FakeTwilio  # noqa: E402

PAYLOADS = ROOT / "tests" / "payloads"
TG_TOKEN = "123456:TEST-token"
TG_SECRET = "s3cret-Token_1"
TW_SID = "ACa1b2c3d4e5f60718293a4b5c6d7e8f90"
TW_TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"

@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(TG_TOKEN) as fake:
        yield fake


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(TW_SID, TW_TOKEN) as fake:
        yield fake
