"""Model parameters as distributions with sources, and their sampling.

``data/parameters.yaml`` declares every uncertain quantity of the simulator with a distribution
and a source. ``load_parameter_specs`` reads and validates it, ``apply_overrides`` applies a
scenario's ``overrides`` (a number fixes a parameter, a mapping replaces its distribution), and
``sample_parameters`` draws one value per Monte Carlo draw. The same seed gives the same draws
whatever the scenario, which is what makes policy comparisons use common random numbers.
"""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

KINDS = {
    "fixed": ("value",),
    "uniform": ("low", "high"),
    "loguniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "lognormal": ("median", "gsd"),
}


class ParameterError(ValueError):
    """A parameter specification or override is invalid."""


@cache
def _raw() -> dict[str, Any]:
    text = (
        resources.files("sluicegate.simulate")
        .joinpath("data", "parameters.yaml")
        .read_text("utf-8")
    )
    return dict(yaml.safe_load(text))


def model_data() -> dict[str, Any]:
    """The whole parameters.yaml (chip classes, buyer kinds, counter-measures...), a copy."""
    return copy.deepcopy(_raw())


def validate_distribution(name: str, dist: Any) -> dict[str, Any]:
    """Check one distribution mapping; raise ParameterError naming the parameter and reason."""
    if not isinstance(dist, dict) or "kind" not in dist:
        raise ParameterError(f"{name}: distribution must be a mapping with 'kind'")
    kind = dist["kind"]
    if kind not in KINDS:
        raise ParameterError(
            f"{name}: unknown distribution kind {kind!r}; use one of {sorted(KINDS)}"
        )
    dist = dict(dist)
    for key in (*KINDS[kind], "clip_low", "clip_high"):
        # PyYAML reads 3.0e5 (no exponent sign) as a string; accept numeric strings.
        if isinstance(dist.get(key), str):
            try:
                dist[key] = float(dist[key])
            except ValueError:
                pass
    for key in KINDS[kind]:
        if not isinstance(dist.get(key), int | float) or isinstance(dist.get(key), bool):
            raise ParameterError(f"{name}: distribution {kind} needs a number for {key!r}")
    if kind in ("uniform", "loguniform", "triangular") and not dist["low"] <= dist["high"]:
        raise ParameterError(f"{name}: low must not exceed high")
    if kind == "loguniform" and dist["low"] <= 0:
        raise ParameterError(f"{name}: loguniform needs low > 0")
    if kind == "triangular" and not dist["low"] <= dist["mode"] <= dist["high"]:
        raise ParameterError(f"{name}: triangular needs low <= mode <= high")
    if kind == "lognormal" and (dist["median"] <= 0 or dist["gsd"] < 1):
        raise ParameterError(f"{name}: lognormal needs median > 0 and gsd >= 1")
    return dict(dist)


def load_parameter_specs() -> dict[str, dict[str, Any]]:
    """Parameter name -> {dist, unit, channel, source}."""
    specs = copy.deepcopy(_raw()["parameters"])
    for name, spec in specs.items():
        spec["dist"] = validate_distribution(name, spec.get("dist"))
        if not spec.get("source"):
            raise ParameterError(f"{name}: every parameter needs a source")
    return specs


def apply_overrides(
    specs: dict[str, dict[str, Any]], overrides: dict[str, Any], where: str = "overrides"
) -> dict[str, dict[str, Any]]:
    """Return specs with overrides applied: a number fixes the value, a mapping is a new dist."""
    out = copy.deepcopy(specs)
    for name, value in overrides.items():
        if name not in out:
            raise ParameterError(f"{where}.{name}: unknown parameter; known: {sorted(out)}")
        if isinstance(value, bool) or not isinstance(value, int | float | dict):
            raise ParameterError(f"{where}.{name}: give a number or a distribution mapping")
        dist = {"kind": "fixed", "value": float(value)} if not isinstance(value, dict) else value
        out[name]["dist"] = validate_distribution(f"{where}.{name}", dist)
    return out


def draw_distribution(dist: dict[str, Any], n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws from one distribution (always consumes n uniforms, so streams stay aligned)."""
    u = rng.random(n)
    kind = dist["kind"]
    if kind == "fixed":
        return np.full(n, float(dist["value"]))
    if kind == "uniform":
        return dist["low"] + u * (dist["high"] - dist["low"])
    if kind == "loguniform":
        lo, hi = np.log(dist["low"]), np.log(dist["high"])
        return np.exp(lo + u * (hi - lo))
    if kind == "triangular":
        lo, mode, hi = dist["low"], dist["mode"], dist["high"]
        if hi == lo:
            return np.full(n, float(lo))
        cut = (mode - lo) / (hi - lo)
        left = lo + np.sqrt(u * (hi - lo) * (mode - lo))
        right = hi - np.sqrt((1 - u) * (hi - lo) * (hi - mode))
        return np.where(u < cut, left, right)
    # lognormal via the inverse normal CDF of the same uniform
    from statistics import NormalDist

    z = np.array([NormalDist().inv_cdf(min(max(x, 1e-12), 1 - 1e-12)) for x in u])
    values = dist["median"] * np.exp(z * np.log(dist["gsd"]))
    return np.clip(values, dist.get("clip_low", -np.inf), dist.get("clip_high", np.inf))


def sample_parameters(
    specs: dict[str, dict[str, Any]], draws: int, seed: int
) -> dict[str, np.ndarray]:
    """One array of length ``draws`` per parameter; each parameter has its own seeded stream."""
    out: dict[str, np.ndarray] = {}
    for index, name in enumerate(sorted(specs)):
        rng = np.random.default_rng([seed, 1, index, _stable_hash(name)])
        out[name] = draw_distribution(specs[name]["dist"], draws, rng)
    return out


def quantile_transform(dist: dict[str, Any], u: np.ndarray) -> np.ndarray:
    """Map uniforms in [0, 1] to the distribution (used by Sobol sampling)."""

    class _Fixed:
        def random(self, n: int) -> np.ndarray:
            return u

    return draw_distribution(dist, len(u), _Fixed())  # type: ignore[arg-type]


def _stable_hash(text: str) -> int:
    value = 0
    for char in text.encode("utf-8"):
        value = (value * 131 + char) % 2_147_483_647
    return value
