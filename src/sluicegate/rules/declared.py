"""The decision logic of the US advanced-computing and AI-diffusion controls, as declared rules.

Each rule names the provision of a regime file it reads (``provision``); a regime that lacks the
provision lacks the rule. Conditions are column expressions over the transaction table and the
regime's parameters (``c.p("lpp.annual_tpp_per_consignee")``), so thresholds, lists and dates stay
in the YAML with their citations. Read top to bottom, a phase at a time:

* tests: facts about the item and the parties that several rules use;
* classify: the ECCN (higher priority wins: 3A090.a over 3A090.b);
* require: the grounds on which a licence is required (any one suffices);
* exception / defeat: licence exceptions and authorizations, and the exceptions to them;
  when several apply, the highest priority is relied on (those that draw on no quota first);
* review: the policy a licence application would meet;
* obligation: notices, certifications and reports the chosen path carries.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from sluicegate.regimes.countries import countries
from sluicegate.regimes.loader import series_steps
from sluicegate.rules.engine import Ctx, Pool, Rule

CHIP_CLASSES = ["3A090.a", "3A090.b", "4A090.a", "4A090.b"]


def _d5(
    c: Ctx, column: str, provision: str, groups: str = "groups", extra: str = "extra_destinations"
) -> np.ndarray:
    return c.in_groups(column, c.p(f"{provision}.{groups}"), c.p(f"{provision}.{extra}"))


def _macau_d5(c: Ctx, column: str) -> np.ndarray:
    """'Macau or a destination specified in Country Group D:5' as of the row's date."""
    return c.in_groups(column, ["D:5"], ["MO"])


def _macau_d5_hq(c: Ctx) -> np.ndarray:
    return _macau_d5(c, "hq") | _macau_d5(c, "uphq")


def _tier1(c: Ctx, column: str) -> np.ndarray:
    return c.in_groups(column, (), c.p("diffusion_tiers.tier1_destinations"))


def _tier3(c: Ctx, column: str) -> np.ndarray:
    return c.in_groups(
        column, c.p("diffusion_tiers.tier3_groups"), c.p("diffusion_tiers.tier3_extra_destinations")
    )


def _not_deemed(c: Ctx) -> np.ndarray:
    return ~c.kind_in(["deemed-export", "deemed-reexport"])


def _exported(c: Ctx) -> np.ndarray:
    """An export, reexport or transfer that the EAR licence requirements can reach."""
    return _not_deemed(c) & ~c.test("domestic_us")


# ---------------------------------------------------------------- pool keys


def _consignee_year(c: Ctx) -> tuple[np.ndarray, Callable[[int], str]]:
    code, values = c.consignee_codes()
    years = c.col("year")
    key = code * 10000 + years

    def name(k: int) -> str:
        return f"lpp:{values[k // 10000]}:{k % 10000}"

    return key, name


def _consignee_location(c: Ctx) -> tuple[np.ndarray, Callable[[int], str]]:
    code, values = c.consignee_codes()
    key = code * 1000 + c.col("loc")
    reg = countries()

    def name(k: int) -> str:
        return f"nveu:{values[k // 1000]}:{reg.codes[k % 1000]}"

    return key, name


def _consignee(prefix: str) -> Callable[[Ctx], tuple[np.ndarray, Callable[[int], str]]]:
    def key(c: Ctx) -> tuple[np.ndarray, Callable[[int], str]]:
        code, values = c.consignee_codes()
        return code, lambda k: f"{prefix}:{values[k]}"

    return key


def _allocation_key(c: Ctx) -> tuple[np.ndarray, Callable[[int], str]]:
    reg = countries()
    label = c.p("country_allocation.period_label")
    column = "dest" if c.p("country_allocation.counts_by") == "destination" else "hq"
    return c.col(column).astype(np.int64), lambda k: f"country-allocation:{reg.codes[k]}:{label}"


def _allocation_limit(c: Ctx) -> np.ndarray:
    base = float(c.p("country_allocation.allocation_tpp"))
    raised = c.in_groups("dest", (), c.p("diffusion_tiers.supplement5_paragraph_b"))
    factor = 1.0 + float(c.p("country_allocation.g2g_increase_pct")) / 100.0
    return np.where(raised, base * factor, base)


