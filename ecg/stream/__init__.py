"""Streaming scoring of a live signal: :class:`StreamScorer` takes samples as they arrive and
emits scored beats once each has enough right context; memory stays bounded."""

from ecg.stream.scorer import NOT_STREAMED, StreamConfig, StreamScorer, stream_columns

__all__ = ["NOT_STREAMED", "StreamConfig", "StreamScorer", "stream_columns"]
