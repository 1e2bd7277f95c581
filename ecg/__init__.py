"""ECG anomaly detection."""
