"""Clinician review of flagged beats: an append-only, durable SQLite decision store.

    from ecg.review import ReviewStore
    with ReviewStore() as store:                      # $ECG_REVIEW_DB or data/reviews.db
        store.record_decision("100", 1234, "dr_a", "V", "relabel", new_label="S")
        labels = store.effective_labels("100", beats_df)

See :mod:`ecg.review.store` for the decision semantics, :mod:`ecg.review.views` for the
reviewed beat table, display tables and download files.
"""

from __future__ import annotations

from ecg.review.store import (
    DECISIONS,
    DISMISS_LABEL,
    SCHEMA_VERSION,
    Decision,
    ReviewStore,
    default_db_path,
    effective_label,
    record_review_key,
)

# ecg.review.views (tables and downloads) is imported on its own: it pulls in Plotly and the
# report code, which users of the store alone should not pay for.

__all__ = [
    "DECISIONS",
    "DISMISS_LABEL",
    "Decision",
    "ReviewStore",
    "SCHEMA_VERSION",
    "default_db_path",
    "effective_label",
    "record_review_key",
]
