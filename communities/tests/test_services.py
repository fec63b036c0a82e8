from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from communities.models import Community, Membership
from communities.services import (
    SLUG_RE,
    community_create,
    community_join,
    community_leave,
    community_transfer_ownership,
    membership_set_role,
)
from events.envelope import EventType
from tests.factories import community_make, user_make
from tests.support.outbox import event_count, events

pytestmark = pytest.mark.django_db


def test_create_makes_the_creator_owner_and_appends_one_event():
    alice = user_make("alice")
    community = community_create(creator=alice, name="Film Buffs", description=" Movies ")

    assert community.slug == "film-buffs"
    assert community.description == "Movies"
    assert community.member_count == 1
    membership = Membership.objects.get(community=community)
    assert (membership.user, membership.role) == (alice, Membership.Role.OWNER)
    [event] = events()
    assert event["event_type"] == EventType.COMMUNITY_CREATED
    assert (event["actor_id"], event["community_id"], event["post_id"]) == (
        alice.pk,
        community.pk,
        None,
    )
    assert event["payload"]["slug"] == "film-buffs"


def test_create_uses_occurred_at_for_rows_and_event():
    moment = datetime(2025, 3, 1, 9, 30, 0, 250000, tzinfo=UTC)
    community = community_make(occurred_at=moment)
    assert community.created_at == moment
    assert Membership.objects.get(community=community).joined_at == moment
    assert events()[0]["occurred_at"] == "2025-03-01T09:30:00.250Z"


@pytest.mark.parametrize(
    ("name", "slug", "field"),
    [
        ("ab", "", "name"),
        ("x" * 101, "", "name"),
        ("Good name", "Bad Slug!", "slug"),
        ("Good name", "-edge", "slug"),
    ],
)
def test_create_rejects_bad_names_and_slugs(name, slug, field):
    with pytest.raises(ValidationError) as excinfo:
        community_create(creator=user_make(), name=name, slug=slug)
    assert field in excinfo.value.message_dict
    assert event_count() == 0


def test_a_name_with_too_few_ascii_letters_gets_a_made_up_slug():
    community = community_create(creator=user_make(), name="日本語")
    assert community.slug.startswith("c-") and SLUG_RE.match(community.slug)


def test_create_rejects_duplicate_name_case_insensitively_and_duplicate_slug():
    community_make(name="Jazz")
    with pytest.raises(ValidationError) as excinfo:
        community_create(creator=user_make(), name="jazz", slug="other-jazz")
    assert "name" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        community_create(creator=user_make(), name="Jazz Club", slug="jazz")
    assert "slug" in excinfo.value.message_dict
    assert Community.objects.count() == 1


def test_inactive_user_cannot_create():
    with pytest.raises(PermissionDenied):
        community_create(creator=user_make(is_active=False), name="Nope")


def test_join_is_idempotent_and_counts_members():
    community = community_make()
    bob = user_make()
    first = community_join(user=bob, community=community)
    second = community_join(user=bob, community=community)

    assert first.pk == second.pk
    assert first.role == Membership.Role.MEMBER
    community.refresh_from_db()
    assert community.member_count == 2 == community.memberships.count()
    joined = events(EventType.COMMUNITY_JOINED)
    assert len(joined) == 1
    assert joined[0]["actor_id"] == bob.pk
    assert joined[0]["community_id"] == community.pk


def test_leave_removes_membership_and_appends_event():
    community = community_make()
    bob = user_make()
    community_join(user=bob, community=community)
    community_leave(user=bob, community=community)

    community.refresh_from_db()
    assert community.member_count == 1 == community.memberships.count()
    [left] = events(EventType.COMMUNITY_LEFT)
    assert left["payload"] == {"role": "member"}


def test_leave_when_not_a_member_is_rejected():
    with pytest.raises(ValidationError):
        community_leave(user=user_make(), community=community_make())
    assert events(EventType.COMMUNITY_LEFT) == []


def test_owner_cannot_leave_until_ownership_is_transferred():
    alice, bob = user_make(), user_make()
    community = community_make(owner=alice)
    community_join(user=bob, community=community)
    with pytest.raises(ValidationError):
        community_leave(user=alice, community=community)

    community_transfer_ownership(actor=alice, community=community, new_owner=bob)
    roles = dict(community.memberships.values_list("user__username", "role"))
    assert roles == {alice.username: "moderator", bob.username: "owner"}
    community_leave(user=alice, community=community)
    assert community.memberships.count() == 1


def test_only_the_owner_transfers_ownership_and_only_to_a_member():
    alice, bob, carol = user_make(), user_make(), user_make()
    community = community_make(owner=alice)
    community_join(user=bob, community=community)
    with pytest.raises(PermissionDenied):
        community_transfer_ownership(actor=bob, community=community, new_owner=bob)
    with pytest.raises(ValidationError):
        community_transfer_ownership(actor=alice, community=community, new_owner=carol)


def test_staff_can_transfer_ownership():
    alice, bob = user_make(), user_make()
    community = community_make(owner=alice)
    community_join(user=bob, community=community)
    community_transfer_ownership(actor=user_make(is_staff=True), community=community, new_owner=bob)
    assert Membership.objects.get(community=community, user=bob).role == "owner"


def test_set_role_by_owner_only_and_never_to_owner():
    alice, bob, carol = user_make(), user_make(), user_make()
    community = community_make(owner=alice)
    community_join(user=bob, community=community)
    community_join(user=carol, community=community)
    before = event_count()

    membership_set_role(actor=alice, community=community, user=bob, role="moderator")
    assert Membership.objects.get(user=bob, community=community).role == "moderator"
    with pytest.raises(PermissionDenied):
        membership_set_role(actor=bob, community=community, user=carol, role="moderator")
    with pytest.raises(ValidationError):
        membership_set_role(actor=alice, community=community, user=carol, role="owner")
    with pytest.raises(ValidationError):
        membership_set_role(actor=alice, community=community, user=alice, role="member")
    assert event_count() == before  # role changes have no event type


def test_rolled_back_actions_leave_no_rows_and_no_events():
    owner = user_make()
    with pytest.raises(RuntimeError), transaction.atomic():
        community = community_create(creator=owner, name="Ghost Town")
        community_join(user=user_make(), community=community)
        raise RuntimeError("boom")
    assert not Community.objects.filter(name="Ghost Town").exists()
    assert event_count() == 0
