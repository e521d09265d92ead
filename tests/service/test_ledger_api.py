"""The ledger and its audit chain over HTTP, on SQLite and PostgreSQL: reservations hold real
quota (all or nothing, idempotent, 409 when a pool cannot hold them), exporters act only for
their consignees, and every state-changing call lands in the tamper-evident chain with the
key's identity."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from tests.service.conftest import TXN, auth, database_url, make_app
from typer.testing import CliRunner

WHAT_IF = "regime=us-2025-01-13-ai-diffusion"
LPP = "lpp:acme-in:2025"
H100_TPP = 15832


@pytest.fixture(params=["sqlite", "postgresql"])
def svc(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[dict[str, Any]]:
    url = database_url(request, request.param, tmp_path)
    app = make_app(tmp_path, database_url=url)
    store = app.state.store
    keys = {
        "exporter": store.add_user("acme-exports", "exporter", ["acme-in"]),
        "compliance": store.add_user("ops", "compliance"),
        "auditor": store.add_user("audit", "auditor"),
        "admin": store.add_user("root", "admin"),
    }
    with TestClient(app) as client:
        yield {"client": client, "keys": keys, "url": url, "app": app}


def _post(svc: dict[str, Any], role: str, path: str, **kwargs: Any) -> Any:
    headers = auth(svc["keys"][role]) | kwargs.pop("headers", {})
    return svc["client"].post(path, headers=headers, **kwargs)


def _get(svc: dict[str, Any], role: str, path: str, **kwargs: Any) -> Any:
    return svc["client"].get(path, headers=auth(svc["keys"][role]), **kwargs)


def _used(svc: dict[str, Any], pool: str) -> float:
    pools = _get(svc, "compliance", "/v1/ledger/balance").json()["pools"]
    return next((p["used"] for p in pools if p["pool"] == pool), 0.0)


def _export(svc: dict[str, Any]) -> list[dict[str, Any]]:
    response = _get(svc, "auditor", "/v1/audit/export?format=jsonl")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def test_reservation_holds_quota_from_real_balances(svc: dict[str, Any]) -> None:
    first = _post(svc, "exporter", f"/v1/ledger/reservations?{WHAT_IF}", json=TXN)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["authorization"] == "LPP" and body["reservation"]["state"] == "held"
    assert body["quota"]["pool"] == LPP and body["quota"]["used_before"] == 0
    # the decisions route with ledger=reserve: the quota field reads what the first one holds
    second = _post(
        svc,
        "exporter",
        f"/v1/decisions?{WHAT_IF}&ledger=reserve",
        json={**TXN, "id": "o-2", "quantity": 500},
    )
    assert second.status_code == 201, second.text
    assert second.json()["quota"]["pool"] == LPP
    assert second.json()["quota"]["used_before"] == 1000 * H100_TPP
    assert second.json()["reservation"]["id"] != body["reservation"]["id"]
    assert _used(svc, LPP) == 1500 * H100_TPP
    balance = _get(svc, "exporter", "/v1/ledger/balance?consignee=acme-in&kind=lpp").json()
    assert [(p["pool"], p["remaining"]) for p in balance["pools"]] == [
        (LPP, 26_900_000 - 1500 * H100_TPP)
    ]
    assert (
        _get(svc, "auditor", "/v1/ledger/balance?as_of=2026-03-01&kind=lpp").json()["pools"] == []
    )
    history = _get(svc, "exporter", "/v1/ledger/history?kind=reserve").json()
    assert [e["transaction_id"] for e in history] == ["order-1", "o-2"]
    assert {e["actor"] for e in history} == {"api-key:acme-exports (exporter)"}


def test_idempotent_retries_and_conflicts(svc: dict[str, Any]) -> None:
    path = f"/v1/ledger/reservations?{WHAT_IF}"
    batch = {"transactions": [TXN], "idempotency_key": "order-1-try"}
    one = _post(svc, "compliance", path, json=batch)
    two = _post(svc, "compliance", path, json=batch)
    assert one.status_code == two.status_code == 201
    assert one.json() == two.json()
    assert _used(svc, LPP) == 1000 * H100_TPP  # held once
    header = _post(
        svc,
        "compliance",
        path,
        json={**TXN, "id": "other"},
        headers={"Idempotency-Key": "order-1-try"},
    )
    assert header.status_code == 409 and header.json()["error"]["field"] == "idempotency_key"
    mismatch = svc["client"].post(
        path,
        json=batch,
        headers=auth(svc["keys"]["compliance"]) | {"Idempotency-Key": "something-else"},
    )
    assert mismatch.status_code == 422 and mismatch.json()["error"]["field"] == "idempotency_key"


def test_a_pool_that_cannot_hold_it_is_409_and_holds_nothing(svc: dict[str, Any]) -> None:
    path = f"/v1/ledger/reservations?{WHAT_IF}"
    big = {**TXN, "id": "big", "quantity": 40_000}
    assert _post(svc, "compliance", path, json=big).status_code == 201
    allocation = "country-allocation:IN:2025-2027"
    before = _used(svc, allocation)
    refused = _post(svc, "compliance", path, json={**big, "id": "too-big", "quantity": 20_000})
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["error"]["field"] == "quota" and allocation in body["error"]["message"]
    assert body["decisions"][0]["quota"]["drawn"] is False
    assert _used(svc, allocation) == before
    kinds = [e["kind"] for e in _get(svc, "compliance", "/v1/ledger/history").json()]
    assert kinds == ["reserve"]  # the refused one was never written


def test_a_batch_is_all_or_nothing(svc: dict[str, Any]) -> None:
    bad = {**TXN, "id": "bad", "destination": "XX"}
    response = _post(
        svc, "compliance", f"/v1/ledger/reservations?{WHAT_IF}", json={"transactions": [TXN, bad]}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["field"] == "destination"
    assert [d["id"] for d in body["decisions"]] == ["order-1", "bad"]
    assert all("error" in d for d in body["decisions"])
    assert _get(svc, "compliance", "/v1/ledger/history").json() == []


def test_confirm_release_and_attrition(svc: dict[str, Any]) -> None:
    held = _post(svc, "exporter", f"/v1/ledger/reservations?{WHAT_IF}", json=TXN).json()
    rid = held["reservation"]["id"]
    assert _post(svc, "exporter", f"/v1/ledger/reservations/{rid}/release").status_code == 403
    released = _post(svc, "compliance", f"/v1/ledger/reservations/{rid}/release")
    assert released.status_code == 200 and released.json()["reservation"]["state"] == "released"
    assert _used(svc, LPP) == 0
    again = _post(svc, "compliance", f"/v1/ledger/reservations/{rid}/confirm")
    assert again.status_code == 409 and "already released" in again.json()["error"]["message"]
    missing = _post(svc, "compliance", "/v1/ledger/reservations/rsv-nope/confirm")
    assert missing.status_code == 404
    nveu = {
        **TXN,
        "id": "n-1",
        "quantity": 100,
        "consignee": {"id": "acme-in", "authorizations": ["NVEU"]},
    }
    kept = _post(svc, "compliance", f"/v1/ledger/reservations?{WHAT_IF}", json=nveu).json()
    assert kept["authorization"] == "NVEU"
    confirmed = _post(
        svc, "compliance", f"/v1/ledger/reservations/{kept['reservation']['id']}/confirm"
    )
    assert confirmed.status_code == 200
    lost = _post(
        svc,
        "compliance",
        "/v1/ledger/attrition",
        json={"consignee": "acme-in", "country": "IN", "tpp": 10 * H100_TPP, "reason": "failure"},
    )
    assert lost.status_code == 201, lost.text
    assert lost.json()["installed_base_after"] == 90 * H100_TPP
    wrong = _post(
        svc, "compliance", "/v1/ledger/attrition", json={"pool": LPP, "tpp": 1, "reason": "failure"}
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "pool"
    bad_reason = _post(
        svc,
        "compliance",
        "/v1/ledger/attrition",
        json={"pool": "nveu:acme-in:IN", "tpp": 1, "reason": "stolen by aliens"},
    )
    assert bad_reason.status_code == 422 and bad_reason.json()["error"]["field"] == "reason"
    events = _get(svc, "auditor", "/v1/ledger/history").json()
    assert [e["kind"] for e in events] == ["reserve", "release", "reserve", "confirm", "attrition"]
    # read from the head of the chain, the same summaries as `sluice ledger history`
    assert events == [e for e in svc["app"].state.ledger.history() if e["kind"] != "api-call"]
    last_two = _get(svc, "auditor", "/v1/ledger/history?limit=2").json()
    assert last_two == events[-2:]
    by_pool = _get(svc, "auditor", "/v1/ledger/history?pool=nveu:acme-in:IN").json()
    assert [e["kind"] for e in by_pool] == ["reserve", "confirm", "attrition"]
    one = _get(svc, "auditor", f"/v1/ledger/history?reservation={rid}").json()
    assert [e["kind"] for e in one] == ["reserve", "release"]


def test_exporters_act_only_for_their_consignees(svc: dict[str, Any]) -> None:
    other = {**TXN, "id": "theirs", "consignee": {"id": "someone-else"}}
    refused = _post(svc, "exporter", f"/v1/ledger/reservations?{WHAT_IF}", json=other)
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "consignee"
    assert (
        _post(svc, "compliance", f"/v1/ledger/reservations?{WHAT_IF}", json=other).status_code
        == 201
    )
    assert _post(svc, "exporter", f"/v1/ledger/reservations?{WHAT_IF}", json=TXN).status_code == 201
    theirs = _get(svc, "exporter", "/v1/ledger/balance?consignee=someone-else")
    assert theirs.status_code == 403
    mine = _get(svc, "exporter", "/v1/ledger/balance").json()["pools"]
    assert {p["consignee"] for p in mine} == {"acme-in"}
    everything = _get(svc, "compliance", "/v1/ledger/balance").json()["pools"]
    assert {p["consignee"] for p in everything} == {"acme-in", "someone-else"}
    seen = _get(svc, "exporter", "/v1/ledger/history").json()
    assert [e["consignee"] for e in seen] == ["acme-in"]
    assert _get(svc, "exporter", "/v1/ledger/history?consignee=someone-else").status_code == 403
    # the same scope holds for ?ledger=reserve on the decisions route
    via_decisions = _post(svc, "exporter", f"/v1/decisions?{WHAT_IF}&ledger=reserve", json=other)
    assert via_decisions.status_code == 403


def test_calls_and_decisions_are_in_the_chain_and_tampering_is_found(
    svc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    reserved = _post(svc, "exporter", f"/v1/ledger/reservations?{WHAT_IF}", json=TXN)
    request_id = reserved.headers["x-request-id"]
    rid = reserved.json()["reservation"]["id"]
    decided = svc["client"].post(
        "/v1/decisions",
        json={"transactions": [TXN, {**TXN, "id": "bad", "destination": "XX"}]},
        headers=auth(svc["keys"]["compliance"]) | {"X-Request-ID": "client-chosen-1"},
    )
    assert decided.status_code == 200 and decided.headers["x-request-id"] == "client-chosen-1"
    via = _post(
        svc,
        "compliance",
        f"/v1/decisions?{WHAT_IF}&ledger=reserve",
        json={**TXN, "id": "via-decisions", "quantity": 10},
    )
    assert via.status_code == 201
    denied = _post(svc, "auditor", f"/v1/ledger/reservations/{rid}/release")
    assert denied.status_code == 403
    records = _export(svc)
    reserve = [r for r in records if r["kind"] == "reserve"]
    assert [r["reservation_id"] for r in reserve] == [rid, via.json()["reservation"]["id"]]
    assert reserve[0]["actor"] == "api-key:acme-exports (exporter)"
    calls = [r for r in records if r["kind"] == "api-call"]
    first = next(r for r in calls if r["event"]["request_id"] == request_id)
    assert first["actor"] == "api-key:acme-exports (exporter)"
    assert first["event"] | {"key_id": None} == {
        "method": "POST",
        "path": "/v1/ledger/reservations",
        "status": 201,
        "request_id": request_id,
        "key_name": "acme-exports",
        "key_id": None,
        "role": "exporter",
        "reservations": [rid],
        "consignees": ["acme-in"],
    }
    assert any(
        r["event"]["status"] == 403 and r["event"]["role"] == "auditor" for r in calls
    )  # refused attempts are recorded too
    decisions = [r for r in records if r["kind"] == "decision"]
    assert [r["event"]["transaction"]["id"] for r in decisions] == ["order-1"]  # not the invalid
    assert decisions[0]["event"]["request_id"] == "client-chosen-1"
    assert decisions[0]["actor"] == "api-key:ops (compliance)"
    # the decisions route leaves an api-call record only when it reserves; reads never do
    assert [r["event"]["path"] for r in calls] == [
        "/v1/ledger/reservations",
        "/v1/decisions",
        f"/v1/ledger/reservations/{rid}/release",
    ]
    events = _get(svc, "admin", "/v1/events").json()
    assert events[0]["status"] == 403 and events[0]["key_name"] == "audit"

    verified = _get(svc, "auditor", "/v1/audit/verify").json()
    assert verified["intact"] and verified["records"] == len(records)
    from sluicegate.cli import app as cli

    monkeypatch.setenv("SLUICE_DATABASE_URL", svc["url"])
    assert CliRunner().invoke(cli, ["audit", "verify"]).exit_code == 0

    engine = create_engine(svc["url"])
    with engine.begin() as connection:
        seq = connection.execute(
            text("SELECT seq FROM audit_log WHERE kind = 'api-call' ORDER BY seq LIMIT 1")
        ).scalar_one()
        connection.execute(
            text(
                "UPDATE audit_log SET event = REPLACE(event, 'acme-exports', 'somebody') WHERE seq = :s"
            ),
            {"s": seq},
        )
    engine.dispose()
    broken = _get(svc, "auditor", "/v1/audit/verify").json()
    assert not broken["intact"]
    assert broken["problems"][0]["seq"] == seq and "modified" in broken["problems"][0]["problem"]
    assert CliRunner().invoke(cli, ["audit", "verify"]).exit_code == 3


def test_audit_export_formats_and_dates(svc: dict[str, Any]) -> None:
    assert (
        _post(svc, "compliance", f"/v1/ledger/reservations?{WHAT_IF}", json=TXN).status_code == 201
    )
    rows = list(
        csv.DictReader(io.StringIO(_get(svc, "auditor", "/v1/audit/export?format=csv").text))
    )
    assert [r["kind"] for r in rows] == ["reserve", "api-call"]
    assert json.loads(rows[0]["event"])["transaction"]["id"] == "order-1"
    long_ago = _get(svc, "auditor", "/v1/audit/export?from=2000-01-01&to=2000-12-31")
    assert long_ago.status_code == 200 and long_ago.text == ""
    backwards = _get(svc, "auditor", "/v1/audit/export?from=2025-02-01&to=2025-01-01")
    assert backwards.status_code == 422 and backwards.json()["error"]["field"] == "to"
    assert _get(svc, "exporter", "/v1/audit/export").status_code == 403
