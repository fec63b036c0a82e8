from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import BooleanField, Exists, OuterRef, QuerySet, Value

from communities.models import Community, Membership
from core.cache import cached_by_version

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def membership_get(*, user: User | AnonymousUser, community: Community) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, community=community).first()


def user_can_moderate(*, user: User | AnonymousUser, community: Community) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    membership = membership_get(user=user, community=community)
    return membership is not None and membership.can_moderate


def community_list(*, user: User | AnonymousUser, search: str = "") -> QuerySet[Community]:
    """Communities by size, optionally filtered by name; `is_member` for the viewer."""
    communities = Community.objects.all()
    search = search.strip()
    if search:
        communities = communities.filter(name__icontains=search) | communities.filter(
            slug__icontains=search
        )
    if user.is_authenticated:
        is_member = Exists(Membership.objects.filter(community=OuterRef("pk"), user=user))
    else:
        is_member = Value(False, output_field=BooleanField())
    return (
        communities.select_related("created_by")
        .annotate(is_member=is_member)
        .order_by("-member_count", "name")
    )


def community_list_for_user(*, user: User | AnonymousUser) -> QuerySet[Community]:
    if not user.is_authenticated:
        return Community.objects.none()
    return Community.objects.filter(memberships__user=user).order_by("name")


def community_members(*, community: Community) -> QuerySet[Membership]:
    """Owner first, then moderators, then members by join date."""
    from django.db.models import Case, IntegerField, When

    rank = Case(
        When(role=Membership.Role.OWNER, then=0),
        When(role=Membership.Role.MODERATOR, then=1),
        default=2,
        output_field=IntegerField(),
    )
    return (
        Membership.objects.filter(community=community)
        .select_related("user")
        .annotate(rank=rank)
        .order_by("rank", "joined_at", "pk")
    )


def communities_by_id(ids: list[int]) -> dict[int, Community]:
    return Community.objects.in_bulk(ids)


def community_list_largest(*, limit: int) -> list[Community]:
    """The largest communities first (the dashboard's chart picker)."""
    return list(
        Community.objects.only("id", "slug", "name").order_by("-member_count", "name")[:limit]
    )


MODERATORS_SHOWN = 10
HEADER_TTL_SECONDS = 3600


def community_cache_name(slug: str) -> str:
    """The cache name of what a community's page shows about it (its version is bumped by
    every write to the community or its memberships, communities.services)."""
    return f"community:{slug}"


@dataclass(frozen=True)
class CommunityHeader:
    community: Community
    moderators: list[Membership]  # owner first, with their users


def community_header(*, slug: str) -> CommunityHeader | None:
    """A community and its first moderators (its page's banner and sidebar), cached."""

    def compute() -> CommunityHeader | None:
        community = Community.objects.filter(slug=slug).first()
        if community is None:
            return None
        moderators = community_members(community=community).filter(
            role__in=[Membership.Role.OWNER, Membership.Role.MODERATOR]
        )
        return CommunityHeader(community, list(moderators[:MODERATORS_SHOWN]))

    return cached_by_version(community_cache_name(slug), compute, HEADER_TTL_SECONDS)
