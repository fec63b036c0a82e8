import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from communities.models import Community, Membership
from communities.services import community_join
from events.envelope import EventType
from tests.factories import PASSWORD, community_make, user_make
from tests.support.outbox import events

pytestmark = pytest.mark.django_db


def logged_in(client: Client, user) -> Client:
    client.force_login(user)
    return client


def test_signup_logs_in_and_creates_a_profile(client):
    response = client.post(
        reverse("signup"),
        {"username": "newbie", "password": PASSWORD, "password_again": PASSWORD},
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(username="newbie")
    assert user.profile is not None
    assert client.get(reverse("home")).context["user"] == user


def test_signup_shows_errors(client):
    user_make("taken")
    response = client.post(
        reverse("signup"), {"username": "taken", "password": "123", "password_again": "1234"}
    )
    assert response.status_code == 200
    assert b"The two passwords differ." in response.content
    response = client.post(
        reverse("signup"), {"username": "taken", "password": "123", "password_again": "123"}
    )
    assert b"That username is taken." in response.content
    response = client.post(
        reverse("signup"), {"username": "fresh", "password": "123", "password_again": "123"}
    )
    assert b"This password is too short." in response.content


def test_login_and_logout_by_post(client):
    user_make("carol")
    page = client.get(reverse("login"))
    assert page.status_code == 200 and b"csrfmiddlewaretoken" in page.content
    response = client.post(reverse("login"), {"username": "carol", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("logout")).status_code == 405  # GET does not log out
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).context["user"].is_anonymous


def test_community_list_searches_by_name_and_paginates(client):
    for index in range(25):
        community_make(name=f"Birds {index:02d}")
    community_make(name="Cats")
    page = client.get(reverse("communities:list"), {"q": "bird"})
    assert page.status_code == 200
    assert page.context["page"].paginator.count == 25
    assert b"Cats" not in page.content
    second = client.get(reverse("communities:list"), {"q": "bird", "page": 2})
    assert len(second.context["page"].object_list) == 5


def test_create_community_page(client):
    user = user_make()
    logged_in(client, user)
    assert client.get(reverse("communities:create")).status_code == 200
    response = client.post(
        reverse("communities:create"), {"name": "Night Owls", "slug": "", "description": "Hoo"}
    )
    community = Community.objects.get(slug="night-owls")
    assert response.headers["Location"] == community.get_absolute_url()
    duplicate = client.post(reverse("communities:create"), {"name": "night owls"})
    assert b"already exists" in duplicate.content


def test_create_community_requires_login(client):
    response = client.get(reverse("communities:create"))
    assert response.status_code == 302 and reverse("login") in response.headers["Location"]


def test_join_and_leave_from_the_community_page(client):
    community = community_make(name="Readers")
    user = user_make()
    logged_in(client, user)
    page = client.get(community.get_absolute_url())
    assert b">Join</button>" in page.content

    client.post(reverse("communities:join", args=[community.slug]))
    assert Membership.objects.filter(user=user, community=community).exists()
    assert b">Leave</button>" in client.get(community.get_absolute_url()).content

    client.post(reverse("communities:leave", args=[community.slug]))
    assert not Membership.objects.filter(user=user, community=community).exists()
    assert [e["event_type"] for e in events()][-2:] == [
        EventType.COMMUNITY_JOINED,
        EventType.COMMUNITY_LEFT,
    ]


def test_join_needs_post(client):
    community = community_make()
    logged_in(client, user_make())
    assert client.get(reverse("communities:join", args=[community.slug])).status_code == 405


def test_owner_sees_leave_refused(client):
    owner = user_make()
    community = community_make(owner=owner)
    logged_in(client, owner)
    response = client.post(reverse("communities:leave", args=[community.slug]), follow=True)
    assert b"make another member the owner first" in response.content


def test_members_page_and_roles(client):
    owner, bob = user_make(), user_make("bob")
    community = community_make(owner=owner)
    community_join(user=bob, community=community)
    logged_in(client, owner)
    page = client.get(reverse("communities:members", args=[community.slug]))
    assert b"Make moderator" in page.content
    url = reverse("communities:role", args=[community.slug, bob.pk])
    client.post(url, {"role": "moderator"})
    assert Membership.objects.get(user=bob).role == "moderator"
    client.post(url, {"action": "transfer"})
    assert Membership.objects.get(user=bob).role == "owner"
    # The old owner is now a moderator and cannot manage roles any more.
    assert client.post(url, {"role": "member"}).status_code == 403


def test_csrf_is_enforced_on_forms():
    community = community_make()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_make())
    response = client.post(reverse("communities:join", args=[community.slug]))
    assert response.status_code == 403


def test_community_text_is_escaped(client):
    community = community_make(name="<script>alert(1)</script>", slug="xss")
    page = client.get(community.get_absolute_url())
    assert b"<script>alert(1)</script>" not in page.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content


def test_owner_edits_the_community_others_cannot(client):
    owner, member = user_make(), user_make()
    community = community_make(owner=owner, name="Old Name", slug="stays")
    community_join(user=member, community=community)
    url = reverse("communities:edit", args=["stays"])
    client.force_login(member)
    assert client.get(url).status_code == 403
    client.force_login(owner)
    assert b"Edit community" in client.get(community.get_absolute_url()).content
    response = client.post(url, {"name": "New Name", "description": "Fresh"})
    assert response.headers["Location"] == "/c/stays/"
    community.refresh_from_db()
    assert (community.name, community.description) == ("New Name", "Fresh")
