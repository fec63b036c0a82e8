"""Writes for communities and memberships. Each state change appends its analytics event in
the same transaction (events.services.event_append)."""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from communities.models import Community, Membership
from communities.selectors import community_cache_name
from core.cache import version_bump_on_commit
from events.envelope import EventType
from events.services import NewEvent, event_append, events_append

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SLUG_MIN, SLUG_MAX = 3, 50
SLUG_PATTERN = rf"^[a-z0-9][a-z0-9-]{{{SLUG_MIN - 2},{SLUG_MAX - 2}}}[a-z0-9]$"
SLUG_RE = re.compile(SLUG_PATTERN)
NAME_MIN, NAME_MAX = 3, 100
# At least NAME_MIN characters once the spaces around it are stripped.
NAME_PATTERN = rf"^\s*\S[\s\S]{{{NAME_MIN - 2},}}\S\s*$"
DESCRIPTION_MAX = 2000


def user_require_active(user: User) -> None:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise PermissionDenied("You need to be logged in.")


def _taken(message: str) -> ValidationError:
    """A rule broken only because another row has the value: the API answers 409."""
    return ValidationError(message, code="conflict")


def _slug_from(name: str) -> str:
    """The URL name made from a name; a random one when the name has too few ASCII letters
    or digits to make one."""
    slug = slugify(name)[:SLUG_MAX].strip("-")
    return slug if SLUG_RE.match(slug) else f"c-{secrets.token_hex(4)}"


def _community_validate(*, name: str, slug: str, description: str) -> None:
    errors: dict[str, str | ValidationError] = {}
    if not NAME_MIN <= len(name) <= NAME_MAX:
        errors["name"] = f"The name must be {NAME_MIN} to {NAME_MAX} characters long."
    elif Community.objects.filter(name__iexact=name).exists():
        errors["name"] = _taken("A community with this name already exists.")
    if not SLUG_RE.match(slug):
        errors["slug"] = (
            "The URL name must be 3 to 50 lowercase letters, digits or hyphens, "
            "starting and ending with a letter or digit."
        )
    elif Community.objects.filter(slug=slug).exists():
        errors["slug"] = _taken("This URL name is taken.")
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = f"The description can be at most {DESCRIPTION_MAX} characters."
    if errors:
        raise ValidationError(errors)


def community_create(
    *,
    creator: User,
    name: str,
    slug: str = "",
    description: str = "",
    occurred_at: datetime | None = None,
) -> Community:
    """Create a community; the creator becomes its owner (implied by community_created: no
    separate community_joined event)."""
    user_require_active(creator)
    name, description = name.strip(), description.strip()
    slug = slug.strip().lower() or _slug_from(name)
    _community_validate(name=name, slug=slug, description=description)
    occurred_at = occurred_at or timezone.now()
    try:
        with transaction.atomic():
            community = Community.objects.create(
                name=name,
                slug=slug,
                description=description,
                created_by=creator,
                created_at=occurred_at,
                member_count=1,
            )
            Membership.objects.create(
                community=community,
                user=creator,
                role=Membership.Role.OWNER,
                joined_at=occurred_at,
            )
            event_append(
                event_type=EventType.COMMUNITY_CREATED,
                actor_id=creator.pk,
                community_id=community.pk,
                payload={"name": name, "slug": slug, "member_count": 1},
                occurred_at=occurred_at,
            )
            version_bump_on_commit(community_cache_name(slug))
    except IntegrityError as exc:  # lost a race for the same name or slug
        raise ValidationError({"slug": _taken("This name or URL name was just taken.")}) from exc
    return community


@dataclass(eq=False, kw_only=True)
class Join:
    """One join for `community_join_batch`; after it, `result` is the membership (new or
    existing) or `error` what `community_join` raises."""

    user: User
    community: Community
    occurred_at: datetime | None = None
    result: Membership | None = field(default=None, init=False)
    error: PermissionDenied | None = field(default=None, init=False)


def community_join(
    *, user: User, community: Community, occurred_at: datetime | None = None
) -> Membership:
    """Join as a member. Idempotent: joining again returns the membership, no new event."""
    join = Join(user=user, community=community, occurred_at=occurred_at)
    try:
        community_join_batch([join])
    except IntegrityError:
        # A concurrent request joined first (unique user+community); that one has the event.
        return Membership.objects.get(user=user, community=community)
    if join.error is not None:
        raise join.error
    return join.result


def community_join_batch(joins: Sequence[Join]) -> None:
    """Apply many joins, in order, in one transaction (a savepoint inside the caller's): one
    query for the memberships that exist, one INSERT for the new ones, one UPDATE of
    member_count per community, one outbox INSERT. The rules of `community_join`, which is
    this for one join."""
    pairs = {(join.user.pk, join.community.pk) for join in joins}
    with transaction.atomic():
        existing = {
            (m.user_id, m.community_id): m
            for m in Membership.objects.filter(
                user_id__in={u for u, _ in pairs}, community_id__in={c for _, c in pairs}
            )
            if (m.user_id, m.community_id) in pairs
        }
        new: list[Membership] = []
        events: list[NewEvent] = []
        for join in joins:
            try:
                user_require_active(join.user)
            except PermissionDenied as exc:
                join.error = exc
                continue
            pair = (join.user.pk, join.community.pk)
            if pair in existing:
                join.result = existing[pair]
                continue
            at = join.occurred_at or timezone.now()
            membership = Membership(community=join.community, user=join.user, joined_at=at)
            existing[pair] = join.result = membership
            new.append(membership)
            events.append(NewEvent(EventType.COMMUNITY_JOINED, join.user.pk, join.community.pk,
                                   payload={"role": membership.role}, occurred_at=at))  # fmt: skip
        if not new:
            return
        Membership.objects.bulk_create(new)
        for community_id, count in Counter(m.community_id for m in new).items():
            Community.objects.filter(pk=community_id).update(member_count=F("member_count") + count)
        events_append(events)
        # The community headers (member count) are cached: one bump per community, on commit.
        slugs = {m.community.slug for m in new}
        version_bump_on_commit(*(community_cache_name(slug) for slug in slugs))


