"""The collector's tuning is the processor's alone: it ends with the processor."""

from __future__ import annotations

import gc

from sqlalchemy.orm import Session, sessionmaker

from threadline.daemon.collector import GC_THRESHOLD
from threadline.daemon.processing import processing
from threadline.daemon.settings import default_settings


def test_the_processor_collects_less_often_and_restores_the_threshold_after(
    sessions: sessionmaker[Session],
):
    before = gc.get_threshold()
    with processing(default_settings(), sessions):
        assert gc.get_threshold() == (GC_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before