def _allocation_amount(c: Ctx) -> np.ndarray:
    start = np.datetime64(str(c.p("country_allocation.period_start")), "D")
    return np.where(c.col("date") < start, 0.0, c.col("tpp_total"))


def _nveu_cap(c: Ctx) -> np.ndarray:
    steps = c.p("data_center_veu.nveu_schedule")
    starts = np.array([np.datetime64(str(s["from"]), "D") for s in steps])
    caps = np.array([0.0] + [float(s["cap"]) for s in steps])
    return caps[np.searchsorted(starts, c.col("date"), side="right")]


def _tpp_total(c: Ctx) -> np.ndarray:
    return np.nan_to_num(c.col("tpp_total"))


@functools.cache
def _series_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    steps = series_steps(name)
    starts = np.array([np.datetime64(d, "D") for d, _ in steps], dtype="datetime64[D]")
    return starts, np.array([0.0] + [v for _, v in steps])


def _frontier_ops(c: Ctx) -> np.ndarray:
    """Operations of the most capable published model on each row's date (Note 2 to 4E091)."""
    if not c.category_is("model-weights").any():
        return np.zeros(c.n)
    meta = c.regime.param_meta("classification_4e091.most_capable_published_ops")
    if meta.series:
        starts, values = _series_arrays(meta.series)
        by_date = values[np.searchsorted(starts, c.col("date"), side="right")]
    else:
        by_date = np.full(c.n, float(meta.value or 0.0))
    override = c.col("frontier_override")
    return np.where(np.isnan(override), by_date, override)


# ---------------------------------------------------------------- obligations


def _nac_notice(c: Ctx) -> dict[str, Any]:
    return {
        "kind": "prior-notification",
        "days": int(c.p("nac_aca.notification_days")),
        "to": "BIS",
        "via": "SNAP-R",
        "why": "License Exception NAC: notify at least 25 calendar days before "
        "export; include TPP, performance density and a datasheet showing datacenter or "
        "consumer design",
    }


def _china_conditions(c: Ctx) -> dict[str, Any]:
    return {
        "kind": "certification",
        "to": "BIS",
        "why": "case-by-case review only if the exporter certifies the conditions",
        "conditions": list(c.p("china_review_lane.conditions")),
    }


