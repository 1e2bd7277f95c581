"""Event strips chosen by clinical rule (ecg.export.event_strips) on a synthetic beat table
whose events are placed by hand, with the Holter summary computed from it."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from ecg.export.event_strips import (
    EVENT_KINDS,
    EventStrip,
    anomaly_candidates,
    choose_event_strips,
    strip_kinds_sentence,
)
from ecg.scoring.schema import PROB_CLASSES, beat_columns
from ecg.scoring.summary import holter_summary

FS = 250.0
STRIP = 10.0


def build(
    *,
    with_s: bool = True,
    with_af: bool = True,
    with_pause: bool = True,
    n_top: int = 12,
    unreadable_near_top: bool = False,
) -> tuple[pd.DataFrame, int]:
    """A beat table of about 25 minutes at 250 Hz (RR 0.8 s) with, far apart: a tachycardia
    (RR 0.35 s, the maximum HR), a bradycardia (RR 1.6 s, the minimum HR), a 5-beat V run, a
    faster 3-beat V run, a V couplet, a 4-beat S run and a faster 3-beat S run, a 3 s pause, an
    AF episode, morphology families (0: most N beats; 1: the V beats; 2: eight odd N beats) and
    ``n_top`` flagged N beats with distinct high anomaly scores. Returns the table and n_samples."""
    rr = np.full(1800, 0.8)
    cls = np.full(rr.size, "N", dtype=object)
    rr[200:212] = 0.35  # tachycardia: beats 201..212
    rr[400:410] = 1.6  # bradycardia
    cls[600:605] = "V"  # longest V run (5), at RR 0.8
    cls[700:703] = "V"  # fastest V run (3)
    rr[701:703] = 0.45
    cls[800:802] = "V"  # couplet
    if with_s:
        cls[900:904] = "S"  # longest S run (4)
        cls[1000:1003] = "S"  # fastest S run (3)
        rr[1001:1003] = 0.5
    if with_pause:
        rr[1101] = 3.0  # interval from beat 1100 to 1101 (rr[i] is the interval before beat i)
    af = np.zeros(rr.size, bool)
    if with_af:
        af[1200:1300] = True
        rr[1200:1300] = np.random.default_rng(0).uniform(0.5, 1.0, 100)
    t = np.cumsum(rr)
    sample = np.round(t * FS).astype(np.int64)
    n = sample.size
    rng = np.random.default_rng(1)
    score = rng.uniform(1.0, 60.0, n)
    top = np.arange(1400, 1400 + 25 * n_top, 25)[:n_top]  # 20 s apart
    score[top] = 99.0 + np.linspace(0.9, 0.1, top.size)
    family = np.where(cls == "V", 1, 0)
    family[1500:1508] = 2
    family[[50, 51]] = -1
    quality = np.full(n, "good", dtype=object)
    if unreadable_near_top:
        quality[top[0] + 3] = "unreadable"  # 2.4 s after the best-scoring beat
    flagged = (cls != "N") | (score >= 99.0)
    probs = np.full((n, len(PROB_CLASSES)), 0.02)
    probs[np.arange(n), [PROB_CLASSES.index(c) for c in cls]] = 0.9
    rr_s = np.diff(sample) / FS
    df = pd.DataFrame(
        {
            "sample": sample,
            "time_s": sample / FS,
            "lead": "MLII+V1",
            "rr_prev_s": np.r_[np.nan, rr_s],
            "rr_next_s": np.r_[rr_s, np.nan],
            "pred_class": cls.astype(str),
            **{f"prob_{c}": probs[:, k] for k, c in enumerate(PROB_CLASSES)},
            "anomaly_score": score,
            "flagged": flagged,
            "flag_reason": np.where(cls != "N", "class", np.where(score >= 99.0, "anomaly", "")),
            "ref_symbol": "",
            "ref_class": "",
            "quality": quality,
            "af": af,
            "nn": False,
            "family": family.astype(np.int64),
        }
    )[beat_columns()]
    df.loc[df["quality"] == "unreadable", ["pred_class", "flagged"]] = ["Q", False]
    df.loc[df["quality"] == "unreadable", "anomaly_score"] = np.nan
    return df, int(sample[-1] + 5 * FS)


def summarise(beats: pd.DataFrame, n_samples: int, start: datetime | None = None, class_column: str = "pred_class"):
    return holter_summary(
        beats, FS, n_samples / FS, analysable_s=n_samples / FS, start_time=start, class_column=class_column
    )


def by_kind(strips: list[EventStrip]) -> dict[str, EventStrip]:
    return {k: s for s in strips for k in s.kinds}


def assert_no_overlap(strips: list[EventStrip]) -> None:
    starts = [s.start_sample for s in strips]
    assert starts == sorted(starts)
    for a, b in zip(strips[:-1], strips[1:]):
        assert a.end_sample <= b.start_sample


def test_every_rule_is_picked_in_view_and_without_overlap() -> None:
    beats, n = build()
    summary = summarise(beats, n)
    strips = choose_event_strips(summary, beats, FS, n_samples=n, max_strips=40)
    kinds = by_kind(strips)
    clinical = [k for k in EVENT_KINDS if k not in ("family", "anomaly")]
    assert set(clinical) <= set(kinds)
    assert_no_overlap(strips)
    for s in strips:
        assert s.end_sample - s.start_sample == int(STRIP * FS)
        assert 0 <= s.start_sample and s.end_sample <= n
        assert s.start_sample <= s.centre_sample < s.end_sample
        assert s.beat_row is not None and s.start_sample <= beats["sample"].iat[s.beat_row] < s.end_sample
    # each event where it was placed
    rows = {k: kinds[k].beat_row for k in kinds}
    assert rows["V_run_longest"] == 600 and rows["V_run_fastest"] == 700 and rows["V_couplet"] == 800
    assert rows["S_run_longest"] == 900 and rows["S_run_fastest"] == 1000
    assert rows["pause_longest"] == 1100 and rows["af_onset"] == 1200 and rows["af_offset"] == 1299
    assert 195 <= rows["hr_max"] <= 212 and 395 <= rows["hr_min"] <= 410
    # the whole event in view: the 5-beat run, the pause and the HR window
    s = kinds["V_run_longest"]
    assert s.start_sample <= beats["sample"].iat[600] and beats["sample"].iat[604] < s.end_sample
    s = kinds["pause_longest"]
    assert s.start_sample <= beats["sample"].iat[1100] and beats["sample"].iat[1101] < s.end_sample
    assert "Longest pause 3.00 s" in s.label and "Longest V run: 5 beats" in kinds["V_run_longest"].label
    assert "Maximum heart rate 171 bpm" in kinds["hr_max"].label
    # families: the dominant (most N beats) is not shown; the V family and the odd N family are
    fam_rows = [s.beat_row for s in strips if "family" in s.kinds]
    fam_labels = [lab for s in strips for k, lab in zip(s.kinds, s.labels) if k == "family"]
    assert len(fam_labels) == 2
    assert any("Family 1 example" in x and "mostly V" in x for x in fam_labels)
    assert any("Family 2 example (8 beats, mostly N)" in x for x in fam_labels)
    assert not any("Family 0" in x for x in fam_labels)
    assert sorted(int(beats["family"].iat[r]) for r in fam_rows) == [1, 2]


def test_room_is_filled_by_anomaly_score_then_capped() -> None:
    beats, n = build(n_top=12)
    summary = summarise(beats, n)
    full = choose_event_strips(summary, beats, FS, n_samples=n, max_strips=40)
    n_events = sum(1 for s in full if s.kind != "anomaly")
    assert n_events >= 10  # events already in view join a strip (the V family example may)
    strips = choose_event_strips(summary, beats, FS, n_samples=n, max_strips=n_events + 3)
    anomalies = [s for s in strips if s.kind == "anomaly"]
    assert len(strips) == n_events + 3 and len(anomalies) == 3
    top = beats.sort_values("anomaly_score", ascending=False).index[:3]
    assert sorted(s.beat_row for s in anomalies) == sorted(top.tolist())
    assert all("Anomaly score 99." in s.label for s in anomalies)
    assert_no_overlap(strips)
    # no room: clinical rules first, no anomaly strip
    few = choose_event_strips(summary, beats, FS, n_samples=n, max_strips=4)
    assert len(few) == 4
    assert {s.kind for s in few} <= {"hr_max", "hr_min", "pause_longest", "V_run_longest"}
    assert not any(s.kind == "anomaly" for s in few)
    assert choose_event_strips(summary, beats, FS, n_samples=n, max_strips=0) == []


def test_absent_events_are_absent() -> None:
    beats, n = build(with_s=False, with_af=False, with_pause=False)
    beats["family"] = 0
    summary = summarise(beats, n)
    kinds = {k for s in choose_event_strips(summary, beats, FS, n_samples=n, max_strips=40) for k in s.kinds}
    assert not kinds & {"S_run_longest", "S_run_fastest", "af_onset", "af_offset", "pause_longest", "family"}
    assert {"hr_max", "hr_min", "V_run_longest", "V_couplet"} <= kinds
    sentence = strip_kinds_sentence(choose_event_strips(summary, beats, FS, n_samples=n, max_strips=40))
    assert "longest V run" in sentence and "AF" not in sentence


def test_strips_avoid_unreadable_signal() -> None:
    beats, n = build(unreadable_near_top=True)
    summary = summarise(beats, n)
    strips = choose_event_strips(summary, beats, FS, n_samples=n, max_strips=40)
    bad = beats["sample"].to_numpy()[beats["quality"].to_numpy() == "unreadable"]
    assert bad.size == 1
    for s in strips:
        assert not ((bad >= s.start_sample) & (bad < s.end_sample)).any()
    best = int(beats["anomaly_score"].idxmax())
    shown = [s for s in strips if s.beat_row == best]
    assert len(shown) == 1 and shown[0].end_sample <= bad[0]  # moved left to clear the unreadable beat


def test_labels_say_clock_time_when_the_start_is_known() -> None:
    beats, n = build()
    start = datetime(2024, 5, 6, 22, 50, 0)
    strips = choose_event_strips(summarise(beats, n, start), beats, FS, n_samples=n, max_strips=40)
    pause = by_kind(strips)["pause_longest"]
    t = float(beats["time_s"].iat[1100])
    clock = (start + pd.Timedelta(seconds=t)).strftime("%H:%M:%S")
    assert pause.label.endswith(f"at {clock}")
    no_clock = choose_event_strips(summarise(beats, n), beats, FS, n_samples=n, max_strips=40)
    h, rem = divmod(round(t), 3600)
    assert by_kind(no_clock)["pause_longest"].label.endswith(f"at {h}:{rem // 60:02d}:{rem % 60:02d}")


def test_class_column_drives_the_events() -> None:
    beats, n = build()
    beats["effective_label"] = beats["pred_class"]
    beats.loc[800:801, "effective_label"] = "N"  # the couplet reviewed as normal
    beats.loc[1600:1601, "effective_label"] = "V"  # a new couplet
    summary = summarise(beats, n, class_column="effective_label")
    strips = choose_event_strips(summary, beats, FS, n_samples=n, max_strips=40, class_column="effective_label")
    assert by_kind(strips)["V_couplet"].beat_row == 1600
    with pytest.raises(ValueError, match="no column"):
        choose_event_strips(summary, beats, FS, n_samples=n, class_column="nope")


def test_anomaly_candidates_skip_unreadable_beats_pauses_and_artefacts() -> None:
    beats, _ = build(n_top=0)
    b = beats.assign(flagged=False)
    rows = [100, 150, 250, 300, 350]
    b.loc[rows, "flagged"] = True
    b.loc[rows, "anomaly_score"] = [99.9, 99.8, 99.7, 99.6, 99.95]
    b.loc[100, "quality"] = "unreadable"
    b.loc[100, "anomaly_score"] = np.nan
    b.loc[150, "rr_next_s"] = 3.5  # the beat before a pause
    b.loc[250, "quality"] = "noisy"
    b["review_decision"] = ""
    b.loc[350, "review_decision"] = "artefact"
    assert anomaly_candidates(b).tolist() == [300, 250]  # good signal before noisy
