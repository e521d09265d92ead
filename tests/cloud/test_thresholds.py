"""Thresholds are data with citations; the 4E091 figure comes from the regime."""

from __future__ import annotations

from sluicegate.cloud.thresholds import load_config
from sluicegate.regimes import get_regime


def test_every_threshold_is_cited_and_the_unsettled_ones_say_so() -> None:
    config = load_config()
    ids = {t.id for t in config.training}
    assert {"training-general", "training-bio", "model-weights-4e091"} <= ids
    for t in [*config.training, *config.clusters]:
        assert t.cite
        assert t.unconfirmed, t.id
    general = next(t for t in config.training if t.id == "training-general")
    assert (general.value, general.operator) == (1e26, ">")
    bio = next(t for t in config.training if t.id == "training-bio")
    assert (bio.value, bio.operator) == (1e23, ">")
    cluster = config.clusters[0]
    assert (cluster.value, cluster.networking_gbps) == (1e20, 300)
    assert cluster.alternatives[0].networking_gbps == 100


def test_4e091_threshold_is_read_from_the_regime() -> None:
    meta = get_regime("us-2025-01-13-ai-diffusion").param_meta(
        "classification_4e091.training_ops_threshold"
    )
    weights = next(t for t in load_config().training if t.id == "model-weights-4e091")
    assert weights.value == float(meta.value)
    assert weights.operator == meta.operator
    assert weights.crossed(1e26) == (meta.operator == ">=")


def test_utilisation_range_brackets_the_default() -> None:
    util = load_config().estimate.utilization
    assert util.low < util.default < util.high
