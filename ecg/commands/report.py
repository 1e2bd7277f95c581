"""``ecg report RECORD --reviews DB --out DIR``: the reviewed outputs of one record.

Scores RECORD (as ``ecg score`` does), applies the review decisions stored for it in the review
database DB (the dashboard's, ``ECG_REVIEW_DB``) and writes the reviewed files into
``DIR/<record>_reviewed/`` (see :mod:`ecg.review.reviewed`).

The decisions of a record are found under its review key, as the dashboard stores them: for a
local recording ``<name>@<digest of its files>`` (:func:`ecg.review.record_review_key`; the same
files anywhere give the same key), for a PhysioNet record its name (``mitdb/100``); ``--key``
names another key. A record without decisions is still reported (its files then carry the
model's labels and say "0 beats reviewed"), with a warning on stderr naming the key looked up
and any keys of the same record name in DB. Exit status: 0 written, 2 error (missing database,
damaged database, unreadable record...).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecg.commands.options import (
    add_bundle,
    add_formats,
    add_full_disclosure,
    add_lead,
    add_threshold,
    formats_value,
    lead_value,
)

# The library (pandas, torch, the exporters) is imported inside the command so that
# `ecg --help` starts fast.


def _report(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    import numpy as np

    from ecg.errors import ECGError
    from ecg.io.records import load_record
    from ecg.models.bundle import load_bundle
    from ecg.review.reviewed import apply_review, review_source, reviewed_name, write_reviewed_outputs
    from ecg.review.store import ReviewStore, record_review_key
    from ecg.scoring.batch import ALL_FORMATS, resolve_inputs
    from ecg.scoring.score import score_record

    formats = formats_value(args.formats, ALL_FORMATS)
    unknown = [f for f in formats if f not in ALL_FORMATS]
    if unknown:
        raise ECGError(f"unknown output formats {', '.join(unknown)}; expected some of {', '.join(ALL_FORMATS)}")
    db = Path(args.reviews)
    if not db.is_file():
        raise ECGError(f"{db}: review database not found (give the file the dashboard uses, e.g. data/reviews.db)")
    inputs = resolve_inputs([args.record])
    if len(inputs) != 1:
        raise ECGError(f"{args.record}: holds {len(inputs)} recordings; ecg report takes one record")
    rec = inputs[0]
    key = args.key or (f"{rec.pn_dir}/{rec.name}" if rec.pn_dir else record_review_key(str(rec.path)))

    with ReviewStore(db) as store:  # opened first: a damaged database fails before the scoring
        latest = store.latest_decisions(key)
        keys = store.records() if latest.empty else []
        source = review_source(store, key)

    lead = lead_value(args.lead)
    bundle = load_bundle(args.bundle)
    record = load_record(rec.name, pn_dir=rec.pn_dir) if rec.pn_dir else rec.path
    scored = score_record(record, bundle, lead=lead, threshold=args.threshold)
    reviewed = apply_review(scored, latest, source=source)
    info = reviewed.summary.review
    if latest.empty:
        same_name = [k for k in keys if k.split("@", 1)[0] == key.split("@", 1)[0] and k != key]
        hint = f"; other recordings named {rec.name} have some: {', '.join(same_name)} (--key)" if same_name else ""
        print(
            f"ecg report: warning: no review decisions under key {key} in {db}; "
            f"the outputs carry the model's labels (0 beats reviewed){hint}",
            file=sys.stderr,
        )
    else:
        stray = int((~np.isin(latest["beat_sample"].to_numpy(), scored.beats["sample"].to_numpy())).sum())
        if stray:
            print(
                f"ecg report: warning: {stray} of {len(latest)} reviewed beats are not beats of this scoring "
                "(another bundle, lead or detection?); they are left out",
                file=sys.stderr,
            )
    manifest = {
        "record": rec.name,
        "input": rec.label,
        "reviews": str(db.resolve()),
        "review_key": key,
        "bundle_version": scored.bundle_version,
        "threshold": scored.threshold,
        "lead": scored.lead,
        "formats": list(formats),
        "full_disclosure": bool(args.full_disclosure),
        "review": {
            "reviewed_beats": info.reviewed_beats,
            "changed_beats": info.changed_beats,
            "artefact_beats": info.artefact_beats,
            "reviewers": info.reviewers,
            "last_decision_at": info.last_decision_at,
        },
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    written = write_reviewed_outputs(
        reviewed, args.out, formats, name=rec.name, full_disclosure=args.full_disclosure, manifest=manifest
    )
    who = f" by {', '.join(info.reviewers)}" if info.reviewers else ""
    print(
        f"{rec.name}: {len(scored.beats):,} beats, {info.reviewed_beats:,} reviewed{who} "
        f"({info.changed_beats:,} changed, {info.artefact_beats:,} marked artefact); review key {key}"
    )
    files = ", ".join(p.name for p in written.values())
    print(f"reviewed outputs in {Path(args.out) / reviewed_name(rec.name)}/: {files}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write a record's reviewed outputs (the reviewers' labels from the review database)",
        description="Score RECORD, apply the review decisions stored for it in the review database and write the "
        "reviewed beat table, summary, WFDB annotations, EDF and PDF into OUT/<record>_reviewed/.",
    )
    p.add_argument(
        "record",
        metavar="RECORD",
        help="a record path (WFDB with or without .hea; EDF, BDF or ISHNE file) or a PhysioNet name such as mitdb/100",
    )
    p.add_argument("--reviews", required=True, metavar="DB", help="review database (the dashboard's ECG_REVIEW_DB)")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument(
        "--key",
        default=None,
        help="review key the decisions are stored under (default: the record's, as the dashboard computes it)",
    )
    add_bundle(p, "use the one the reviewers saw")
    add_formats(p)
    add_threshold(p)
    add_lead(p)
    add_full_disclosure(p)
    p.set_defaults(func=_report)
