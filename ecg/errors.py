"""Exception types raised at the library's boundaries."""

from __future__ import annotations


class ECGError(Exception):
    """Base class for every error this package raises on purpose."""


class RecordError(ECGError, ValueError):
    """A record (header, signal or annotation file) cannot be read or is not usable.

    The message always names the file and the problem.
    """

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class SignalError(ECGError, ValueError):
    """A signal array is unusable for processing (wrong shape, all NaN, too short...)."""


class DownloadError(ECGError, OSError):
    """A PhysioNet download or stream failed (offline, unknown database, ...)."""
