"""Schemathesis against /openapi.json: no 500s; statuses, content types and bodies match the
schema. Few examples per operation so the whole run stays well under a minute."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks as openapi_checks
from tests.service.conftest import make_app

pytestmark = pytest.mark.filterwarnings("ignore")

CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]


def _warm_up(app: Any) -> None:
    """Load every regime and shipped reform, and the screening index, once before the run: the
    first use of each takes seconds on a busy machine, over the client's read timeout."""
    from sluicegate.regimes import regime_ids
    from sluicegate.regimes.loader import shipped_reforms
    from sluicegate.rules import decide_records
    from sluicegate.screening import screen_many

    txn = {"date": "2025-06-01", "destination": "IN", "item": {"chip": "nvidia-h100-sxm"}}
    for regime in regime_ids():
        decide_records([txn], regime=regime)
    for reform in shipped_reforms():
        decide_records([txn], reform=reform)
    screen_many([{"id": "1", "name": "Huawei Technologies"}])


_TMP = Path(tempfile.mkdtemp(prefix="sluice-schema-"))
_APP = make_app(_TMP, max_simulation_draws=2)
KEYS = {
    role: _APP.state.store.add_user(f"schema-{role}", role)
    for role in ("compliance", "admin", "auditor")
}
# simulations are started by test_api (each start is a process); here: everything else
_warm_up(_APP)
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP).exclude(
    method="POST", path="/v1/simulations"
)


def _key(path: str) -> str:
    if path.startswith("/v1/users"):
        return KEYS["admin"]
    if path.startswith("/v1/events"):
        return KEYS["auditor"]
    return KEYS["compliance"]


@schema.parametrize()
@settings(
    max_examples=4,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_schema(case: Any) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {_key(case.path)}"}, checks=CHECKS, timeout=120
    )
