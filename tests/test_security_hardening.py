"""The hardening an outside probe asked for (issue 18): throttles and lockouts keyed by the
real client address, login lockouts, 400 (never 500) for input that does not parse, safe
defaults (DEBUG off, a CSP, the site's own error pages), no look-alike usernames, deleted
content that names nobody, API tokens that expire and can be revoked."""

from __future__ import annotations

import base64
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import path
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.services import NewUser, token_for, user_register
from posts.services import comment_create, comment_delete, post_create, post_delete, post_share
from streamer.urls import urlpatterns as site_urlpatterns
from tests.factories import PASSWORD, community_make, user_make
from tests.test_security import tight_throttles  # noqa: F401 - the fixture, shared

REPO = Path(__file__).resolve().parent.parent


def api_as(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user=user)}")
    return client


@pytest.fixture
def post_world(db):
    author = user_make("writer")
    community = community_make(owner=author, name="Hardening", slug="hardening")
    post = post_create(author=author, community=community, kind="quote", text="Hello")
    return author, community, post


# --- 1. the client address comes from the socket --------------------------------------------


@pytest.mark.django_db
def test_forwarded_for_header_does_not_dodge_the_login_throttle(tight_throttles):  # noqa: F811
    user_make("victim")
    client = APIClient()
    body = {"username": "victim", "password": "wrong-password"}
    answers = [
        client.post(
            "/api/v1/auth/token/", body, format="json", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"
        ).status_code
        for n in range(6)
    ]
    assert answers[:3] == [400] * 3 and answers[3:] == [429] * 3


# --- 2. login lockouts -----------------------------------------------------------------------


def _fail(client: Client, url: str, username: str, times: int, **extra) -> list[int]:
    body = {"username": username, "password": "not-the-password"}
    return [client.post(url, body, **extra).status_code for _ in range(times)]


@pytest.mark.django_db
def test_login_page_locks_a_username_out_with_a_clear_message(settings):
    user_make("target")
    limit = settings.AXES_FAILURE_LIMIT
    client = Client()
    assert set(_fail(client, "/accounts/login/", "target", limit - 1)) == {200}
    locked = client.post("/accounts/login/", {"username": "target", "password": "nope"})
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    # The right password does not get in either, even from another address.
    right = Client(REMOTE_ADDR="192.0.2.7").post(
        "/accounts/login/", {"username": "target", "password": PASSWORD}
    )
    assert right.status_code == 429 and "_auth_user_id" not in right.wsgi_request.session


@pytest.mark.django_db
def test_one_address_trying_many_usernames_is_locked_out(settings):
    names = [user_make(f"user{n}").username for n in range(settings.AXES_FAILURE_LIMIT)]
    client = Client(REMOTE_ADDR="198.51.100.9")
    for name in names:
        client.post("/accounts/login/", {"username": name, "password": "nope"})
    fresh = user_make("fresh")
    answer = client.post("/accounts/login/", {"username": fresh.username, "password": PASSWORD})
    assert answer.status_code == 429
    # Someone else, elsewhere, logs in as usual.
    elsewhere = Client(REMOTE_ADDR="203.0.113.5")
    ok = elsewhere.post("/accounts/login/", {"username": fresh.username, "password": PASSWORD})
    assert ok.status_code == 302


@pytest.mark.django_db
def test_admin_login_and_token_endpoint_are_locked_out_too(settings):
    user_make("boss", is_staff=True, is_superuser=True)
    limit = settings.AXES_FAILURE_LIMIT
    client = Client()
    _fail(client, "/admin/login/", "boss", limit)
    admin = client.post("/admin/login/", {"username": "boss", "password": PASSWORD})
    assert admin.status_code == 429 and "Too many failed logins" in admin.content.decode()

    api = APIClient(REMOTE_ADDR="192.0.2.44")
    token = api.post("/api/v1/auth/token/", {"username": "boss", "password": PASSWORD})
    assert token.status_code == 429
    assert "Too many failed logins" in token.json()["detail"] and token["Retry-After"]


