"""The Streamlit dashboard driven headless through ``streamlit.testing.v1.AppTest``.

The app is pointed at the tiny test bundle (``ECG_BUNDLE``) so results do not depend on the
shipped bundle, and at a temporary review database (``ECG_REVIEW_DB``). Scoring results are
cached by ``st.cache_data`` across the tests of this process.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
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
    # overview, strip, beat detail, HR trend and confusion matrix are drawn
    charts = at.get("plotly_chart")
    assert len(charts) >= 5
    assert "flagged beats with the current threshold" in texts(at)


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
    nav = at.session_state["ctx"]["nav"]
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
    nav = at.session_state["ctx"]["nav"]
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
