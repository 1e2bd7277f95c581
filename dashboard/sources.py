"""Where a record comes from (sidebar): the demo records, a data directory, an upload or
PhysioNet; and the cached resources behind the page (model bundle, review store, loaded and
scored records).

Uploaded files live in a private temporary folder for as long as the browser session holds
them: the folder is a session-scoped cached resource whose release (a new upload, or the
session's end: the tab closed, the connection dropped) deletes it, and a sweep at start-up
(then at most hourly) deletes upload folders left older than ``$ECG_UPLOAD_MAX_AGE_H`` hours
(default :data:`ecg.io.uploads.UPLOAD_MAX_AGE_H`) by a server that was killed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, NamedTuple

import streamlit as st

from dashboard.state import UIState
from ecg.errors import RecordError
from ecg.io.records import Record, is_physionet_name, list_records, load_record
from ecg.io.uploads import (
    ALLOWED_EXTENSIONS,
    MAX_TOTAL_BYTES,
    UPLOAD_MAX_AGE_H,
    UploadError,
    UploadResult,
    remove_upload_dir,
    save_wfdb_upload,
    sweep_stale_uploads,
    touch_upload_dir,
)
from ecg.models.bundle import BUNDLE_NAMES, DEFAULT_BUNDLE, ModelBundle, bundle_path, load_bundle
from ecg.review.store import ReviewStore, record_review_key
from ecg.scoring.score import ScoredRecord, score_record

log = logging.getLogger("ecg.dashboard")

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "data"
DEMO_NOTES = {
    "100": "mostly normal sinus rhythm, a few atrial premature beats",
    "119": "ventricular bigeminy and trigeminy",
    "208": "frequent ventricular ectopy, couplets and fusion beats",
    "232": "sinus bradycardia, many supraventricular ectopic beats, long pauses",
}
SOURCES = ("Demo records", "Data directory", "Upload WFDB files", "PhysioNet")
#: Environment variable: hours after which a left-over upload folder is swept away.
ENV_UPLOAD_MAX_AGE_H = "ECG_UPLOAD_MAX_AGE_H"


class Source(NamedTuple):
    """The chosen record: ``kind`` (demo, dir, upload, physionet), ``ref`` (path without
    extension, or ``db/record``) and a display ``label``."""

    kind: str
    ref: str
    label: str

    @property
    def token(self) -> str:
        """Changes when the record's files change (so cached results are not stale)."""
        if self.kind == "physionet":
            return ""
        parts = []
        for ext in ("hea", "dat", "atr"):
            try:
                s = Path(self.ref + "." + ext).stat()
                parts.append(f"{ext}:{s.st_size}:{s.st_mtime_ns}")
            except OSError:
                parts.append(f"{ext}:-")
        return "|".join(parts)


# ---------------------------------------------------------------------------------------------
# cached resources and data
# ---------------------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def set_torch_threads(n: int) -> int:
    """Set PyTorch's thread count once per server process."""
    import torch

    torch.set_num_threads(max(1, n))
    return torch.get_num_threads()


@st.cache_resource(show_spinner="Loading the model bundle...")
def get_bundle(path: str, mtime: float) -> ModelBundle:
    """The model bundle at ``path`` (reloaded when the file changes)."""
    return load_bundle(path)


@st.cache_resource(show_spinner=False)
def get_store(path: str) -> ReviewStore:
    """One review store per database file, shared by every session."""
    return ReviewStore(path)


@st.cache_data(max_entries=8, show_spinner=False)
def get_record(kind: str, ref: str, token: str) -> Record:
    """A record from disk (``ref`` = path without extension) or PhysioNet (``db/record``)."""
    if kind == "physionet":
        db, _, name = ref.rpartition("/")
        return load_record(name, pn_dir=db)
    return load_record(ref)


