"""``ecg records``, ``ecg download`` and ``ecg info``: look at and fetch WFDB data."""

from __future__ import annotations

import argparse

# ecg.io pulls in wfdb and pandas (about 2 s): imported inside each command so that
# `ecg --help` starts fast.


def _records(args: argparse.Namespace) -> int:
    from ecg.io import list_records, resolve_data_dir

    d = resolve_data_dir(args.data_dir)
    for name in list_records(d):
        print(name)
    return 0


def _download(args: argparse.Namespace) -> int:
    from ecg.io import download_database

    path = download_database(args.database, args.dest, records=args.records or "all")
    print(f"downloaded {args.database} into {path}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from ecg.io import load_record

    rec = load_record(args.record, args.data_dir)
    print(f"record    {rec.name}  ({rec.source})")
    print(f"fs        {rec.fs:g} Hz")
    print(f"duration  {rec.duration_s:.1f} s  ({rec.n_samples} samples)")
    print(f"leads     {', '.join(f'{n} [{u}]' for n, u in zip(rec.lead_names, rec.units))}")
    if rec.annotations is not None:
        beats = rec.annotations.beats()
        print(f"annotations  {len(rec.annotations)} ({len(beats)} beats) in .{rec.annotations.extension}")
    else:
        print("annotations  none")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("records", help="list the records in a data directory")
    p.add_argument("--data-dir", default=None, help="directory (default: $ECG_DATA_DIR, else data/)")
    p.set_defaults(func=_records)

    p = sub.add_parser("info", help="describe one record")
    p.add_argument("record", help="record path or name")
    p.add_argument("--data-dir", default=None)
    p.set_defaults(func=_info)

    p = sub.add_parser("download", help="download a PhysioNet database (needs the network)")
    p.add_argument("database", nargs="?", default="mitdb")
    p.add_argument("--dest", default="data/mitdb")
    p.add_argument("--records", nargs="*", default=None, help="record names (default: all)")
    p.set_defaults(func=_download)
