"""Wall time per pipeline stage, measured with time.perf_counter in this one place."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

# The stages a run times, in pipeline order; each is recorded as `seconds_<stage>`.
# fetch is wall time from the first poll to the last page downloaded; extraction overlaps it,
# and extract is the seconds worker processes spent parsing feeds and pages and signing their
# texts for story grouping (on both cores it can exceed the wall time).
STAGES = ("fetch", "extract", "tag", "store", "deliver")


class Stopwatch:
    """Adds up the seconds spent in each named stage; a stage may be entered many times."""

    def __init__(self) -> None:
        self._seconds: defaultdict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self._seconds[f"seconds_{name}"] += time.perf_counter() - started

    def add(self, name: str, seconds: float) -> None:
        self._seconds[f"seconds_{name}"] += seconds

    def durations(self) -> dict[str, float]:
        return rounded(self._seconds)


def rounded(seconds: Mapping[str, float]) -> dict[str, float]:
    """Seconds to the millisecond, as stored in the run record."""
    return {key: round(value, 3) for key, value in seconds.items()}


def summed(durations: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Per-stage totals over several batches (their work time, not the run's wall time)."""
    totals: defaultdict[str, float] = defaultdict(float)
    for one in durations:
        for key, value in one.items():
            totals[key] += float(value)
    return rounded(totals)
