"""Writes for communities and memberships. Each state change appends its analytics event in
the same transaction (events.services.event_append)."""

from __future__ import annotations

import re
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
from events.services import event_append

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,48}[a-z0-9])$")
NAME_MIN, NAME_MAX = 3, 100
DESCRIPTION_MAX = 2000


def user_require_active(user: User) -> None:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise PermissionDenied("You need to be logged in.")


def _community_validate(*, name: str, slug: str, description: str) -> None:
    errors: dict[str, str] = {}
    if not NAME_MIN <= len(name) <= NAME_MAX:
        errors["name"] = f"The name must be {NAME_MIN} to {NAME_MAX} characters long."
    elif Community.objects.filter(name__iexact=name).exists():
        errors["name"] = "A community with this name already exists."
    if not SLUG_RE.match(slug):
        errors["slug"] = (
            "The URL name must be 3 to 50 lowercase letters, digits or hyphens, "
            "starting and ending with a letter or digit."
        )
    elif Community.objects.filter(slug=slug).exists():
        errors["slug"] = "This URL name is taken."
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
    slug = slug.strip().lower() or slugify(name)[:50].strip("-")
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
        raise ValidationError({"slug": "This name or URL name was just taken."}) from exc
    return community


def community_join(
    *, user: User, community: Community, occurred_at: datetime | None = None
) -> Membership:
    """Join as a member. Idempotent: joining again returns the membership, no new event."""
    user_require_active(user)
    occurred_at = occurred_at or timezone.now()
    existing = Membership.objects.filter(user=user, community=community).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                community=community, user=user, joined_at=occurred_at
            )
            Community.objects.filter(pk=community.pk).update(member_count=F("member_count") + 1)
            event_append(
                event_type=EventType.COMMUNITY_JOINED,
                actor_id=user.pk,
                community_id=community.pk,
                payload={"role": membership.role},
                occurred_at=occurred_at,
            )
            version_bump_on_commit(community_cache_name(community.slug))
    except IntegrityError:
        # A concurrent request joined first (unique user+community); that one has the event.
        return Membership.objects.get(user=user, community=community)
    return membership


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
    errors: dict[str, str] = {}
    if not NAME_MIN <= len(new_name) <= NAME_MAX:
        errors["name"] = f"The name must be {NAME_MIN} to {NAME_MAX} characters long."
    elif Community.objects.filter(name__iexact=new_name).exclude(pk=community.pk).exists():
        errors["name"] = "A community with this name already exists."
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
        raise ValidationError({"name": "A community with this name already exists."}) from exc
    community.refresh_from_db()
    return community
