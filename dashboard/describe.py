"""Names for the ids the analytics selectors rank: a post's label, community and links, a
community's name and slug. The metric tables hold ids only; the domain apps know what the
ids are, and this is where the two meet."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from django.urls import reverse

from analytics.selectors.engagement import TopList
from analytics.selectors.trends import PredictionList
from communities.selectors import communities_by_id
from posts.selectors import post_label, posts_by_id


@dataclass(frozen=True)
class EntityRef:
    label: str
    community: str | None = None
    url: str | None = None
    admin_url: str | None = None
    deleted: bool = False


def posts_describe(ids: list[int]) -> dict[int, EntityRef]:
    posts = posts_by_id(ids)
    described = {}
    for post_id in ids:
        post = posts.get(post_id)
        if post is None:
            described[post_id] = EntityRef(f"Post #{post_id} (gone)", deleted=True)
            continue
        described[post_id] = EntityRef(
            label=post_label(post),
            community=post.community.slug,
            url=None if post.is_deleted else post.get_absolute_url(),
            admin_url=reverse("admin:posts_post_change", args=[post.pk]),
            deleted=post.is_deleted,
        )
    return described


def communities_describe(ids: list[int]) -> dict[int, EntityRef]:
    communities = communities_by_id(ids)
    described = {}
    for community_id in ids:
        community = communities.get(community_id)
        if community is None:
            described[community_id] = EntityRef(f"Community #{community_id} (gone)", deleted=True)
            continue
        described[community_id] = EntityRef(
            label=community.name, community=community.slug, url=community.get_absolute_url()
        )
    return described


def top_list_described(top: TopList) -> TopList:
    ids = [entry.id for entry in top.results]
    refs = posts_describe(ids) if top.entity == "post" else communities_describe(ids)
    top.results = [replace(entry, **asdict(refs[entry.id])) for entry in top.results]
    return top


def predictions_described(predictions: PredictionList) -> dict[str, Any]:
    """The prediction list as plain data, each entry with its post's label and links."""
    refs = posts_describe([entry.post_id for entry in predictions.results])
    results = []
    for entry in predictions.results:
        ref = refs[entry.post_id]
        results.append(
            {
                **asdict(entry),
                "label": ref.label,
                "community": ref.community,
                "url": ref.url,
                "deleted": ref.deleted,
            }
        )
    return {**asdict(predictions), "results": results}