@pytest.mark.django_db
def test_lockout_ends_after_the_cool_off(settings):
    from axes.models import AccessAttempt

    user_make("patient")
    client = Client()
    _fail(client, "/accounts/login/", "patient", settings.AXES_FAILURE_LIMIT)
    right = {"username": "patient", "password": PASSWORD}
    assert client.post("/accounts/login/", right).status_code == 429
    past = settings.AXES_COOLOFF_TIME + timedelta(seconds=1)
    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=attempt.attempt_time - past)
    assert client.post("/accounts/login/", right).status_code == 302


# --- 3. cursors, limit, offset and filters that do not parse: 400 ----------------------------


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    "query",
    [
        f"cursor={_cursor('p=abc')}",
        f"cursor={_cursor('p=abc')}&ordering=top",
        f"cursor={_cursor('p=abc')}&ordering=new",
        f"cursor={_cursor('p=nan')}",
        f"cursor={_cursor('p=1e999')}&ordering=top",
        f"cursor={_cursor('o=-5&p=1')}",
        "cursor=%%%not-base64",
        "page_size=abc",
        "page_size=0",
        "page_size=100000000000000000000",
        "kind=poem",
        "ordering=sideways",
        f"community={'x' * 51}",
    ],
)
@pytest.mark.django_db
def test_a_feed_parameter_that_does_not_parse_is_a_400(post_world, query):
    answer = Client().get(f"/api/v1/posts/?{query}")
    assert answer.status_code == 400, answer.content
    assert answer.json()


FORGED_POSITIONS = [
    ("hot", "p=abc"),
    ("hot", "p=inf"),
    ("hot", "p=" + "9" * 400),
    ("top", "p=1.5"),
    ("top", "p=9223372036854775808"),
    ("new", "p=abc"),
    ("new", "p=2026-01-01"),  # a date: no time, no zone
    ("new", "p=2026-01-01 10:00:00"),  # naive
    ("new", "p=0001-01-01 00:00:00%2B01:00"),  # before year 1 in UTC
    ("new", "p=9999-12-31 23:00:00-05:00"),  # past year 9999 in UTC
]


@pytest.mark.parametrize(("ordering", "position"), FORGED_POSITIONS)
@pytest.mark.parametrize("feed", ["", "community=hardening", "author=writer", "kind=quote"])
@pytest.mark.django_db
def test_a_forged_cursor_is_a_400_on_cached_and_database_feeds(
    post_world, feed, ordering, position
):
    """The site's and a community's feeds are read from their Redis listings (posts.listings
    .Feed), an author's or a kind's from the database: the cursor is checked before either."""
    listed = Client().get(f"/api/v1/posts/?ordering={ordering}&{feed}")  # builds the listing
    assert listed.status_code == 200
    answer = Client().get(f"/api/v1/posts/?ordering={ordering}&{feed}&cursor={_cursor(position)}")
    assert answer.status_code == 400, answer.content
    assert "cursor" in answer.json()


@pytest.mark.parametrize(
    "query", ["limit=abc", "limit=0", "limit=101", "offset=-1", "offset=x", "offset=1e3",
              "limit=99999999999999999999999"],
)  # fmt: skip
@pytest.mark.django_db
def test_limit_and_offset_that_do_not_parse_are_a_400(post_world, query):
    _author, community, post = post_world
    for url in (f"/api/v1/posts/{post.pk}/comments/", "/api/v1/communities/",
                f"/api/v1/communities/{community.slug}/members/"):  # fmt: skip
        answer = Client().get(f"{url}?{query}")
        assert answer.status_code == 400, (url, answer.content)
        assert set(answer.json()) & {"limit", "offset"}


@pytest.mark.parametrize("feed", ["", "community=hardening", "author=writer"])
@pytest.mark.django_db
def test_a_cursor_given_by_the_api_still_works(post_world, feed):
    _author, community, _post = post_world
    for n in range(3):
        post_create(author=_author, community=community, kind="quote", text=f"More {n}")
    for ordering in ("hot", "new", "top"):
        first = Client().get(f"/api/v1/posts/?ordering={ordering}&page_size=2&{feed}").json()
        second = Client().get(first["next"])
        assert second.status_code == 200 and len(second.json()["results"]) == 2
        back = Client().get(second.json()["previous"])
        assert back.status_code == 200
        if ordering != "top":  # like counts tie: DRF's `previous` of a tied page is not exact
            assert back.json()["results"] == first["results"], ordering


