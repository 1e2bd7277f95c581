"""The Streamlit dashboard driven headless through ``streamlit.testing.v1.AppTest``.

The app is pointed at the tiny test bundle (``ECG_BUNDLE``) so results do not depend on the
shipped bundle, and at a temporary review database (``ECG_REVIEW_DB``). Scoring results are
cached by ``st.cache_data`` across the tests of this process.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from ecg.errors import DownloadError  # noqa: E402
from ecg.review.store import ReviewStore  # noqa: E402
from tests.conftest import DEMO_DIR  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
TIMEOUT = 120


@pytest.fixture()
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_bundle_path: Path) -> Path:
    db = tmp_path / "reviews.db"
    monkeypatch.setenv("ECG_BUNDLE", str(tiny_bundle_path))
    monkeypatch.setenv("ECG_REVIEW_DB", str(db))
    monkeypatch.setenv("ECG_TORCH_THREADS", "1")
    return db


def new_app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> int:
    for m in at.metric:
        if m.label == label:
            return int(str(m.value).replace(",", ""))
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def open_demo(at: AppTest, name: str = "208") -> AppTest:
    at.selectbox(key="demo_record").set_value(name).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def open_tab(at: AppTest, name: str) -> AppTest:
    """Open one of the tabs under the strip (only the open tab is drawn)."""
    at.session_state["main_tab"] = name
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def test_app_starts_without_exception(app_env: Path) -> None:
    at = new_app()
    assert not at.error
    assert any("Choose a record" in i.value for i in at.info)
    assert at.radio(key="src_kind").value == "Demo records"
    assert at.slider(key="threshold").value == 99.0


def test_demo_record_shows_flagged_beats(app_env: Path) -> None:
    at = open_demo(new_app(), "208")
    assert at.title[0].value == "Record 208"
    n_beats, n_flagged = metric(at, "Beats"), metric(at, "Flagged beats")
    assert n_beats > 2000 and 0 < n_flagged <= n_beats
    # a flagged beat is selected and shown with its review form
    sel = at.session_state["sel"]
    assert sel is not None
    assert any(s.value.startswith("Beat at ") for s in at.subheader)
    assert at.radio(key=f"review_decision_{sel}").value is None
    # overview, strip and beat detail are drawn, and the open tab (flagged beats) only
    assert len(at.get("plotly_chart")) == 3
    assert "flagged beats with the current threshold" in texts(at)
    open_tab(at, "Summary")  # the HR trend
    assert len(at.get("plotly_chart")) == 4 and "flagged beats with the current threshold" not in texts(at)
    open_tab(at, "Reference comparison")  # the confusion matrix
    assert len(at.get("plotly_chart")) == 4 and "Beats matched to the reference" in texts(at)
    open_tab(at, "Families")  # the family tiles
    assert len(at.get("plotly_chart")) == 4 and "families hold" in texts(at)
    open_tab(at, "Downloads")
    assert [b.label for b in at.get("download_button")] == [
        "Beat table (CSV, reviewed)",
        "WFDB annotations (.ecg, reviewed labels)",
        "PDF report (reviewed)",
    ]


def test_threshold_slider_changes_flag_count(app_env: Path) -> None:
    at = open_demo(new_app(), "208")
    at1 = metric(at, "Flagged beats")
    at.slider(key="threshold").set_value(90.0).run()
    low = metric(at, "Flagged beats")
    at.slider(key="threshold").set_value(100.0).run()
    high = metric(at, "Flagged beats")
    assert not at.exception
    assert low > at1 >= high
    assert low != high


@pytest.mark.slow
def test_class_filter_limits_navigation(app_env: Path) -> None:
    at = open_demo(new_app(), "208")
    at.slider(key="threshold").set_value(90.0).run()
    at.multiselect(key="class_filter").set_value(["V"]).run()
    assert not at.exception
    nav = at.session_state["ctx"].nav
    # every navigable beat is a flagged V beat; Next moves to a later one
    at.button(key="next_flag").click().run()
    assert not at.exception
    if nav.size > 1:
        assert at.session_state["sel"] in set(nav.tolist())


@pytest.mark.slow
def test_review_decision_lands_in_database(app_env: Path) -> None:
    at = open_demo(new_app(), "208")
    at.text_input(key="reviewer").input("Dr Test").run()
    sel = int(at.session_state["sel"])
    at.radio(key=f"review_decision_{sel}").set_value("relabel")
    at.selectbox(key=f"review_label_{sel}").set_value("S")
    at.text_input(key=f"review_comment_{sel}").input("looks supraventricular")
    at.button(key="save_review").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Saved" in s.value for s in at.success)

    store = ReviewStore(app_env)
    try:
        from ecg.review.store import record_review_key

        key = record_review_key(APP.parents[1] / "data" / "208")
        assert key.startswith("208@")
        assert store.all_decisions("208").empty  # keyed by content, not by the bare name
        rows = store.all_decisions(key)
        assert len(rows) == 1
        row = rows.iloc[0]
        assert int(row["beat_sample"]) == sel
        assert row["reviewer"] == "Dr Test"
        assert row["decision"] == "relabel" and row["new_label"] == "S" and row["effective_label"] == "S"
        assert row["comment"] == "looks supraventricular"
        assert row["bundle_version"]
        assert row["model_label"] in ("N", "S", "V", "F", "Q")
    finally:
        store.close()
    # auto-advance moved to the next flagged beat; the reviewed one shows its review in the table
    assert at.session_state["sel"] != sel


@pytest.mark.slow
def test_review_needs_a_reviewer_name(app_env: Path) -> None:
    at = open_demo(new_app(), "119")
    sel = int(at.session_state["sel"])
    at.radio(key=f"review_decision_{sel}").set_value("confirm")
    at.button(key="save_review").click().run()
    assert any("reviewer" in e.value for e in at.error)
    store = ReviewStore(app_env)
    try:
        assert store.count() == 0
    finally:
        store.close()


@pytest.mark.slow
def test_navigation_buttons_and_jump_to_time(app_env: Path) -> None:
    at = open_demo(new_app(), "208")
    nav = at.session_state["ctx"].nav
    first = at.session_state["sel"]
    assert first == int(nav[0])
    at.button(key="next_flag").click().run()
    assert at.session_state["sel"] == int(nav[1])
    at.button(key="prev_flag").click().run()
    assert at.session_state["sel"] == first
    at.text_input(key="jump").input("0:10:00").run()
    assert not at.exception
    assert at.session_state["strip_t0"] == pytest.approx(595.0)
    fs = 360.0
    assert abs(at.session_state["sel"] / fs - 600.0) < 2.0
    at.text_input(key="jump").input("not a time").run()
    assert any("not a time" in e.value for e in at.error)


@pytest.mark.slow
def test_upload_of_a_valid_record(app_env: Path) -> None:
    at = new_app()
    at.radio(key="src_kind").set_value("Upload WFDB files").run()
    files = [
        (f"100.{e}", (DEMO_DIR / f"100.{e}").read_bytes(), "application/octet-stream") for e in ("hea", "dat", "atr")
    ]
    at.file_uploader(key="upload").set_value(files).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Record 100"
    assert metric(at, "Beats") > 2000
    upload_dir = Path(at.session_state["upload_dir"])
    assert upload_dir.is_dir() and sorted(p.name for p in upload_dir.iterdir()) == ["100.atr", "100.dat", "100.hea"]
    # a new (here: empty) upload removes the previous private folder
    at.file_uploader(key="upload").set_value(None).run()
    assert not at.exception
    assert not upload_dir.exists()


@pytest.mark.parametrize(
    "files, message",
    [
        ([("100.hea", (DEMO_DIR / "100.hea").read_bytes())], "100.dat is missing"),
        ([("junk.hea", b"this is not a header\n"), ("junk.dat", b"\x00" * 100)], "not a WFDB header"),
        ([("x.hea", b"x 1 360 1000\nx.dat 16 200 0 0 0 0 0 I\n"), ("x.dat", b"\x00" * 10)], "truncated"),
    ],
)
def test_invalid_upload_shows_an_error_not_a_traceback(app_env: Path, files, message: str) -> None:
    at = new_app()
    at.radio(key="src_kind").set_value("Upload WFDB files").run()
    at.file_uploader(key="upload").set_value([(n, b, "application/octet-stream") for n, b in files]).run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert message in errors, errors
    at.file_uploader(key="upload").set_value(None).run()  # removes any saved files
    assert "upload_dir" not in at.session_state


def test_physionet_offline_shows_the_download_error(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ecg.io.records as records

    def offline(record, pn_dir, *a, **k):
        raise DownloadError(
            f"physionet:{pn_dir}/{record}: cannot stream the record from PhysioNet "
            "(ConnectionError: offline). Are you online?"
        )

    monkeypatch.setattr(records, "_load_physionet", offline)
    at = new_app()
    at.radio(key="src_kind").set_value("PhysioNet").run()
    at.text_input(key="pn_name").input("mitdb/100").run()
    at.button[0].click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "physionet:mitdb/100" in errors and "Are you online" in errors
    # a malformed name is refused before any download
    at.text_input(key="pn_name").input("not a name!").run()
    at.button[0].click().run()
    assert any("not a PhysioNet record name" in e.value for e in at.error)


def test_flat_record_shows_a_message_and_the_signal(
    app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import wfdb

    d = tmp_path / "flat"
    d.mkdir()
    sig = np.zeros((360 * 30, 1))
    wfdb.wrsamp("flat", fs=360, units=["mV"], sig_name=["MLII"], p_signal=sig, fmt=["16"], write_dir=str(d))
    monkeypatch.setenv("ECG_DATA_DIR", str(d))
    at = new_app()
    at.radio(key="src_kind").set_value("Data directory").run()
    assert at.text_input(key="data_dir").value == str(d)
    at.selectbox(key="dir_record").set_value("flat").run()
    assert not at.exception, at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert re.search(r"could not be scored|No beats", warnings), warnings
    assert at.title[0].value == "Record flat"
    assert len(at.get("plotly_chart")) >= 2  # overview and strip of the raw signal


def test_missing_bundle_shows_the_record_unscored(
    app_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ECG_BUNDLE", str(tmp_path / "missing.pt"))
    at = new_app()
    at.selectbox(key="demo_record").set_value("100").run()
    assert not at.exception
    assert any("No model bundle" in e.value for e in at.error)
    assert at.title[0].value == "Record 100"


@pytest.mark.slow
def test_shipped_bundle_scores_a_demo_record(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ecg.models.bundle import DEFAULT_BUNDLE_PATH

    if not DEFAULT_BUNDLE_PATH.is_file():
        pytest.skip(f"shipped bundle {DEFAULT_BUNDLE_PATH} not present")
    monkeypatch.delenv("ECG_BUNDLE", raising=False)
    monkeypatch.setenv("ECG_REVIEW_DB", str(tmp_path / "r.db"))
    at = open_demo(new_app(), "119")
    assert metric(at, "Beats") > 1500 and metric(at, "Flagged beats") > 0
    # the sidebar offers both shipped bundles, production first; 119 is a training patient of both
    assert at.selectbox(key="bundle_name").value == "production"
    assert "training patient of this bundle" in texts(at)
    at.selectbox(key="bundle_name").set_value("ds1").run()
    assert not at.exception and "training patient of this bundle" in texts(at)
    at.selectbox(key="demo_record").set_value("232").run()  # a DS2 record: unseen by ds1
    assert not at.exception and "training patient of this bundle" not in texts(at)


# -- families ---------------------------------------------------------------------------------


def review_key(name: str) -> str:
    from ecg.review.store import record_review_key

    return record_review_key(APP.parents[1] / "data" / name)


@pytest.mark.slow
def test_family_relabel_in_one_action_then_undo(app_env: Path) -> None:
    at = open_tab(open_demo(new_app(), "208"), "Families")
    at.text_input(key="reviewer").input("Dr Family").run()
    fam = int(at.selectbox(key="family_pick").value)
    at.radio(key=f"family_decision_{fam}").set_value("relabel")
    at.selectbox(key=f"family_label_{fam}").set_value("S")
    at.text_input(key=f"family_comment_{fam}").input("all aberrant")
    at.button(key="family_apply").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Saved family action" in s.value for s in at.success)

    key = review_key("208")
    with ReviewStore(app_env) as store:
        bulk = store.bulk_actions(key)
        assert len(bulk) == 1
        a = bulk.iloc[0]
        assert int(a["family"]) == fam and a["decision"] == "relabel" and a["new_label"] == "S"
        assert a["reviewer"] == "Dr Family" and a["comment"] == "all aberrant" and a["bundle_version"]
        rows = store.all_decisions(key)
        n = int(a["n_beats"])
        assert n > 1 and len(rows) == n  # one decision per beat of the family
        assert (rows["effective_label"] == "S").all()
        latest = store.latest_decisions(key)
        assert len(latest) == n and (latest["effective_label"] == "S").all()
        bid = int(a["id"])
    assert f"undo_bulk_{bid}" in [b.key for b in at.button]
    at.button(key=f"undo_bulk_{bid}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with ReviewStore(app_env) as store:
        b = store.bulk_actions(key).iloc[0]
        assert not pd.isna(b["undone_at"]) and b["undone_by"] == "Dr Family"
        assert store.latest_decisions(key).empty  # undone: no decision counts any more
    assert at.button(key=f"undo_bulk_{bid}").disabled


@pytest.mark.slow
def test_open_family_pages_through_its_beats(app_env: Path) -> None:
    at = open_tab(open_demo(new_app(), "208"), "Families")
    fam = 1
    at.selectbox(key="family_pick").set_value(fam).run()
    at.button(key="family_open").click().run()
    assert not at.exception
    assert at.session_state["open_family"] == fam
    nav = at.session_state["ctx"].nav
    assert nav.size > 1
    assert at.session_state["sel"] == int(nav[0])
    at.button(key="next_flag").click().run()
    assert at.session_state["sel"] == int(nav[1])
    assert any(f"beats of family {fam}" in i.value for i in at.info)
    at.button(key="family_close").click().run()
    assert at.session_state["open_family"] is None
    assert not any("beats of family" in i.value for i in at.info)


def test_family_action_needs_a_reviewer(app_env: Path) -> None:
    at = open_tab(open_demo(new_app(), "119"), "Families")
    fam = int(at.selectbox(key="family_pick").value)
    at.radio(key=f"family_decision_{fam}").set_value("artefact")
    at.button(key="family_apply").click().run()
    assert not at.exception
    assert any("reviewer" in e.value for e in at.error)
    with ReviewStore(app_env) as store:
        assert store.bulk_actions().empty


# -- reviewer identity and the review database --------------------------------------------------


@pytest.mark.slow
def test_signed_in_user_is_the_reviewer(app_env: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.user = {"is_logged_in": True, "name": "Dr Signed", "email": "signed@example.org"}
    at.run()
    assert not at.exception
    shown = at.text_input(key="reviewer_signed_in")
    assert shown.value == "Dr Signed <signed@example.org>" and shown.disabled
    assert not [t for t in at.text_input if t.key == "reviewer"]  # no typed name
    open_demo(at, "119")
    sel = int(at.session_state["sel"])
    at.radio(key=f"review_decision_{sel}").set_value("confirm")
    at.button(key="save_review").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with ReviewStore(app_env) as store:
        rows = store.all_decisions(review_key("119"))
        assert rows["reviewer"].tolist() == ["Dr Signed <signed@example.org>"]


def test_auth_configured_but_signed_out_cannot_save(app_env: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.user = {"is_logged_in": False}  # what st.user holds when [auth] is configured and nobody signed in
    at.run()
    assert not at.exception
    assert any(b.key == "login" for b in at.button)
    assert not [t for t in at.text_input if t.key == "reviewer"]
    open_demo(at, "119")
    sel = int(at.session_state["sel"])
    at.radio(key=f"review_decision_{sel}").set_value("confirm")
    at.button(key="save_review").click().run()
    assert any("Sign in" in e.value for e in at.error)
    with ReviewStore(app_env) as store:
        assert store.count() == 0


def test_damaged_review_database_is_an_error_not_a_traceback(app_env: Path) -> None:
    app_env.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)  # header of a database, garbage after it
    at = open_demo_allow_errors(new_app(), "100")
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert "review database" in errors and str(app_env) in errors and "Reviews are disabled" in errors
    assert at.title[0].value == "Record 100"  # the record is still shown


def open_demo_allow_errors(at: AppTest, name: str) -> AppTest:
    at.selectbox(key="demo_record").set_value(name).run()
    return at


# -- time axes and wording ----------------------------------------------------------------------


def test_time_ticks_in_clock_time_or_elapsed() -> None:
    from datetime import datetime

    from ecg.viz.timeaxis import time_ticks

    vals, text = time_ticks(0, 1805)
    assert text[:3] == ["0:00:00", "0:05:00", "0:10:00"] and vals[1] == 300
    vals, text = time_ticks(0, 86400, datetime(2020, 1, 1, 8, 13, 20))
    assert text[0] == "09:00:00" and vals[0] == pytest.approx(2800.0)  # whole clock hours
    assert len(vals) <= 10
    vals, text = time_ticks(595.0, 605.0)
    assert text[0] == "0:09:55" and len(vals) == 11


def test_prematurity_is_said_in_words() -> None:
    from dashboard.panels.beat import prematurity_text

    text = prematurity_text(0.49, 0.70)
    assert text.startswith("RR before the beat is 70 % of the local mean RR")
    assert prematurity_text(float("nan"), 0.7) == "" and prematurity_text(0.5, None) == ""


def test_reviewer_from_user() -> None:
    from dashboard.identity import reviewer_from_user

    r = reviewer_from_user({}, "  Dr Typed ")
    assert (r.name, r.signed_in, r.auth, r.can_save) == ("Dr Typed", False, False, True)
    assert not reviewer_from_user({}, "").can_save
    r = reviewer_from_user({"is_logged_in": False}, "Dr Typed")
    assert (r.name, r.auth, r.can_save) == ("", True, False)
    r = reviewer_from_user({"is_logged_in": True, "email": "a@b.org"}, "ignored")
    assert (r.name, r.signed_in, r.can_save) == ("a@b.org", True, True)


def test_overview_window_moves_without_rebuilding_the_figure() -> None:
    from dashboard.panels.overview import move_window
    from ecg.io.records import load_record
    from ecg.scoring.schema import empty_beat_table
    from ecg.viz.interactive import WINDOW_COLOR, review_overview_figure

    rec = load_record(str(DEMO_DIR / "100"))
    fig = review_overview_figure(rec, empty_beat_table(), rec.lead_names[0], 99.0, 0.0, 10.0).to_dict()
    move_window(fig, 100.0, 110.0)
    windows = [s for s in fig["layout"]["shapes"] if s.get("fillcolor") == WINDOW_COLOR]
    assert windows and all((s["x0"], s["x1"]) == (100.0, 110.0) for s in windows)
