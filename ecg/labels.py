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
    "N": "N", "L": "N", "R": "N", "e": "N", "j": "N",
    "A": "S", "a": "S", "J": "S", "S": "S",
    "V": "V", "E": "V",
    "F": "F",
    "/": "Q", "f": "Q", "Q": "Q",
}

BEAT_SYMBOLS: Final[frozenset[str]] = frozenset(SYMBOL_TO_AAMI)


def symbol_to_aami(symbol: str) -> str | None:
    """Return the AAMI class (N, S, V, F or Q) of a MIT-BIH annotation symbol, or ``None``
    when the symbol is not a beat annotation."""
    return SYMBOL_TO_AAMI.get(symbol)


def is_beat_symbol(symbol: str) -> bool:
    """True when the MIT-BIH symbol annotates a heartbeat."""
    return symbol in SYMBOL_TO_AAMI


def symbols_to_aami(symbols: "np.ndarray | list[str]") -> np.ndarray:
    """Vectorised :func:`symbol_to_aami`: an object array holding a class or ``None``."""
    return np.array([SYMBOL_TO_AAMI.get(s) for s in symbols], dtype=object)


def class_index(classes: "np.ndarray | list[str]", class_names: tuple[str, ...] = AAMI_CLASSES) -> np.ndarray:
    """Map class letters to integer indices into ``class_names`` (int64)."""
    lookup = {c: i for i, c in enumerate(class_names)}
    try:
        return np.array([lookup[c] for c in classes], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"unknown class {exc.args[0]!r}; expected one of {class_names}") from None
