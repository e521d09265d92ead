"""Cloud over HTTP, on SQLite and PostgreSQL: KYC outcomes are kept for the monitor, telemetry
uploads fold into the stored state (a row sent twice counts once), big uploads run as jobs, and
the alerts come with their evidence; parties resolve with extra ownership links."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.service.conftest import PARTY, auth, database_url, make_app

from sluicegate.cloud.sample import sample_customers, write_sample


@pytest.fixture(params=["sqlite", "postgresql"])
def svc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    url = database_url(request, request.param, tmp_path)
    app = make_app(tmp_path, database_url=url)
    keys = {
        "compliance": app.state.store.add_user("ops", "compliance"),
        "auditor": app.state.store.add_user("audit", "auditor"),
    }
    files = write_sample(tmp_path / "sample")
    with TestClient(app) as client:
        yield {"client": client, "keys": keys, "files": files, "app": app, "tmp": tmp_path}


def _h(svc: dict[str, Any], role: str = "compliance") -> dict[str, str]:
    return auth(svc["keys"][role])


def _wait(client: TestClient, path: str, headers: dict[str, str], seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = client.get(path, headers=headers).json()
        if body["state"] in ("done", "failed", "cancelled"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{path} did not finish: {body}")


def test_kyc_monitor_and_alerts(svc: dict[str, Any]) -> None:
    client = svc["client"]
    customers = sample_customers()
    kyc = client.post(
        "/v1/cloud/kyc",
        json={
            "customers": [*customers, {"account": "broken", "country": "XX"}],
            "as_of": "2025-03-01",
        },
        headers=_h(svc),
    )
    assert kyc.status_code == 200, kyc.text
    results = kyc.json()["results"]
    assert len(results) == len(customers) + 1
    by_account = {r["account"]: r for r in results}
    assert by_account["acct-climber"]["outcome"] == "report"
    assert by_account["acct-climber"]["citations"] and by_account["acct-climber"]["trace"]
    assert by_account["broken"]["error"]["field"] in ("name", "country")
    kept = client.get("/v1/cloud/customers", headers=_h(svc, "auditor")).json()
    assert sorted(c["account"] for c in kept) == sorted(c["account"] for c in customers)
    assert {c["checked_by"] for c in kept} == {"api-key:ops (compliance)"}

    csv_bytes = svc["files"]["telemetry"].read_bytes()
    first = client.post(
        "/v1/cloud/telemetry", files={"file": ("usage.csv", csv_bytes)}, headers=_h(svc)
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["summary"]["rows_rejected"] == 4 == body["rejects_total"]
    assert {r["file"] for r in body["rejects"]} == {"usage.csv"}
    kinds = sorted({a["kind"] for a in body["alerts"]})
    assert kinds == ["cluster-capacity", "projected-crossing", "structuring", "threshold-crossed"]
    structuring = next(a for a in body["alerts"] if a["kind"] == "structuring")
    assert structuring["owner"] == "bo-9" and len(structuring["accounts"]) == 4  # from the KYC
    # the same rows again, as Parquet in a raw body: every one is a duplicate
    again = client.post(
        "/v1/cloud/telemetry?format=parquet",
        content=svc["files"]["telemetry_parquet"].read_bytes(),
        headers=_h(svc),
    )
    assert again.status_code == 200, again.text
    assert again.json()["summary"]["rows_accepted"] == 0
    assert again.json()["summary"]["rows_duplicate"] == body["summary"]["rows_accepted"]
    alerts = client.get("/v1/cloud/alerts", headers=_h(svc, "auditor")).json()
    assert sorted(a["kind"] for a in alerts["alerts"]) == sorted(a["kind"] for a in body["alerts"])
    assert alerts["accounts"] == 8
    only = client.get("/v1/cloud/alerts?kind=structuring", headers=_h(svc)).json()["alerts"]
    assert [a["owner"] for a in only] == ["bo-9"]
    for_account = client.get("/v1/cloud/alerts?account=acct-bio", headers=_h(svc)).json()
    assert [a["accounts"] for a in for_account["alerts"]] == [["acct-bio"]]
    # the uploads are in the audit chain with the key's identity
    calls = [
        line
        for line in client.get("/v1/audit/export", headers=_h(svc, "auditor")).text.splitlines()
        if '"kind":"api-call"' in line and "/v1/cloud/" in line
    ]
    assert len(calls) == 3 and all('"key_name":"ops"' in c for c in calls)


def test_bad_uploads_name_the_field_and_record_nothing(svc: dict[str, Any]) -> None:
    client = svc["client"]
    garbage = client.post(
        "/v1/cloud/telemetry?format=parquet", content=b"not parquet", headers=_h(svc)
    )
    assert garbage.status_code == 422 and garbage.json()["error"]["field"] == "file"
    assert str(svc["tmp"]) not in garbage.text  # no server paths in answers
    unknown = client.post("/v1/cloud/telemetry", content=b"a,b\n1,2\n", headers=_h(svc))
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "format"
    empty = client.post("/v1/cloud/telemetry?format=csv", content=b"", headers=_h(svc))
    assert empty.status_code == 422
    assert client.get("/v1/cloud/alerts", headers=_h(svc)).json() == {
        "alerts": [],
        "accounts": 0,
        "jobs": 0,
    }


def test_uploads_obey_the_body_limit(tmp_path: Path) -> None:
    app = make_app(tmp_path, max_body_bytes=2000)
    key = app.state.store.add_user("ops", "compliance")
    files = write_sample(tmp_path / "sample")
    with TestClient(app) as client:
        too_big = client.post(
            "/v1/cloud/telemetry?format=csv",
            content=files["telemetry"].read_bytes(),
            headers=auth(key),
        )
        assert too_big.status_code == 413 and too_big.json()["error"]["field"] == "body"
        kyc = client.post("/v1/cloud/kyc", json=sample_customers(), headers=auth(key))
        assert kyc.status_code == 413


def test_big_upload_is_a_job(svc: dict[str, Any]) -> None:
    client = svc["client"]
    started = client.post(
        "/v1/cloud/telemetry?background=true",
        files={"file": ("usage.jsonl", _jsonl(svc["files"]["telemetry"]))},
        headers=_h(svc),
    )
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["kind"] == "telemetry" and job["params"]["format"] == "jsonl"
    path = f"/v1/cloud/telemetry/jobs/{job['job']}"
    assert client.get(f"{path}/result", headers=_h(svc)).status_code in (200, 409)
    done = _wait(client, path, _h(svc))
    assert done["state"] == "done", done
    result = client.get(f"{path}/result", headers=_h(svc)).json()
    assert result["summary"]["file"] == "usage.jsonl" and result["summary"]["rows_accepted"] > 300
    assert client.get("/v1/cloud/alerts", headers=_h(svc)).json()["alerts"]
    assert client.get(path, headers=_h(svc, "auditor")).status_code == 403


def test_cancelled_upload_leaves_the_state_alone(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    key = app.state.store.add_user("ops", "compliance")
    files = write_sample(tmp_path / "sample")
    with TestClient(app) as client:
        started = client.post(
            "/v1/cloud/telemetry?background=true",
            files={"file": ("usage.csv", files["telemetry"].read_bytes())},
            headers=auth(key),
        ).json()
        cancelled = client.delete(f"/v1/cloud/telemetry/jobs/{started['job']}", headers=auth(key))
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        time.sleep(1)
        assert (
            client.get(
                f"/v1/cloud/telemetry/jobs/{started['job']}/result", headers=auth(key)
            ).status_code
            == 409
        )
        # cancelled at once (the child was still starting): nothing was folded in
        assert client.get("/v1/cloud/alerts", headers=auth(key)).json()["jobs"] == 0


def _jsonl(csv_path: Path) -> bytes:
    import csv
    import json

    with csv_path.open(encoding="utf-8") as handle:
        rows = [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_parties_resolve_with_and_without_ownership(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    compliance = app.state.store.add_user("ops", "compliance")
    exporter = app.state.store.add_user("exp", "exporter", [PARTY])
    with TestClient(app) as client:
        got = client.get(
            "/v1/parties/resolve?party=Huawei%20Technologies%20Co.,%20Ltd.&party=no-such-party",
            headers=auth(compliance),
        ).json()["results"]
        assert got[0]["headquarters"] == "CN" and got[0]["chain"]
        assert got[1] == {"id": "no-such-party", "error": got[1]["error"]}
        assert got[1]["error"]["field"] == "party"
        owned = client.post(
            "/v1/parties/resolve",
            json={
                "parties": ["Lion Harbour Compute Pte Ltd"],
                "ownership": [
                    {
                        "owner": "Huawei Technologies Co., Ltd.",
                        "owned": "Lion Harbour Compute Pte Ltd",
                        "percent": 60,
                        "owned_headquarters": "sg",
                    }
                ],
            },
            headers=auth(compliance),
        )
        assert owned.status_code == 200, owned.text
        resolution = owned.json()["results"][0]
        assert resolution["headquarters"] == "SG"
        assert resolution["ultimate_parent_headquarters"] == "CN"
        assert [link["percent"] for link in resolution["chain"]][1] == 60
        self_owned = client.post(
            "/v1/parties/resolve",
            json={"parties": ["x"], "ownership": [{"owner": "x", "owned": "x", "percent": 1}]},
            headers=auth(compliance),
        )
        assert self_owned.status_code == 422
        assert self_owned.json()["error"]["field"] == "ownership.0.owner"
        mine = client.get(f"/v1/parties/resolve?party={PARTY}", headers=auth(exporter))
        assert mine.status_code == 200
        theirs = client.get("/v1/parties/resolve?party=ofac-sdn:306", headers=auth(exporter))
        assert theirs.status_code == 403
