"""Small closed vocabularies of the decision, coded as integers for the vectorised evaluator."""

from __future__ import annotations

CLASSIFICATIONS = ["not-controlled", "3A090.a", "3A090.b", "3A090.c", "4A090.a", "4A090.b", "4E091"]
AUTHORIZATIONS = ["NLR", "LICENSE", "AIA", "ACM", "LPP", "NAC", "ACA", "HBM", "UVEU", "NVEU"]
REVIEW_POLICIES = [
    "",
    "presumption-of-approval",
    "presumption-of-denial",
    "policy-of-denial",
    "case-by-case",
]

CLASS_CODE = {v: i for i, v in enumerate(CLASSIFICATIONS)}
AUTH_CODE = {v: i for i, v in enumerate(AUTHORIZATIONS)}
REVIEW_CODE = {v: i for i, v in enumerate(REVIEW_POLICIES)}
NO_REVIEW = 0
