"""End-to-end: the real server (uvicorn on a free loopback port) driven by Debian's Chromium
through Playwright. Each page's main task is clicked through; screenshots go to test-artifacts/.
No request may leave the server (no CDN): every other URL is recorded and the test fails.

Skips when Chromium or Playwright is absent, unless SLUICE_REQUIRE_SERVICES=1 (then fails).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("SLUICE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
REQUIRE = os.environ.get("SLUICE_REQUIRE_SERVICES") == "1"
EXPECTED_REFUSAL = re.compile(r"^Failed to load resource: .* status of (403|409|422) ")


def _skip_or_fail(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        _skip_or_fail(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _skip_or_fail("the playwright Python package is not installed (pip install playwright)")
    from sluicegate.service.store import Store

    tmp = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{tmp}/service.db"
    store = Store(url)
    keys = {
        role: store.add_user(f"e2e-{role}", role, ["bharat-cloud"] if role == "exporter" else [])
        for role in ("compliance", "auditor", "exporter")
    }
    port = _free_port()
    env = {
        **os.environ,
        "SLUICE_DATABASE_URL": url,
        "SLUICE_JOBS_DIR": str(tmp / "jobs"),
        "SLUICE_RATE_PER_SECOND": "1000",
        "SLUICE_RATE_BURST": "1000",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "sluicegate.service.app:app_from_env",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the service did not start")
            time.sleep(0.2)
        yield {"base": base, "keys": keys, "tmp": tmp}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser(server: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    outside: list[str] = []

    def guard(route: Any) -> None:
        if route.request.url.startswith(server["base"]) or route.request.url.startswith(
            ("data:", "blob:")
        ):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    problems: list[str] = []
    # Chromium logs every 4xx answer to fetch(); refusals the pages show (403, 409, 422) are
    # part of the tasks under test, anything else (404 for an asset, 5xx) is a problem
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not EXPECTED_REFUSAL.search(m.text)
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.set_default_timeout(30_000)
    yield page
    context.close()
    assert outside == [], f"requests left the server: {outside}"
    assert problems == [], f"browser errors (script, CSP): {problems}"


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _login(page: Any, server: dict[str, Any], role: str) -> None:
    page.goto(server["base"] + "/")
    assert page.url.endswith("/login")
    page.get_by_label("API key").fill(server["keys"][role])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server["base"] + "/")


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def test_overview_map_and_timeline(page: Any, server: dict[str, Any]) -> None:
    _login(page, server, "compliance")
    page.keyboard.press("Tab")
    assert page.locator(":focus").text_content() == "Skip to content"
    page.wait_for_selector("#map .main-svg")
    page.wait_for_selector("#timeline .main-svg")
    page.get_by_label("Regime", exact=True).select_option("us-2025-01-13-ai-diffusion")
    page.get_by_role("button", name="Show map").click()
    expect(page.locator("#map-caption")).to_contain_text("tiers (green 1")
    assert page.locator("#regime-table tbody tr").count() >= 6
    page.get_by_text("The map as a table").click()
    expect(page.locator("#map-groups")).to_contain_text("Tier 3")
    _shot(page, "overview")


def test_decide_form_and_csv(page: Any, server: dict[str, Any]) -> None:
    _login(page, server, "compliance")
    page.get_by_role("link", name="Decide").click()
    page.get_by_label("Destination (ISO code)").fill("CN")
    page.get_by_role("button", name="Decide", exact=True).click()
    verdict = page.locator("#verdict")
    verdict.wait_for()
    assert "LICENSE" in verdict.text_content()
    assert page.locator("#decision table tbody tr").count() > 3
    with page.expect_download() as single:
        page.get_by_role("link", name="Download as CSV").click()
    assert single.value.suggested_filename == "decision.csv"
    table = server["tmp"] / "orders.csv"
    table.write_text(
        "id,date,destination,chip,quantity\n"
        "a,2025-06-01,IN,nvidia-h100-sxm,10\n"
        "b,2025-06-01,CN,nvidia-h100-sxm,10\n"
        "c,2025-06-01,XX,nvidia-h100-sxm,10\n",
        encoding="utf-8",
    )
    page.get_by_label("CSV file").set_input_files(str(table))
    page.get_by_role("button", name="Decide table").click()
    page.locator("#csv-table").wait_for()
    assert page.locator("#csv-table tbody tr").count() == 3
    with page.expect_download() as download:
        page.get_by_role("link", name="Download decisions as CSV").click()
    path = download.value.path()
    assert Path(path).read_text(encoding="utf-8").splitlines()[0].startswith("id,")
    _shot(page, "decide")


def test_screening_search_and_chain(page: Any, server: dict[str, Any]) -> None:
    _login(page, server, "compliance")
    page.get_by_role("link", name="Screening").click()
    page.get_by_label("Name", exact=True).fill("Huawei Technologies")
    page.get_by_label("Name", exact=True).press("Enter")
    page.locator("#screen-decision").wait_for()
    assert "block" in page.locator("#screen-decision").text_content()
    page.get_by_role("button", name="Ownership chain").first.click()
    page.locator("#party-card").wait_for()
    assert "Headquarters CN" in page.locator("#party-card").text_content()
    # a party by name, up its ownership chain to the ultimate parent (parties resolve)
    page.get_by_label("Party id or listed name").fill("Huawei Technologies Co., Ltd.")
    page.get_by_label("Party id or listed name").press("Enter")
    expect(page.locator("#party-card .chain-steps li").last).to_contain_text("Huawei Investment")
    expect(page.locator("#party-card")).to_contain_text("ultimate parent Huawei Investment")
    _shot(page, "screening")


def test_simulate_progress_result_and_report(page: Any, server: dict[str, Any]) -> None:
    _login(page, server, "compliance")
    page.get_by_role("link", name="Simulate").click()
    page.get_by_label("Scenario").select_option("tighter-h20-2024")
    page.get_by_label("Draws").fill("8")
    page.get_by_role("button", name="Run").click()
    page.locator("#sim-result").wait_for(state="visible", timeout=120_000)
    page.wait_for_selector("#lag-plot .main-svg")
    assert page.locator("#comparison-table tbody tr").count() >= 1
    assert page.locator("#sim-progress").get_attribute("value") == "1"
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the report (HTML)").click()
    assert "<html" in Path(download.value.path()).read_text(encoding="utf-8").lower()
    _shot(page, "simulate")


def test_auditor_sees_read_only_pages(page: Any, server: dict[str, Any]) -> None:
    _login(page, server, "auditor")
    page.get_by_role("link", name="Decide").click()
    assert page.get_by_role("button", name="Decide", exact=True).is_disabled()
    page.get_by_role("link", name="Simulate").click()
    assert page.get_by_role("button", name="Run").is_disabled()
    page.locator("#sim-jobs li").first.wait_for()
    _shot(page, "auditor-simulate")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(server["base"] + "/login")


def test_exporter_decides_but_cannot_simulate(page: Any, server: dict[str, Any]) -> None:
    _login(page, server, "exporter")
    page.get_by_role("link", name="Decide").click()
    page.get_by_role("button", name="Decide", exact=True).click()
    page.locator("#verdict").wait_for()
    page.get_by_role("link", name="Simulate").click()
    assert page.get_by_role("button", name="Run").is_disabled()
    assert page.locator("#sim-jobs").count() == 0


def test_ledger_reserve_release_and_verify(page: Any, server: dict[str, Any]) -> None:
    _login(page, server, "compliance")
    page.get_by_role("link", name="Ledger").click()
    expect(page.locator("#pool-table tbody")).to_contain_text("No pool holds anything yet")
    expect(page.get_by_label("Regime")).to_have_value("us-2025-01-13-ai-diffusion")
    page.get_by_label("Order id").fill("e2e-1")
    page.get_by_label("Quantity").fill("1000")
    page.get_by_role("button", name="Reserve").click()
    verdict = page.locator("#reserve-verdict")
    expect(verdict).to_contain_text("LPP")
    expect(verdict).to_contain_text("held")
    row = page.locator("#pool-table tbody tr", has_text="lpp:bharat-cloud:2025")
    expect(row).to_contain_text("15,832,000")
    expect(row.locator("meter")).to_have_attribute("value", "15832000")
    page.wait_for_selector("#pool-plot .main-svg")
    # too much for the pool: refused, nothing held
    page.get_by_label("Order id").fill("e2e-2")
    page.get_by_label("Quantity").fill("60000")
    page.get_by_role("button", name="Reserve").click()
    expect(page.locator("#reserve-verdict")).to_contain_text("Refused")
    expect(page.locator("#history-table tbody tr")).to_have_count(1)
    # release the first one from the history table, by keyboard
    page.wait_for_load_state("networkidle")
    release = page.locator("#history-table button", has_text="Release").first
    release.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#transition-done")).to_contain_text("released")
    expect(row).to_contain_text("0.0%")
    expect(page.locator("#history-table tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Verify the audit chain").click()
    expect(page.locator("#verify-verdict")).to_contain_text("Intact")
    _shot(page, "ledger")


def test_exporter_ledger_is_scoped(page: Any, server: dict[str, Any]) -> None:
    _login(page, server, "exporter")
    page.get_by_role("link", name="Ledger").click()
    expect(page.locator("main")).to_contain_text("acts for bharat-cloud")
    page.get_by_label("Consignee id").fill("someone-else")
    page.get_by_role("button", name="Reserve").click()
    expect(page.locator("#reserve-result")).to_contain_text("consignee")
    assert page.locator("#transition-form").count() == 0
    assert page.get_by_role("button", name="Verify the audit chain").count() == 0
    page.get_by_role("link", name="Cloud").click()
    assert page.get_by_role("button", name="Check customers").is_disabled()
    assert page.locator("#alert-list").count() == 0


def test_cloud_kyc_telemetry_and_alerts(page: Any, server: dict[str, Any]) -> None:
    from sluicegate.cloud.sample import write_sample

    files = write_sample(server["tmp"] / "cloud-sample")
    _login(page, server, "compliance")
    page.get_by_role("link", name="Cloud").click()
    page.get_by_label("Customer records file").set_input_files(str(files["customers"]))
    page.get_by_label("Date of the check").fill("2025-03-01")
    page.get_by_role("button", name="Check customers").click()
    # screening every customer and beneficial owner: the first use loads the lists
    expect(page.locator("#kyc-table > tbody > tr")).to_have_count(8, timeout=90_000)
    expect(page.locator("#kyc-table")).to_contain_text("report")
    expect(page.locator("#customer-table > tbody > tr")).to_have_count(8)
    page.get_by_label("Telemetry file").set_input_files(str(files["telemetry"]))
    page.get_by_role("button", name="Upload telemetry").click()
    expect(page.locator("#telemetry-summary")).to_contain_text(
        "337 accepted, 4 rejected", timeout=90_000
    )
    alerts = page.locator("#alert-list li.alert")
    expect(alerts).to_have_count(6)
    page.wait_for_selector("#alert-plot .main-svg")
    structuring = alerts.filter(has_text="structuring")
    structuring.locator("summary").click()
    expect(structuring.locator("dl")).to_contain_text("beneficial owner rule")
    page.get_by_label("Kind").select_option("cluster-capacity")
    page.get_by_role("button", name="Show alerts").click()
    expect(alerts).to_have_count(1)
    page.get_by_label("Kind").select_option("")
    page.get_by_role("button", name="Show alerts").click()
    expect(alerts).to_have_count(6)
    _shot(page, "cloud")
    # the auditor reads the same outcomes and alerts, and can change nothing
    page.get_by_role("button", name="Log out").click()
    _login(page, server, "auditor")
    page.get_by_role("link", name="Cloud").click()
    expect(page.locator("#customer-table > tbody > tr")).to_have_count(8)
    expect(page.locator("#alert-list li.alert")).to_have_count(6)
    assert page.get_by_role("button", name="Upload telemetry").is_disabled()


DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def test_make_run_demo_server(browser: Any, tmp_path: Path) -> None:
    """What `make run` starts: `sluice serve --demo` on embedded defaults (./sluicegate.db in the
    working directory, shipped lists); every page shows the demo content. With
    SLUICE_DOCS_IMAGES=1 (tools/dashboard_screenshots.sh) it also refreshes docs/images."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sluicegate.cli", "serve", "--demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        assert lines[1].startswith(f"dashboard: {base}/"), lines
        key = lines[3].strip()
        assert key.startswith("sg_"), lines
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("sluice serve --demo did not start")
            time.sleep(0.2)
        assert (tmp_path / "sluicegate.db").is_file()  # the embedded default
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(base + "/login")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(base + "/")
        page.wait_for_selector("#map .main-svg")
        page.wait_for_load_state("networkidle")
        docs = os.environ.get("SLUICE_DOCS_IMAGES") == "1"
        if docs:
            page.screenshot(path=str(DOCS_IMAGES / "dashboard-overview.png"))
        page.get_by_role("link", name="Ledger").click()
        expect(page.locator("#pool-table tbody tr")).to_have_count(10)
        expect(page.locator("#history-table tbody")).to_contain_text("confirmed")
        page.wait_for_selector("#pool-plot .main-svg")
        page.wait_for_load_state("networkidle")
        _shot(page, "demo-ledger")
        if docs:
            page.screenshot(path=str(DOCS_IMAGES / "dashboard-ledger.png"))
        page.get_by_role("link", name="Cloud").click()
        expect(page.locator("#alert-list li.alert")).to_have_count(6)
        expect(page.locator("#customer-table > tbody > tr")).to_have_count(8)
        page.wait_for_selector("#alert-plot .main-svg")
        page.wait_for_load_state("networkidle")
        _shot(page, "demo-cloud")
        if docs:
            page.locator("#alert-plot").scroll_into_view_if_needed()
            page.screenshot(path=str(DOCS_IMAGES / "dashboard-cloud.png"))
        context.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
