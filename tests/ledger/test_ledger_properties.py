"""Property test: any sequence of reserve / confirm / release keeps every pool equal to the sum of
its held and confirmed draws, never above its limit, in step with a simple model of the rule, and
the audit chain intact. Runs against the stand-in engine, whose rule the model mirrors."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_helpers import H100_TPP, LPP_LIMIT, txn
from sqlalchemy import func, select

from sluicegate.ledger import Ledger, LedgerInputError
from sluicegate.ledger.schema import draws, pools, reservations

operation = st.one_of(
    st.tuples(st.just("reserve"), st.sampled_from(["p", "q"]), st.integers(1, 900)),
    st.tuples(st.just("release"), st.integers(0, 30), st.just(0)),
    st.tuples(st.just("confirm"), st.integers(0, 30), st.just(0)),
)


@pytest.mark.usefixtures("stand_in_engine")
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(operation, min_size=1, max_size=12))
def test_ledger_matches_a_model_under_any_operation_sequence(
    ledger: Ledger, operations: list[tuple[str, object, int]]
) -> None:
    model: dict[str, float] = {}
    with ledger.engine.connect() as connection:
        for key, used in connection.execute(select(pools.c.key, pools.c.used)):
            model[key] = float(used)
        connection.rollback()
    made: list[tuple[str, str, float]] = []  # (reservation id, pool, amount)
    state: dict[str, str] = {}
    for kind, who, quantity in operations:
        if kind == "reserve":
            pool = f"lpp:prop-{who}:2025"
            [decision] = ledger.reserve([txn("x", quantity, consignee=f"prop-{who}")])
            fits = model.get(pool, 0.0) + quantity * H100_TPP <= LPP_LIMIT
            assert (decision["authorization"] == "LPP") == fits
            rid = decision["reservation"]["id"]
            state[rid] = "held"
            if fits:
                model[pool] = model.get(pool, 0.0) + quantity * H100_TPP
                made.append((rid, pool, quantity * H100_TPP))
            else:
                made.append((rid, pool, 0.0))
        elif made:
            rid, pool, amount = made[int(who) % len(made)]  # type: ignore[call-overload]
            verb = ledger.release if kind == "release" else ledger.confirm
            if state[rid] != "held":
                with pytest.raises(LedgerInputError):
                    verb(rid)
                continue
            verb(rid)
            state[rid] = "released" if kind == "release" else "confirmed"
            if kind == "release":
                model[pool] -= amount
    with ledger.engine.connect() as connection:
        held = dict(
            connection.execute(
                select(draws.c.pool, func.sum(draws.c.amount))
                .join(reservations, reservations.c.id == draws.c.reservation_id)
                .where(reservations.c.state != "released")
                .group_by(draws.c.pool)
            ).all()
        )
        for key, used, limit in connection.execute(
            select(pools.c.key, pools.c.used, pools.c.limit_tpp)
        ):
            assert float(used) == pytest.approx(float(held.get(key, 0.0)))
            assert float(used) == pytest.approx(model.get(key, 0.0))
            assert limit is None or float(used) <= float(limit)
        connection.rollback()
    assert ledger.verify_audit().intact
