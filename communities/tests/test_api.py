import pytest
from rest_framework.test import APIClient

from communities.models import Membership
from communities.services import community_join, membership_set_role
from tests.factories import community_make, user_make
from tests.support.outbox import events

pytestmark = pytest.mark.django_db


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_list_is_public_paginated_and_searchable():
    community_make(name="Jazz Records")
    community_make(name="Astronomy")

    everything = client_for().get("/api/v1/communities/").json()
    found = client_for().get("/api/v1/communities/", {"search": "jazz"}).json()

    assert everything["count"] == 2 and len(everything["results"]) == 2
    assert [c["slug"] for c in found["results"]] == ["jazz-records"]


def test_list_runs_constant_queries(django_assert_max_num_queries):
    for n in range(15):
        community_make(name=f"Topic number {n}")
    viewer = user_make()

    with django_assert_max_num_queries(4):
        response = client_for(viewer).get("/api/v1/communities/", {"limit": 50})

    assert len(response.json()["results"]) == 15


def test_create_makes_the_creator_owner_and_emits_the_event():
    owner = user_make()

    response = client_for(owner).post(
        "/api/v1/communities/", {"name": "Chess Study", "description": "Openings"}
    )

    assert response.status_code == 201
    assert response.json()["slug"] == "chess-study" and response.json()["is_member"]
    assert Membership.objects.get(user=owner).role == Membership.Role.OWNER
    assert [e["event_type"] for e in events()] == ["community_created"]


def test_create_needs_authentication_and_valid_fields():
    anonymous = client_for().post("/api/v1/communities/", {"name": "Nope"})
    invalid = client_for(user_make()).post("/api/v1/communities/", {"name": "x", "slug": "BAD!"})

    assert anonymous.status_code == 401
    assert invalid.status_code == 400
    assert {"name", "slug"} <= set(invalid.json())


def test_duplicate_name_is_a_409_naming_the_field():
    community_make(name="Cycling")

    response = client_for(user_make()).post("/api/v1/communities/", {"name": "cycling"})

    assert response.status_code == 409 and "name" in response.json()


def test_patch_is_for_owner_and_moderators_only():
    owner, moderator, member = user_make(), user_make(), user_make()
    community = community_make(owner=owner, name="Coffee Brewing")
    community_join(user=moderator, community=community)
    community_join(user=member, community=community)
    membership_set_role(actor=owner, community=community, user=moderator, role="moderator")
    url = f"/api/v1/communities/{community.slug}/"

    assert client_for(member).patch(url, {"description": "x"}).status_code == 403
    assert client_for().patch(url, {"description": "x"}).status_code == 401
    by_moderator = client_for(moderator).patch(url, {"description": "Pour-over"})
    by_owner = client_for(owner).patch(url, {"name": "Coffee"})

    assert by_moderator.status_code == 200 and by_moderator.json()["description"] == "Pour-over"
    assert by_owner.json()["name"] == "Coffee" and by_owner.json()["slug"] == community.slug


def test_join_leave_and_members():
    owner, person = user_make("owner1"), user_make("person1")
    community = community_make(owner=owner, name="Birdwatching")
    base = f"/api/v1/communities/{community.slug}"

    joined = client_for(person).post(f"{base}/join/")
    again = client_for(person).post(f"{base}/join/")
    members = client_for().get(f"{base}/members/").json()

    assert joined.status_code == 200 and again.status_code == 200
    assert [m["username"] for m in members["results"]] == ["owner1", "person1"]
    assert members["results"][0]["role"] == "owner"
    assert client_for(person).post(f"{base}/leave/").status_code == 204
    assert client_for(person).post(f"{base}/leave/").status_code == 400
    owner_leaves = client_for(owner).post(f"{base}/leave/")
    assert owner_leaves.status_code == 400 and owner_leaves.json()
    assert [e["event_type"] for e in events()] == [
        "community_created",
        "community_joined",
        "community_left",
    ]


def test_unknown_community_is_404_everywhere():
    person = client_for(user_make())

    assert person.get("/api/v1/communities/nope/").status_code == 404
    assert person.post("/api/v1/communities/nope/join/").status_code == 404
    assert person.get("/api/v1/communities/nope/members/").status_code == 404
