"""Fixtures of the live twin's tests (the small night is in live_night.py)."""

from __future__ import annotations

import logging

import pytest

from live_night import small_night
from sim.crowd.schema import CrowdScenario


@pytest.fixture
def night(tmp_path) -> CrowdScenario:
    return small_night(tmp_path)


@pytest.fixture(autouse=True)
def live_log_as_configured_by_default():
    """Each test sees the ``citytwin.live`` logger as a library leaves it (no handler, no level,
    propagating to the root, where pytest's ``caplog`` listens); what it found is put back afterwards.

    ``citytwin live`` run in-process (``sim.cli.main``, as the CLI tests do) gives the logger a
    handler and a level and stops its propagation for the run; it removes the handler afterwards
    but leaves propagation off, so a later test's ``caplog`` would capture nothing from the twin."""
    log = logging.getLogger("citytwin.live")
    saved = (log.level, log.propagate, log.disabled, list(log.handlers))
    log.setLevel(logging.NOTSET)
    log.propagate, log.disabled = True, False
    log.handlers.clear()
    yield
    log.setLevel(saved[0])
    log.propagate, log.disabled = saved[1], saved[2]
    log.handlers[:] = saved[3]
