"""Tests of ecg.evaluate.agreement on a small hand-counted beat table and missed table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ecg.evaluate.agreement import Comparison, compare_reference
from ecg.scoring.schema import beat_columns, validate_beat_table

# (ref_class, pred_class, count); ref "" = a detection that matched no reference beat
PAIRS = [
    ("N", "N", 4),
    ("N", "V", 1),
    ("V", "V", 2),
    ("V", "N", 1),
    ("S", "S", 1),
    ("S", "N", 1),
    ("", "N", 1),
    ("", "V", 1),
]


def beat_table() -> pd.DataFrame:
    """12 beats of the schema with the reference / predicted classes of :data:`PAIRS`."""
    ref = [r for r, _, k in PAIRS for _ in range(k)]
    pred = [p for _, p, k in PAIRS for _ in range(k)]
    n = len(ref)
    sample = 360 * (1 + np.arange(n, dtype=np.int64))
    df = pd.DataFrame(
        {
            "sample": sample,
            "time_s": sample / 360.0,
            "lead": "MLII",
            "rr_prev_s": 1.0,
            "rr_next_s": 1.0,
            "pred_class": pred,
            **{f"prob_{c}": 0.2 for c in "NSVFQ"},
            "anomaly_score": 0.5,
            "flagged": [p != "N" for p in pred],
            "flag_reason": ["class" if p != "N" else "" for p in pred],
            "ref_symbol": [{"N": "N", "S": "A", "V": "V", "": ""}[r] for r in ref],
            "ref_class": ref,
            "quality": "good",
            "af": False,
            "nn": True,
            "family": 0,
        }
    )[beat_columns()]
    validate_beat_table(df)
    return df


def missed_table() -> pd.DataFrame:
    """Reference beats no detection matched: one N, one V."""
    return pd.DataFrame({"sample": [50, 5000], "ref_symbol": ["N", "V"], "ref_class": ["N", "V"]})


@pytest.fixture()
def cmp() -> Comparison:
    return compare_reference(beat_table(), missed_table())


def test_confusion_missed_and_extra_counts(cmp: Comparison) -> None:
    # rows reference N, S, V, F, Q; columns predicted N, S, V, F, Q
    expected = np.array([[4, 0, 1, 0, 0], [1, 1, 0, 0, 0], [1, 0, 2, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(cmp.cm, expected)
    np.testing.assert_array_equal(cmp.missed, [1, 0, 1, 0, 0])
    np.testing.assert_array_equal(cmp.extra, [1, 0, 1, 0, 0])
    assert cmp.matched == 10


def test_full_matrix_adds_missed_column_and_extra_row(cmp: Comparison) -> None:
    m, rows, cols = cmp.full_matrix()
    assert rows == ["N", "S", "V", "F", "Q", "extra"] and cols == ["N", "S", "V", "F", "Q", "missed"]
    assert m.shape == (6, 6)
    np.testing.assert_array_equal(m[:5, :5], cmp.cm)
    np.testing.assert_array_equal(m[:5, 5], [1, 0, 1, 0, 0])
    np.testing.assert_array_equal(m[5, :5], [1, 0, 1, 0, 0])
    assert m[5, 5] == 0 and m.sum() == 14


def test_beat_detection_se_and_ppv(cmp: Comparison) -> None:
    det = cmp.detection()
    assert (det["tp"], det["fn"], det["fp"]) == (10, 2, 2)
    assert det["se"] == pytest.approx(10 / 12) and det["ppv"] == pytest.approx(10 / 12)


def test_per_class_and_ec57_statistics_by_hand(cmp: Comparison) -> None:
    pc = cmp.stats["per_class"]
    # N: TP 4; FN = 1 called V + 1 missed; FP = 1 S + 1 V called N + 1 extra N
    assert (pc["N"]["tp"], pc["N"]["fn"], pc["N"]["fp"]) == (4, 2, 3)
    assert pc["N"]["se"] == pytest.approx(4 / 6) and pc["N"]["ppv"] == pytest.approx(4 / 7)
    assert (pc["S"]["tp"], pc["S"]["fn"], pc["S"]["fp"]) == (1, 1, 0)
    # V: FN = 1 called N + 1 missed; FP = 1 N called V + 1 extra V
    assert (pc["V"]["tp"], pc["V"]["fn"], pc["V"]["fp"]) == (2, 2, 2)
    assert (pc["F"]["tp"], pc["F"]["fn"], pc["F"]["fp"]) == (0, 0, 0) and math.isnan(pc["F"]["se"])
    veb, sveb = cmp.stats["veb"], cmp.stats["sveb"]
    assert (veb["tp"], veb["fn"], veb["fp"]) == (2, 2, 2)  # FP: N called V + extra V
    assert (sveb["tp"], sveb["fn"], sveb["fp"]) == (1, 1, 0)


def test_table_in_percent(cmp: Comparison) -> None:
    t = cmp.table()
    assert list(t.index) == ["beat detection", "class N", "class S", "class V", "class F", "VEB (EC57)", "SVEB (EC57)"]
    assert list(t.columns) == ["TP", "FN", "FP", "Se %", "+P %"]
    assert t.loc["beat detection"].tolist() == [10, 2, 2, "83.3", "83.3"]
    assert t.loc["class N"].tolist() == [4, 2, 3, "66.7", "57.1"]
    assert t.loc["class S"].tolist() == [1, 1, 0, "50.0", "100.0"]
    assert t.loc["class V"].tolist() == [2, 2, 2, "50.0", "50.0"]
    assert t.loc["class F"].tolist() == [0, 0, 0, "-", "-"]
    assert t.loc["VEB (EC57)"].tolist() == [2, 2, 2, "50.0", "50.0"]
    assert t.loc["SVEB (EC57)"].tolist() == [1, 1, 0, "50.0", "100.0"]


def test_reviewed_labels_are_compared_through_label_column() -> None:
    beats = beat_table()
    eff = beats["pred_class"].astype(object).copy()
    eff[(beats["ref_class"] == "V") & (beats["pred_class"] == "N")] = "V"  # a reviewer fixes the missed V
    eff[(beats["ref_class"] == "") & (beats["pred_class"] == "V")] = "N"  # and dismisses the extra V
    reviewed = beats.assign(effective_label=eff)
    c = compare_reference(reviewed, missed_table(), label_column="effective_label")
    assert c.cm[2].tolist() == [0, 0, 3, 0, 0]
    np.testing.assert_array_equal(c.extra, [2, 0, 0, 0, 0])
    assert (c.stats["veb"]["tp"], c.stats["veb"]["fn"], c.stats["veb"]["fp"]) == (3, 1, 1)
    # the model's labels are unchanged
    assert compare_reference(reviewed, missed_table()).cm[2].tolist() == [1, 0, 2, 0, 0]


def test_no_reference_gives_undefined_percentages() -> None:
    beats = beat_table().assign(ref_class="", ref_symbol="")
    c = compare_reference(beats, missed_table().iloc[:0])
    assert c.matched == 0 and c.cm.sum() == 0
    np.testing.assert_array_equal(c.extra, [7, 1, 4, 0, 0])
    det = c.detection()
    assert math.isnan(det["se"]) and det["ppv"] == 0.0
    t = c.table()
    assert t.loc["beat detection", "Se %"] == "-" and t.loc["beat detection", "+P %"] == "0.0"
