"""One module per panel of the review page; each draws with Streamlit and the library's
figures and tables, and holds no clinical computation of its own."""

from __future__ import annotations

#: Plotly toolbar settings shared by the panels' charts.
PLOT_CONFIG = {
    "displaylogo": False,
    "scrollZoom": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
}
