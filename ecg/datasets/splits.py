"""The inter-patient split of the MIT-BIH Arrhythmia Database (de Chazal, O'Dwyer & Reilly 2004).

Models are trained and tuned on DS1 only (validation on DS1 patients held out from
training) and reported on DS2. The paced records are in neither set.
"""

from __future__ import annotations

from typing import Final

DS1: Final[tuple[str, ...]] = (
    "101",
    "106",
    "108",
    "109",
    "112",
    "114",
    "115",
    "116",
    "118",
    "119",
    "122",
    "124",
    "201",
    "203",
    "205",
    "207",
    "208",
    "209",
    "215",
    "220",
    "223",
    "230",
)
DS2: Final[tuple[str, ...]] = (
    "100",
    "103",
    "105",
    "111",
    "113",
    "117",
    "121",
    "123",
    "200",
    "202",
    "210",
    "212",
    "213",
    "214",
    "219",
    "221",
    "222",
    "228",
    "231",
    "232",
    "233",
    "234",
)
PACED: Final[tuple[str, ...]] = ("102", "104", "107", "217")
ALL_MITDB: Final[tuple[str, ...]] = tuple(sorted(DS1 + DS2 + PACED))

#: de Chazal 2004 Table I beat counts per AAMI class.
DE_CHAZAL_COUNTS: Final[dict[str, dict[str, int]]] = {
    "DS1": {"N": 45866, "S": 944, "V": 3788, "F": 415, "Q": 8},
    "DS2": {"N": 44259, "S": 1837, "V": 3221, "F": 388, "Q": 7},
}


def split_records(name: str) -> tuple[str, ...]:
    """Records of a named split: ``"DS1"``, ``"DS2"``, ``"paced"`` or ``"all"``."""
    key = name.upper()
    if key == "DS1":
        return DS1
    if key == "DS2":
        return DS2
    if key == "PACED":
        return PACED
    if key == "ALL":
        return ALL_MITDB
    raise ValueError(f"unknown split {name!r}; use DS1, DS2, paced or all")
