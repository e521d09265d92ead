"""Know-your-customer check for infrastructure-as-a-service customers.

Combines four things into one outcome, ``approve`` < ``enhanced-due-diligence`` < ``report`` <
``refuse`` (the most severe rule that holds wins): completeness of the identification the January
2024 proposed rule asks for (89 FR 5698); restricted-party screening of the customer and each
beneficial owner (``sluicegate.screening``, called only through :func:`_screen_party`); the tier
of the customer's headquarters and ultimate parent from the rules engine's regimes
(``sluicegate.regimes.tier_of``; Macau/D:5-headquartered customers get no large-scale training);
and the red flags — Red Flag 28 (IaaS to train a 4E091-class model for an entity headquartered
outside Tier 1: inquire and report) and the proposed report of foreign persons' large training
runs. Every rule tried is in the trace with its citation. Thresholds come from ``thresholds.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sluicegate.cloud.customers import Customer
from sluicegate.cloud.thresholds import CloudConfig, load_config
from sluicegate.regimes.model import Regime

OUTCOMES = ("approve", "enhanced-due-diligence", "report", "refuse")
SEVERITY = {o: i for i, o in enumerate(OUTCOMES)}


class ScreeningUnavailable(RuntimeError):
    """``sluicegate.screening.screen`` is not installed in this build."""


def _screen_party(name: str, country: str | None = None, address: str | None = None) -> Any:
    """The one place KYC calls restricted-party screening.

    Returns a ``ScreenResult`` (``.decision`` in clear/review/block, ``.matches`` with list,
    entity_id, name, matched_name, score, effect, review_policy, citation)."""
    try:
        from sluicegate import screening
    except ImportError as exc:  # pragma: no cover - the package always exists
        raise ScreeningUnavailable(f"sluicegate.screening cannot be imported: {exc}") from exc
    screen = getattr(screening, "screen", None)
    if screen is None:
        raise ScreeningUnavailable(
            "sluicegate.screening has no screen() in this build; KYC needs it to screen the "
            "customer and its beneficial owners (use --skip-screening to run without it: the "
            "outcome is then at least enhanced-due-diligence)"
        )
    return screen(name, country=country, address=address)


def _match_json(match: Any) -> dict[str, Any]:
    if isinstance(match, dict):
        return dict(match)
    keys = (
        "list",
        "entity_id",
        "name",
        "matched_name",
        "score",
        "effect",
        "review_policy",
        "citation",
    )
    return {k: getattr(match, k, None) for k in keys}


def _tier(code: str, date: dt.date, regime: Regime | str) -> int | None:
    from sluicegate.regimes import tier_of

    return tier_of(code, date, regime)


class _Trace:
    def __init__(self) -> None:
        self.rules: list[dict[str, Any]] = []

    def add(
        self, rule: str, held: bool, outcome: str, detail: str, citation: str | None = None
    ) -> None:
        self.rules.append(
            {
                "rule": rule,
                "held": held,
                "outcome": outcome if held else None,
                "detail": detail,
                "citation": citation,
            }
        )

    def outcome(self) -> str:
        held = [r["outcome"] for r in self.rules if r["held"]]
        return max(held, key=SEVERITY.__getitem__, default="approve")


def _regime_record(regime: Regime, status: str | None, date: dt.date) -> dict[str, Any]:
    record: dict[str, Any] = {"id": regime.id, "status": status, "as_of": date.isoformat()}
    if regime.reform_of:
        record["reform_of"] = regime.reform_of
        record["reform_hash"] = regime.reform_hash
    return record


def headquarters_codes(customer: Customer, config: CloudConfig | None = None) -> dict[str, str]:
    """Where the customer counts as headquartered: role -> country code."""
    config = config or load_config()
    out: dict[str, str] = {}
    out["headquarters"] = customer.headquarters or customer.country
    if customer.ultimate_parent_headquarters:
        out["ultimate_parent_headquarters"] = customer.ultimate_parent_headquarters
    for owner in customer.beneficial_owners:
        if (
            owner.country
            and owner.percent is not None
            and owner.percent > config.kyc.majority_owner_percent
        ):
            out[f"majority owner {owner.id}"] = owner.country
    return out


def effective_tier(customer: Customer, as_of: dt.date, config: CloudConfig | None = None) -> int:
    """The worst tier among headquarters, ultimate parent and any majority owner."""
    config = config or load_config()
    regime = config.regime()
    tiers = [
        _tier(code, as_of, regime) or 1 for code in headquarters_codes(customer, config).values()
    ]
    return max(tiers, default=1)


def check_customer(
    customer: Customer,
    *,
    as_of: dt.date | None = None,
    config: CloudConfig | None = None,
    skip_screening: bool = False,
) -> dict[str, Any]:
    """The KYC outcome for one customer, with reasons, citations and the full trace. Under a
    reform (``thresholds.with_reform``) the tiers, the 4E091 threshold and the regime record
    are the reform's, and its content hash is in ``regime.reform_hash``."""
    config = config or load_config()
    kyc = config.kyc
    cites = kyc.citations
    date = customer.as_of or as_of or dt.datetime.now(dt.UTC).date()
    regime = config.regime()
    trace = _Trace()
    assumptions: list[str] = []

    # 1. identification the proposed customer identification program asks for
    missing = [f for f in kyc.cip_fields if not getattr(customer, f, None)]
    if not customer.payment_source and not customer.payment_means:
        missing = [f for f in missing if f != "payment_source"] + ["payment_source or means"]
    trace.add(
        "identification-complete",
        bool(missing),
        "enhanced-due-diligence",
        f"missing: {', '.join(missing)}" if missing else "all identification fields present",
        kyc.cip_cite,
    )

    # 2. screening of the customer and each beneficial owner
    screening: list[dict[str, Any]] = []
    parties: list[tuple[str, str, str | None, str | None]] = [
        ("customer", customer.name, customer.country, customer.address)
    ]
    parties += [
        (f"beneficial owner {o.id}", o.name, o.country, None) for o in customer.beneficial_owners
    ]
    if skip_screening:
        trace.add(
            "screening-performed",
            True,
            "enhanced-due-diligence",
            "restricted-party screening was skipped (--skip-screening)",
            cites["screening"],
        )
    else:
        for role, name, country, address in parties:
            result = _screen_party(name, country, address)
            decision = str(getattr(result, "decision", "review"))
            matches = [_match_json(m) for m in getattr(result, "matches", []) or []]
            screening.append(
                {"party": role, "name": name, "decision": decision, "matches": matches}
            )
            match_cites = sorted({str(m["citation"]) for m in matches if m.get("citation")})
            citation = "; ".join(match_cites) or cites["screening"]
            top = ", ".join(
                f"{m.get('list')}:{m.get('matched_name') or m.get('name')} ({m.get('score')})"
                for m in matches[:3]
            )
            trace.add(
                f"screening-block:{role}",
                decision == "block",
                "refuse",
                f"{role} {name!r} matches a blocking list entry: {top}"
                if decision == "block"
                else f"{role} {name!r}: {decision}",
                citation,
            )
            trace.add(
                f"screening-review:{role}",
                decision == "review",
                "enhanced-due-diligence",
                f"{role} {name!r} has a possible match to review: {top}"
                if decision == "review"
                else f"{role} {name!r}: {decision}",
                citation,
            )

    # 3. headquarters and ultimate-parent tier (rules engine regime)
    if not customer.headquarters:
        assumptions.append(
            f"headquarters not given: assumed to be the customer's country {customer.country}"
        )
    codes = headquarters_codes(customer, config)
    tiers = {role: _tier(code, date, regime) or 1 for role, code in codes.items()}
    tier = max(tiers.values(), default=1)
    where = ", ".join(f"{role} {codes[role]} (Tier {t})" for role, t in tiers.items())
    weights = next(t for t in config.training if t.applies_to == "outside-tier1")
    general = next(t for t in config.training if t.applies_to == "all")
    bio = next((t for t in config.training if t.applies_to == "bio"), None)
    planned = customer.planned_training_ops
    large = planned is not None and weights.crossed(planned)
    trace.add(
        "d5-headquarters-large-training",
        tier == 3 and large,
        "refuse",
        f"headquartered in Macau or Country Group D:5 ({where}) and plans training of "
        f"{planned:.3g} operations (4E091 class: {weights.operator} {weights.value:.0e})"
        if tier == 3 and large
        else f"Tier {tier}; planned training {planned if planned is not None else 'not stated'}",
        f"{cites['aia_certification']}; {cites['weights_review']}; {cites['d5_headquarters']}",
    )
    trace.add(
        "d5-headquarters",
        tier == 3,
        "enhanced-due-diligence",
        f"headquartered in Macau or Country Group D:5 ({where}): no IaaS for training "
        "4E091-class models; monitor usage"
        if tier == 3
        else f"not headquartered in Macau/D:5 ({where})",
        cites["d5_headquarters"],
    )
    minority = [
        o
        for o in customer.beneficial_owners
        if o.country
        and (_tier(o.country, date, regime) or 1) == 3
        and (o.percent is None or o.percent <= kyc.majority_owner_percent)
    ]
    trace.add(
        "d5-minority-owner",
        bool(minority),
        "enhanced-due-diligence",
        "beneficial owners in Macau/D:5 with a minority share: "
        + ", ".join(f"{o.id} {o.country} {o.percent}%" for o in minority)
        if minority
        else "no minority beneficial owner in Macau/D:5",
        cites["d5_headquarters"],
    )
    # 4. red flags
    trace.add(
        "red-flag-28",
        tier == 2 and large,
        "report",
        f"IaaS for training a 4E091-class model ({planned:.3g} operations) for an entity "
        f"headquartered outside Tier 1 ({where}): inquire whether the customer intends to export "
        "the model; apply for a licence or inform the customer of its obligation"
        if tier == 2 and large
        else "no 4E091-class training planned for a non-Tier-1 entity",
        cites["red_flag_28"],
    )
    foreign = customer.country != "US" and codes.get("headquarters") != "US"
    bio_run = customer.training_domain == "bio"
    big = planned is not None and (
        general.crossed(planned) or (bio is not None and bio_run and bio.crossed(planned))
    )
    trace.add(
        "foreign-large-training-report",
        foreign and big,
        "report",
        f"a foreign person plans a training run of {planned:.3g} operations, above the "
        "reporting threshold"
        if foreign and big
        else "no large training run by a foreign person planned",
        f"{cites['ai_training_report']}; {(bio if bio_run and bio else general).cite}",
    )

    outcome = trace.outcome()
    held = [r for r in trace.rules if r["held"]]
    citations = list(dict.fromkeys(str(r["citation"]) for r in held if r["citation"]))
    status = regime.legal_status_on(date)
    notes = list(assumptions)
    if status != "in-force":
        notes.append(
            f"{regime.id} is '{status}' on {date}: Red Flag 28 and the AIA certification are "
            "applied as the provider's risk policy; the Macau/D:5 headquarters rule remains in force"
        )
    if kyc.cip_unconfirmed:
        notes.append(f"89 FR 5698: {kyc.cip_unconfirmed}")
    return {
        "account": customer.account,
        "outcome": outcome,
        "reasons": [r["detail"] for r in held] or ["no rule raised a concern"],
        "citations": citations,
        "headquarters_tier": tier,
        "regime": _regime_record(regime, status, date),
        "screening": screening,
        "trace": trace.rules,
        "notes": notes,
    }
