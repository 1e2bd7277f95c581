"""Clinician review of flagged beats: an append-only, durable SQLite decision store.

    from ecg.review import ReviewStore
    with ReviewStore() as store:                      # $ECG_REVIEW_DB or data/reviews.db
        store.record_decision("100", 1234, "dr_a", "V", "relabel", new_label="S")
        bulk = store.record_bulk_decision("100", samples, labels, "dr_a", "artefact", family=7)
        store.undo_bulk(bulk, "dr_a")
        labels = store.effective_labels("100", beats_df)

See :mod:`ecg.review.store` for the decision semantics and precedence,
:mod:`ecg.review.reviewed` for the reviewed beat table, summary and output files, and
:mod:`ecg.review.views` for display tables and download bytes.
"""

from __future__ import annotations

from ecg.review.store import (
    ARTEFACT_LABEL,
    DECISIONS,
    DISMISS_LABEL,
    SCHEMA_VERSION,
    Decision,
    ReviewDatabaseError,
    ReviewStore,
    default_db_path,
    effective_label,
    record_review_key,
)

# ecg.review.reviewed and ecg.review.views (outputs, tables and downloads) are imported on their
# own: they pull in the scoring, report and plotting code, which users of the store alone should
# not pay for.

__all__ = [
    "ARTEFACT_LABEL",
    "DECISIONS",
    "DISMISS_LABEL",
    "Decision",
    "ReviewDatabaseError",
    "ReviewStore",
    "SCHEMA_VERSION",
    "default_db_path",
    "effective_label",
    "record_review_key",
]