# --- 4. deeply nested JSON: 400 before the parser recurses ----------------------------------


DEEP = ("[" * 5000 + "]" * 5000).encode()


@pytest.mark.django_db
def test_deeply_nested_json_is_refused_with_400(post_world):
    author, _community, post = post_world
    body = b'{"body": ' + DEEP + b"}"
    as_member = api_as(author)
    answer = as_member.post(
        f"/api/v1/posts/{post.pk}/comments/", body, content_type="application/json"
    )
    assert answer.status_code == 400 and "nested deeper" in answer.json()["detail"]
    anonymous = Client().post("/api/v1/auth/register/", DEEP, content_type="application/json")
    assert anonymous.status_code == 400 and "nested deeper" in anonymous.json()["detail"]


@pytest.mark.django_db
def test_brackets_inside_strings_do_not_count_as_nesting(post_world):
    author, _community, post = post_world
    text = "[" * 500 + '"{' * 100
    answer = api_as(author).post(
        f"/api/v1/posts/{post.pk}/comments/", {"body": text}, format="json"
    )
    assert answer.status_code == 201 and answer.json()["body"] == text


# --- 5. safe defaults --------------------------------------------------------------------------


def _settings_value(expression: str, **env: str) -> str:
    clean = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "streamer.settings", **env}
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=clean, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_debug_is_off_unless_set_and_https_is_on_then():
    values = "settings.DEBUG, settings.SECURE_SSL_REDIRECT, settings.SESSION_COOKIE_SECURE"
    assert _settings_value(values) == "False True True"
    assert _settings_value("settings.DEBUG", DEBUG="true") == "True"
    assert "DEBUG=" in (REPO / "infra" / "run.sh").read_text()  # make run sets it, explicitly