RULES: list[Rule] = [
    # ------------------------------------------------------------ tests
    Rule(
        "domestic-us",
        "*",
        "test",
        lambda c: (
            c.country_is("origin", "US")
            & c.country_is("dest", "US")
            & c.kind_in(["export", "transfer"])
        ),
        "15 CFR 734.13",
        "an item that stays in the United States is not exported",
        defines="domestic_us",
        shows=("origin", "dest"),
    ),
    Rule(
        "3A090-2022.prongs",
        "classification_3a090_2022",
        "test",
        lambda c: (
            c.category_is("ic", "computer")
            & c.cmp("tpp", "classification_3a090_2022.tpp_threshold")
            & c.cmp("interconnect", "classification_3a090_2022.interconnect_threshold_gbs")
        ),
        "ECCN 3A090 (87 FR 62186)",
        "I/O of 600 Gbyte/s or more AND bit length x TOPS of 4800 or more",
        defines="meets_3a090_2022",
        params=(
            "classification_3a090_2022.tpp_threshold",
            "classification_3a090_2022.interconnect_threshold_gbs",
        ),
        shows=("tpp", "interconnect"),
    ),
    Rule(
        "3A090.a.1",
        "classification_3a090_2023",
        "test",
        lambda c: (
            c.category_is("ic", "computer") & c.cmp("tpp", "classification_3a090_2023.a1_tpp")
        ),
        "ECCN 3A090.a.1 (88 FR 73458)",
        "TPP of 4800 or more",
        defines="meets_a1",
        params=("classification_3a090_2023.a1_tpp",),
        shows=("tpp",),
    ),
    Rule(
        "3A090.a.2",
        "classification_3a090_2023",
        "test",
        lambda c: (
            c.category_is("ic", "computer")
            & c.col("datacenter")
            & c.cmp("tpp", "classification_3a090_2023.a2_tpp")
            & c.cmp("pd", "classification_3a090_2023.a2_pd")
        ),
        "ECCN 3A090.a.2 (88 FR 73458)",
        "TPP of 1600 or more and performance density of 5.92 or more (datacenter ICs)",
        defines="meets_a2",
        params=("classification_3a090_2023.a2_tpp", "classification_3a090_2023.a2_pd"),
        shows=("tpp", "pd", "datacenter"),
    ),
    Rule(
        "3A090.b.1",
        "classification_3a090_2023",
        "test",
        lambda c: (
            c.category_is("ic", "computer")
            & c.col("datacenter")
            & c.cmp("tpp", "classification_3a090_2023.b1_tpp_min")
            & c.cmp("tpp", "classification_3a090_2023.b1_tpp_max")
            & c.cmp("pd", "classification_3a090_2023.b1_pd_min")
            & c.cmp("pd", "classification_3a090_2023.b1_pd_max")
        ),
        "ECCN 3A090.b.1 (88 FR 73458)",
        "TPP of 2400 or more and less than 4800, and PD of 1.6 or more and less than 5.92",
        defines="meets_b1",
        params=(
            "classification_3a090_2023.b1_tpp_min",
            "classification_3a090_2023.b1_tpp_max",
            "classification_3a090_2023.b1_pd_min",
            "classification_3a090_2023.b1_pd_max",
        ),
        shows=("tpp", "pd", "datacenter"),
    ),
    Rule(
        "3A090.b.2",
        "classification_3a090_2023",
        "test",
        lambda c: (
            c.category_is("ic", "computer")
            & c.col("datacenter")
            & c.cmp("tpp", "classification_3a090_2023.b2_tpp")
            & c.cmp("pd", "classification_3a090_2023.b2_pd_min")
            & c.cmp("pd", "classification_3a090_2023.b2_pd_max")
        ),
        "ECCN 3A090.b.2 (88 FR 73458)",
        "TPP of 1600 or more and PD of 3.2 or more and less than 5.92",
        defines="meets_b2",
        params=(
            "classification_3a090_2023.b2_tpp",
            "classification_3a090_2023.b2_pd_min",
            "classification_3a090_2023.b2_pd_max",
        ),
        shows=("tpp", "pd", "datacenter"),
    ),
    # ------------------------------------------------------------ classification
    Rule(
        "classify.3A090.a-2022",
        "classification_3a090_2022",
        "classify",
        lambda c: c.category_is("ic") & c.test("meets_3a090_2022"),
        "ECCN 3A090 (87 FR 62186)",
        "integrated circuit meeting both 2022 prongs",
        value="3A090.a",
        priority=30,
    ),
    Rule(
        "classify.4A090.a-2022",
        "classification_3a090_2022",
        "classify",
        lambda c: c.category_is("computer") & c.test("meets_3a090_2022"),
        "ECCN 4A090 (87 FR 62186)",
        "computer containing ICs specified by 3A090",
        value="4A090.a",
        priority=30,
    ),
    Rule(
        "classify.3A090.a",
        "classification_3a090_2023",
        "classify",
        lambda c: c.category_is("ic") & (c.test("meets_a1") | c.test("meets_a2")),
        "ECCN 3A090.a (88 FR 73458)",
        "an IC meeting 3A090.a.1 or a.2",
        value="3A090.a",
        priority=30,
    ),
    Rule(
        "classify.3A090.b",
        "classification_3a090_2023",
        "classify",
        lambda c: c.category_is("ic") & (c.test("meets_b1") | c.test("meets_b2")),
        "ECCN 3A090.b (88 FR 73458)",
        "an IC meeting 3A090.b.1 or b.2, not specified by 3A090.a",
        value="3A090.b",
        priority=20,
    ),
    Rule(
        "classify.4A090.a",
        "classification_3a090_2023",
        "classify",
        lambda c: c.category_is("computer") & (c.test("meets_a1") | c.test("meets_a2")),
        "ECCN 4A090.a (88 FR 73458)",
        "computers containing ICs that meet 3A090.a",
        value="4A090.a",
        priority=30,
    ),
    Rule(
        "classify.4A090.b",
        "classification_3a090_2023",
        "classify",
        lambda c: c.category_is("computer") & (c.test("meets_b1") | c.test("meets_b2")),
        "ECCN 4A090.b (88 FR 73458)",
        "computers containing ICs that meet 3A090.b",
        value="4A090.b",
        priority=20,
    ),
    Rule(
        "classify.3A090.c",
        "classification_3a090c_hbm",
        "classify",
        lambda c: (
            c.category_is("hbm")
            & c.cmp("hbm_density", "classification_3a090c_hbm.bandwidth_density_threshold")
        ),
        "ECCN 3A090.c (89 FR 96790)",
        "HBM having a memory bandwidth density greater than 2 GB/s/mm²",
        value="3A090.c",
        priority=30,
        params=("classification_3a090c_hbm.bandwidth_density_threshold",),
        shows=("hbm_density",),
    ),
    Rule(
        "classify.4E091",
        "classification_4e091",
        "classify",
        lambda c: (
            c.category_is("model-weights")
            & c.cmp("training_ops", "classification_4e091.training_ops_threshold")
            & ~(c.col("published") & bool(c.p("classification_4e091.published_excluded")))
            & ~(c.col("training_ops") < _frontier_ops(c))
        ),
        "ECCN 4E091 (90 FR 4544)",
        "parameters of a model trained with 10^26 or more operations, unless published (Note 1) "
        "or trained with fewer operations than the most capable published model (Note 2)",
        value="4E091",
        priority=30,
        params=(
            "classification_4e091.training_ops_threshold",
            "classification_4e091.published_excluded",
            "classification_4e091.most_capable_published_ops",
        ),
        shows=("training_ops", "published"),
    ),
    # ------------------------------------------------------------ licence requirements
    Rule(
        "742.6(a)(6)(i).china-macau-2022",
        "destination_license_2022",
        "require",
        lambda c: (
            c.cls_in(["3A090.a", "4A090.a"])
            & _exported(c)
            & c.in_groups("dest", (), c.p("destination_license_2022.destinations"))
        ),
        "15 CFR 742.6(a)(6)(i) (87 FR 62186)",
        "a licence is required for 3A090/4A090 items to China (incl. Hong Kong) and Macau",
        params=("destination_license_2022.destinations",),
        shows=("dest",),
    ),
    Rule(
        "742.6(a)(6)(iii).destination",
        "destination_license_2023",
        "require",
        lambda c: (
            c.cls_in(c.p("destination_license_2023.classes"))
            & _exported(c)
            & c.in_groups("dest", c.p("destination_license_2023.groups"))
            & ~c.in_groups("dest", c.p("destination_license_2023.excluded_groups"))
        ),
        "15 CFR 742.6(a)(6)(iii)",
        "to or within D:1, D:4 or D:5, excluding destinations also in A:5 or A:6",
        params=(
            "destination_license_2023.groups",
            "destination_license_2023.excluded_groups",
            "destination_license_2023.classes",
        ),
        shows=("dest",),
    ),
    Rule(
        "744.23(a)(3).headquarters",
        "headquarters_license_d5",
        "require",
        lambda c: (
            c.cls_in(c.p("headquarters_license_d5.classes"))
            & _exported(c)
            & c.headquartered_in(
                c.p("headquarters_license_d5.groups"),
                c.p("headquarters_license_d5.extra_destinations"),
            )
        ),
        "15 CFR 744.23(a)(3)",
        "entity headquartered in, or whose ultimate parent is headquartered in, Macau or D:5, "
        "wherever located",
        params=("headquarters_license_d5.groups",),
        shows=("hq", "uphq"),
    ),
    Rule(
        "742.6(a)(6)(i)(B).hbm",
        "hbm_license",
        "require",
        lambda c: (
            c.cls_in(["3A090.c"])
            & _exported(c)
            & (
                _d5(c, "dest", "hbm_license")
                | _d5(c, "hq", "hbm_license")
                | _d5(c, "uphq", "hbm_license")
            )
        ),
        "15 CFR 742.6(a)(6)(i)(B)",
        "3A090.c to Macau or D:5 or to entities headquartered there",
        params=("hbm_license.groups",),
        shows=("dest", "hq", "uphq"),
    ),
    Rule(
        "742.6(a)(6)(iii)(A).worldwide",
        "worldwide_license",
        "require",
        lambda c: c.cls_in(c.p("worldwide_license.classes")) & _exported(c),
        "15 CFR 742.6(a)(6)(iii)(A)",
        "3A090.a and 4A090.a to or within any destination worldwide",
        params=("worldwide_license.classes",),
    ),
    Rule(
        "742.6(a)(13).4E091",
        "model_weights_license",
        "require",
        lambda c: (
            c.cls_in(["4E091"])
            & ~c.test("domestic_us")
            & ~(
                c.kind_in(["deemed-export", "deemed-reexport"])
                & c.wholly_headquartered_in((), c.p("diffusion_tiers.tier1_destinations"))
            )
        ),
        "15 CFR 742.6(a)(13)",
        "4E091 to all destinations worldwide (not deemed exports to permanent regular employees of "
        "Tier 1-headquartered entities)",
        shows=("hq", "uphq"),
    ),
    # ------------------------------------------------------------ exceptions
    Rule(
        "740.27.AIA",
        "aia",
        "exception",
        lambda c: (
            c.cls_in(c.p("aia.classes"))
            & _tier1(c, "loc")
            & c.wholly_headquartered_in((), c.p("diffusion_tiers.tier1_destinations"))
            & (
                c.col("approved_designer")
                | ~bool(c.p("aia.requires_approved_designer"))
                | c.category_is("computer")
            )
        ),
        "15 CFR 740.27(a)",
        "to entities located within supplement no. 5 (a) destinations, unless headquartered (or "
        "ultimate parent headquartered) outside them; 3A090.a if designed by an approved designer",
        value="AIA",
        priority=60,
        params=("diffusion_tiers.tier1_destinations",),
        shows=("loc", "hq", "uphq", "approved_designer"),
    ),
    Rule(
        "740.27(a)(3).AIA-weights",
        "aia_model_weights",
        "exception",
        lambda c: (
            c.cls_in(["4E091"])
            & c.wholly_headquartered_in((), c.p("diffusion_tiers.tier1_destinations"))
            & ~c.in_groups(
                "loc",
                c.p("aia_model_weights.excluded_groups"),
                c.p("aia_model_weights.excluded_extra_destinations"),
            )
            & c.col("storage_ok")
        ),
        "15 CFR 740.27(a)(3)",
        "4E091 to Tier 1-headquartered entities located outside Macau/D:5, stored in a facility "
        "meeting supp. 10 paras. 14, 15 and 18",
        value="AIA",
        priority=60,
        shows=("hq", "uphq", "loc", "storage_ok"),
    ),
    Rule(
        "748.15.UVEU",
        "data_center_veu",
        "exception",
        lambda c: (
            c.col("has_uveu")
            & c.cls_in(c.p("data_center_veu.classes"))
            & c.headquartered_in((), c.p("diffusion_tiers.tier1_destinations"))
            & ~_d5(c, "loc", "data_center_veu", "excluded_groups", "excluded_extra_destinations")
        ),
        "15 CFR 748.15(b)(2)(i)",
        "UVEU: headquartered in supp. 5 (a) destinations; data center outside Macau/D:5 "
        "(location ratios are checked by the ledger)",
        value="UVEU",
        priority=50,
        shows=("hq", "uphq", "loc"),
    ),
    Rule(
        "748.15.NVEU",
        "data_center_veu",
        "exception",
        lambda c: (
            c.col("has_nveu")
            & c.cls_in(["3A090.a", "4A090.a"])
            & ~_d5(c, "loc", "data_center_veu", "excluded_groups", "excluded_extra_destinations")
            & ~_d5(c, "hq", "data_center_veu", "excluded_groups", "excluded_extra_destinations")
            & ~_d5(c, "uphq", "data_center_veu", "excluded_groups", "excluded_extra_destinations")
        ),
        "15 CFR 748.15(a)(2)(iii), (b)(2)(ii)",
        "NVEU: not headquartered or located in Macau/D:5; within the per-country installed-base "
        "allocation for the quarter",
        value="NVEU",
        priority=45,
        pool=Pool("nveu", _consignee_location, _nveu_cap, _tpp_total),
        params=("data_center_veu.nveu_schedule",),
        shows=("hq", "uphq", "loc"),
    ),
    Rule(
        "740.28.ACM",
        "acm",
        "exception",
        lambda c: (
            c.cls_in(c.p("acm.classes"))
            & c.col("private_sector")
            & c.end_use_in(c.p("acm.end_uses"))
            & ~_d5(c, "dest", "acm", "excluded_groups", "excluded_extra_destinations")
            & ~_d5(c, "hq", "acm", "excluded_groups", "excluded_extra_destinations")
            & ~_d5(c, "uphq", "acm", "excluded_groups", "excluded_extra_destinations")
        ),
        "15 CFR 740.28",
        "to private sector end users for development, production or storage, not in or "
        "headquartered in Macau/D:5",
        value="ACM",
        priority=40,
        params=("acm.end_uses",),
        shows=("end_use", "private_sector", "dest", "hq"),
    ),
    Rule(
        "740.8.NAC",
        "nac_aca",
        "exception",
        lambda c: (
            c.cls_in(CHIP_CLASSES)
            & c.kind_in(["export", "reexport"])
            & (_d5(c, "dest", "nac_aca", "nac_groups", "nac_extra_destinations") | _macau_d5_hq(c))
        ),
        "15 CFR 740.8(a)",
        "NAC: to Macau or D:5, or to entities headquartered there, after 25 days' notice",
        value="NAC",
        priority=35,
        shows=("dest", "hq", "uphq"),
    ),
    Rule(
        "740.8.ACA",
        "nac_aca",
        "exception",
        lambda c: (
            c.cls_in(CHIP_CLASSES)
            & ~_macau_d5_hq(c)
            & (
                (c.in_groups("dest", c.p("nac_aca.aca_groups")) & ~_macau_d5(c, "dest"))
                | (
                    bool(c.p("nac_aca.aca_all_tier2_non_datacenter"))
                    & ~c.col("datacenter")
                    & ~_macau_d5(c, "dest")
                )
            )
            | (c.cls_in(CHIP_CLASSES) & c.kind_in(["transfer"]) & _macau_d5(c, "dest"))
        ),
        "15 CFR 740.8(b)",
        "ACA: to or within D:1 and D:4 (not Macau/D:5 or their entities); transfers within Macau/D:5",
        value="ACA",
        priority=35,
        params=("nac_aca.aca_groups", "nac_aca.aca_all_tier2_non_datacenter"),
        shows=("dest", "hq", "kind"),
    ),
    Rule(
        "740.8.not-datacenter-3A090.a",
        "nac_aca",
        "defeat",
        lambda c: c.col("datacenter") & (c.test("meets_a1") | c.test("meets_a2")),
        "15 CFR 740.8(a)-(b)",
        "NAC and ACA do not cover items designed or marketed for use in a datacenter and meeting "
        "the parameters of 3A090.a",
        defeats=("740.8.NAC", "740.8.ACA"),
        shows=("datacenter",),
    ),
    Rule(
        "740.25.HBM",
        "license_exception_hbm",
        "exception",
        lambda c: (
            bool(c.p("license_exception_hbm.enabled"))
            & c.cls_in(["3A090.c"])
            & _macau_d5(c, "dest")
            & ~_macau_d5_hq(c)
        ),
        "15 CFR 740.25",
        "License Exception HBM (scope UNCONFIRMED; off unless a reform enables it)",
        value="HBM",
        priority=35,
        params=("license_exception_hbm.enabled",),
    ),
    Rule(
        "740.29.LPP",
        "lpp",
        "exception",
        lambda c: (
            c.cls_in(c.p("lpp.classes"))
            & c.kind_in(c.p("lpp.kinds"))
            & ~c.col("via_distributor")
            & ~_d5(c, "dest", "lpp", "excluded_groups", "excluded_extra_destinations")
            & ~(bool(c.p("lpp.exclude_d5_headquartered")) & _macau_d5_hq(c))
        ),
        "15 CFR 740.29(a)",
        "up to 26,900,000 cumulative TPP per calendar year directly to a single ultimate consignee",
        value="LPP",
        priority=30,
        pool=Pool(
            "lpp",
            _consignee_year,
            lambda c: np.full(c.n, float(c.p("lpp.annual_tpp_per_consignee"))),
            _tpp_total,
        ),
        params=("lpp.annual_tpp_per_consignee",),
        shows=("kind", "via_distributor", "dest"),
    ),
    # ------------------------------------------------------------ review policy
    Rule(
        "742.6(b)(10).2022-denial",
        "destination_license_2022",
        "review",
        lambda c: c.cls_in(["3A090.a", "4A090.a"]),
        "15 CFR 742.6(b)(10) (87 FR 62186)",
        "presumption of denial",
        value="presumption-of-denial",
        priority=50,
    ),
    Rule(
        "742.6(b)(10).approval",
        "review_policy_2023",
        "review",
        lambda c: c.cls_in(CHIP_CLASSES),
        "15 CFR 742.6(b)(10)",
        "presumption of approval outside Macau/D:5",
        value="presumption-of-approval",
        priority=10,
    ),
    Rule(
        "742.6(b)(10).macau-d5-denial",
        "review_policy_2023",
        "review",
        lambda c: (
            c.cls_in(CHIP_CLASSES)
            & (
                _d5(c, "dest", "review_policy_2023", "denial_groups", "denial_extra_destinations")
                | _d5(c, "hq", "review_policy_2023", "denial_groups", "denial_extra_destinations")
                | _d5(c, "uphq", "review_policy_2023", "denial_groups", "denial_extra_destinations")
            )
        ),
        "15 CFR 742.6(b)(10)(iii)(A)(1)",
        "presumption of denial to or within Macau or D:5, or for entities headquartered there",
        value="presumption-of-denial",
        priority=50,
        shows=("dest", "hq", "uphq"),
    ),
    Rule(
        "742.6(b)(10)(iii)(B).country-allocation",
        "country_allocation",
        "review",
        lambda c: (
            c.cls_in(c.p("country_allocation.classes"))
            & ~_tier1(c, "dest")
            & ~_tier3(c, "dest")
            & ~(_tier1(c, "hq") | _tier1(c, "uphq"))
        ),
        "15 CFR 742.6(b)(10)(iii)(B)",
        "Tier 2: presumption of approval up to the country allocation, then policy of denial",
        value="presumption-of-approval",
        exceed_value="policy-of-denial",
        priority=20,
        pool=Pool("country-allocation", _allocation_key, _allocation_limit, _allocation_amount),
        straddle_param="country_allocation.straddle_policy",
        params=(
            "country_allocation.allocation_tpp",
            "country_allocation.g2g_increase_pct",
            "diffusion_tiers.supplement5_paragraph_b",
        ),
        shows=("dest",),
    ),
    Rule(
        "742.6(b)(10)(ii).hbm-approval",
        "hbm_license",
        "review",
        lambda c: c.cls_in(["3A090.c"]) & _macau_d5(c, "dest") & ~_macau_d5_hq(c),
        "15 CFR 742.6(b)(10)(ii)",
        "3A090.c: presumption of approval for entities not headquartered in Macau/D:5",
        value="presumption-of-approval",
        priority=10,
    ),
    Rule(
        "742.6(b)(10)(ii).hbm-denial",
        "hbm_license",
        "review",
        lambda c: c.cls_in(["3A090.c"]) & _macau_d5_hq(c),
        "15 CFR 742.6(b)(10)(ii)",
        "3A090.c: presumption of denial otherwise",
        value="presumption-of-denial",
        priority=50,
    ),
    Rule(
        "742.6(b)(14).4E091-denial",
        "model_weights_license",
        "review",
        lambda c: (
            c.cls_in(["4E091"])
            & ~c.wholly_headquartered_in((), c.p("diffusion_tiers.tier1_destinations"))
        ),
        "15 CFR 742.6(b)(14)",
        "presumption of denial for end users headquartered (or ultimate parent headquartered) "
        "outside supp. 5 (a) destinations",
        value="presumption-of-denial",
        priority=50,
        shows=("hq", "uphq"),
    ),
    Rule(
        "742.6(b)(14).4E091-tier1",
        "model_weights_license",
        "review",
        lambda c: (
            c.cls_in(["4E091"])
            & c.wholly_headquartered_in((), c.p("diffusion_tiers.tier1_destinations"))
        ),
        "15 CFR 742.6(b)(14) (policy for Tier 1 end users UNCONFIRMED)",
        "Tier 1-headquartered end users: policy not stated; parameter default case-by-case",
        value="case-by-case",
        value_param="model_weights_license.tier1_review_policy",
        priority=10,
        params=("model_weights_license.tier1_review_policy",),
    ),
    Rule(
        "91-FR-1684.china-case-by-case",
        "china_review_lane",
        "review",
        lambda c: (
            c.cls_in(c.p("china_review_lane.classes"))
            & c.kind_in(c.p("china_review_lane.kinds"))
            & c.country_is("origin", c.p("china_review_lane.origin"))
            & c.in_groups("dest", (), c.p("china_review_lane.destinations"))
            & c.cmp("tpp", "china_review_lane.tpp_max")
            & c.cmp("mem_bw", "china_review_lane.dram_bandwidth_max_gbs")
        ),
        "15 CFR 742.6(b)(10) as revised by 91 FR 1684",
        "exports from the US to China/Macau of commodities with TPP < 21,000 and DRAM bandwidth "
        "< 6,500 GB/s: case-by-case",
        value="case-by-case",
        priority=60,
        params=("china_review_lane.tpp_max", "china_review_lane.dram_bandwidth_max_gbs"),
        shows=("tpp", "mem_bw", "origin", "kind"),
    ),
    # ------------------------------------------------------------ obligations
    Rule(
        "740.8(c).NAC-notice",
        "nac_aca",
        "obligation",
        lambda c: c.auth_in(["NAC"]),
        "15 CFR 740.8(a)(2), (c)(1)",
        "notify BIS at least 25 calendar days before export",
        value=_nac_notice,
    ),
    Rule(
        "740.27(b).AIA-certification",
        "aia",
        "obligation",
        lambda c: c.auth_in(["AIA"]),
        "15 CFR 740.27(b)(2)-(3)",
        "one-time ultimate consignee certification; written notice with each shipment",
        value={
            "kind": "consignee-certification",
            "from": "ultimate consignee",
            "why": "AIA: one-time certification (aware of AIA; no prohibited end use; no IaaS "
            "training of 4E091 models for non-Tier 1 entities; no onward transfer); written "
            "notice of AIA and ECCN with each shipment",
        },
    ),
    Rule(
        "740.27(c).AIA-report",
        "aia",
        "obligation",
        lambda c: c.auth_in(["AIA"]),
        "15 CFR 740.27(c)",
        "report the AIA certification to BIS once the consignee's cumulative TPP reaches 253,000,000",
        value={
            "kind": "report",
            "to": "BIS",
            "address": "EARReports@bis.doc.gov",
            "why": "AIA certification: cumulative TPP to this ultimate consignee reaches the "
            "reporting trigger (253,000,000)",
        },
        pool=Pool(
            "aia-reporting",
            _consignee("aia-reporting"),
            lambda c: np.full(c.n, float(c.p("aia.reporting_trigger_tpp"))),
            _tpp_total,
            capped=False,
        ),
        params=("aia.reporting_trigger_tpp",),
    ),
    Rule(
        "740.29.LPP-certification",
        "lpp",
        "obligation",
        lambda c: c.auth_in(["LPP"]),
        "15 CFR 740.29 (FGX summary, UNCONFIRMED)",
        "ultimate consignee certifies it has not received 26,900,000 TPP this calendar year",
        value={
            "kind": "consignee-certification",
            "from": "ultimate consignee",
            "why": "LPP: certify cumulative TPP received this calendar year stays within "
            "26,900,000 (notify BIS on reaching the limit)",
        },
    ),
    Rule(
        "740.28(e).ACM-records",
        "acm",
        "obligation",
        lambda c: c.auth_in(["ACM"]),
        "15 CFR 740.28(e)",
        "facility accounting updated every six months or more frequently",
        value={
            "kind": "recordkeeping",
            "every_months": 6,
            "why": "ACM: keep per-facility accounting of eligible items",
        },
    ),
    Rule(
        "748.15(f).VEU-report",
        "data_center_veu",
        "obligation",
        lambda c: c.auth_in(["UVEU", "NVEU"]),
        "15 CFR 748.15(f)",
        "Data Center VEU semi-annual reports (inventory, receipts; NVEU customers)",
        value={
            "kind": "report",
            "to": "BIS",
            "every_months": 6,
            "why": "Data Center VEU: semi-annual report due July 15 and January 15",
        },
    ),
    Rule(
        "91-FR-1684.certifications",
        "china_review_lane",
        "obligation",
        lambda c: c.review_in(["case-by-case"]),
        "91 FR 1684",
        "exporter certifications for the case-by-case lane",
        value=_china_conditions,
    ),
]
