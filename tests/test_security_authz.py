"""Authorization matrix: every write endpoint of the API and every write page, tried as each
kind of person, must give exactly the documented answer.

The rules (from the services' contracts, communities/services.py and posts/services.py):
- anyone logged in may create a community, join one, like/unlike and share any visible post;
- only members (any role) may post or comment in a community; staff are not members;
- leaving needs a membership, and the owner must hand ownership over first (400);
- the owner, moderators and staff may edit a community; only the owner and staff set roles;
- a post or comment may be deleted by its author, the community's owner/moderators or staff;
- anonymous callers get 401 from the API and a redirect to the login page from pages.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.services import token_for
from communities.models import Membership
from communities.services import community_join, membership_set_role
from posts.services import comment_create, post_create
from tests.factories import community_make, user_make

ROLES = ("anonymous", "non-member", "member", "author", "moderator", "owner", "staff")
_n = itertools.count(1)


@dataclass
class World:
    people: dict[str, Any]
    slug: str
    post_id: int
    comment_id: int
    member_id: int
    community_id: int


def world_make() -> World:
    n = next(_n)
    owner = user_make(f"owner{n}")
    community = community_make(owner=owner, name=f"Matrix {n}", slug=f"matrix-{n}")
    people = {"owner": owner}
    for role in ("moderator", "member", "author"):
        people[role] = user_make(f"{role}{n}")
        community_join(user=people[role], community=community)
    membership_set_role(
        actor=owner, community=community, user=people["moderator"], role="moderator"
    )
    people["non-member"] = user_make(f"outsider{n}")
    people["staff"] = user_make(f"staff{n}", is_staff=True)
    post = post_create(author=people["author"], community=community, kind="quote", text="Hi")
    comment = comment_create(author=people["author"], post=post, body="First")
    return World(people, community.slug, post.pk, comment.pk, people["member"].pk, community.pk)


def api_client(world: World, role: str) -> APIClient:
    client = APIClient()
    if role != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user=world.people[role])}")
    return client


def page_client(world: World, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world.people[role])
    return client


def _row(*answers: int | str) -> dict[str, int | str]:
    return dict(zip(ROLES, answers, strict=True))


# endpoint -> (method, path template, body) and its expected status per role, in ROLES order.
API: dict[str, tuple[str, str, dict | None, dict[str, int]]] = {
    "community create": ("post", "/api/v1/communities/", {"name": "New {n}", "slug": "new-{n}"},
                         _row(401, 201, 201, 201, 201, 201, 201)),
    "community edit": ("patch", "/api/v1/communities/{slug}/", {"description": "Edited"},
                       _row(401, 403, 403, 403, 200, 200, 200)),
    "community join": ("post", "/api/v1/communities/{slug}/join/", None,
                       _row(401, 200, 200, 200, 200, 200, 200)),
    "community leave": ("post", "/api/v1/communities/{slug}/leave/", None,
                        _row(401, 400, 204, 204, 204, 400, 400)),
    "post create": ("post", "/api/v1/posts/",
                    {"community": "{slug}", "kind": "quote", "body": "Hello"},
                    _row(401, 403, 201, 201, 201, 201, 403)),
    "post like": ("post", "/api/v1/posts/{post}/like/", None,
                  _row(401, 200, 200, 200, 200, 200, 200)),
    "post unlike": ("delete", "/api/v1/posts/{post}/like/", None,
                    _row(401, 200, 200, 200, 200, 200, 200)),
    "comment create": ("post", "/api/v1/posts/{post}/comments/", {"body": "Reply"},
                       _row(401, 403, 201, 201, 201, 201, 403)),
    "post share": ("post", "/api/v1/posts/{post}/share/", {"comment": "Look"},
                   _row(401, 201, 201, 201, 201, 201, 201)),
    "post delete": ("delete", "/api/v1/posts/{post}/", None,
                    _row(401, 403, 403, 204, 204, 204, 204)),
    "comment delete": ("delete", "/api/v1/comments/{comment}/", None,
                       _row(401, 403, 403, 204, 204, 204, 204)),
}  # fmt: skip

# Pages: a redirect is written "302 <path prefix>" (where it sends the browser).
LOGIN = "302 /accounts/login/"  # anonymous
BACK = "302 /"  # done (or refused with a message) and sent back to a page
TO_LIST = "302 /communities/"  # "join a community (or create one) before you post"
PAGES: dict[str, tuple[str, str, dict | None, dict[str, int | str]]] = {
    "community create page": ("get", "/communities/new/", None,
                              _row(LOGIN, 200, 200, 200, 200, 200, 200)),
    "community edit page": ("get", "/c/{slug}/edit/", None,
                            _row(LOGIN, 403, 403, 403, 200, 200, 200)),
    "community edit form": ("post", "/c/{slug}/edit/", {"name": "Matrix renamed {n}",
                                                        "description": "x"},
                            _row(LOGIN, 403, 403, 403, "302 /c/", "302 /c/", "302 /c/")),
    "community join form": ("post", "/c/{slug}/join/", None,
                            _row(LOGIN, BACK, BACK, BACK, BACK, BACK, BACK)),
    "community leave form": ("post", "/c/{slug}/leave/", None,
                             _row(LOGIN, BACK, BACK, BACK, BACK, BACK, BACK)),
    "member role form": ("post", "/c/{slug}/members/{member}/role/", {"role": "moderator"},
                         _row(LOGIN, 403, 403, 403, 403, BACK, BACK)),
    "submit page": ("get", "/submit/", None, _row(LOGIN, TO_LIST, 200, 200, 200, 200, TO_LIST)),
    "submit form": ("post", "/submit/", {"community": "{community}", "kind": "quote",
                                         "text": "Hello"},
                    _row(LOGIN, TO_LIST, "302 /p/", "302 /p/", "302 /p/", "302 /p/", TO_LIST)),
    "like form": ("post", "/p/{post}/like/", None, _row(LOGIN, BACK, BACK, BACK, BACK, BACK, BACK)),
    "unlike form": ("post", "/p/{post}/unlike/", None,
                    _row(LOGIN, BACK, BACK, BACK, BACK, BACK, BACK)),
    "comment form": ("post", "/p/{post}/comment/", {"body": "Reply"},
                     _row(LOGIN, 403, BACK, BACK, BACK, BACK, 403)),
    "share page": ("get", "/p/{post}/share/", None, _row(LOGIN, 200, 200, 200, 200, 200, 200)),
    "post delete form": ("post", "/p/{post}/delete/", None,
                         _row(LOGIN, 403, 403, BACK, BACK, BACK, BACK)),
    "comment delete form": ("post", "/comments/{comment}/delete/", None,
                            _row(LOGIN, 403, 403, BACK, BACK, BACK, BACK)),
}  # fmt: skip


def _fill(value: Any, world: World, n: int) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, world, n) for k, v in value.items()}
    if isinstance(value, str):
        return value.format(
            slug=world.slug, post=world.post_id, comment=world.comment_id,
            member=world.member_id, community=world.community_id, n=n,
        )  # fmt: skip
    return value


def _answer(response) -> int | str:
    if response.status_code == 302:
        return f"302 {urlparse(response['Location']).path}"
    return response.status_code


def _observe(table: dict, make_client) -> dict[str, dict[str, int | str]]:
    observed: dict[str, dict[str, int | str]] = {}
    for name, (method, path, body, _expected) in table.items():
        observed[name] = {}
        for role in ROLES:
            world = world_make()
            n = next(_n)
            client = make_client(world, role)
            kwargs = {"format": "json"} if isinstance(client, APIClient) else {}
            response = getattr(client, method)(
                _fill(path, world, n), _fill(body, world, n), **kwargs
            )
            observed[name][role] = _answer(response)
    return observed


def _differences(table: dict, observed: dict) -> list[str]:
    return [
        f"{name} as {role}: expected {table[name][3][role]}, got {observed[name][role]}"
        for name in table
        for role in ROLES
        if not str(observed[name][role]).startswith(str(table[name][3][role]))
    ]


@pytest.mark.django_db
def test_api_write_endpoints_answer_each_role_as_documented():
    differences = _differences(API, _observe(API, api_client))
    assert differences == [], "\n".join(differences)


@pytest.mark.django_db
def test_write_pages_answer_each_role_as_documented():
    differences = _differences(PAGES, _observe(PAGES, page_client))
    assert differences == [], "\n".join(differences)


@pytest.mark.django_db
def test_refused_writes_change_nothing():
    """A 403 really refuses: the outsider's comment and the member's delete leave no trace."""
    world = world_make()
    outsider = api_client(world, "non-member")
    assert outsider.post(f"/api/v1/posts/{world.post_id}/comments/", {"body": "x"}).status_code
    member = api_client(world, "member")
    member.delete(f"/api/v1/posts/{world.post_id}/")
    from posts.models import Comment, Post

    assert Comment.objects.filter(post_id=world.post_id).count() == 1
    assert Post.objects.get(pk=world.post_id).deleted_at is None
    assert Membership.objects.filter(community__slug=world.slug).count() == 4
