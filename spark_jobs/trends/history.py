"""How the training history divides into training and held-out prediction times, and how
much activity that takes. Pure Python (no Spark): the training job splits with it, and
Django asks it whether there is enough activity yet to start the first training."""

from __future__ import annotations

# The first training waits until it would have at least this many training times, so the
# first model has seen a little more than one moment of the site.
MIN_TRAINING_TIMES = 4


def split_index(times: int, holdout_fraction: float) -> int:
    """Index of the first held-out time among `times` prediction times, oldest first: the
    last `holdout_fraction` of them are held out, and each side keeps at least one."""
    return min(max(round(times * (1 - holdout_fraction)), 1), times - 1)


def training_times(times: int, *, holdout_fraction: float, step_minutes: int, horizon: int) -> int:
    """How many of `times` prediction times, `step_minutes` apart, are training times: those
    whose horizon ends by the first held-out time (see `model.time_split`)."""
    if times < 2:
        return 0
    first_held_out = split_index(times, holdout_fraction) * step_minutes
    return max(0, (first_held_out - horizon) // step_minutes + 1)


def minimum_history_minutes(
    *,
    horizon_minutes: int,
    step_minutes: int,
    holdout_fraction: float,
    min_training_times: int = MIN_TRAINING_TIMES,
) -> int:
    """Minutes of activity (from the first to the newest final one) a training needs for
    `min_training_times` training times and a holdout: the prediction times span
    (n - 1) steps, the last one's horizon must have passed, and the newest time is aligned
    down to the step."""
    times = 2
    while (
        training_times(
            times,
            holdout_fraction=holdout_fraction,
            step_minutes=step_minutes,
            horizon=horizon_minutes,
        )
        < min_training_times
    ):
        times += 1
    return times * step_minutes + horizon_minutes
