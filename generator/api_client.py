"""Replays a generator plan through the REST API v1, as outside clients would: each person
registers (or logs in), then acts with their own token."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests
from django.core.management.base import CommandError
from django.utils import timezone

from generator import media
from generator.replay import VIDEO_POOL_SIZE, burst_document
from generator.topics import TOPICS
from generator.traffic import Action, Burst, LiveWorld, Plan

TIMEOUT_S = 30
LIVE_POSTS = 2000


class ApiError(Exception):
    pass


class ApiReplayer:
    def __init__(self, *, base_url: str, password: str, seed: int) -> None:
        self.base = base_url.rstrip("/") + "/api/v1"
        self.password = password
        self.seed = seed
        self.http = requests.Session()
        self.plan: Plan | None = None
        self.tokens: list[str | None] = []
        self.community_slugs: dict[int, str] = {}
        self.posts: dict[int, int] = {}
        self.post_slugs: dict[int, str] = {}
        self.comments: dict[int, int] = {}
        self.rng = random.Random(seed ^ 0x5EED)
        self.videos: list[bytes] = []
        self.videos_enabled = media.ffmpeg_available()
        self.done: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.videos_skipped = 0
        self.live_started = timezone.now()
        self._check_reachable()

    # -- HTTP ---------------------------------------------------------------------------------
    def _check_reachable(self) -> None:
        try:
            self.http.get(f"{self.base}/communities/", params={"limit": 1}, timeout=TIMEOUT_S)
        except requests.RequestException as exc:
            reason = "connection refused" if isinstance(exc, requests.ConnectionError) else exc
            raise CommandError(f"cannot reach the API at {self.base} ({reason})") from exc

    def _call(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Token {token}"} if token else {}
        response = self.http.request(
            method, f"{self.base}{path}", headers=headers, timeout=TIMEOUT_S, **kwargs
        )
        if response.status_code >= 500:
            raise ApiError(f"{method} {path}: HTTP {response.status_code}")
        return response

    def _pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paginated list (limit/offset or cursor: both give `next`)."""
        items: list[dict[str, Any]] = []
        url: str | None = f"{self.base}{path}"
        while url:
            response = self.http.get(url, params=params, timeout=TIMEOUT_S)
            response.raise_for_status()
            body = response.json()
            items += body["results"]
            url, params = body.get("next"), {}
        return items

    # -- the backend protocol used by seed_fake_data ----------------------------------------
    def taken_names(self) -> dict[str, frozenset[str]]:
        names = frozenset(c["name"] for c in self._pages("/communities/", limit=100))
        return {"taken_names": names}

    def begin(self, plan: Plan, *, start: datetime | None) -> None:
        self.plan = plan

    def create_users(self, progress: Callable[[int], None]) -> None:
        for user in self.plan.users:
            response = self._call("POST", "/auth/register/", json={
                "username": user.username, "password": self.password, "email": user.email,
                "first_name": user.first_name, "last_name": user.last_name, "bio": user.bio,
            })  # fmt: skip
            if response.status_code == 201:
                self.tokens.append(response.json()["token"])
                self.done["user"] += 1
            else:
                self.tokens.append(self._login(user.username))
            progress(1)

    def _login(self, username: str) -> str | None:
        response = self._call(
            "POST", "/auth/token/", json={"username": username, "password": self.password}
        )
        if response.status_code != 200:
            self.skipped["user"] += 1
            return None
        return response.json()["token"]

    def run(self, actions: list[Action], progress: Callable[[int], None]) -> None:
        for action in actions:
            self.apply(action)
            progress(1)

    def apply(self, action: Action) -> None:
        token = self.tokens[action.user] if action.user < len(self.tokens) else None
        try:
            if token is None:
                raise KeyError(action.user)
            ok = getattr(self, f"_do_{action.verb}")(action, token)
        except KeyError:
            ok = False
        if ok:
            self.done[action.verb] += 1
        else:
            self.skipped[action.verb] += 1

    def load_world(self) -> LiveWorld:
        self.plan = None
        communities = self._pages("/communities/", limit=100)
        self.community_slugs = {i: c["slug"] for i, c in enumerate(communities)}
        usernames: list[str] = []
        user_index: dict[str, int] = {}
        members: list[list[int]] = []
        for slug in self.community_slugs.values():
            indexes = []
            for member in self._pages(f"/communities/{slug}/members/", limit=100):
                name = member["username"]
                if name not in user_index:
                    user_index[name] = len(usernames)
                    usernames.append(name)
                indexes.append(user_index[name])
            members.append(indexes)
        self.tokens = [self._login(name) for name in usernames]
        members = [[i for i in group if self.tokens[i]] for group in members]
        posts = self._recent_posts()
        slug_index = {slug: i for i, slug in self.community_slugs.items()}
        self.posts = {i: post["id"] for i, post in enumerate(posts)}
        self.post_slugs = {i: post["community"] for i, post in enumerate(posts)}
        self.live_started = timezone.now()
        return LiveWorld(
            users=len(usernames),
            members=members,
            post_communities=[slug_index[post["community"]] for post in posts],
        )

    def _recent_posts(self) -> list[dict[str, Any]]:
        posts: list[dict[str, Any]] = []
        url: str | None = f"{self.base}/posts/"
        params: dict[str, Any] = {"ordering": "new", "page_size": 100}
        while url and len(posts) < LIVE_POSTS:
            body = self.http.get(url, params=params, timeout=TIMEOUT_S).json()
            posts += body["results"]
            url, params = body.get("next"), {}
        return list(reversed(posts[:LIVE_POSTS]))

    def burst_record(self, burst: Burst, *, source: str, started: datetime | None = None):
        post_id = self.posts.get(burst.post)
        if post_id is None:
            return None
        return burst_document(
            burst, post_id=post_id, community=self.post_slugs.get(burst.post, ""),
            origin=started if source == "live" else None, times=[], source=source,
        )  # fmt: skip

    # -- actions ------------------------------------------------------------------------------
    def _do_create_community(self, action: Action, token: str) -> bool:
        planned = self.plan.communities[action.community]
        response = self._call("POST", "/communities/", token=token, json={
            "name": planned.name, "slug": planned.slug, "description": planned.description,
        })  # fmt: skip
        if response.status_code != 201:
            return False
        self.community_slugs[action.community] = response.json()["slug"]
        return True

    def _slug(self, community: int) -> str:
        return self.community_slugs[community]

    def _do_join(self, action: Action, token: str) -> bool:
        slug = self._slug(action.community)
        return self._call("POST", f"/communities/{slug}/join/", token=token).ok

    def _do_post(self, action: Action, token: str) -> bool:
        slug = self._slug(action.community)
        kind = action.kind or "quote"
        upload = self._media(kind, action)
        if kind == "video" and upload is None:
            self.videos_skipped += 1
            kind = "quote"
        if kind == "quote":
            response = self._call("POST", "/posts/", token=token, json={
                "community": slug, "kind": kind, "body": action.text,
                "attribution": action.attribution,
            })  # fmt: skip
        else:
            response = self._call(
                "POST", "/posts/", token=token,
                data={"community": slug, "kind": kind, "caption": action.text},
                files={"media": upload},
            )  # fmt: skip
        if response.status_code != 201:
            return False
        self.posts[action.post] = response.json()["id"]
        self.post_slugs[action.post] = slug
        return True

    def _media(self, kind: str, action: Action) -> tuple[str, bytes, str] | None:
        if kind == "image":
            topic = self._topic(action)
            data, ext = media.picture(self.rng, palette=TOPICS[topic].palette, title=action.text)
            return (f"picture.{ext}", data, "image/jpeg" if ext == "jpg" else "image/png")
        if kind == "video" and self.videos_enabled:
            if len(self.videos) < VIDEO_POOL_SIZE:
                self.videos.append(media.short_video(self.rng))
                return ("clip.mp4", self.videos[-1], "video/mp4")
            return ("clip.mp4", self.rng.choice(self.videos), "video/mp4")
        return None

    def _topic(self, action: Action) -> int:
        if self.plan is not None and action.community < len(self.plan.communities):
            return self.plan.communities[action.community].topic_index
        return action.community % len(TOPICS)

    def _do_view(self, action: Action, token: str) -> bool:
        return self._call("GET", f"/posts/{self.posts[action.post]}/", token=token).ok

    def _do_like(self, action: Action, token: str) -> bool:
        return self._call("POST", f"/posts/{self.posts[action.post]}/like/", token=token).ok

    def _do_unlike(self, action: Action, token: str) -> bool:
        return self._call("DELETE", f"/posts/{self.posts[action.post]}/like/", token=token).ok

    def _do_comment(self, action: Action, token: str) -> bool:
        body: dict[str, Any] = {"body": action.text}
        if action.parent_comment is not None:
            body["parent"] = self.comments[action.parent_comment]
        path = f"/posts/{self.posts[action.post]}/comments/"
        response = self._call("POST", path, token=token, json=body)
        if response.status_code != 201:
            return False
        self.comments[action.comment] = response.json()["id"]
        return True

    def _do_share(self, action: Action, token: str) -> bool:
        body: dict[str, Any] = {"comment": action.text}
        if action.target_community is not None:
            body["community"] = self._slug(action.target_community)
        path = f"/posts/{self.posts[action.post]}/share/"
        return self._call("POST", path, token=token, json=body).status_code == 201
