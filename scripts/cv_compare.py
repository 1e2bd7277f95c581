"""Compare two DS1 cross-validation results (``scripts/cv_ds1.py --json``) fold by fold.

    python scripts/cv_compare.py BASELINE.json VARIANT.json

Prints, for jκ and macro-F1, each fold's value for both runs, how many folds the variant
improves, the means and the pooled statistics, and the adoption rule set before any of these
comparisons: adopt a variant only if mean jκ and mean macro-F1 both improve and jκ improves
in at least 4 of the 5 folds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, write_json  # noqa: E402

KEYS = ("j_kappa", "macro_f1", "veb_f1", "sveb_f1")


def compare(base: dict, variant: dict) -> dict:
    folds = []
    for b, v in zip(base["folds"], variant["folds"]):
        if b["test"] != v["test"]:
            raise SystemExit(f"fold {b['fold']} tests different records: {b['test']} vs {v['test']}")
        folds.append({"fold": b["fold"], **{f"{k}_base": b[k] for k in KEYS}, **{f"{k}_variant": v[k] for k in KEYS}})
    better = sum(f["j_kappa_variant"] > f["j_kappa_base"] for f in folds)
    mean = {
        k: (sum(f[f"{k}_base"] for f in folds) / len(folds), sum(f[f"{k}_variant"] for f in folds) / len(folds))
        for k in KEYS
    }
    pooled = {k: (base.get("pooled", {}).get(k), variant.get("pooled", {}).get(k)) for k in KEYS}
    rule = mean["j_kappa"][1] > mean["j_kappa"][0] and mean["macro_f1"][1] > mean["macro_f1"][0] and better >= 4
    return {"folds": folds, "folds_jk_better": better, "mean": mean, "pooled": pooled, "rule_met": rule}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("baseline", type=Path)
    ap.add_argument("variant", type=Path)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    print(f"# {command_line()}")
    base, variant = (json.loads(p.read_text()) for p in (args.baseline, args.variant))
    res = compare(base, variant)
    print(f"baseline {args.baseline} ({base.get('overrides') or 'no overrides'})")
    print(f"variant  {args.variant} ({variant.get('overrides') or 'no overrides'})\n")
    print("fold  " + "  ".join(f"{k:>17}" for k in KEYS))
    for f in res["folds"]:
        print(
            f"{f['fold']:>4}  " + "  ".join(f"{f[k + '_base']:.3f} -> {f[k + '_variant']:.3f}".rjust(17) for k in KEYS)
        )
    print("mean  " + "  ".join(f"{a:.3f} -> {b:.3f}".rjust(17) for a, b in res["mean"].values()))
    print(
        "pool  "
        + "  ".join(
            (f"{a:.3f} -> {b:.3f}" if a is not None and b is not None else "-").rjust(17)
            for a, b in res["pooled"].values()
        )
    )
    print(
        f"\njκ better in {res['folds_jk_better']} of {len(res['folds'])} folds; "
        f"rule (mean jκ and macro-F1 up, jκ up in >= 4 folds) {'MET' if res['rule_met'] else 'NOT met'}"
    )
    if args.json:
        write_json(
            args.json, {"command": command_line(), "baseline": str(args.baseline), "variant": str(args.variant), **res}
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
