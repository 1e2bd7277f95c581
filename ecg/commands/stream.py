"""``ecg stream INPUT``: score a signal as it arrives and print one JSON line per beat.

INPUT is a recording (WFDB record, EDF/BDF, ISHNE; replayed block by block, ``--realtime``
paces it at its true rate) or ``-``: raw little-endian int16 samples on stdin, leads
interleaved, at ``--fs`` Hz, ``--gain`` ADC units per mV (minus ``--baseline``), lead names
from ``--leads`` (e.g. ``--leads MLII,V1``).
"""

from __future__ import annotations

import argparse
import json
import sys

from ecg.commands.options import add_backend, add_bundle, add_lead, add_threshold, lead_value


def _stream(args: argparse.Namespace) -> int:
    from ecg.errors import ECGError
    from ecg.io.source import as_source
    from ecg.models.bundle import load_bundle
    from ecg.stream import StreamConfig, StreamScorer
    from ecg.stream.replay import beat_rows, int16_blocks, source_blocks, stream_beats

    lead = lead_value(args.lead)
    if args.input == "-" and args.fs is None:
        raise ECGError("stdin: --fs (sampling rate, Hz) is needed for raw samples")
    try:
        config = StreamConfig(hop_s=args.hop_s)
    except ValueError as exc:
        raise ECGError(f"--hop-s: {exc}") from None
    bundle = load_bundle(args.bundle)
    if args.input == "-":
        names = [n.strip() for n in args.leads.split(",") if n.strip()]
        source_fs, lead_names = float(args.fs), names
        blocks = int16_blocks(sys.stdin.buffer, len(names), args.gain, baseline=args.baseline)
    else:
        source = as_source(args.input)
        source_fs, lead_names = source.fs, list(source.lead_names)
        blocks = source_blocks(source, args.block_s, realtime=args.realtime)
    scorer = StreamScorer(
        bundle, source_fs, lead_names, lead=lead, threshold=args.threshold, config=config, backend=args.backend
    )
    out = sys.stdout
    for beats in stream_beats(scorer, blocks):
        for row in beat_rows(beats):
            out.write(json.dumps(row) + "\n")
        out.flush()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stream",
        help="score a live signal: replay a recording or read int16 samples on stdin; one JSON line per beat",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT", help="a recording (WFDB record path, EDF/BDF, ISHNE) or - for stdin")
    p.add_argument(
        "--realtime", action="store_true", help="replay a recording at its true rate (default: as fast as possible)"
    )
    p.add_argument("--block-s", type=float, default=1.0, help="replay block length, s (default 1)")
    p.add_argument("--fs", type=float, default=None, help="stdin: sampling rate, Hz")
    p.add_argument("--gain", type=float, default=200.0, help="stdin: ADC units per mV (default 200, as MIT-BIH)")
    p.add_argument("--baseline", type=float, default=0.0, help="stdin: ADC value of 0 mV (default 0)")
    p.add_argument(
        "--leads",
        default="ECG",
        help="stdin: comma-separated lead names, in the order the samples are interleaved (default: one lead, ECG)",
    )
    add_lead(p)
    add_threshold(p)
    p.add_argument("--hop-s", type=float, default=0.5, help="processing step, s of stream time (default 0.5)")
    add_bundle(p)
    add_backend(p)
    p.set_defaults(func=_stream)
