"""The FastAPI application: ``create_app(settings)`` wires the store (keys, KYC records), the
ledger (quota pools and the tamper-evident audit chain, which also records every call that
changes state), the job manager, the middleware (body limit, request ids and the record of
calls), error handlers, the API routers, the offline static assets (plotly's bundle served from
the installed package, no CDN) and the dashboard.

``app_from_env`` is the factory uvicorn imports (``sluice serve``, the benchmark).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from sluicegate.service import errors as error_handlers
from sluicegate.service.audit import AuditRecorder, call_entry
from sluicegate.service.auth import TokenBuckets
from sluicegate.service.jobs import JobManager
from sluicegate.service.middleware import (
    BodyLimitMiddleware,
    EventMiddleware,
    SecurityHeadersMiddleware,
)
from sluicegate.service.models import Health
from sluicegate.service.settings import Settings
from sluicegate.service.store import Principal, Store

log = logging.getLogger("sluicegate.service")
HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))


@lru_cache(maxsize=1)
def plotly_js() -> bytes:
    """plotly.js from the installed plotly package (offline; never a CDN)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


async def record_event(
    recorder: AuditRecorder,
    principal: Principal | None,
    method: str,
    path: str,
    status: int,
    request_id: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """The one place a state-changing call is recorded: an ``api-call`` record in the ledger's
    audit chain with the key's identity. A failure to record is logged (the call itself has
    already happened; ledger operations are in the chain in their own right)."""
    try:
        await recorder.arecord([call_entry(principal, method, path, status, request_id, extra)])
    except Exception:
        log.exception(
            "could not record %s %s (request %s) in the audit chain", method, path, request_id
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service for ``settings`` (default: from the environment)."""
    from sluicegate import __version__
    from sluicegate.ledger import Ledger
    from sluicegate.service.routers import (
        cloud,
        dashboard,
        decisions,
        ledger,
        reference,
        screening,
        simulations,
        users,
    )

    settings = settings or Settings.from_env()
    store = Store(settings.database_url)
    ledger_ = Ledger(settings.database_url, create=True, actor="service")
    recorder = AuditRecorder(ledger_)
    jobs = JobManager(settings.jobs_dir)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.shutdown()
        recorder.close()
        ledger_.close()

    app = FastAPI(
        title="sluicegate",
        version=__version__,
        description=(
            "AI chip and model-weight export controls as dated, cited, explainable rules: "
            "decisions, regimes, chips, the quota ledger and its tamper-evident audit chain, "
            "restricted-party screening and party resolution, cloud KYC and the training-compute "
            "monitor, and the diffusion simulator. Every call that changes state, and every "
            "decision, is recorded in the audit chain with the calling key. "
            "Authenticate with `Authorization: Bearer KEY` (create keys with "
            "`sluice users add NAME --role ROLE`). Errors are "
            '`{"error": {"field": ..., "message": ...}}`.'
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.ledger = ledger_
    app.state.recorder = recorder
    app.state.jobs = jobs
    app.state.buckets = TokenBuckets(settings.rate_per_second, settings.rate_burst)
    app.state.templates = TEMPLATES
    error_handlers.install(app)

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> dict[str, Any]:
        """Liveness: no authentication."""
        return {"status": "ok", "version": __version__}

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_bundle() -> Response:
        return Response(
            plotly_js(),
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs(request: Request) -> Any:
        return TEMPLATES.TemplateResponse(
            request, "apidocs.html", {"schema": app.openapi(), "principal": None, "page": "docs"}
        )

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for module in (reference, decisions, ledger, screening, cloud, simulations, users, dashboard):
        app.include_router(module.router)
    app.include_router(ledger.audit_router)

    async def record(
        principal: Principal | None,
        method: str,
        path: str,
        status: int,
        request_id: str,
        extra: dict[str, Any] | None,
    ) -> None:
        await record_event(recorder, principal, method, path, status, request_id, extra)

    app.add_middleware(EventMiddleware, record=record)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn (``--factory``): settings from ``SLUICE_*`` variables."""
    return create_app(Settings.from_env())
