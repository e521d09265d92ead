"""The role matrix: every route × every role (and no key) gets exactly the access it should."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from tests.service.conftest import PARTY, ROLES, TXN, auth

E, C, A, D = "exporter", "compliance", "auditor", "admin"
ALL = {E, C, A, D}
_counter = itertools.count()

CUSTOMER = {"account": "acct-roles", "name": "Roles Example Ltd", "country": "DE"}
TELEMETRY = (
    b"timestamp,account,job,accelerator,count,seconds\n"
    b"2025-01-01T00:00:00Z,acct-roles,run-1,nvidia-h100-sxm,8,3600\n"
)

# (method, path, kwargs, roles allowed) — written out here, independent of auth.ROLE_MATRIX
ROUTES: list[tuple[str, str, dict[str, Any], set[str]]] = [
    ("GET", "/v1/regimes", {}, ALL),
    ("GET", "/v1/regimes/us-2023-11-17", {}, ALL),
    ("GET", "/v1/regimes/us-2023-11-17/diff/us-2024-12-02", {}, ALL),
    ("GET", "/v1/reforms", {}, ALL),
    ("GET", "/v1/chips", {}, ALL),
    ("GET", "/v1/chips/nvidia-h100-sxm", {}, ALL),
    ("GET", "/v1/tiers?date=2025-06-01", {}, ALL),
    ("GET", "/v1/scenarios", {}, ALL),
    ("POST", "/v1/decisions", {"json": TXN}, {E, C}),
    (
        "POST",
        "/v1/decisions/csv",
        {
            "files": {
                "file": ("t.csv", b"id,date,destination,chip\n1,2025-06-01,IN,nvidia-h100-sxm\n")
            }
        },
        {E, C},
    ),
    ("POST", "/v1/decisions/jobs", {"json": {"transactions": [TXN]}}, {E, C}),
    ("GET", "/v1/decisions/jobs/nope", {}, {E, C}),
    ("GET", "/v1/decisions/jobs/nope/result", {}, {E, C}),
    ("DELETE", "/v1/decisions/jobs/nope", {}, {E, C}),
    ("POST", "/v1/decisions?ledger=reserve", {"json": TXN}, {E, C}),
    ("POST", "/v1/ledger/reservations", {"json": TXN}, {E, C}),
    ("POST", "/v1/ledger/reservations/rsv-nope/confirm", {}, {C}),
    ("POST", "/v1/ledger/reservations/rsv-nope/release", {}, {C}),
    (
        "POST",
        "/v1/ledger/attrition",
        {"json": {"pool": "nveu:nobody:IN", "tpp": 1, "reason": "failure"}},
        {C},
    ),
    ("GET", "/v1/ledger/balance", {}, {E, C, A}),
    ("GET", "/v1/ledger/history", {}, {E, C, A}),
    ("GET", "/v1/audit/verify", {}, {C, A}),
    ("GET", "/v1/audit/export?format=csv", {}, {C, A}),
    ("POST", "/v1/screen", {"json": {"name": "Huawei Technologies"}}, {E, C}),
    ("GET", f"/v1/parties/resolve?party={PARTY}", {}, {E, C, A}),
    ("POST", "/v1/parties/resolve", {"json": {"parties": [PARTY]}}, {E, C, A}),
    ("GET", f"/v1/parties/{PARTY}", {}, {E, C, A}),
    ("POST", "/v1/cloud/kyc", {"json": [CUSTOMER]}, {C}),
    ("GET", "/v1/cloud/customers", {}, {C, A}),
    ("POST", "/v1/cloud/telemetry?format=csv", {"content": TELEMETRY}, {C}),
    ("GET", "/v1/cloud/telemetry/jobs/0123456789abcdef", {}, {C}),
    ("GET", "/v1/cloud/telemetry/jobs/0123456789abcdef/result", {}, {C}),
    ("DELETE", "/v1/cloud/telemetry/jobs/0123456789abcdef", {}, {C}),
    ("GET", "/v1/cloud/alerts", {}, {C, A}),
    ("POST", "/v1/simulations", {"json": {"scenario": "no-such-scenario"}}, {C}),
    ("GET", "/v1/simulations", {}, {C, A}),
    ("GET", "/v1/simulations/nope", {}, {C, A}),
    ("GET", "/v1/simulations/nope/result", {}, {C, A}),
    ("GET", "/v1/simulations/nope/comparison", {}, {C, A}),
    ("GET", "/v1/simulations/nope/report", {}, {C, A}),
    ("DELETE", "/v1/simulations/nope", {}, {C}),
    ("GET", "/v1/users", {}, {D}),
    ("POST", "/v1/users", {"json": {"role": "auditor"}}, {D}),
    ("DELETE", "/v1/users/nobody", {}, {D}),
    ("GET", "/v1/events", {}, {A, D}),
]


def test_matrix_covers_every_api_route(service: dict[str, Any]) -> None:
    schema = service["client"].get("/openapi.json").json()
    declared = {
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        if path.startswith("/v1/")
        for method in ops
    }
    covered = set()
    for method, path, _, _ in ROUTES:
        bare = path.split("?")[0]
        for template_method, template in declared:
            parts, tparts = bare.split("/"), template.split("/")
            if (
                template_method == method
                and len(parts) == len(tparts)
                and all(t.startswith("{") or t == p for p, t in zip(parts, tparts, strict=True))
            ):
                covered.add((template_method, template))
    assert declared - covered == set()


@pytest.mark.parametrize("role", [*ROLES, None])
@pytest.mark.parametrize(
    ("method", "path", "kwargs", "allowed"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES]
)
def test_role_matrix(
    service: dict[str, Any],
    role: str | None,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    allowed: set[str],
) -> None:
    client = service["client"]
    headers = auth(service["keys"][role]) if role else {}
    if method == "POST" and path == "/v1/users":
        kwargs = {"json": {**kwargs["json"], "name": f"made-{next(_counter)}"}}
    response = client.request(method, path, headers=headers, **kwargs)
    body = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else None
    )
    if role is None:
        assert response.status_code == 401, response.text
        assert body is not None and body["error"]["field"] == "authorization"
    elif role in allowed:
        assert response.status_code not in (401, 403, 429, 500), response.text
    else:
        assert response.status_code == 403, response.text
        assert body is not None and set(body["error"]) == {"field", "message"}


def test_exporter_sees_only_own_consignees(service: dict[str, Any]) -> None:
    client, keys = service["client"], service["keys"]
    other = "ofac-sdn:306"
    assert client.get(f"/v1/parties/{other}", headers=auth(keys["exporter"])).status_code == 403
    assert client.get(f"/v1/parties/{other}", headers=auth(keys["compliance"])).status_code in (
        200,
        404,
    )


def test_exporter_sees_only_own_decision_jobs(service: dict[str, Any]) -> None:
    client, keys = service["client"], service["keys"]
    job = client.post(
        "/v1/decisions/jobs", json={"transactions": [TXN]}, headers=auth(keys["compliance"])
    ).json()["job"]
    assert (
        client.get(f"/v1/decisions/jobs/{job}", headers=auth(keys["exporter"])).status_code == 404
    )
    assert (
        client.get(f"/v1/decisions/jobs/{job}", headers=auth(keys["compliance"])).status_code == 200
    )


def test_unauthenticated_surface(service: dict[str, Any]) -> None:
    client = service["client"]
    for path in ("/healthz", "/docs", "/openapi.json", "/login", "/static/app.js"):
        assert client.get(path).status_code == 200, path
    for path in ("/", "/decide", "/ledger", "/screening", "/cloud", "/simulate"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login"
