"""`manage.py seed_fake_data`: realistic people, communities, posts and traffic.

Direct mode replays the plan through the service layer; `--api URL` sends the same actions
through the REST API v1 as registered users; `--live` keeps generating engagement."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from generator.parallel import run_parallel
from generator.traffic import LiveTraffic, Plan, SeedSizes, plan_history

COMMUNITY_VERBS = frozenset({"create_community", "join"})
DEFAULT_PASSWORD = "streamer-fake-people"  # noqa: S105 - fake accounts, documented in README
DEFAULTS = {"users": 200, "communities": 10, "posts": 1000, "actions": 20_000}


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:>7,.0f}/s")


def positive_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


def positive_float(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Generate realistic fake users, communities, posts and engagement."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        """Bad arguments end in one readable line and exit 1, not argparse's usage block."""
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def one_line_error(message: str) -> None:
            parser.exit(1, f"{subcommand}: error: {message}\n")

        parser.error = one_line_error  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=positive_int)
        parser.add_argument("--communities", type=positive_int)
        parser.add_argument("--posts", type=positive_int)
        parser.add_argument(
            "--actions", type=positive_int, help="engagement actions in the history"
        )
        parser.add_argument("--viral-posts", type=positive_int, default=3)
        parser.add_argument(
            "--days", type=positive_float, default=0.0, help="back-fill D days of history"
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--api", metavar="URL", help="go through the REST API at URL")
        parser.add_argument("--live", action="store_true", help="keep generating engagement")
        parser.add_argument("--rate", type=positive_float, default=10.0, help="live actions/s")
        parser.add_argument("--duration", type=positive_float, help="live seconds (default: ∞)")
        parser.add_argument("--ground-truth", metavar="FILE", type=Path)
        parser.add_argument("--password", default=DEFAULT_PASSWORD)
        parser.add_argument(
            "--workers",
            type=positive_int,
            default=2,
            help="processes for posts and engagement in direct mode (default 2)",
        )
        parser.add_argument(
            "--one-by-one",
            action="store_true",
            help="direct mode through the one-by-one services instead of their batch forms "
            "(the same rows and events, slower; for comparison)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.console = Console(file=self.stdout._out, highlight=False)
        sizes = self._sizes(options)
        if options["api"] and options["days"]:
            raise CommandError(
                "--days back-fills history through the services; it cannot be "
                "combined with --api (the API records actions as they happen)"
            )
        if options["live"] and options["rate"] <= 0:
            raise CommandError("--rate must be above 0")
        backend = self._backend(options)
        started = time.monotonic()
        plan = None
        if sizes is not None:
            plan = plan_history(sizes, options["seed"], **backend.taken_names())
            self._seed(backend, plan, options)
        live_bursts = []
        if options["live"]:
            live_bursts = self._live(backend, options)
        if options["ground_truth"]:
            self._write_ground_truth(options["ground_truth"], backend, plan, live_bursts)
        self._summary(backend, time.monotonic() - started)

    # -- arguments --------------------------------------------------------------------------
    def _sizes(self, options: dict[str, Any]) -> SeedSizes | None:
        given = {name: options[name] for name in DEFAULTS if options[name] is not None}
        if options["live"] and not given:
            return None
        values = {**DEFAULTS, **given}
        sizes = SeedSizes(
            users=values["users"], communities=values["communities"], posts=values["posts"],
            actions=values["actions"], days=options["days"],
            viral_posts=min(options["viral_posts"], values["posts"]),
        )  # fmt: skip
        try:
            sizes.check()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        return sizes

    def _backend(self, options: dict[str, Any]):
        if options["api"]:
            from generator.api_client import ApiReplayer

            return ApiReplayer(base_url=options["api"], password=options["password"],
                               seed=options["seed"])  # fmt: skip
        from generator.replay import DirectReplayer

        return DirectReplayer(
            seed=options["seed"], password=options["password"], one_by_one=options["one_by_one"]
        )

    # -- phases -----------------------------------------------------------------------------
    def _seed(self, backend, plan: Plan, options: dict[str, Any]) -> None:
        start = None
        if options["days"] and plan.actions:
            # The history ends just now: its last action happened a second ago.
            start = timezone.now() - timedelta(seconds=plan.actions[-1].at + 1)
        backend.begin(plan, start=start)
        with self._progress() as progress:
            task = progress.add_task("people", total=len(plan.users))
            backend.create_users(lambda n: progress.advance(task, n))
            # Communities first; then posts and engagement in plan (time) order, which can be
            # spread over worker processes by post without changing the outcome.
            communities = [a for a in plan.actions if a.verb in COMMUNITY_VERBS]
            posts_and_engagement = [a for a in plan.actions if a.verb not in COMMUNITY_VERBS]
            runner = backend.run
            if options["workers"] > 1 and not options["api"]:
                runner = partial(
                    run_parallel, backend, workers=options["workers"], by_time=bool(start)
                )
            for label, actions, run in (
                ("communities", communities, backend.run),
                ("posts, engagement", posts_and_engagement, runner),
            ):
                task = progress.add_task(label, total=len(actions))
                run(actions, partial(progress.advance, task))
        if backend.videos_skipped:
            self.console.print(
                f"[yellow]ffmpeg is not installed: {backend.videos_skipped} video posts were "
                "made as quotes instead[/yellow]"
            )

    def _live(self, backend, options: dict[str, Any]) -> list:
        world = backend.load_world()
        if world.users < 2 or not world.members:
            raise CommandError("--live needs generated people and communities; seed first "
                               "(e.g. seed_fake_data --users 200 --communities 10)")  # fmt: skip
        traffic = LiveTraffic(world, seed=options["seed"] + 1, users=world.users)
        rate, duration = options["rate"], options["duration"]
        stop = {"now": False}
        previous = signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
        began = time.monotonic()
        done_before = sum(backend.done.values())
        sent = 0
        try:
            with self._progress() as progress:
                task = progress.add_task(f"live at {rate:g}/s", total=None if duration is None
                                         else int(rate * duration))  # fmt: skip
                while not stop["now"]:
                    elapsed = time.monotonic() - began
                    if duration is not None and elapsed >= duration:
                        break
                    due = int(elapsed * rate) + 1 - sent
                    if due <= 0:
                        time.sleep(min(1 / rate, 0.05))
                        continue
                    actions = [traffic.next_action(elapsed) for _ in range(min(due, 200))]
                    backend.run(actions, lambda n: progress.advance(task, n))
                    sent += len(actions)
        finally:
            signal.signal(signal.SIGINT, previous)
        backend.live_seconds = time.monotonic() - began
        backend.live_actions = sum(backend.done.values()) - done_before
        return [(burst, backend.live_started) for burst in traffic.bursts]

    # -- output -----------------------------------------------------------------------------
    def _progress(self) -> Progress:
        return Progress(
            TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
            RateColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=self.console,
        )  # fmt: skip

    def _write_ground_truth(self, path: Path, backend, plan: Plan | None, live: list) -> None:
        entries = []
        if plan is not None:
            for burst in plan.bursts:
                entries.append(backend.burst_record(burst, source="history"))
        for burst, started in live:
            entries.append(backend.burst_record(burst, source="live", started=started))
        document = {
            "generated_at": datetime.now(UTC).isoformat(),
            "seed": backend.seed,
            "viral_posts": [entry for entry in entries if entry is not None],
        }
        path.write_text(json.dumps(document, indent=2))
        self.console.print(f"ground truth: {len(document['viral_posts'])} bursts in {path}")

    def _summary(self, backend, elapsed: float) -> None:
        table = Table(title="seed_fake_data", show_header=True)
        table.add_column("what")
        table.add_column("done", justify="right")
        table.add_column("skipped", justify="right")
        for verb in sorted(set(backend.done) | set(backend.skipped)):
            table.add_row(verb, str(backend.done[verb]), str(backend.skipped[verb]))
        self.console.print(table)
        actions = sum(backend.done.values())
        rate = actions / elapsed if elapsed else 0.0
        self.console.print(f"{actions} writes in {elapsed:.1f} s ({rate:.0f} actions/s)")
        live = getattr(backend, "live_actions", None)
        if live is not None:
            seconds = backend.live_seconds
            self.console.print(
                f"live: {live} actions in {seconds:.1f} s ({live / seconds:.0f} actions/s)"
            )
