"""Build the default screening bundle shipped in the package from ../shared/data.

Usage: python tools/build_screening_bundle.py [SHARED_DATA_DIR]

Writes src/sluicegate/screening/data/bundle.jsonl.gz (manifest, entities, no ownership edges)
and PROVENANCE.md beside it. Snapshot dates come from each folder's README (the files
themselves often carry none). From the trade.gov CSL samples only the sub-lists for which no
full list is shipped are taken (MEU, UVL, ISN, DTC); every other sub-list comes from its full
source file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sluicegate.screening.loaders import LoadedList, read_list
from sluicegate.screening.normalize import analyse
from sluicegate.screening.store import merge, write_set

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "sluicegate" / "screening" / "data"

# (relative path, snapshot date from the folder README, provenance line)
SOURCES = [
    (
        "ofac-sdn-2021/sdn.csv",
        "2021-07-07",
        "OFAC SDN list, legacy CSV (sdn/alt/add/sdn_comments), via moov-io/watchman test data "
        "commit 05de7744; US Government work, public domain",
    ),
    (
        "ofac-consolidated-nonsdn-2025/cons_prim.csv",
        "2025-12-19",
        "OFAC Consolidated non-SDN list (cons_prim/alt/add/comments), via moov-io/watchman commit "
        "fca231b0; US Government work, public domain",
    ),
    (
        "bis-dpl-2022/dpl.txt",
        "2022-09-02",
        "BIS Denied Persons List (tab-separated), via moov-io/watchman commit 47c1703b; US "
        "Government work, public domain",
    ),
    (
        "bis-entity-list/bis_entity_list.csv",
        "2026-07-09",
        "BIS Entity List (Supp. No. 4 to part 744) from the eCFR text, via phagehunter/nsfreg "
        "commit f77a4b98 (data only); US Government work, public domain. No licence review "
        "policy in the source: the list default (presumption of denial) is applied",
    ),
    (
        "opensanctions-us-lists/us_dod_1260h_chinese_military_companies.csv",
        "2026-08-20",
        "DoD Section 1260H list, OpenSanctions source CSV (opensanctions/opensanctions f33cff23); "
        "list is a US Government work; file from an MIT-licensed repository, © Friedrich "
        "Lindenberg, Journalism Development Network (MIT notice below)",
    ),
    (
        "opensanctions-us-lists/us_bis_mieu.csv",
        "2026-07-27",
        "BIS Military-Intelligence End Users (744.22), OpenSanctions source CSV (MIT, notice below)",
    ),
    (
        "opensanctions-us-lists/us_ndaa_section_889.csv",
        "2026-08-18",
        "NDAA FY2019 s.889 companies, OpenSanctions source CSV (MIT, notice below)",
    ),
    (
        "opensanctions-us-lists/us_fcc_covered_list.csv",
        "2026-08-20",
        "FCC Covered List, OpenSanctions source CSV (MIT, notice below); category entries that "
        "name no company are not parties",
    ),
    (
        "trade-csl-samples/consolidated_2025_sample.csv",
        "2025-06-25",
        "trade.gov Consolidated Screening List sample rows (2025 layout), via moov-io/watchman "
        "commit 11e7a4ae; US Government work, public domain. Only MEU, UVL, ISN, DTC rows kept",
    ),
    (
        "trade-csl-samples/csl_2019_sample.csv",
        "2019-12-03",
        "trade.gov CSL sample rows (2019 layout), via moov-io/watchman commit 5250f91c; public "
        "domain. Only MEU, UVL, ISN, DTC rows kept",
    ),
]
CSL_ONLY = {"bis-meu", "bis-uvl", "state-isn", "state-dtc"}


def build(shared: Path) -> None:
    loaded: list[LoadedList] = []
    csl_seen: set[tuple[str, tuple[str, ...]]] = set()
    for rel, snapshot, _why in SOURCES:
        item = read_list(shared / rel, snapshot)
        if "trade-csl" in rel:
            kept = []
            for entity in item.entities:
                key = (entity.list, analyse(entity.name).tokens)
                if entity.list in CSL_ONLY and key not in csl_seen:
                    csl_seen.add(key)
                    kept.append(entity)
            item.entities = kept
        for entity in item.entities:
            entity.snapshot = snapshot
        loaded.append(item)
        print(f"{rel}: {len(item.entities)} entities", file=sys.stderr)
    bundle = merge(None, loaded, "bundle")
    for meta in bundle.lists.values():
        meta["loaded_at"] = None  # deterministic output
        meta["sources"] = [str(Path(s).relative_to(shared)) for s in meta["sources"]]
        meta["snapshot_basis"] = "folder README of ../shared/data"
    write_set(bundle, OUT / "bundle.jsonl.gz")
    lines = [
        "# Default screening bundle: provenance",
        "",
        "`bundle.jsonl.gz` is built by `tools/build_screening_bundle.py` from the reference data in",
        "`../shared/data/` (each folder's README names origin repository, commit and licence). It lets",
        "`sluice screen` work out of the box. **Several lists are old snapshots** (SDN mid-2021, DPL",
        "Sept 2022): `sluice lists status` flags them as stale; load current official files with",
        "`sluice lists load` before relying on results.",
        "",
        "| list | entities | snapshot | source and licence |",
        "|---|---|---|---|",
    ]
    for code, meta in sorted(bundle.lists.items()):
        why = "; ".join(w for rel, _s, w in SOURCES if rel in meta["sources"])
        lines.append(f"| {code} | {meta['count']} | {meta['snapshot']} | {why} |")
    lines += [
        "",
        "## Licence notices",
        "",
        "US Government works (OFAC, BIS, State, DoD, FCC, ITA lists) are in the public domain",
        "(17 U.S.C. 105).",
        "",
        "The OpenSanctions source CSVs come from https://github.com/opensanctions/opensanctions,",
        "MIT licence:",
        "",
        "> Copyright (c) Friedrich Lindenberg, Journalism Development Network.",
        "> Permission is hereby granted, free of charge, to any person obtaining a copy of this software",
        '> and associated documentation files (the "Software"), to deal in the Software without',
        "> restriction, including without limitation the rights to use, copy, modify, merge, publish,",
        "> distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the",
        "> Software is furnished to do so, subject to the following conditions: The above copyright",
        "> notice and this permission notice shall be included in all copies or substantial portions of",
        '> the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.',
        "",
        "The OFAC, DPL and CSL files were taken from the test data of https://github.com/moov-io/watchman",
        "(Apache License 2.0, Copyright moov-io authors); the data itself is a US Government work.",
        "The cross-script name pairs used by the tests and the benchmark (not shipped in the bundle)",
        "are from the same repository, Apache License 2.0, Copyright moov-io authors.",
        "",
    ]
    (OUT / "PROVENANCE.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUT / 'bundle.jsonl.gz'}: {len(bundle.entities)} entities", file=sys.stderr)


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data")
