"""The ECG review dashboard (Streamlit): ``streamlit run dashboard/app.py`` from the repository.

UI only. :mod:`dashboard.page` lays the page out; :mod:`dashboard.sources` chooses, loads and
scores records (cached); :mod:`dashboard.state` is the typed view of ``st.session_state``;
:mod:`dashboard.callbacks` moves the strip and the selection; :mod:`dashboard.identity` names
the reviewer; :mod:`dashboard.panels` holds one module per panel. Every number comes from the
library (:func:`ecg.score_record`, :mod:`ecg.review`), every figure from :mod:`ecg.viz`.
"""
