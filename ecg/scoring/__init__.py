"""Record scoring: the one path from a record to scored, flagged beats."""
