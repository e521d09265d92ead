#!/usr/bin/env bash
# Refresh the README's dashboard screenshots (docs/images/dashboard-{overview,ledger,cloud}.png)
# from what `make run` serves: runs the end-to-end test of `sluice serve --demo` in headless
# Chromium with SLUICE_DOCS_IMAGES=1. Usage: tools/dashboard_screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
SLUICE_DOCS_IMAGES=1 SLUICE_REQUIRE_SERVICES=1 "$PY" -m pytest -q -p no:cacheprovider \
  tests/service/test_dashboard.py -k test_make_run_demo_server
ls -l docs/images/dashboard-*.png
