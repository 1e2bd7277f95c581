"""Figures for reviewing scored records: Plotly figures for the dashboard (pure functions,
no Streamlit), their clickable versions (:mod:`ecg.viz.interactive`), navigation helpers
(:mod:`ecg.viz.navigation`) and the ECG paper grid shared with the PDF report."""

from __future__ import annotations

from ecg.viz.figures import (
    af_spans,
    beat_detail_figure,
    confusion_matrix_figure,
    downsample_indices,
    flagged_mask,
    hr_trend_figure,
    hr_trend_table,
    overview_figure,
    strip_figure,
    strip_window,
)
from ecg.viz.grid import (
    CLASS_COLORS,
    MAJOR_MV,
    MAJOR_S,
    MINOR_MV,
    MINOR_S,
    SCALE_RATIO,
    apply_ecg_grid,
    class_color,
    ecg_grid_axis_props,
    ecg_grid_lines,
    ecg_grid_shapes,
    format_hms,
)
from ecg.viz.interactive import clickable_traces, mark_window, review_overview_figure, review_strip_figure

__all__ = [
    "CLASS_COLORS",
    "MAJOR_MV",
    "MAJOR_S",
    "MINOR_MV",
    "MINOR_S",
    "SCALE_RATIO",
    "apply_ecg_grid",
    "beat_detail_figure",
    "class_color",
    "clickable_traces",
    "confusion_matrix_figure",
    "downsample_indices",
    "ecg_grid_axis_props",
    "ecg_grid_lines",
    "ecg_grid_shapes",
    "flagged_mask",
    "format_hms",
    "hr_trend_figure",
    "hr_trend_table",
    "af_spans",
    "mark_window",
    "overview_figure",
    "review_overview_figure",
    "review_strip_figure",
    "strip_figure",
    "strip_window",
]
