import math
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from communities.services import community_join, membership_set_role
from events.envelope import EventType, envelope_validate
from events.models import OutboxEvent
from posts import batch, ranking, services
from posts.models import Comment, Like, Post, Share
from tests.factories import community_make, image_upload, user_make, video_upload
from tests.support.files import stored_files
from tests.support.outbox import event_count, events

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """An owner, a member and an outsider around one community."""
    owner, member, outsider = user_make("owner"), user_make("member"), user_make("outsider")
    community = community_make(owner=owner, name="Quotes")
    community_join(user=member, community=community)
    return owner, member, outsider, community


def quote(author, community, text="To be or not to be.", **kwargs) -> Post:
    return services.post_create(
        author=author, community=community, kind="quote", text=text, **kwargs
    )


def counters_match_rows(post: Post) -> None:
    post.refresh_from_db()
    assert post.like_count == Like.objects.filter(post=post).count()
    assert post.comment_count == Comment.objects.filter(post=post).count()
    assert post.share_count == Share.objects.filter(post=post).count()
    expected = ranking.hot_score(
        engagement=ranking.engagement(
            like_count=post.like_count,
            comment_count=post.comment_count,
            share_count=post.share_count,
        ),
        created_at=post.created_at,
    )
    assert math.isclose(post.hot_score, expected, rel_tol=1e-9)


# ---------------------------------------------------------------------------- post_create


def test_member_posts_a_quote_with_one_event(world):
    _, member, _, community = world
    before = event_count()
    post = quote(member, community, attribution="Hamlet")

    assert (post.kind, post.text, post.attribution) == ("quote", "To be or not to be.", "Hamlet")
    assert event_count() == before + 1
    [event] = events(EventType.POST_CREATED)
    assert event["post_id"] == post.pk
    assert event["community_id"] == community.pk
    assert event["actor_id"] == member.pk
    assert event["payload"]["kind"] == "quote"
    counters_match_rows(post)


def test_image_post_stores_media_and_thumbnail_under_random_names(world, media_root):
    _, member, _, community = world
    post = services.post_create(
        author=member,
        community=community,
        kind="image",
        text="Sunset",
        media=image_upload(name="../../etc/passwd.png"),
    )
    assert post.media.name.startswith("posts/media/") and post.media.name.endswith(".png")
    assert post.thumbnail.name.startswith("posts/thumbs/") and post.thumbnail.name.endswith(".webp")
    assert "passwd" not in post.media.name
    assert (post.media_width, post.media_height, post.media_content_type) == (320, 200, "image/png")
    assert stored_files(media_root) == sorted([post.media.name, post.thumbnail.name])
    payload = events(EventType.POST_CREATED)[0]["payload"]
    assert payload["kind"] == "image" and payload["content_type"] == "image/png"


def test_video_post_gets_duration_and_poster(world, media_root):
    _, member, _, community = world
    post = services.post_create(
        author=member, community=community, kind="video", media=video_upload("webm")
    )
    assert post.media.name.endswith(".webm") and post.thumbnail.name.endswith(".jpg")
    assert post.media_duration == pytest.approx(1.0, abs=0.2)
    payload = events(EventType.POST_CREATED)[0]["payload"]
    assert payload["kind"] == "video" and payload["duration_seconds"] > 0


def test_only_members_post(world):
    _, _, outsider, community = world
    with pytest.raises(PermissionDenied):
        quote(outsider, community)
    assert events(EventType.POST_CREATED) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "quote", "text": "   "}, "text"),
        ({"kind": "poem", "text": "x"}, "kind"),
        ({"kind": "image", "text": "no file"}, "media"),
        ({"kind": "video"}, "media"),
        ({"kind": "quote", "text": "x", "attribution": "a" * 201}, "attribution"),
        ({"kind": "quote", "text": "x" * 5001}, "text"),
    ],
)
def test_post_validation_is_field_keyed(world, kwargs, field):
    _, member, _, community = world
    with pytest.raises(ValidationError) as excinfo:
        services.post_create(author=member, community=community, **kwargs)
    assert field in excinfo.value.message_dict
    assert Post.objects.count() == 0


def test_bad_media_is_a_media_error_and_stores_nothing(world, media_root):
    _, member, _, community = world
    with pytest.raises(ValidationError) as excinfo:
        services.post_create(author=member, community=community, kind="video", media=image_upload())
    assert "media" in excinfo.value.message_dict
    assert stored_files(media_root) == []


def test_failed_transaction_deletes_the_stored_files(world, media_root, monkeypatch):
    _, member, _, community = world

    def broken_events_append(events):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(batch, "events_append", broken_events_append)
    with pytest.raises(RuntimeError):
        services.post_create(author=member, community=community, kind="image", media=image_upload())
    assert Post.objects.count() == 0
    assert stored_files(media_root) == []


def test_occurred_at_backfills_created_at_event_time_and_hot_score(world):
    _, member, _, community = world
    moment = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    post = quote(member, community, occurred_at=moment)
    assert post.created_at == moment
    assert events(EventType.POST_CREATED)[0]["occurred_at"] == "2025-01-02T03:04:05.000Z"
    assert post.hot_score == pytest.approx(ranking.age_term(moment))