@st.cache_data(max_entries=32, show_spinner=False)
def get_review_key(kind: str, ref: str, token: str) -> str:
    """Reviews are stored under the record's name plus a digest of its files, so a different
    recording that happens to share a name never shows these reviews."""
    if kind == "physionet":
        return ref
    return record_review_key(ref)


@st.cache_data(max_entries=8, show_spinner=False)
def get_scored(
    kind: str, ref: str, token: str, lead: str | None, bundle_key: str, _bundle: ModelBundle
) -> ScoredRecord:
    """``score_record`` of the record with the bundle (identified by ``bundle_key``)."""
    return score_record(get_record(kind, ref, token), _bundle, lead=lead)


def chosen_bundle_path() -> Path:
    """``$ECG_BUNDLE`` (a bundle name or file) when set, else the sidebar's choice."""
    env = os.environ.get("ECG_BUNDLE")
    if env:
        return bundle_path(env)
    name = st.sidebar.selectbox(
        "Model bundle",
        list(BUNDLE_NAMES),
        index=list(BUNDLE_NAMES).index(DEFAULT_BUNDLE),
        key="bundle_name",
        format_func=lambda n: {
            "production": "production (trained on all 44 records)",
            "ds1": "ds1 (evaluation: trained on DS1 only)",
        }.get(n, n),
    )
    return bundle_path(name)


# ---------------------------------------------------------------------------------------------
# uploads: a private folder per browser session
# ---------------------------------------------------------------------------------------------


def upload_max_age_h() -> float:
    """``$ECG_UPLOAD_MAX_AGE_H`` when set to a positive number, else the library default."""
    try:
        v = float(os.environ.get(ENV_UPLOAD_MAX_AGE_H, "") or UPLOAD_MAX_AGE_H)
    except ValueError:
        return UPLOAD_MAX_AGE_H
    return v if v > 0 else UPLOAD_MAX_AGE_H


@st.cache_resource(ttl=3600, show_spinner=False)
def sweep_uploads_once(max_age_h: float) -> int:
    """Delete upload folders older than ``max_age_h`` hours (at start-up, then at most hourly)."""
    removed = sweep_stale_uploads(max_age_h=max_age_h)
    if removed:
        log.info("removed %d stale upload folder(s)", len(removed))
    return len(removed)


def _release_upload(result: UploadResult) -> None:
    """Called by Streamlit when the session's upload leaves its cache (a new upload, or the
    session disconnected or closed): the files are deleted."""
    remove_upload_dir(result.directory)


@st.cache_resource(scope="session", max_entries=1, on_release=_release_upload, show_spinner=False)
def saved_upload(signature: tuple, _files: list[Any]) -> UploadResult:
    """The session's uploaded files (``signature`` identifies them) saved into a private
    folder; deleted when released (see :func:`_release_upload`)."""
    return save_wfdb_upload([(f.name, f) for f in _files])


def handle_upload(state: UIState, files: list[Any]) -> Source | None:
    """Save the upload (once per set of files), return the record to show."""
    if not files:
        remove_upload_dir(state.upload_dir)
        state.upload_dir = None
        saved_upload.clear()
        st.sidebar.caption(
            "Choose the record's .hea and .dat files (and its .atr, if any) together, or one EDF, BDF or ISHNE file."
        )
        return None
    sig = tuple((f.name, getattr(f, "size", None), getattr(f, "file_id", None)) for f in files)
    try:
        res = saved_upload(sig, files)
        if not res.directory.is_dir():  # swept away (or released on a reconnect): save again
            saved_upload.clear()
            res = saved_upload(sig, files)
    except UploadError as exc:
        saved_upload.clear()  # releases (deletes) an earlier upload of this session
        state.upload_dir = None
        st.error(f"Upload not usable: {exc}")
        return None
    except Exception as exc:  # never a traceback for a bad upload
        log.exception("upload failed")
        state.upload_dir = None
        st.error(f"Upload not usable: the upload could not be saved: {type(exc).__name__}: {exc}")
        return None
    touch_upload_dir(res.directory)  # in use: not stale for the sweep
    state.upload_dir = str(res.directory)
    if res.ignored:
        st.sidebar.caption("Ignored: " + ", ".join(res.ignored))
    recs = [(r.name, str(r.base)) for r in res.records]
    if not recs:
        return None
    names = [n for n, _ in recs]
    name = names[0] if len(names) == 1 else st.sidebar.selectbox("Uploaded record", names, key="upload_record")
    return Source("upload", dict(recs)[name], f"upload:{name}")


