"""Declared rules of the US advanced-computing and AI-diffusion controls, and their evaluator.

Public API (the CLI, the ledger, the simulator and the service call only these):

* :func:`decide_records` — contract §1 transactions in, contract §2 decisions (or error records) out;
* :func:`decide_stream` — the same, lazily, with bounded memory for date-ordered input;
* :func:`decide_frame` — the same over a flat table (CSV/Parquet layout), for millions of rows;
* :class:`QuotaBook` / :class:`InMemoryQuotaBook` — where balances held before the call come from;
* :class:`RuleConflictError` — two rules hold with different outcomes and no declared priority.
"""

from sluicegate.rules.decide import (
    DecisionRequestError,
    decide_frame,
    decide_records,
    decide_stream,
)
from sluicegate.rules.declared import RULES
from sluicegate.rules.engine import InMemoryQuotaBook, QuotaBook, Rule, RuleConflictError

__all__ = [
    "RULES",
    "DecisionRequestError",
    "InMemoryQuotaBook",
    "QuotaBook",
    "Rule",
    "RuleConflictError",
    "decide_frame",
    "decide_records",
    "decide_stream",
]
