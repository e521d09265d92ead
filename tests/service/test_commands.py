"""``sluice users add`` prints the key alone as its last line; ``users list`` never shows it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sluicegate.cli import app
from sluicegate.service.store import Store


def test_users_add_and_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("SLUICE_DATABASE_URL", url)
    runner = CliRunner()
    added = runner.invoke(app, ["users", "add", "ops", "--role", "compliance"])
    assert added.exit_code == 0, added.output
    key = added.output.strip().splitlines()[-1]
    assert key.startswith("sg_") and " " not in key
    principal = Store(url).authenticate(key)
    assert principal is not None and principal.role == "compliance"
    listed = runner.invoke(app, ["users", "list"])
    assert "ops" in listed.output and key not in listed.output
    bad = runner.invoke(app, ["users", "add", "x", "--role", "root"])
    assert bad.exit_code == 2
    again = runner.invoke(app, ["users", "add", "ops", "--role", "auditor"])
    assert again.exit_code == 2
    revoked = runner.invoke(app, ["users", "revoke", "ops"])
    assert revoked.exit_code == 0 and Store(url).authenticate(key) is None


def test_exporter_keys_name_their_consignees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("SLUICE_DATABASE_URL", url)
    runner = CliRunner()
    added = runner.invoke(
        app,
        [
            "users",
            "add",
            "acme",
            "--role",
            "exporter",
            "--consignee",
            "acme-in",
            "--consignee",
            "acme-de",
        ],
    )
    assert added.exit_code == 0, added.output
    principal = Store(url).authenticate(added.output.strip().splitlines()[-1])
    assert principal is not None and principal.consignees == {"acme-in", "acme-de"}
    listed = runner.invoke(app, ["users", "list", "--json"])
    assert '"acme-in"' in listed.output and '"acme-de"' in listed.output
    refused = runner.invoke(
        app, ["users", "add", "ops", "--role", "compliance", "--consignee", "acme-in"]
    )
    assert refused.exit_code == 2 and "consignees" in refused.output


def test_serve_is_registered() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "--host" in result.output


def test_demo_key_is_replaced_each_time(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/demo.db")
    first = store.replace_user("demo", "compliance")
    second = store.replace_user("demo", "compliance")
    assert store.authenticate(first) is None
    principal = store.authenticate(second)
    assert principal is not None and principal.role == "compliance"
