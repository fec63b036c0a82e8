"""Security checks of the whole app: markup users write renders escaped (pages and admin),
the production settings pass `check --deploy`, bandit finds nothing of high severity, and the
API throttles a burst with 429 and recovers. (Uploads: test_security_uploads.py; who may do
what: test_security_authz.py; the larger schemathesis run: test_security_schema.py.)"""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.throttling import SimpleRateThrottle

from posts.models import Comment, Post
from posts.services import comment_create, post_create
from tests.factories import community_make, user_make

REPO = Path(__file__).resolve().parent.parent
CODE = ["accounts", "analytics", "communities", "posts", "streamer", "spark_jobs"]

PAYLOADS = [
    "<script>alert('xss')</script>",
    '<img src=x onerror="alert(1)">',
    '"><svg onload=alert(2)>',
    '<a href="javascript:alert(3)">click</a>',
]
RAW_MARKERS = ["<script>alert(", "<img src=x", "<svg onload", 'href="javascript:']


@pytest.fixture
def hostile(db):
    author = user_make("mallory", is_staff=False)
    text = " ".join(PAYLOADS)
    community = community_make(
        owner=author, name="Markup <b>bold</b>", slug="markup", description=text
    )
    post = post_create(author=author, community=community, kind="quote", text=text)
    comment = comment_create(author=author, post=post, body=text)
    return community, post, comment


def _assert_escaped(html: str, where: str, *, shown: bool) -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, f"{where}: unescaped {marker!r}"
    if shown:
        assert "&lt;script&gt;" in html, f"{where}: payload not shown escaped"


@pytest.mark.django_db
def test_markup_renders_escaped_on_pages(hostile, client):
    community, post, _comment = hostile
    viewer = user_make("viewer")
    client.force_login(viewer)
    for path in ("/", f"/c/{community.slug}/", f"/p/{post.pk}/", "/communities/",
                 f"/u/{post.author.username}/"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 200, path
        shown = path.startswith(("/c/", "/p/"))  # where the text is certainly on the page
        _assert_escaped(response.content.decode(), path, shown=shown)


@pytest.mark.django_db
def test_markup_renders_escaped_in_admin(hostile, admin_client):
    community, post, comment = hostile
    pages = [
        "/admin/posts/post/", f"/admin/posts/post/{post.pk}/change/",
        "/admin/posts/comment/", f"/admin/posts/comment/{comment.pk}/change/",
        "/admin/communities/community/",
        f"/admin/communities/community/{community.pk}/change/",
    ]  # fmt: skip
    for path in pages:
        response = admin_client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        for marker in RAW_MARKERS:
            assert marker not in html, f"{path}: unescaped {marker!r}"
    assert Post.objects.count() == 1 and Comment.objects.count() == 1


def test_check_deploy_with_production_settings_has_no_warnings():
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "streamer.example.com",
        "DJANGO_SETTINGS_MODULE": "streamer.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_bandit_finds_no_high_severity_issue():
    bandit = Path(sys.executable).with_name("bandit")
    if not bandit.exists():
        pytest.skip("bandit is not installed (requirements-dev.txt)")
    result = subprocess.run(
        [str(bandit), "-q", "-r", *CODE, "-x", "*/tests/*", "--severity-level", "high"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def tight_throttles(monkeypatch, settings):
    """Small rates (the class reads its rates once, at import) and a clock the test moves."""
    from django.core.cache import cache

    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {"anon": "5/min", "user": "8/min", "auth": "3/min"}
    )
    now = {"t": 1_000_000.0}
    monkeypatch.setattr(SimpleRateThrottle, "timer", lambda self: now["t"])
    cache.clear()
    yield now
    cache.clear()


@pytest.mark.django_db
def test_anonymous_burst_gets_429_then_recovers(client, tight_throttles):
    answers = [client.get("/api/v1/posts/").status_code for _ in range(8)]
    assert answers[:5] == [200] * 5
    assert set(answers[5:]) == {429}
    refused = client.get("/api/v1/posts/")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "detail" in refused.json()
    tight_throttles["t"] += 61
    assert client.get("/api/v1/posts/").status_code == 200


@pytest.mark.django_db
def test_user_and_login_bursts_get_429_then_recover(tight_throttles):
    from rest_framework.test import APIClient

    from accounts.services import token_for

    person = user_make("burst")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user=person)}")
    answers = [api.get("/api/v1/posts/").status_code for _ in range(10)]
    assert answers[:8] == [200] * 8 and answers[8:] == [429, 429]
    login = APIClient()
    body = {"username": "burst", "password": "wrong-password"}
    tries = [login.post("/api/v1/auth/token/", body, format="json").status_code for _ in range(5)]
    assert tries[:3] == [400] * 3 and tries[3:] == [429, 429]
    tight_throttles["t"] += 61
    assert api.get("/api/v1/posts/").status_code == 200
    assert login.post("/api/v1/auth/token/", body, format="json").status_code == 400


@pytest.mark.django_db
def test_unreadable_body_is_a_documented_415(client):
    """Found by the larger schemathesis run: a multipart body without a readable part got
    415, which the schema did not list. (503, the database-outage answer, was missing too.)"""
    response = client.post(
        "/api/v1/auth/register/",
        data=b"--b\r\n\xc3\x89\xc2\xb5--b--\r\n",
        content_type="multipart/form-data; boundary=b",
    )
    assert response.status_code in (400, 415)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    documented = schema["paths"]["/api/v1/auth/register/"]["post"]["responses"]
    assert {"415", "503"} <= set(documented)
