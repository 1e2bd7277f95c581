"""EC57 statistics checked against hand-computed confusion matrices."""

from __future__ import annotations

import numpy as np
import pytest

from ecg.evaluate.metrics import (
    cohen_kappa,
    confusion_matrix,
    ec57_statistics,
    macro_f1,
    per_class_stats,
    pr_auc,
    roc_auc,
)


def test_confusion_matrix_by_hand() -> None:
    cm = confusion_matrix(list("NNNSVVFQ"), list("NNSSVNVN"))
    expected = np.zeros((5, 5), int)
    expected[0, 0] = 2  # N->N
    expected[0, 1] = 1  # N->S
    expected[1, 1] = 1  # S->S
    expected[2, 2] = 1  # V->V
    expected[2, 0] = 1  # V->N
    expected[3, 2] = 1  # F->V
    expected[4, 0] = 1  # Q->N
    np.testing.assert_array_equal(cm, expected)


def test_ec57_gross_statistics_by_hand() -> None:
    # rows: reference N S V F Q; columns: predicted N S V F Q
    cm = np.array(
        [
            [900, 10, 5, 2, 0],  # N
            [20, 60, 4, 0, 0],  # S
            [6, 3, 90, 1, 0],  # V
            [2, 0, 7, 10, 0],  # F
            [1, 1, 1, 0, 0],  # Q
        ]
    )
    st = ec57_statistics(cm)
    veb = st["veb"]
    assert veb["tp"] == 90
    assert veb["fn"] == 6 + 3 + 1  # Vn + Vs + Vf (+ Vq = 0)
    assert veb["fp"] == 5 + 4  # Nv + Sv; Fv (7) and Qv (1) are not counted
    assert veb["se"] == pytest.approx(90 / 100)
    assert veb["ppv"] == pytest.approx(90 / 99)
    assert veb["f1"] == pytest.approx(2 * 90 / (2 * 90 + 10 + 9))
    total = cm.sum()
    assert veb["tn"] == total - 90 - 10 - 9 - 7 - 1
    assert veb["fpr"] == pytest.approx(9 / (9 + veb["tn"]))
    sveb = st["sveb"]
    assert sveb["tp"] == 60
    assert sveb["fn"] == 20 + 4  # Sn + Sv
    assert sveb["fp"] == 10 + 3 + 0  # Ns + Vs + Fs; Qs (1) is not counted
    assert sveb["f1"] == pytest.approx(120 / (120 + 24 + 13))
    n = st["per_class"]["N"]
    assert n["se"] == pytest.approx(900 / 917) and n["ppv"] == pytest.approx(900 / 929)
    assert st["accuracy"] == pytest.approx((900 + 60 + 90 + 10) / cm[:4, :4].sum())


def test_ec57_missed_and_extra_beats() -> None:
    cm = np.zeros((5, 5), int)
    cm[0, 0], cm[2, 2] = 100, 10
    st = ec57_statistics(cm, missed=[3, 0, 2, 0, 0], extra=[1, 0, 4, 0, 0])
    assert st["veb"]["fn"] == 2 and st["veb"]["fp"] == 4
    assert st["veb"]["se"] == pytest.approx(10 / 12) and st["veb"]["ppv"] == pytest.approx(10 / 14)
    assert st["per_class"]["N"]["se"] == pytest.approx(100 / 103)
    assert st["beats"] == 115


def test_kappa_macro_f1_and_jkappa() -> None:
    cm = np.array([[50, 10], [5, 35]])
    po, pe = 85 / 100, (60 * 55 + 40 * 45) / 100**2
    assert cohen_kappa(cm) == pytest.approx((po - pe) / (1 - pe))
    assert macro_f1(cm) == pytest.approx(np.mean([100 / 115, 70 / 85]))
    s = per_class_stats(cm, ("a", "b"))
    assert s["a"]["fpr"] == pytest.approx(5 / 40)
    cm5 = np.diag([100, 10, 10, 5, 0])
    st = ec57_statistics(cm5)
    assert st["kappa"] == pytest.approx(1.0) and st["j_kappa"] == pytest.approx(1.0)


def test_roc_and_pr_auc_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert roc_auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)
    # ranking: 0.8(+) 0.4(-) 0.35(+) 0.1(-): AP = 1/2 * 1 + 1/2 * 2/3
    assert pr_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.5 + 1 / 3)
    assert np.isnan(roc_auc(np.ones(3), np.arange(3)))
