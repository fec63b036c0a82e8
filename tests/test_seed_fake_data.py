"""The fake-data generator: deterministic, life-like in its numbers, and honest about what
it writes (every action through the real services or the real API, with its event)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime

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


# --- the batch services against the one-by-one services ---------------------------------


def _world_snapshot() -> dict:
    """Every domain row and the event stream, with generated ids (row ids, event ids, stored
    file names) replaced by natural keys, so two runs of one plan can be compared."""
    from communities.models import Community, Membership
    from posts.models import Comment, Like, Post, Share

    users = {u.pk: u.username for u in get_user_model().objects.all()}
    slugs = dict(Community.objects.values_list("pk", "slug"))
    posts: dict[int, tuple] = {}
    for post in Post.objects.order_by("shared_from_id", "pk"):  # originals before reposts
        origin = posts.get(post.shared_from_id)
        posts[post.pk] = (users[post.author_id], slugs[post.community_id], post.created_at,
                          post.text, origin)  # fmt: skip
    comments = {
        c.pk: (users[c.author_id], posts[c.post_id], c.created_at, c.body)
        for c in Comment.objects.all()
    }
    shares = {s.pk: (users[s.user_id], posts[s.post_id], s.created_at) for s in Share.objects.all()}
    ids = {"actor_id": users, "author_id": users, "post_author_id": users,
           "community_id": slugs, "target_community_id": slugs, "post_id": posts,
           "repost_id": posts, "comment_id": comments, "parent_id": comments,
           "share_id": shares}  # fmt: skip

    def named(values: dict) -> dict:
        return {k: ids[k].get(v, v) if k in ids else v for k, v in values.items()}

    def envelope(e: dict) -> dict:
        return {**named({k: v for k, v in e.items() if k != "event_id"}),
                "payload": named(e["payload"])}  # fmt: skip

    return {
        "users": sorted(get_user_model().objects.values_list(
            "username", "email", "first_name", "last_name", "profile__bio", "is_active")),
        "communities": sorted((c.slug, c.name, c.description, users[c.created_by_id],
                               c.created_at, c.member_count) for c in Community.objects.all()),
        "memberships": sorted((users[m.user_id], slugs[m.community_id], m.role, m.joined_at)
                              for m in Membership.objects.all()),
        "posts": sorted((posts[p.pk], p.kind, p.attribution, p.like_count, p.comment_count,
                         p.share_count, p.hot_score, p.media_content_type, p.media_size,
                         p.media_width, p.media_height, p.media_duration, bool(p.media),
                         bool(p.thumbnail), p.deleted_at)
                        for p in Post.objects.all()),
        "likes": sorted((users[x.user_id], posts[x.post_id], x.created_at)
                        for x in Like.objects.all()),
        "comments": sorted((comments[c.pk], comments.get(c.parent_id), comments.get(c.root_id),
                            c.depth) for c in Comment.objects.all()),
        "shares": sorted((shares[s.pk], slugs.get(s.target_community_id),
                          posts.get(s.repost_id), s.comment) for s in Share.objects.all()),
        "events": [(row.event_type, posts.get(int(row.key)) if row.envelope["post_id"]
                    else slugs[int(row.key)], envelope(row.envelope))
                   for row in OutboxEvent.objects.order_by("id")],
    }  # fmt: skip


def _with_refused_actions(plan):
    """The plan and actions the services refuse: a comment by a non-member, a reply to that
    comment, a share into the post's own community, a post by a non-member and a like of it,
    an empty comment."""
    from dataclasses import replace

    from generator.traffic import Action

    members: dict[int, set[int]] = {}
    for a in plan.actions:
        if a.verb in ("join", "create_community"):
            members.setdefault(a.community, set()).add(a.user)
    post = next(a for a in plan.actions if a.verb == "post" and a.kind == "quote")
    outsider = next(u for u in range(len(plan.users)) if u not in members[post.community])
    member, c, p, at = post.user, post.community, post.post, post.at
    comment, bad_post = plan.comment_count, plan.post_count
    extra = [
        Action(at + 1, "comment", outsider, c, post=p, text="Hello", comment=comment),
        Action(at + 2, "comment", member, c, post=p, text="Re", parent_comment=comment,
               comment=comment + 1),
        Action(at + 3, "share", member, c, post=p, target_community=c),
        Action(at + 4, "post", outsider, c, post=bad_post, kind="quote", text="Not mine"),
        Action(at + 5, "like", member, c, post=bad_post),
        Action(at + 6, "comment", member, c, post=p, text="   ", comment=comment + 2),
    ]  # fmt: skip
    actions = sorted(plan.actions + extra, key=lambda a: a.at)
    return replace(plan, actions=actions, post_count=bad_post + 1, comment_count=comment + 3)


def _replay(plan, *, one_by_one: bool, start: datetime, media) -> dict:
    from generator.replay import COMMUNITY_VERBS, DirectReplayer

    replayer = DirectReplayer(seed=plan.seed, password="x" * 12, one_by_one=one_by_one)
    replayer.media = media
    replayer.begin(plan, start=start)
    replayer.create_users(lambda n: None)
    for community_phase in (True, False):
        actions = [a for a in plan.actions if (a.verb in COMMUNITY_VERBS) == community_phase]
        replayer.run(actions, lambda n: None)
    return {"done": replayer.done, "skipped": replayer.skipped}


@pytest.mark.django_db
def test_batch_services_write_what_the_one_by_one_services_write(monkeypatch, settings, tmp_path):
    """One plan (with pictures, videos, replies, reposts, unlikes and refused actions) through
    the one-by-one services, then, on the same empty database, through their batch forms in
    small batches (so actions refer to posts and comments of earlier batches and of their
    own): the same counts, the same domain rows, the same events in the same order."""
    from django.db import transaction

    from generator import replay
    from generator.replay import MediaMaker

    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(replay, "BATCH", 97)
    sizes = SeedSizes(users=30, communities=4, posts=45, actions=700, days=1, viral_posts=1)
    plan = _with_refused_actions(plan_history(sizes, 21))
    for verb in VERB_EVENTS:
        assert plan.count(verb) > 0, verb
    assert any(a.parent_comment is not None for a in plan.actions)
    assert any(a.target_community is not None for a in plan.actions)
    start = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    media = MediaMaker(plan.seed)

    runs = []
    for one_by_one in (True, False):
        with transaction.atomic():
            counts = _replay(plan, one_by_one=one_by_one, start=start, media=media)
            runs.append((counts, _world_snapshot()))
            transaction.set_rollback(True)

    (counts_one, world_one), (counts_batch, world_batch) = runs
    assert counts_batch == counts_one
    assert sum(counts_one["skipped"].values()) == 6  # the refused actions, both ways
    assert world_one["posts"] and any(p[7] for p in world_one["posts"])  # media posts
    for table in world_one:
        assert world_batch[table] == world_one[table], table
