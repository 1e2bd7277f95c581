"""AAMI EC57 beat classes and the MIT-BIH symbol mapping.

The mapping follows de Chazal, O'Dwyer & Reilly (2004), "Automatic classification of
heartbeats using ECG morphology and heartbeat interval features", IEEE TBME 51(7), Table I,
which itself follows ANSI/AAMI EC57:

========  ==========================================================  ======================
Class     MIT-BIH symbols                                             Meaning
========  ==========================================================  ======================
``N``     ``N`` ``L`` ``R`` ``e`` ``j``                               normal / bundle branch
                                                                      block / escape beats
``S``     ``A`` ``a`` ``J`` ``S``                                     supraventricular ectopic
``V``     ``V`` ``E``                                                 ventricular ectopic
``F``     ``F``                                                       fusion of V and N
``Q``     ``/`` ``f`` ``Q``                                           paced, fusion of paced
                                                                      and N, unclassifiable
========  ==========================================================  ======================

Atrial and nodal escape beats (``e``, ``j``) are in N, as in de Chazal 2004 (EC57 itself
also puts them in N). Every other annotation symbol (rhythm ``+``, noise ``~``, comments
``"``, flutter waves ``!``, isolated QRS-like artefacts ``|``, non-conducted P waves ``x``,
VF on/offset ``[`` ``]``, ...) is *not* a beat: :func:`symbol_to_aami` returns ``None``.
"""

from __future__ import annotations

from typing import Final

import numpy as np

AAMI_CLASSES: Final[tuple[str, ...]] = ("N", "S", "V", "F", "Q")

SYMBOL_TO_AAMI: Final[dict[str, str]] = {
    "N": "N",
    "L": "N",
    "R": "N",
    "e": "N",
    "j": "N",
    "A": "S",
    "a": "S",
    "J": "S",
    "S": "S",
    "V": "V",
    "E": "V",
    "F": "F",
    "/": "Q",
    "f": "Q",
    "Q": "Q",
}

BEAT_SYMBOLS: Final[frozenset[str]] = frozenset(SYMBOL_TO_AAMI)


def symbol_to_aami(symbol: str) -> str | None:
    """Return the AAMI class (N, S, V, F or Q) of a MIT-BIH annotation symbol, or ``None``
    when the symbol is not a beat annotation."""
    return SYMBOL_TO_AAMI.get(symbol)


def is_beat_symbol(symbol: str) -> bool:
    """True when the MIT-BIH symbol annotates a heartbeat."""
    return symbol in SYMBOL_TO_AAMI


def symbols_to_aami(symbols: np.ndarray | list[str]) -> np.ndarray:
    """Vectorised :func:`symbol_to_aami`: an object array holding a class or ``None``."""
    return np.array([SYMBOL_TO_AAMI.get(s) for s in symbols], dtype=object)


def class_index(classes: np.ndarray | list[str], class_names: tuple[str, ...] = AAMI_CLASSES) -> np.ndarray:
    """Map class letters to integer indices into ``class_names`` (int64)."""
    lookup = {c: i for i, c in enumerate(class_names)}
    try:
        return np.array([lookup[c] for c in classes], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"unknown class {exc.args[0]!r}; expected one of {class_names}") from None


#: MIT-BIH rhythm labels (aux notes of ``+`` annotations) for atrial fibrillation and flutter:
#: rhythms without discrete P waves, in which the database labels beats normal, not
#: supraventricular ectopic.
AF_RHYTHMS: Final[frozenset[str]] = frozenset({"(AFIB", "(AFL"})


def rhythm_at(ann_sample: np.ndarray, ann_symbol: np.ndarray, ann_aux: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """The rhythm label (e.g. ``"(N"``, ``"(AFIB"``) in force at each of ``samples``: that of
    the last rhythm-change annotation (symbol ``+``) at or before it; ``""`` before the first.
    ``ann_*`` are a record's annotation arrays, samples in the same units as ``samples``."""
    ann_sample = np.asarray(ann_sample)
    is_rhythm = np.asarray(ann_symbol) == "+"
    starts = ann_sample[is_rhythm]
    names = np.asarray(ann_aux, dtype=str)[is_rhythm]
    order = np.argsort(starts, kind="stable")
    starts, names = starts[order], names[order]
    pos = np.searchsorted(starts, np.asarray(samples), side="right") - 1
    out = np.where(pos >= 0, names[np.maximum(pos, 0)] if names.size else "", "")
    return out.astype(str)
