"""The FastAPI application: ``create_app(settings)`` wires the store (keys, events), the job
manager, the middleware (body limit, event record), error handlers, the API routers, the offline
static assets (plotly's bundle served from the installed package, no CDN) and the dashboard.

``app_from_env`` is the factory uvicorn imports (``sluice serve``, the benchmark).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from sluicegate.service import errors as error_handlers
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

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))


@lru_cache(maxsize=1)
def plotly_js() -> bytes:
    """plotly.js from the installed plotly package (offline; never a CDN)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


def record_event(
    store: Store, principal: Principal | None, method: str, path: str, status: int
) -> None:
    """The one place a state-changing call is recorded (the ledger's audit chain replaces it)."""
    store.record_event(principal, method, path, status)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service for ``settings`` (default: from the environment)."""
    from sluicegate import __version__
    from sluicegate.service.routers import (
        dashboard,
        decisions,
        reference,
        screening,
        simulations,
        users,
    )

    settings = settings or Settings.from_env()
    store = Store(settings.database_url)
    jobs = JobManager(settings.jobs_dir)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.shutdown()

    app = FastAPI(
        title="sluicegate",
        version=__version__,
        description=(
            "AI chip and model-weight export controls as dated, cited, explainable rules: "
            "decisions, regimes, chips, restricted-party screening and the diffusion simulator. "
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
    for module in (reference, decisions, screening, simulations, users, dashboard):
        app.include_router(module.router)

    app.add_middleware(
        EventMiddleware,
        record=lambda principal, method, path, status: record_event(
            store, principal, method, path, status
        ),
    )
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn (``--factory``): settings from ``SLUICE_*`` variables."""
    return create_app(Settings.from_env())
