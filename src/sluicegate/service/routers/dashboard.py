"""The dashboard: server-rendered pages (Overview, Decide, Ledger, Screening, Cloud, Simulate) and
the login that stores the key in an HttpOnly, SameSite=Strict cookie. Pages call the JSON API
from a small vendored script; plotly is served from the installed package (no CDN)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sluicegate.service.auth import COOKIE, ROLE_MATRIX, current_principal
from sluicegate.service.errors import ApiError

router = APIRouter(include_in_schema=False)

PAGES = {
    "overview": ("/", "Overview"),
    "decide": ("/decide", "Decide"),
    "ledger": ("/ledger", "Ledger"),
    "screening": ("/screening", "Screening"),
    "cloud": ("/cloud", "Cloud"),
    "simulate": ("/simulate", "Simulate"),
}


def _page(request: Request, page: str) -> Response:
    try:
        principal = current_principal(request)
    except ApiError:
        principal = None
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    can = {cap: principal.role in roles for cap, roles in ROLE_MATRIX.items()}
    templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        f"{page}.html",
        {"principal": principal, "page": page, "pages": PAGES, "can": can},
    )


@router.get("/", response_class=HTMLResponse)
def overview(request: Request) -> Response:
    return _page(request, "overview")


@router.get("/decide", response_class=HTMLResponse)
def decide_page(request: Request) -> Response:
    return _page(request, "decide")


@router.get("/screening", response_class=HTMLResponse)
def screening_page(request: Request) -> Response:
    return _page(request, "screening")


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(request: Request) -> Response:
    return _page(request, "ledger")


@router.get("/cloud", response_class=HTMLResponse)
def cloud_page(request: Request) -> Response:
    return _page(request, "cloud")


@router.get("/simulate", response_class=HTMLResponse)
def simulate_page(request: Request) -> Response:
    return _page(request, "simulate")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "login.html", {"principal": None, "page": "login", "pages": PAGES, "error": None}
    )


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, key: Annotated[str, Form(max_length=500)] = "") -> Response:
    client = request.client.host if request.client else "unknown"
    wait = request.app.state.buckets.take(f"login:{client}")
    principal = (
        request.app.state.store.authenticate(key.strip()) if key.strip() and not wait else None
    )
    if principal is None:
        templates = request.app.state.templates
        return templates.TemplateResponse(
            request,
            "login.html",
            {
                "principal": None,
                "page": "login",
                "pages": PAGES,
                "error": "Too many attempts; wait a moment."
                if wait
                else "That key is unknown or revoked.",
            },
            status_code=429 if wait else 401,
        )
    request.state.principal = principal
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        key.strip(),
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.cookie_secure,
        max_age=8 * 3600,
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    try:  # known key: the logout is recorded with its identity
        request.state.principal = current_principal(request)
    except ApiError:
        pass
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
