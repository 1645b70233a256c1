"""Per-epoch overheads are timed as self time: a part called inside another counts once, as itself."""

from stretchnas.measurement import epoch_overhead


class Clock:
    """perf_counter's stand-in: time passes only when a test says so."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_a_part_called_inside_another_counts_once_as_itself(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(epoch_overhead.time, "perf_counter", clock)
    timers = epoch_overhead._Timers()
    check = timers.wrap("state check", lambda: clock.advance(0.5))

    def save():  # a checkpoint checks the state first, as EpochRun._save does
        check()
        clock.advance(1.0)

    save = timers.wrap("checkpoint", save)
    save()
    check()
    assert timers.seconds == {"state check": 1.0, "checkpoint": 1.0}
    save()
    assert sum(timers.seconds.values()) == clock.now == 3.5  # nothing counted twice
