"""The exception tree: bounded reasons, and errors that survive a process boundary."""

from __future__ import annotations

import pickle

import pytest

from monitor.errors import (
    BlockedAddress,
    ConfigError,
    DeliveryError,
    FetchError,
    ParseError,
    Problem,
)


@pytest.mark.parametrize(
    "error",
    [
        ParseError("parse_error", "not a feed"),
        FetchError("http_5xx", "HTTP 503", status=503, retry_after=7.0),
        BlockedAddress("10.0.0.1:80"),
        DeliveryError("http_429", "HTTP 429", retryable=True, retry_after=2.0),
        ConfigError([Problem("a.yaml", 3, "bad")]),
    ],
)
def test_errors_pickle_whole(error: Exception) -> None:
    """A parse worker's ParseError reaches the daemon with its reason and detail."""
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and str(back) == str(error)
    assert back.__dict__ == error.__dict__
