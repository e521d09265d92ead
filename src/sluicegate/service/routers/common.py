"""Helpers shared by the routers: validated regime and reform parameters, response docs."""

from __future__ import annotations

from typing import Any

from sluicegate.service.errors import ApiError
from sluicegate.service.models import ErrorResponse


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error statuses (all share the one error shape)."""
    text = {
        401: "missing or unknown API key",
        403: "role not allowed",
        404: "not found",
        409: "conflict",
        413: "request body too large",
        422: "invalid input (the field is named)",
        429: "rate limit exceeded",
    }
    return {c: {"model": ErrorResponse, "description": text.get(c, "error")} for c in codes}


AUTH = (401, 403, 429)


def check_regime(regime: str | None) -> str | None:
    from sluicegate.regimes import regime_ids

    if regime is not None and regime not in regime_ids():
        raise ApiError(
            422, f"unknown regime {regime!r}; known: {', '.join(regime_ids())}", "regime"
        )
    return regime


def check_reform(reform: str | None) -> str | None:
    """Only shipped reforms by name: the server never reads a path a client names."""
    from sluicegate.regimes.loader import shipped_reforms

    if reform is not None and reform not in shipped_reforms():
        raise ApiError(
            422,
            f"unknown reform {reform!r}; shipped reforms: {', '.join(shipped_reforms())}",
            "reform",
        )
    return reform


def example(value: Any, status: int = 200, description: str = "success") -> dict[int | str, Any]:
    """OpenAPI ``responses`` entry giving an example answer."""
    return {
        status: {"description": description, "content": {"application/json": {"example": value}}}
    }
