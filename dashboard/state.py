"""The dashboard's session state, typed: :class:`UIState` wraps ``st.session_state`` (or any
mutable mapping, for tests) and names every key the page reads or writes outside a widget.

Widget values keep their widget keys (``threshold``, ``reviewer``, ``strip_t0``...); they are
read through properties here so that a key is spelled in one place.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import streamlit as st

#: Length of the review strip, s.
STRIP_S: float = 10.0


def _no_samples() -> np.ndarray:
    return np.zeros(0, np.int64)


@dataclass
class ViewContext:
    """What the callbacks need to know about the record on screen: its sampling rate (Hz),
    duration (s), the beats the Previous/Next buttons step through (``nav``: sorted samples;
    the shown flagged beats, or the open family's beats), every beat's sample, the strip
    start of the last run (s) and the samples of the flagged-beat table's rows."""

    fs: float = 1.0
    duration: float = 0.0
    nav: np.ndarray = field(default_factory=_no_samples)
    samples: np.ndarray = field(default_factory=_no_samples)
    t0: float = 0.0
    table_samples: list[int] = field(default_factory=list)


@dataclass
class UIState:
    """Typed access to the session state. ``raw`` is ``st.session_state`` by default."""

    raw: MutableMapping[str, Any] = field(default_factory=lambda: st.session_state)

    # -- selection and strip ---------------------------------------------------------------
    @property
    def sel(self) -> int | None:
        """Sample of the selected beat, or None."""
        v = self.raw.get("sel")
        return None if v is None else int(v)

    @sel.setter
    def sel(self, value: int | None) -> None:
        self.raw["sel"] = None if value is None else int(value)

    @property
    def strip_t0(self) -> float:
        """Start of the review strip, s from the record start (the strip slider's key)."""
        return float(self.raw.get("strip_t0", 0.0))

    @strip_t0.setter
    def strip_t0(self, value: float) -> None:
        self.raw["strip_t0"] = float(value)

    @property
    def ctx(self) -> ViewContext:
        v = self.raw.get("ctx")
        return v if isinstance(v, ViewContext) else ViewContext()

    @ctx.setter
    def ctx(self, value: ViewContext) -> None:
        self.raw["ctx"] = value

    @property
    def active(self) -> str | None:
        """Identity of the record (and lead) on screen; a change starts a new view."""
        return self.raw.get("active")

    @active.setter
    def active(self, value: str) -> None:
        self.raw["active"] = value

    def pop_pending_sel(self) -> int | None:
        """The beat to select at the start of this run (set by a save with auto-advance)."""
        v = self.raw.pop("pending_sel", None)
        return None if v is None else int(v)

    def set_pending_sel(self, sample: int) -> None:
        self.raw["pending_sel"] = int(sample)

    @property
    def open_family(self) -> int | None:
        """The family whose beats Previous/Next step through, or None (flagged beats)."""
        v = self.raw.get("open_family")
        return None if v is None else int(v)

    @open_family.setter
    def open_family(self, value: int | None) -> None:
        self.raw["open_family"] = None if value is None else int(value)

    @property
    def scroll_to_top(self) -> bool:
        return bool(self.raw.get("scroll_to_top", False))

    @scroll_to_top.setter
    def scroll_to_top(self, value: bool) -> None:
        self.raw["scroll_to_top"] = bool(value)

    # -- messages ----------------------------------------------------------------------------
    def flash(self, kind: str, text: str) -> None:
        """Queue a message (``info``, ``warning``, ``error``) shown at the top of the next run."""
        self.raw.setdefault("flash", []).append((kind, text))

    def pop_flash(self) -> list[tuple[str, str]]:
        return list(self.raw.pop("flash", []))

    @property
    def saved_note(self) -> str | None:
        """Confirmation of the last saved decision, shown beside the review form."""
        return self.raw.get("saved_note")

    @saved_note.setter
    def saved_note(self, text: str | None) -> None:
        self.raw["saved_note"] = text

    # -- sidebar settings (widget keys) ------------------------------------------------------
    @property
    def threshold(self) -> float | None:
        v = self.raw.get("threshold")
        return None if v is None else float(v)

    @property
    def reviewer_typed(self) -> str:
        return str(self.raw.get("reviewer", "") or "").strip()

    @property
    def auto_advance(self) -> bool:
        return bool(self.raw.get("auto_advance", True))

    @property
    def show_ref(self) -> bool:
        return bool(self.raw.get("show_ref", True))

    def lead_choice(self, label: str) -> str | None:
        return self.raw.get(f"lead::{label}")

    def set_lead_choice(self, label: str, lead: str | None) -> None:
        self.raw[f"lead::{label}"] = lead

    # -- PhysioNet source --------------------------------------------------------------------
    @property
    def pn_active(self) -> str | None:
        return self.raw.get("pn_active")

    @pn_active.setter
    def pn_active(self, value: str | None) -> None:
        self.raw["pn_active"] = value

    @property
    def pn_error(self) -> str | None:
        return self.raw.get("pn_error")

    @pn_error.setter
    def pn_error(self, value: str | None) -> None:
        self.raw["pn_error"] = value

    # -- uploads -----------------------------------------------------------------------------
    @property
    def upload_dir(self) -> str | None:
        return self.raw.get("upload_dir")

    @upload_dir.setter
    def upload_dir(self, value: str | None) -> None:
        if value is None:
            self.raw.pop("upload_dir", None)
        else:
            self.raw["upload_dir"] = value

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.raw[key] = value
