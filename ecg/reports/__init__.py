"""Evaluation reports of a model bundle on whole records, through the one scoring path.

This package sits above :mod:`ecg.scoring`; the low-level beat matching and EC57 statistics it
uses live below it, in :mod:`ecg.evaluate`.
"""
