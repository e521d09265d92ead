"""API behaviour: decisions as the CLI gives them, errors in one shape, limits, jobs, events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient
from tests.service.conftest import TXN, auth, make_app

from sluicegate.rules import decide_records


def _wait(client: TestClient, path: str, headers: dict[str, str], seconds: float = 90) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = client.get(path, headers=headers).json()
        if body["state"] in ("done", "failed", "cancelled"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{path} did not finish: {body}")


def test_health_and_openapi_examples(service: dict[str, Any]) -> None:
    client = service["client"]
    assert client.get("/healthz").json()["status"] == "ok"
    schema = client.get("/openapi.json").json()
    decisions = schema["paths"]["/v1/decisions"]["post"]
    assert decisions["requestBody"]["content"]["application/json"]["examples"]
    assert "examples" in schema["components"]["schemas"]["Decision"]
    assert "422" in decisions["responses"] and "413" in decisions["responses"]


def test_decision_is_the_cli_json(service: dict[str, Any]) -> None:
    client, key = service["client"], service["keys"]["exporter"]
    got = client.post("/v1/decisions", json=TXN, headers=auth(key))
    assert got.status_code == 200
    assert got.json() == decide_records([TXN])[0]
    what_if = client.post(
        "/v1/decisions?regime=us-2025-01-13-ai-diffusion", json=TXN, headers=auth(key)
    ).json()
    assert what_if["regime"]["id"] == "us-2025-01-13-ai-diffusion"
    assert what_if["regime"]["status"] == "what-if"
    assert what_if["tier"] == 2


def test_batch_keeps_one_output_per_input(service: dict[str, Any]) -> None:
    client, key = service["client"], service["keys"]["compliance"]
    bad = {**TXN, "id": "bad", "destination": "XX"}
    body = client.post(
        "/v1/decisions", json={"transactions": [TXN, bad, TXN]}, headers=auth(key)
    ).json()
    assert [d["id"] for d in body["decisions"]] == ["order-1", "bad", "order-1"]
    assert body["decisions"][1]["error"]["field"] == "destination"


def test_errors_name_the_field(service: dict[str, Any]) -> None:
    client, key = service["client"], service["keys"]["compliance"]
    one = client.post("/v1/decisions", json={**TXN, "destination": "XX"}, headers=auth(key))
    assert one.status_code == 422 and one.json()["error"]["field"] == "destination"
    regime = client.post("/v1/decisions?regime=us-1999", json=TXN, headers=auth(key))
    assert regime.status_code == 422 and regime.json()["error"]["field"] == "regime"
    reform = client.post("/v1/decisions?reform=/etc/passwd", json=TXN, headers=auth(key))
    assert reform.status_code == 422 and reform.json()["error"]["field"] == "reform"
    empty = client.post("/v1/decisions", json={"transactions": []}, headers=auth(key))
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "transactions"
    not_json = client.post(
        "/v1/decisions",
        content=b"{nope",
        headers={**auth(key), "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422 and "error" in not_json.json()
    sim = client.post(
        "/v1/simulations", json={"scenario": "baseline", "draws": 0}, headers=auth(key)
    )
    assert sim.status_code == 422 and sim.json()["error"]["field"] == "draws"
    missing = client.get("/v1/regimes/us-1999", headers=auth(key))
    assert missing.status_code == 404 and set(missing.json()["error"]) == {"field", "message"}
    too_many = client.post("/v1/decisions", json={"transactions": [TXN] * 51}, headers=auth(key))
    assert (
        too_many.status_code == 422 and "/v1/decisions/jobs" in too_many.json()["error"]["message"]
    )


def test_screen_and_party(service: dict[str, Any]) -> None:
    client, key = service["client"], service["keys"]["compliance"]
    one = client.post(
        "/v1/screen", json={"name": "Huawei Technologies", "country": "CN"}, headers=auth(key)
    ).json()
    assert one["decision"] == "block" and one["matches"][0]["explanation"]
    many = client.post(
        "/v1/screen",
        json={"queries": [{"name": "Huawei"}, {"name": "Plain Bakery Ltd"}]},
        headers=auth(key),
    ).json()
    assert len(many["results"]) == 2
    party = client.get(f"/v1/parties/{one['matches'][0]['entity_id']}", headers=auth(key)).json()
    assert party["headquarters"] == "CN"
    assert client.get("/v1/parties/no-such-party-xyz", headers=auth(key)).status_code == 404


def test_body_limit_by_length_and_by_stream(tmp_path: Any) -> None:
    app = make_app(tmp_path, max_body_bytes=1000)
    key = app.state.store.add_user("c", "compliance")
    with TestClient(app) as client:
        declared = client.post(
            "/v1/decisions", json={"transactions": [TXN] * 20}, headers=auth(key)
        )
        assert declared.status_code == 413 and declared.json()["error"]["field"] == "body"

        def chunks() -> Iterator[bytes]:
            yield b'{"transactions": ['
            for _ in range(40):
                yield b'{"date": "2025-06-01", "destination": "IN"},'
            yield b"{}]}"

        streamed = client.post(
            "/v1/decisions",
            content=chunks(),
            headers={**auth(key), "Content-Type": "application/json"},
        )
        assert streamed.status_code == 413


def test_rate_limit_per_key(tmp_path: Any) -> None:
    app = make_app(tmp_path, rate_per_second=0.01, rate_burst=2)
    a = app.state.store.add_user("a", "auditor")
    b = app.state.store.add_user("b", "auditor")
    with TestClient(app) as client:
        codes = [client.get("/v1/reforms", headers=auth(a)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        limited = client.get("/v1/reforms", headers=auth(a))
        assert limited.headers["Retry-After"] and limited.json()["error"]["message"]
        assert client.get("/v1/reforms", headers=auth(b)).status_code == 200


def test_keys_hashed_revocable_and_events_recorded(tmp_path: Any) -> None:
    app = make_app(tmp_path)
    admin = app.state.store.add_user("root", "admin")
    with TestClient(app) as client:
        made = client.post(
            "/v1/users", json={"name": "ann", "role": "auditor"}, headers=auth(admin)
        )
        assert made.status_code == 201
        key = made.json()["key"]
        assert client.get("/v1/regimes", headers=auth(key)).status_code == 200
        dup = client.post("/v1/users", json={"name": "ann", "role": "auditor"}, headers=auth(admin))
        assert dup.status_code == 409
        with app.state.store.engine.connect() as conn:
            stored = conn.exec_driver_sql("select digest, salt from service_api_keys").fetchall()
        assert all(key.split("_", 2)[2] not in row[0] for row in stored)
        assert client.delete("/v1/users/ann", headers=auth(admin)).status_code == 204
        assert client.get("/v1/regimes", headers=auth(key)).status_code == 401
        assert client.get("/v1/regimes", headers=auth(key[:-1] + "x")).status_code == 401
        events = client.get("/v1/events", headers=auth(admin)).json()
        assert [(e["method"], e["path"], e["status"], e["key_name"]) for e in events[:3]] == [
            ("DELETE", "/v1/users/ann", 204, "root"),
            ("POST", "/v1/users", 409, "root"),
            ("POST", "/v1/users", 201, "root"),
        ]


def test_cookie_login_and_csrf_header(service: dict[str, Any]) -> None:
    app = service["app"]
    key = service["keys"]["compliance"]
    with TestClient(app) as client:
        bad = client.post("/login", data={"key": "sg_nope_nope"})
        assert bad.status_code == 401
        ok = client.post("/login", data={"key": key}, follow_redirects=False)
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert client.get("/decide").status_code == 200
        assert client.post("/v1/decisions", json=TXN).status_code == 403
        assert (
            client.post("/v1/decisions", json=TXN, headers={"X-Sluice-Request": "1"}).status_code
            == 200
        )


def test_csv_upload(service: dict[str, Any]) -> None:
    client, key = service["client"], service["keys"]["exporter"]
    table = (
        b"id,date,destination,chip,quantity\n"
        b"a,2025-06-01,IN,nvidia-h100-sxm,10\n"
        b"b,2025-06-01,XX,nvidia-h100-sxm,10\n"
    )
    body = client.post(
        "/v1/decisions/csv", files={"file": ("t.csv", table)}, headers=auth(key)
    ).json()
    assert [r["id"] for r in body["rows"]] == ["a", "b"]
    assert body["rows"][1]["error_field"] == "destination"
    as_csv = client.post(
        "/v1/decisions/csv?format=csv", files={"file": ("t.csv", table)}, headers=auth(key)
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines()[0].startswith("id,")


def test_decision_job(service: dict[str, Any]) -> None:
    client, key = service["client"], service["keys"]["exporter"]
    headers = auth(key)
    started = client.post("/v1/decisions/jobs", json={"transactions": [TXN] * 120}, headers=headers)
    assert started.status_code == 202
    job = started.json()["job"]
    done = _wait(client, f"/v1/decisions/jobs/{job}", headers)
    assert done["state"] == "done" and done["done"] == 120
    result = client.get(f"/v1/decisions/jobs/{job}/result", headers=headers).json()
    assert len(result["decisions"]) == 120


def test_simulation_job_result_report_and_cancel(service: dict[str, Any]) -> None:
    client, keys = service["client"], service["keys"]
    headers = auth(keys["compliance"])
    job = client.post(
        "/v1/simulations", json={"scenario": "tighter-h20-2024", "draws": 8}, headers=headers
    ).json()["job"]
    early = client.get(f"/v1/simulations/{job}/result", headers=headers)
    assert early.status_code in (200, 409)
    victim = client.post(
        "/v1/simulations", json={"scenario": "baseline", "draws": 8}, headers=headers
    ).json()["job"]
    cancelled = client.delete(f"/v1/simulations/{victim}", headers=headers).json()
    assert cancelled["state"] == "cancelled"
    status = _wait(client, f"/v1/simulations/{job}", headers)
    assert status["state"] == "done", status
    reader = auth(keys["auditor"])
    summary = client.get(f"/v1/simulations/{job}/result", headers=reader).json()
    assert summary["scenario"] == "tighter-h20-2024" and "CN" in summary["actors"]
    comparison = client.get(f"/v1/simulations/{job}/comparison", headers=reader).json()
    assert comparison["reference"] == "baseline"
    report = client.get(f"/v1/simulations/{job}/report", headers=reader)
    assert report.status_code == 200 and "<html" in report.text.lower()


def test_jobs_are_shared_between_worker_processes(tmp_path: Any) -> None:
    first = make_app(tmp_path)
    second = make_app(tmp_path)  # same database and job directory: another worker
    key = first.state.store.add_user("c", "compliance")
    headers = auth(key)
    with TestClient(first) as one, TestClient(second) as two:
        job = one.post(
            "/v1/decisions/jobs", json={"transactions": [TXN] * 60}, headers=headers
        ).json()["job"]
        done = _wait(two, f"/v1/decisions/jobs/{job}", headers)
        assert done["state"] == "done" and done["done"] == 60
        assert (
            len(two.get(f"/v1/decisions/jobs/{job}/result", headers=headers).json()["decisions"])
            == 60
        )
        assert two.get("/v1/decisions/jobs/../../etc", headers=headers).status_code == 404
        assert two.get("/v1/decisions/jobs/0123456789abcdef", headers=headers).status_code == 404


def test_decision_job_cancel(service: dict[str, Any]) -> None:
    client, key = service["client"], service["keys"]["compliance"]
    job = client.post(
        "/v1/decisions/jobs", json={"transactions": [TXN] * 2000}, headers=auth(key)
    ).json()["job"]
    cancelled = client.delete(f"/v1/decisions/jobs/{job}", headers=auth(key)).json()
    assert cancelled["state"] in ("cancelled", "done")
    if cancelled["state"] == "cancelled":
        time.sleep(0.5)
        assert client.get(f"/v1/decisions/jobs/{job}", headers=auth(key)).json()["state"] == (
            "cancelled"
        )
        assert client.get(f"/v1/decisions/jobs/{job}/result", headers=auth(key)).status_code == 409


def test_simulations_are_bounded(tmp_path: Any) -> None:
    app = make_app(tmp_path, max_running_simulations=1)
    key = app.state.store.add_user("c", "compliance")
    with TestClient(app) as client:
        first = client.post(
            "/v1/simulations", json={"scenario": "baseline", "draws": 2}, headers=auth(key)
        )
        assert first.status_code == 202
        second = client.post(
            "/v1/simulations", json={"scenario": "baseline", "draws": 2}, headers=auth(key)
        )
        assert second.status_code == 409 and second.json()["error"]["field"] == "scenario"
        client.delete(f"/v1/simulations/{first.json()['job']}", headers=auth(key))


def test_security_headers_and_login_rate_limit(tmp_path: Any) -> None:
    app = make_app(tmp_path, rate_per_second=0.01, rate_burst=3)
    with TestClient(app) as client:
        page = client.get("/login")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        codes = [client.post("/login", data={"key": "sg_x_y"}).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]


def test_every_success_response_has_an_example(service: dict[str, Any]) -> None:
    schema = service["client"].get("/openapi.json").json()
    components = schema["components"]["schemas"]

    def has_example(node: Any) -> bool:
        if not node:
            return False
        if "example" in node or "examples" in node:
            return True
        if "$ref" in node:
            return has_example(components[node["$ref"].split("/")[-1]])
        if node.get("type") == "array":
            return has_example(node.get("items"))
        for key in ("anyOf", "oneOf"):
            if key in node:
                return all(has_example(x) for x in node[key])
        return False

    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                media = response.get("content", {}).get("application/json")
                if status.startswith("2") and media is not None:
                    if not (
                        "example" in media
                        or "examples" in media
                        or has_example(media.get("schema"))
                    ):
                        missing.append(f"{method.upper()} {path} {status}")
    assert missing == []


def test_simulation_cancelled_from_another_worker(tmp_path: Any) -> None:
    first = make_app(tmp_path)
    second = make_app(tmp_path)
    key = first.state.store.add_user("c", "compliance")
    with TestClient(first) as one, TestClient(second) as two:
        job = one.post(
            "/v1/simulations", json={"scenario": "baseline", "draws": 50}, headers=auth(key)
        ).json()["job"]
        assert two.get(f"/v1/simulations/{job}", headers=auth(key)).json()["state"] in (
            "queued",
            "running",
        )
        assert two.delete(f"/v1/simulations/{job}", headers=auth(key)).json()["state"] == (
            "cancelled"
        )
        time.sleep(0.5)
        status = one.get(f"/v1/simulations/{job}", headers=auth(key)).json()
        assert status["state"] == "cancelled"
        assert not first.state.jobs.processes[job].is_alive()


def test_unknown_keys_are_rate_limited_per_address(tmp_path: Any) -> None:
    app = make_app(tmp_path, rate_per_second=0.01, rate_burst=2)
    with TestClient(app) as client:
        codes = [
            client.get("/v1/regimes", headers=auth("sg_0000000000000000_guess")).status_code
            for _ in range(3)
        ]
        assert codes == [401, 401, 429]


def test_internal_failure_has_no_stack_trace(tmp_path: Any, monkeypatch: Any) -> None:
    import sluicegate.rules

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret detail at /srv/app.py line 12")

    monkeypatch.setattr(sluicegate.rules, "decide_records", broken)
    app = make_app(tmp_path)
    key = app.state.store.add_user("c", "compliance")
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/v1/decisions", json=TXN, headers=auth(key))
    assert response.status_code == 500
    body = response.json()
    assert set(body["error"]) == {"field", "message"}
    assert "Traceback" not in response.text and "/srv/app.py" not in response.text


def test_simulation_whose_process_died_is_failed(tmp_path: Any) -> None:
    app = make_app(tmp_path)
    key = app.state.store.add_user("c", "compliance")
    with TestClient(app) as client:
        job = client.post(
            "/v1/simulations", json={"scenario": "baseline", "draws": 50}, headers=auth(key)
        ).json()["job"]
        process = app.state.jobs.processes[job]
        process.kill()
        time.sleep(0.3)  # not joined: the ended child is a zombie until reaped
        status = client.get(f"/v1/simulations/{job}", headers=auth(key)).json()
        assert status["state"] == "failed" and "ended" in status["error"]
        process.join(timeout=5)