def test_check_deploy_with_the_default_settings_is_clean():
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "streamer.settings"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_every_answer_carries_a_strict_content_security_policy(admin_client):
    for client, url in ((Client(), "/"), (Client(), "/accounts/login/"),
                        (admin_client, "/admin/"), (Client(), "/api/v1/posts/"),
                        (Client(), "/api/docs/"), (Client(), "/nowhere/")):  # fmt: skip
        policy = client.get(url)["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'", url
        assert directives["style-src"] == "'self'", url
        assert "unsafe" not in policy and "http" not in policy, url


def test_no_template_has_inline_script_or_style():
    """What the CSP would block: inline script, event-handler attributes, style attributes."""
    offenders = []
    for template in REPO.glob("**/templates/**/*.html"):
        if ".venv" in template.parts:
            continue
        html = template.read_text()
        html = html.split("{% endcomment %}")[-1]  # a comment may name what it avoids
        for marker in ("<script>", "<style", ' style="', " onclick=", " onload=", " onsubmit="):
            if marker in html:
                offenders.append(f"{template.relative_to(REPO)}: {marker}")
    assert offenders == []


def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", boom), path("api/boom/", boom), *site_urlpatterns]
handler404 = "core.api.api_not_found"
handler500 = "core.api.api_server_error"


@pytest.mark.django_db
def test_404_and_500_pages_are_the_sites_own(settings):
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404 and "Nothing here" in missing.content.decode()
    broken = client.get("/boom/")
    assert broken.status_code == 500 and "Something went wrong" in broken.content.decode()
    assert "RuntimeError" not in broken.content.decode()
    api = client.get("/api/boom/")
    assert api.status_code == 500 and api.json() == {"detail": "Server error."}


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.django_db
def test_unresolved_api_paths_answer_json_404_in_every_mode(settings, debug):
    settings.DEBUG = debug
    for method, url in (("get", "/api/v1/comments/%C2%84/"), ("get", "/api/v2/"),
                        ("post", "/api/v1/nothing/"), ("get", "/api/v1/posts")):  # fmt: skip
        answer = getattr(Client(), method)(url)
        assert answer.status_code == 404, url
        assert answer["Content-Type"] == "application/json" and answer.json()["detail"], url


# --- 6. look-alike usernames ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_username_confusable_with_a_taken_one_is_refused():
    api = APIClient()
    body = {"password": "a-long-enough-pass-42"}
    assert api.post("/api/v1/auth/register/", {"username": "sta1ca528", **body}).status_code == 201
    for look_alike in ("staIca528", "STALCA528", "Sta1ca528", "stalca528"):
        answer = api.post("/api/v1/auth/register/", {"username": look_alike, **body})
        assert answer.status_code == 409, look_alike  # taken, in effect
        assert answer.json()["username"]
    cyrillic = api.post("/api/v1/auth/register/", {"username": "st\u04301ca528", **body})
    assert cyrillic.status_code == 400
    assert "ASCII letters" in cyrillic.json()["username"][0]
    assert api.post("/api/v1/auth/register/", {"username": "kim", **body}).status_code == 201
    assert api.post("/api/v1/auth/register/", {"username": "kirn", **body}).status_code == 409
    assert api.post("/api/v1/auth/register/", {"username": "o.k_name-2", **body}).status_code == 201


@pytest.mark.django_db
def test_look_alikes_of_people_made_outside_registration_are_refused_too():
    user_make("admin0", is_staff=True)  # e.g. createsuperuser: no profile
    with pytest.raises(Exception, match="looks like"):
        user_register(new_user=NewUser(username="adminO"), password="a-long-enough-pass-42")


@pytest.mark.django_db
def test_a_person_added_in_the_admin_cannot_be_imitated(admin_client):
    password = "a-long-enough-pass-42"
    added = admin_client.post(
        "/admin/auth/user/add/",
        {
            "username": "carol",
            "usable_password": "true",
            "password1": password,
            "password2": password,
        },
    )
    assert added.status_code == 302
    with pytest.raises(Exception, match="looks like"):
        user_register(new_user=NewUser(username="caroI"), password=password)


@pytest.mark.django_db
def test_the_signup_page_refuses_a_look_alike(client):
    user_register(new_user=NewUser(username="alice"), password="a-long-enough-pass-42")
    answer = client.post(
        "/accounts/signup/",
        {
            "username": "aIice",
            "password": "an0ther-long-pass",
            "password_again": "an0ther-long-pass",
        },
    )
    assert answer.status_code == 200 and "looks like one that is taken" in answer.content.decode()


# --- 7. deleted content names nobody -----------------------------------------------------------


@pytest.mark.django_db
def test_a_deleted_comment_shows_no_author_in_the_api(post_world):
    author, _community, post = post_world
    comment = comment_create(author=author, post=post, body="Regret")
    comment_delete(actor=author, comment=comment)
    listed = Client().get(f"/api/v1/posts/{post.pk}/comments/").json()["results"]
    assert listed == [{**listed[0], "author": None, "body": "", "is_deleted": True}]


@pytest.mark.django_db
def test_a_repost_of_a_deleted_post_names_neither_its_author_nor_community(post_world, client):
    author, _community, post = post_world
    sharer = user_make("sharer")
    elsewhere = community_make(owner=sharer, name="Elsewhere", slug="elsewhere")
    share = post_share(user=sharer, post=post, target_community=elsewhere, comment="Look")
    post_delete(actor=author, post=post)
    shown = Client().get(f"/api/v1/posts/{share.repost_id}/").json()
    assert shown["shared_from"] == {
        "id": post.pk, "community": None, "author": None, "is_deleted": True
    }  # fmt: skip
    assert shown["media_url"] is None and shown["author"] == "sharer"
    page = client.get(f"/p/{share.repost_id}/").content.decode()
    assert "u/writer" not in page and "c/hardening" not in page
    assert "The original post was deleted" in page


@pytest.mark.django_db
def test_a_cached_repost_forgets_its_original_once_that_is_deleted(
    django_capture_on_commit_callbacks,
):
    """The post list API serves cached post objects (posts.cards): deleting the original
    bumps its reposts' versions, so the cached object naming its author is not read again.
    (Every write runs its on-commit callbacks, as a real commit does.)"""
    with django_capture_on_commit_callbacks(execute=True):
        author = user_make("writer")
        community = community_make(owner=author, name="Hardening", slug="hardening")
        post = post_create(author=author, community=community, kind="quote", text="Hello")
        sharer = user_make("sharer")
        elsewhere = community_make(owner=sharer, name="Elsewhere", slug="elsewhere")
    with django_capture_on_commit_callbacks(execute=True):
        share = post_share(user=sharer, post=post, target_community=elsewhere, comment="Look")

    def listed() -> dict:
        results = Client().get("/api/v1/posts/?community=elsewhere").json()["results"]
        return next(item for item in results if item["id"] == share.repost_id)

    assert listed()["shared_from"]["author"] == "writer"  # cached now
    with django_capture_on_commit_callbacks(execute=True):
        post_delete(actor=author, post=post)
    assert listed()["shared_from"] == {
        "id": post.pk, "community": None, "author": None, "is_deleted": True
    }  # fmt: skip
    page = Client().get("/c/elsewhere/").content.decode()  # the cached card, too
    assert "u/writer" not in page and "The original post was deleted" in page


# --- 8. tokens expire and can be revoked ---------------------------------------------------------


@pytest.mark.django_db
def test_an_expired_token_is_refused_and_a_new_one_issued(settings):
    person = user_make("traveller")
    key = token_for(user=person)
    assert api_as(person).get("/api/v1/posts/").status_code == 200
    issued = Token.objects.get(key=key).created
    Token.objects.filter(key=key).update(
        created=issued - timedelta(hours=settings.API_TOKEN_TTL_HOURS, seconds=1)
    )
    stale = APIClient()
    stale.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    refused = stale.get("/api/v1/posts/")
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    fresh = APIClient().post("/api/v1/auth/token/", {"username": "traveller", "password": PASSWORD})
    assert fresh.status_code == 200 and fresh.json()["token"] != key
    assert fresh.json()["expires_at"]


@pytest.mark.django_db
def test_logout_revokes_the_token():
    person = user_make("leaver")
    client = api_as(person)
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get("/api/v1/posts/").status_code == 401
    assert APIClient().post("/api/v1/auth/logout/").status_code == 401


@pytest.mark.django_db
def test_an_admin_revokes_all_tokens_of_a_person(admin_client):
    person = user_make("suspect")
    client = api_as(person)
    answer = admin_client.post(
        "/admin/auth/user/",
        {"action": "api_tokens_revoke", "_selected_action": [person.pk]},
        follow=True,
    )
    assert "Revoked 1 API token" in answer.content.decode()
    assert client.get("/api/v1/posts/").status_code == 401


@pytest.mark.django_db
def test_token_expiry_and_logout_are_in_the_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    token = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert "expires" in token["description"]
    assert "/api/v1/auth/logout/" in schema["paths"]
    assert "429" in token["responses"]


# --- issue 17: the contract states the rules and the answers -----------------------------------


@pytest.mark.django_db
def test_the_schema_states_the_rules_and_every_answer(client):
    from communities.services import NAME_MAX, NAME_MIN, SLUG_PATTERN

    spec = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = spec["components"]["schemas"]
    comments = spec["paths"]["/api/v1/posts/{id}/comments/"]["get"]
    ref = comments["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = components[ref.rsplit("/", 1)[-1]]["properties"]
    assert {"count", "next", "previous", "results"} <= set(page)
    limit = next(p for p in comments["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 100)
    name = components["CommunityCreateInputRequest"]["properties"]["name"]
    assert (name["minLength"], name["maxLength"]) == (NAME_MIN, NAME_MAX)
    slug = components["CommunityCreateInputRequest"]["properties"]["slug"]
    assert slug["pattern"] == SLUG_PATTERN
    for url, methods in spec["paths"].items():
        for method, operation in methods.items():
            codes = set(operation["responses"])
            assert {"400", "401", "403", "404", "413", "415", "429", "503"} <= codes, (url, method)
