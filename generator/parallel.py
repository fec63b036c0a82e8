"""Replay of posts and engagement in several processes: each worker owns a disjoint set of
posts (by plan index).

A post's creation, likes, unlikes, comments and replies only ever refer to that post, so
giving each post to one worker keeps every post's actions in plan order, and the final state
is the one a single process would reach. Workers advance through the plan in time slices and
wait for each other at the end of each, so the events they emit are never more than one slice
apart in event time: a streaming consumer with a watermark longer than a slice drops none of
them as late."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import connections

from events.tasks import publish_soon_on_commit

if TYPE_CHECKING:
    from generator.replay import DirectReplayer
    from generator.traffic import Action

SLICE_SECONDS = 300.0
SLICE_ACTIONS = 4000


def time_slices(actions: list[Action], *, by_time: bool) -> list[list[Action]]:
    """Consecutive runs of the (time-ordered) actions: 5 minutes of event time each when the
    actions carry historical times, else fixed-size runs."""
    if not by_time:
        return [actions[i : i + SLICE_ACTIONS] for i in range(0, len(actions), SLICE_ACTIONS)]
    slices: list[list[Action]] = []
    for action in actions:
        if not slices or action.at >= slices[-1][0].at + SLICE_SECONDS:
            slices.append([])
        slices[-1].append(action)
    return slices


def _worker(replayer: DirectReplayer, inbox, outbox) -> None:
    while (part := inbox.get()) is not None:
        replayer.run(part, lambda n: outbox.put(("progress", n)))
        outbox.put(("slice", None))
    connections.close_all()
    post_ids = {index: post.pk for index, post in replayer.posts.items()}
    outbox.put(("counters", (replayer.done, replayer.skipped, post_ids)))


def run_parallel(
    replayer: DirectReplayer,
    actions: list[Action],
    progress: Callable[[int], None],
    *,
    workers: int,
    by_time: bool,
) -> None:
    """Replay post and engagement `actions` with `workers` processes; their counts are added
    to the replayer's, and the posts they created become known to it (by id)."""
    context = multiprocessing.get_context("fork")
    replayer.media_warm(actions)
    connections.close_all()  # each worker opens its own connection after the fork
    inboxes = [context.Queue() for _ in range(workers)]
    outbox = context.Queue()
    before = (Counter(replayer.done), Counter(replayer.skipped))
    processes = [
        context.Process(target=_worker, args=(replayer, inbox, outbox), daemon=True)
        for inbox in inboxes
    ]
    for process in processes:
        process.start()
    try:
        for part in time_slices(actions, by_time=by_time):
            for index, inbox in enumerate(inboxes):
                inbox.put([a for a in part if a.post % workers == index])
            _wait_for(outbox, "slice", workers, progress)
        for inbox in inboxes:
            inbox.put(None)
        created: dict[int, int] = {}
        for done, skipped, post_ids in _wait_for(outbox, "counters", workers, progress):
            replayer.done.update(done - before[0])
            replayer.skipped.update(skipped - before[1])
            created.update(post_ids)
        replayer.posts_adopt(created)
        # The workers queued publisher runs from their own processes; one more from here makes
        # sure the outbox drains now even if one of theirs was lost (the sweep would, later).
        publish_soon_on_commit()
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()


def _wait_for(outbox, kind: str, count: int, progress: Callable[[int], None]) -> list:
    results = []
    while len(results) < count:
        message, value = outbox.get(timeout=600)
        if message == "progress":
            progress(value)
        elif message == kind:
            results.append(value)
        else:
            raise RuntimeError(f"unexpected message from a replay worker: {message}")
    return results
