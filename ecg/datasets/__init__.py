"""Datasets: the DS1/DS2 inter-patient split and labelled beat datasets."""

from ecg.datasets.beats import BeatDataset, build_beat_dataset
from ecg.datasets.splits import ALL_MITDB, DE_CHAZAL_COUNTS, DS1, DS2, PACED, split_records

__all__ = ["ALL_MITDB", "BeatDataset", "DE_CHAZAL_COUNTS", "DS1", "DS2", "PACED", "build_beat_dataset", "split_records"]