# ---------------------------------------------------------------------------- post_delete


@pytest.mark.parametrize("who", ["author", "owner", "moderator", "staff"])
def test_author_moderators_owner_and_staff_can_delete(
    world, media_root, who, django_capture_on_commit_callbacks
):
    owner, member, _, community = world
    author = user_make()
    community_join(user=author, community=community)
    post = services.post_create(
        author=author, community=community, kind="image", media=image_upload()
    )
    if who == "moderator":
        membership_set_role(actor=owner, community=community, user=member, role="moderator")
    actor = {"author": author, "owner": owner, "moderator": member}.get(who) or user_make(
        is_staff=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.post_delete(actor=actor, post=post)

    assert post.is_deleted and post.text == "" and not post.media
    assert stored_files(media_root) == []
    [event] = events(EventType.POST_DELETED)
    assert event["post_id"] == post.pk and event["actor_id"] == actor.pk
    assert event["payload"]["deleted_by"] == {"owner": "owner", "moderator": "moderator"}.get(
        who, who
    )
    # Deleting again is a no-op.
    services.post_delete(actor=actor, post=post)
    assert len(events(EventType.POST_DELETED)) == 1


def test_others_cannot_delete(world):
    _, member, outsider, community = world
    post = quote(member, community)
    plain_member = user_make()
    community_join(user=plain_member, community=community)
    for actor in (outsider, plain_member):
        with pytest.raises(PermissionDenied):
            services.post_delete(actor=actor, post=post)
    assert events(EventType.POST_DELETED) == []


# ---------------------------------------------------------------------------- views


def test_view_record_for_signed_in_viewers_only(world):
    _, member, outsider, community = world
    post = quote(member, community)
    assert services.post_view_record(viewer=outsider, post=post) is True
    assert services.post_view_record(viewer=AnonymousUser(), post=post) is False
    [event] = events(EventType.POST_VIEWED)
    assert (event["actor_id"], event["post_id"], event["payload"]["kind"]) == (
        outsider.pk,
        post.pk,
        "quote",
    )


# ---------------------------------------------------------------------------- likes


def test_like_is_idempotent_and_counts(world):
    _, member, outsider, community = world
    post = quote(member, community)
    score_before = post.hot_score

    first = services.post_like(user=outsider, post=post)
    second = services.post_like(user=outsider, post=post)

    assert first.pk == second.pk
    assert post.like_count == 1
    assert post.hot_score == pytest.approx(score_before)  # log10(1) == log10(max(0, 1))
    services.post_like(user=member, post=post)
    assert post.hot_score == pytest.approx(score_before + math.log10(2))
    assert len(events(EventType.POST_LIKED)) == 2
    counters_match_rows(post)


def test_unlike_removes_the_like_once(world):
    _, member, outsider, community = world
    post = quote(member, community)
    services.post_like(user=outsider, post=post)
    assert services.post_unlike(user=outsider, post=post) is True
    assert services.post_unlike(user=outsider, post=post) is False
    assert post.like_count == 0
    [event] = events(EventType.POST_UNLIKED)
    assert event["actor_id"] == outsider.pk
    counters_match_rows(post)


def test_deleted_posts_cannot_be_liked(world):
    _, member, outsider, community = world
    post = quote(member, community)
    services.post_delete(actor=member, post=post)
    with pytest.raises(ValidationError):
        services.post_like(user=outsider, post=post)


def test_anonymous_cannot_like(world):
    _, member, _, community = world
    with pytest.raises(PermissionDenied):
        services.post_like(user=AnonymousUser(), post=quote(member, community))


# ---------------------------------------------------------------------------- comments


def test_comments_and_threaded_replies(world):
    owner, member, _, community = world
    post = quote(member, community)
    top = services.comment_create(author=owner, post=post, body="Great line")
    reply = services.comment_create(author=member, post=post, body="Thanks!", parent=top)
    deeper = services.comment_create(author=owner, post=post, body="Sure", parent=reply)

    assert (top.depth, reply.depth, deeper.depth) == (0, 1, 2)
    assert (top.root_id, reply.root_id, deeper.root_id) == (None, top.pk, top.pk)
    assert post.comment_count == 3
    created = events(EventType.COMMENT_CREATED)
    assert [e["payload"]["comment_id"] for e in created] == [top.pk, reply.pk, deeper.pk]
    assert [e["payload"]["parent_id"] for e in created] == [None, top.pk, reply.pk]
    counters_match_rows(post)


def test_only_members_comment(world):
    _, member, outsider, community = world
    with pytest.raises(PermissionDenied):
        services.comment_create(author=outsider, post=quote(member, community), body="hi")
    assert events(EventType.COMMENT_CREATED) == []


def test_comment_validation(world):
    _, member, _, community = world
    post, other = quote(member, community), quote(member, community, text="Other")
    foreign = services.comment_create(author=member, post=other, body="elsewhere")
    with pytest.raises(ValidationError) as excinfo:
        services.comment_create(author=member, post=post, body="  ")
    assert "body" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        services.comment_create(author=member, post=post, body="x", parent=foreign)
    assert "parent" in excinfo.value.message_dict


def test_comment_delete_by_author_or_moderator_keeps_the_thread(world):
    owner, member, outsider, community = world
    post = quote(member, community)
    comment = services.comment_create(author=member, post=post, body="oops")
    services.comment_create(author=owner, post=post, body="reply", parent=comment)
    with pytest.raises(PermissionDenied):
        services.comment_delete(actor=outsider, comment=comment)
    services.comment_delete(actor=owner, comment=comment)

    assert comment.is_deleted and comment.body == ""
    assert post.comments.count() == 2
    with pytest.raises(ValidationError):
        services.comment_create(author=member, post=post, body="x", parent=comment)
    counters_match_rows(post)


# ---------------------------------------------------------------------------- shares


def test_share_into_another_community_creates_a_repost(world):
    owner, member, _, community = world
    other = community_make(owner=member, name="Elsewhere")
    post = quote(owner, community)

    share = services.post_share(user=member, post=post, target_community=other, comment="Look!")

    repost = share.repost
    assert (repost.community, repost.author, repost.shared_from) == (other, member, post)
    assert (repost.kind, repost.text) == ("quote", "Look!")
    assert post.share_count == 1
    [event] = events(EventType.POST_SHARED)
    assert event["community_id"] == community.pk and event["post_id"] == post.pk
    assert event["payload"]["share_id"] == share.pk
    assert event["payload"]["target_community_id"] == other.pk
    assert event["payload"]["repost_id"] == repost.pk
    assert events(EventType.POST_CREATED)[-1]["post_id"] == post.pk  # no post_created for reposts
    counters_match_rows(post)


def test_sharing_a_repost_shares_the_original(world):
    owner, member, _, community = world
    second, third = community_make(owner=member), community_make(owner=member)
    post = quote(owner, community)
    repost = services.post_share(user=member, post=post, target_community=second).repost
    share = services.post_share(user=member, post=repost, target_community=third)
    assert share.post == post and share.repost.shared_from == post
    post.refresh_from_db()
    assert post.share_count == 2


def test_share_rules(world):
    owner, member, outsider, community = world
    foreign = community_make(owner=outsider)
    post = quote(member, community)
    with pytest.raises(PermissionDenied):
        services.post_share(user=member, post=post, target_community=foreign)
    with pytest.raises(ValidationError) as excinfo:
        services.post_share(user=member, post=post, target_community=community)
    assert "target_community" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        services.post_share(user=member, post=post, comment="x" * 301)
    assert "comment" in excinfo.value.message_dict
    assert events(EventType.POST_SHARED) == []
    # Without a target it is a plain share (e.g. a copied link): counted, no repost.
    share = services.post_share(user=outsider, post=post)
    assert share.repost is None and share.target_community is None
    counters_match_rows(post)


# ---------------------------------------------------------------------------- transactions


def test_rolled_back_actions_leave_no_events(world):
    owner, member, _, community = world
    post = quote(member, community)
    before = event_count()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.post_like(user=owner, post=post)
        services.comment_create(author=owner, post=post, body="hi")
        raise RuntimeError("boom")
    assert event_count() == before
    counters_match_rows(post)
    assert post.like_count == 0 and post.comment_count == 0


def test_hot_ranking_prefers_newer_posts_until_engagement_outweighs_age(world):
    _, member, outsider, community = world
    now = datetime.now(UTC)
    old = quote(member, community, text="old", occurred_at=now - timedelta(hours=12.5))
    new = quote(member, community, text="new", occurred_at=now)
    assert new.hot_score > old.hot_score
    for _ in range(11):  # 11 likes on the old post: log10(11) > one 12.5-hour step
        services.post_like(user=user_make(), post=old)
    assert old.hot_score > new.hot_score


def test_each_service_appends_exactly_its_event(world):
    owner, member, outsider, community = world
    other = community_make(owner=member)
    post = quote(member, community)
    comment = services.comment_create(author=owner, post=post, body="c")

    actions = [
        (EventType.POST_CREATED, lambda: quote(member, community)),
        (EventType.POST_VIEWED, lambda: services.post_view_record(viewer=owner, post=post)),
        (EventType.POST_LIKED, lambda: services.post_like(user=owner, post=post)),
        (EventType.POST_UNLIKED, lambda: services.post_unlike(user=owner, post=post)),
        (
            EventType.COMMENT_CREATED,
            lambda: services.comment_create(author=owner, post=post, body="r", parent=comment),
        ),
        (
            EventType.POST_SHARED,
            lambda: services.post_share(user=member, post=post, target_community=other),
        ),
        (EventType.POST_DELETED, lambda: services.post_delete(actor=member, post=post)),
    ]
    for event_type, action in actions:
        before = list(OutboxEvent.objects.values_list("pk", flat=True))
        action()
        new = OutboxEvent.objects.exclude(pk__in=before)
        assert [e.event_type for e in new] == [event_type]
        envelope_validate(new[0].envelope)
    # comment_delete has no event type in the contract: it appends nothing.
    before = event_count()
    services.comment_delete(actor=owner, comment=comment)
    assert event_count() == before