def community_leave(
    *, user: User, community: Community, occurred_at: datetime | None = None
) -> None:
    """Leave a community. The owner must hand ownership over first."""
    user_require_active(user)
    occurred_at = occurred_at or timezone.now()
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().filter(user=user, community=community).first()
        )
        if membership is None:
            raise ValidationError("You are not a member of this community.", code="not_member")
        if membership.role == Membership.Role.OWNER:
            raise ValidationError(
                "The owner can't leave; make another member the owner first.",
                code="owner_cannot_leave",
            )
        membership.delete()
        Community.objects.filter(pk=community.pk).update(member_count=F("member_count") - 1)
        event_append(
            event_type=EventType.COMMUNITY_LEFT,
            actor_id=user.pk,
            community_id=community.pk,
            payload={"role": membership.role},
            occurred_at=occurred_at,
        )
        version_bump_on_commit(community_cache_name(community.slug))


def _membership_of(*, user: User, community: Community) -> Membership | None:
    return Membership.objects.filter(user=user, community=community).first()


def _require_owner(*, actor: User, community: Community) -> None:
    user_require_active(actor)
    if actor.is_staff:
        return
    membership = _membership_of(user=actor, community=community)
    if membership is None or membership.role != Membership.Role.OWNER:
        raise PermissionDenied("Only the community's owner can do this.")


def community_transfer_ownership(
    *,
    actor: User,
    community: Community,
    new_owner: User,
    occurred_at: datetime | None = None,
) -> Membership:
    """Make `new_owner` (a member) the owner; the previous owner becomes a moderator.
    No analytics event: the event contract has no role-change type (so `occurred_at` is
    accepted like every service's, and unused)."""
    _require_owner(actor=actor, community=community)
    with transaction.atomic():
        memberships = Membership.objects.select_for_update().filter(community=community)
        target = memberships.filter(user=new_owner).first()
        if target is None:
            raise ValidationError({"new_owner": "The new owner must be a member."})
        if target.role == Membership.Role.OWNER:
            return target
        memberships.filter(role=Membership.Role.OWNER).update(role=Membership.Role.MODERATOR)
        target.role = Membership.Role.OWNER
        target.save(update_fields=["role"])
        version_bump_on_commit(community_cache_name(community.slug))
    return target


def membership_set_role(
    *,
    actor: User,
    community: Community,
    user: User,
    role: str,
    occurred_at: datetime | None = None,
) -> Membership:
    """Make a member a moderator or a plain member (owner only; ownership moves only through
    community_transfer_ownership). No analytics event, as for ownership."""
    _require_owner(actor=actor, community=community)
    if role not in (Membership.Role.MODERATOR, Membership.Role.MEMBER):
        raise ValidationError({"role": "The role must be moderator or member."})
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().filter(user=user, community=community).first()
        )
        if membership is None:
            raise ValidationError({"user": "This person is not a member."})
        if membership.role == Membership.Role.OWNER:
            raise ValidationError({"role": "Transfer ownership to change the owner's role."})
        membership.role = role
        membership.save(update_fields=["role"])
        version_bump_on_commit(community_cache_name(community.slug))
    return membership


def community_update(
    *,
    actor: User,
    community: Community,
    name: str | None = None,
    description: str | None = None,
) -> Community:
    """Rename or re-describe a community: its owner, its moderators, or staff. The slug (its
    address) never changes. No analytics event: the contract has no community-updated type."""
    user_require_active(actor)
    if not actor.is_staff:
        membership = _membership_of(user=actor, community=community)
        if membership is None or not membership.can_moderate:
            raise PermissionDenied("Only the owner or moderators can edit this community.")
    new_name = community.name if name is None else name.strip()
    new_description = community.description if description is None else description.strip()
    errors: dict[str, str | ValidationError] = {}
    if not NAME_MIN <= len(new_name) <= NAME_MAX:
        errors["name"] = f"The name must be {NAME_MIN} to {NAME_MAX} characters long."
    elif Community.objects.filter(name__iexact=new_name).exclude(pk=community.pk).exists():
        errors["name"] = _taken("A community with this name already exists.")
    if len(new_description) > DESCRIPTION_MAX:
        errors["description"] = f"The description can be at most {DESCRIPTION_MAX} characters."
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            Community.objects.filter(pk=community.pk).update(
                name=new_name, description=new_description
            )
            version_bump_on_commit(community_cache_name(community.slug))
    except IntegrityError as exc:
        raise ValidationError(
            {"name": _taken("A community with this name already exists.")}
        ) from exc
    community.refresh_from_db()
    return community