# ---------------------------------------------------------------------------------------------
# the sidebar's record chooser
# ---------------------------------------------------------------------------------------------


def on_load_physionet() -> None:
    state = UIState()
    state.pn_error = None
    name = str(state.get("pn_name", "")).strip().strip("/")
    if not name or "/" not in name or not is_physionet_name(name):
        state.flash("error", f"{name!r} is not a PhysioNet record name; write it as database/record, e.g. mitdb/100.")
        state.pn_active = None
        return
    state.pn_active = name


def download_failed(state: UIState, kind: str, exc: Exception) -> None:
    """Show a failed PhysioNet download and stop retrying it on every rerun."""
    st.error(str(exc))
    if kind == "physionet":
        state.pn_active = None
        state.pn_error = str(exc)


def choose_source(state: UIState) -> Source | None:
    """The chosen record, or None."""
    st.sidebar.header("Record")
    kind = st.sidebar.radio("Source", SOURCES, key="src_kind", label_visibility="collapsed")
    if kind == "Demo records":
        try:
            names = list_records(DEMO_DIR)
        except RecordError as exc:
            st.sidebar.error(str(exc))
            return None
        name = st.sidebar.selectbox(
            "Demo record (MIT-BIH, 30 min)",
            names,
            index=None,
            key="demo_record",
            placeholder="Choose a record",
            format_func=lambda n: f"{n}: {DEMO_NOTES[n]}" if n in DEMO_NOTES else n,
        )
        return Source("demo", str(DEMO_DIR / name), name) if name else None

    if kind == "Data directory":
        state.raw.setdefault("data_dir", os.environ.get("ECG_DATA_DIR", ""))
        d = st.sidebar.text_input(
            "Data directory",
            key="data_dir",
            placeholder="/path/to/mitdb",
            help="A folder of WFDB records (.hea/.dat/.atr); default $ECG_DATA_DIR.",
        )
        if not d.strip():
            st.sidebar.caption("Type the path of a folder holding WFDB records.")
            return None
        try:
            names = list_records(Path(d.strip()).expanduser())
        except (RecordError, OSError) as exc:
            st.sidebar.error(str(exc))
            return None
        if not names:
            st.sidebar.warning(f"No WFDB records (.hea files) in {d}.")
            return None
        name = st.sidebar.selectbox("Record", names, index=None, key="dir_record", placeholder="Choose a record")
        if not name:
            return None
        return Source("dir", str(Path(d.strip()).expanduser() / name), name)

    if kind == "Upload WFDB files":
        files = st.sidebar.file_uploader(
            f"WFDB record (.hea + .dat, + .atr) or an EDF, BDF or ISHNE (.ecg) file, "
            f"at most {MAX_TOTAL_BYTES // 2**20} MB in total",
            accept_multiple_files=True,
            type=list(ALLOWED_EXTENSIONS),
            key="upload",
            help="The files are kept in a private temporary folder and deleted when you close this tab.",
        )
        return handle_upload(state, files or [])

    st.sidebar.text_input(
        "PhysioNet record",
        key="pn_name",
        placeholder="mitdb/100",
        help="database/record, streamed from physionet.org (needs the network)",
    )
    st.sidebar.button("Load from PhysioNet", on_click=on_load_physionet)
    name = state.pn_active
    if not name and state.pn_error:
        st.error(state.pn_error)
    return Source("physionet", name, f"physionet:{name}") if name else None
