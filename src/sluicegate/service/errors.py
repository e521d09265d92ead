"""The one error shape of the API: ``{"error": {"field": ..., "message": ...}}``; never a trace.

``ApiError`` is raised by routes; the handlers here turn it, FastAPI's validation errors, Starlette
HTTP errors and anything unexpected into that shape with the right status.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("sluicegate.service")


class ApiError(Exception):
    """An error response: status, the field at fault (or None) and a message."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message
        self.headers = headers
        self.extra = extra  # more fields beside "error" (e.g. the decisions of a refused batch)


def error_body(field: str | None, message: str) -> dict[str, Any]:
    return {"error": {"field": field, "message": message}}


def _loc(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or (str(loc[0]) if loc else "body")


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {**(exc.extra or {}), **error_body(exc.field, exc.message)},
            status_code=exc.status,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "invalid"}
        return JSONResponse(
            error_body(_loc(first.get("loc", ())), str(first.get("msg", "invalid"))),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 400:  # FastAPI: a body it cannot decode — invalid input, say so
            return JSONResponse(error_body("body", f"{message}: send UTF-8 JSON"), status_code=422)
        if exc.status_code == 404 and message == "Not Found":
            message = "no such resource"
        return JSONResponse(
            error_body(None, message),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return JSONResponse(
            error_body(None, f"internal error ({type(exc).__name__}); the server log has details"),
            status_code=500,
        )
