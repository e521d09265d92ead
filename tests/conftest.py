"""Shared fixtures. Services (PostgreSQL, Chromium) are required when SLUICE_REQUIRE_SERVICES=1."""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("SLUICE_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip locally; in CI (SLUICE_REQUIRE_SERVICES=1) a missing service is a failure."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)
