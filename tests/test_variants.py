"""The cross-device variant (a 128 Hz Holter-like recording) and the evaluation protocols."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

from ecg.datasets.variants import holter_variant
from ecg.io.records import load_record
from ecg.reports.evaluation import MODES, evaluate_records, score_for_mode, second_lead


def test_holter_variant_rate_band_and_annotations(demo_dir: Path) -> None:
    rec = load_record("100", demo_dir)
    v = holter_variant(rec)
    assert v.fs == 128.0 and v.name == "100@128Hz" and v.lead_names == rec.lead_names
    assert v.signal.dtype == np.float32 and v.n_samples == pytest.approx(rec.duration_s * 128, abs=2)
    # annotation times kept to within one sample of the new rate
    np.testing.assert_allclose(v.annotations.sample / v.fs, rec.annotations.sample / rec.fs, atol=1 / 128 + 1e-9)
    assert list(v.annotations.symbol) == list(rec.annotations.symbol)
    # the pass band: power above 45 Hz is gone (relative to the original at the same frequencies)
    f0, p0 = welch(rec.signal[:, 0], rec.fs, nperseg=4096)
    f1, p1 = welch(v.signal[:, 0], v.fs, nperseg=2048)
    lo0, lo1 = p0[(f0 > 5) & (f0 < 15)].mean(), p1[(f1 > 5) & (f1 < 15)].mean()
    assert lo1 == pytest.approx(lo0, rel=0.2)  # the QRS band survives
    hi0, hi1 = p0[(f0 > 50) & (f0 < 60)].mean(), p1[(f1 > 50) & (f1 < 60)].mean()
    assert hi1 / lo1 < 0.2 * hi0 / lo0  # 50-60 Hz attenuated
    # a NaN gap stays a gap
    gappy = rec.signal.copy()
    gappy[36000:37800] = np.nan
    g = holter_variant(type(rec)(**{**rec.__dict__, "signal": gappy}))
    t = np.arange(g.n_samples) / g.fs
    assert np.isnan(g.signal[(t > 100.2) & (t < 104.8), 0]).all() and not np.isnan(g.signal[t < 99, 0]).any()
    with pytest.raises(ValueError, match="band"):
        holter_variant(rec, fs_out=64.0, band_hz=(0.05, 40.0))


@pytest.mark.slow
def test_evaluation_protocols(demo_dir: Path, tiny_bundle) -> None:
    rec = load_record("100", demo_dir)
    assert rec.lead_names[second_lead(rec)] == "V5"
    assert score_for_mode(rec, tiny_bundle, "cross_lead").lead == "V5"
    dev = score_for_mode(rec, tiny_bundle, "cross_device")
    assert dev.record.fs == 128.0 and dev.lead == "MLII+V5"
    with pytest.raises(ValueError, match="unknown mode"):
        score_for_mode(rec, tiny_bundle, "sideways")
    res = evaluate_records(tiny_bundle, ["100"], demo_dir, modes=MODES, progress=False)
    assert set(res["modes"]) == set(MODES)
    for m in MODES:
        st = res["modes"][m]["statistics"]
        assert st["beats"] > 2000, m  # every beat matched, at every rate
    assert res["threshold"] == pytest.approx(tiny_bundle.scorer.threshold)
