"""ECG review dashboard (Streamlit). From the repository root:

    streamlit run dashboard/app.py

Choose a record (demo records, a local data directory, an upload, or a PhysioNet record),
look at the whole recording and the flagged beats, review beats on a 10 s strip on ECG paper
and whole beat families at once (stored in the review database), compare with reference
annotations and download the reviewed beat table, WFDB annotations and the PDF report.

This file only starts the page: the dashboard is the :mod:`dashboard` package, installed with
the project (``pip install -e .``); ``python -m streamlit run dashboard/app.py`` from the
repository root works without installing it. See :mod:`dashboard.page` for the environment.
"""

try:
    from dashboard.page import main
except ModuleNotFoundError as exc:
    if exc.name != "dashboard":
        raise
    import streamlit as st

    st.error(
        "The `dashboard` package cannot be imported. Install the project (`pip install -e .` in the "
        "repository), or start the app from the repository root with `python -m streamlit run dashboard/app.py`."
    )
    st.stop()

main()
