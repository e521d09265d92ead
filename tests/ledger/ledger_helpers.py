"""Shared builders for the ledger tests."""

from __future__ import annotations

from typing import Any

REGIME = "us-2025-01-13-ai-diffusion"  # the diffusion rule: LPP applies to Tier 2 (India)
H100_TPP = 15832.0
LPP_LIMIT = 26_900_000.0


def txn(
    tid: str,
    quantity: int = 1,
    *,
    consignee: str = "acme-in",
    date: str = "2025-06-01",
    destination: str = "IN",
    authorizations: list[str] | None = None,
    headquarters: str | None = None,
) -> dict[str, Any]:
    party: dict[str, Any] = {"id": consignee, "name": f"{consignee} Ltd", "country": destination}
    if authorizations:
        party["authorizations"] = authorizations
    if headquarters:
        party["headquarters"] = headquarters
        party["ultimate_parent_headquarters"] = headquarters
    return {
        "id": tid,
        "date": date,
        "kind": "export",
        "origin": "US",
        "destination": destination,
        "item": {"chip": "nvidia-h100-sxm"},
        "quantity": quantity,
        "consignee": party,
        "end_use": "datacenter",
    }


def lpp_pool(consignee: str = "acme-in", year: str = "2025") -> str:
    return f"lpp:{consignee}:{year}"


def pool_entry(balance: dict[str, Any], pool: str) -> dict[str, Any]:
    for entry in balance["pools"]:
        if entry["pool"] == pool:
            return entry
    raise AssertionError(f"{pool} not in balance: {[e['pool'] for e in balance['pools']]}")
