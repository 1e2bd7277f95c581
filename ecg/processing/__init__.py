"""Signal processing. Functions take arrays and a sampling rate (Hz), never file paths."""
