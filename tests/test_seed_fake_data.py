"""The fake-data generator: deterministic, life-like in its numbers, and honest about what
it writes (every action through the real services or the real API, with its event)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count

from communities.models import Community, Membership
from events.models import OutboxEvent
from generator.traffic import SeedSizes, plan_history
from posts.models import Post
from tests.support.processes import REPO_DIR

SMALL = ["--users", "40", "--communities", "5", "--posts", "60", "--actions", "600"]
ONE_PROCESS = ["--workers", "1"]  # worker processes can't see a test's uncommitted rows
VERB_EVENTS = {
    "create_community": "community_created",
    "join": "community_joined",
    "post": "post_created",
    "view": "post_viewed",
    "like": "post_liked",
    "unlike": "post_unliked",
    "comment": "comment_created",
    "share": "post_shared",
}


def seed(*args: str) -> None:
    call_command("seed_fake_data", *args)


def event_counts() -> Counter[str]:
    rows = OutboxEvent.objects.values_list("event_type").annotate(n=Count("id"))
    return Counter(dict(rows))


def test_same_seed_same_plan_other_seed_other_plan():
    sizes = SeedSizes(users=50, communities=6, posts=80, actions=2000, days=2)

    first, again, other = plan_history(sizes, 7), plan_history(sizes, 7), plan_history(sizes, 8)

    assert first.users == again.users and first.communities == again.communities
    assert first.actions == again.actions
    assert first.users != other.users and first.actions != other.actions


def test_community_sizes_and_post_engagement_are_heavy_tailed():
    plan = plan_history(SeedSizes(users=2000, communities=20, posts=3000, actions=60000, days=3), 1)

    members = Counter(a.community for a in plan.actions if a.verb in ("join", "create_community"))
    sizes = sorted(members.values(), reverse=True)
    engagement = Counter(a.post for a in plan.actions if a.post is not None and a.verb != "post")
    per_post = sorted(engagement.values(), reverse=True)

    assert sum(sizes[:4]) / sum(sizes) > 0.4  # the top fifth of communities
    assert sizes[0] > 4 * sizes[len(sizes) // 2]
    assert sum(per_post[: len(per_post) // 10]) / sum(per_post) > 0.5  # the top tenth of posts


def test_activity_follows_a_daily_rhythm():
    plan = plan_history(SeedSizes(users=300, communities=5, posts=800, actions=30000, days=4), 2)

    hours = Counter(int(a.at % 86400 // 3600) for a in plan.actions if a.verb == "view")

    assert hours[16] > 2 * hours[4]


@pytest.mark.django_db(transaction=True)
def test_direct_run_writes_the_plan_through_the_services():
    seed(*SMALL, "--seed", "11", "--workers", "2")
    plan = plan_history(SeedSizes(users=40, communities=5, posts=60, actions=600, days=0), 11)

    usernames = set(get_user_model().objects.values_list("username", flat=True))
    assert usernames == {u.username for u in plan.users}
    assert [c.slug for c in Community.objects.order_by("id")] == [c.slug for c in plan.communities]
    posted = Post.objects.filter(shared_from__isnull=True).values_list("text", flat=True)
    assert sorted(posted) == sorted(a.text for a in plan.actions if a.verb == "post")
    events = event_counts()
    for verb, event_type in VERB_EVENTS.items():
        assert events[event_type] == plan.count(verb), verb
    assert Membership.objects.count() == plan.count("join") + plan.count("create_community")
    assert all(u.profile.bio for u in get_user_model().objects.select_related("profile"))


@pytest.mark.django_db
def test_back_filled_history_carries_historical_event_times(tmp_path):
    truth = tmp_path / "truth.json"

    seed(*SMALL, *ONE_PROCESS, "--days", "2", "--seed", "5", "--viral-posts", "2",
         "--ground-truth", str(truth))  # fmt: skip

    times = sorted(OutboxEvent.objects.values_list("occurred_at", flat=True))
    assert (times[-1] - times[0]).total_seconds() > 36 * 3600
    planted = json.loads(truth.read_text())["viral_posts"]
    assert len(planted) == 2
    for burst in planted:
        start, end = datetime.fromisoformat(burst["start"]), datetime.fromisoformat(burst["end"])
        during = Counter(
            OutboxEvent.objects.filter(occurred_at__gte=start, occurred_at__lte=end)
            .exclude(envelope__post_id=None)
            .values_list("envelope__post_id", flat=True)
        )
        assert during[burst["post_id"]] >= burst["actions"] * 0.9
        assert during.most_common(1)[0][0] == burst["post_id"]
        assert sum(burst["per_minute"].values()) == burst["actions"]


@pytest.mark.django_db(transaction=True)
def test_api_mode_drives_a_live_server_and_produces_the_same_events(live_server):
    seed(*SMALL, "--seed", "3", "--api", live_server.url)
    plan = plan_history(SeedSizes(users=40, communities=5, posts=60, actions=600, days=0), 3)

    events = event_counts()
    for verb, event_type in VERB_EVENTS.items():
        assert events[event_type] == plan.count(verb), verb
    assert get_user_model().objects.count() == 40


@pytest.mark.django_db
def test_live_mode_adds_engagement_at_the_requested_rate():
    seed(*SMALL, *ONE_PROCESS, "--seed", "4")
    before = OutboxEvent.objects.count()

    seed("--live", "--rate", "40", "--duration", "3", "--seed", "4")

    added = OutboxEvent.objects.count() - before
    assert 80 <= added <= 125


@pytest.mark.django_db(transaction=True)
def test_every_event_of_a_small_run_reaches_kafka(celery_worker_factory, kafka_topic):
    """With a worker running, the outbox drains to the topic: every event by its id."""
    from tests.support.kafka import topic_read_all
    from tests.support.processes import wait_until

    celery_worker_factory({"TEST_KAFKA_EVENTS_TOPIC": kafka_topic})
    seed("--users", "12", "--communities", "2", "--posts", "10", "--actions", "80", "--days", "1")

    drained = wait_until(
        lambda: not OutboxEvent.objects.exclude(status="published").exists(), timeout=60
    )
    assert drained
    on_topic = {message.event_id for message in topic_read_all(kafka_topic)}
    in_outbox = {str(e) for e in OutboxEvent.objects.values_list("event_id", flat=True)}
    assert on_topic == in_outbox and len(in_outbox) > 100


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "-5"], "--users"),
        (["--users", "3", "--communities", "5"], "--communities cannot exceed --users"),
        (["--api", "http://127.0.0.1:9/", "--users", "5", "--communities", "2"], "cannot reach"),
        (["--api", "http://127.0.0.1:9/", "--days", "2"], "cannot be combined with --api"),
    ],
)
def test_bad_arguments_give_one_line_and_a_non_zero_exit(args, message):
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_fake_data", *args],
        cwd=REPO_DIR, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


@pytest.mark.django_db(transaction=True)
def test_a_chunk_chosen_as_deadlock_victim_is_applied_again_once():
    """Two writers lock posts A and B in opposite orders. MariaDB rolls back the lighter
    transaction, the generator's; it retries, and every like is written and counted once."""
    from django.db import connection, transaction

    from accounts.services import NewUser, users_create_bulk
    from communities.services import community_create
    from generator.replay import DirectReplayer
    from generator.traffic import Action
    from posts.services import post_create

    fan, owner = users_create_bulk(
        new_users=[NewUser(username=name, email=f"{name}@example.com") for name in ("fan", "own")],
        password="x" * 12,
    )
    community = community_create(creator=owner, name="Locks", slug="locks")
    post_a, post_b = (
        post_create(author=owner, community=community, kind="quote", text=text) for text in "AB"
    )
    b_locked, other_got_a = threading.Event(), threading.Event()

    def other_writer() -> None:
        try:
            with transaction.atomic():
                users_create_bulk(  # rows written: the heavier transaction is not the victim
                    new_users=[NewUser(username=f"bulk{i}", email="") for i in range(100)],
                    password="x" * 12,
                )
                Post.objects.select_for_update().get(pk=post_b.pk)
                b_locked.set()
                time.sleep(1.0)  # the generator now holds A and waits for B
                Post.objects.select_for_update().get(pk=post_a.pk)
                other_got_a.set()
                transaction.set_rollback(True)
        finally:
            connection.close()

    other = threading.Thread(target=other_writer)
    other.start()
    assert b_locked.wait(30)
    replayer = DirectReplayer(seed=1, password="x" * 12)
    replayer.users, replayer.posts = [fan], {0: post_a, 1: post_b}
    replayer.run_chunk([Action(at=0, verb="like", user=0, community=0, post=p) for p in (0, 1)])
    other.join(30)

    assert other_got_a.is_set()  # only possible if the generator's first attempt rolled back
    assert replayer.done["like"] == 2
    assert sorted(Post.objects.filter(pk__in=[post_a.pk, post_b.pk]).values_list(
        "like_count", flat=True)) == [1, 1]  # fmt: skip
    assert event_counts()["post_liked"] == 2
