"""A DAG file's parse spares the collector the objects that outlive it, and leaves it as it found it."""

from __future__ import annotations

import gc

import pytest

from include.campaigns.catalog import _collector_spared


def test_the_parse_freezes_what_exists_and_unfreezes_it_after_even_when_a_build_fails():
    start = gc.get_freeze_count()
    gc.unfreeze()
    try:
        with _collector_spared():
            assert gc.get_freeze_count() > 0  # what existed before the build is out of the collector's reach
        assert gc.get_freeze_count() == 0
        with pytest.raises(RuntimeError), _collector_spared():
            raise RuntimeError("a build that fails")
        assert gc.get_freeze_count() == 0
    finally:
        if start:
            gc.freeze()


def test_a_process_that_came_frozen_stays_frozen():
    """An executor that froze before forking keeps its objects frozen, to share their pages."""
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with _collector_spared():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
