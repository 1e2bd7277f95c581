"""The DS1 cross-validation helpers: pooled statistics and the fold-by-fold comparison rule."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def _load(name: str):
    sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _matrix(n_n=90, s_tp=6, s_as_n=4, n_as_s=2) -> list[list[int]]:
    m = np.zeros((6, 6), int)
    m[0, 0], m[0, 1] = n_n, n_as_s
    m[1, 1], m[1, 0] = s_tp, s_as_n
    m[2, 2] = 10
    return m.tolist()


def test_pooled_statistics_sum_the_fold_matrices() -> None:
    cv = _load("cv_ds1")
    pooled = cv.pooled_statistics([_matrix(s_tp=6, s_as_n=4, n_as_s=2), _matrix(s_tp=2, s_as_n=0, n_as_s=6)])
    # S: TP 8, FN 4, FP 8 -> Se 8/12, +P 8/16, F1 16/28
    assert pooled["sveb_se"] == pytest.approx(8 / 12)
    assert pooled["sveb_ppv"] == pytest.approx(0.5)
    assert pooled["sveb_f1"] == pytest.approx(16 / 28)
    assert pooled["veb_f1"] == pytest.approx(1.0)


def _run(jk: list[float], macro: list[float]) -> dict:
    return {
        "folds": [
            {"fold": k, "test": [str(k)], "j_kappa": j, "macro_f1": m, "veb_f1": 0.9, "sveb_f1": 0.5}
            for k, (j, m) in enumerate(zip(jk, macro))
        ],
        "pooled": {"j_kappa": float(np.mean(jk)), "macro_f1": float(np.mean(macro))},
    }


def test_compare_applies_the_adoption_rule(tmp_path: Path, capsys) -> None:
    cmp = _load("cv_compare")
    base = _run([0.5] * 5, [0.5] * 5)
    four = cmp.compare(base, _run([0.6, 0.6, 0.6, 0.6, 0.49], [0.6] * 5))
    assert four["folds_jk_better"] == 4 and four["rule_met"]
    three = cmp.compare(base, _run([0.9, 0.9, 0.9, 0.5, 0.5], [0.9] * 5))
    assert three["folds_jk_better"] == 3 and not three["rule_met"]
    worse_macro = cmp.compare(base, _run([0.6] * 5, [0.4] * 5))
    assert not worse_macro["rule_met"]
    with pytest.raises(SystemExit, match="different records"):
        other = _run([0.6] * 5, [0.6] * 5)
        other["folds"][0]["test"] = ["999"]
        cmp.compare(base, other)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(base))
    b.write_text(json.dumps(_run([0.6] * 5, [0.6] * 5)))
    assert cmp.main([str(a), str(b), "--json", str(tmp_path / "c.json")]) == 0
    assert "rule (mean jκ and macro-F1 up, jκ up in >= 4 folds) MET" in capsys.readouterr().out
    assert json.loads((tmp_path / "c.json").read_text())["folds_jk_better"] == 5
