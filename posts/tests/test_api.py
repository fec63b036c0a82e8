import pytest
from rest_framework.test import APIClient

from communities.services import community_join, membership_set_role
from posts.models import Like, Post
from posts.services import post_create
from tests.factories import community_make, image_bytes, user_make, video_bytes
from tests.support.files import stored_files
from tests.support.outbox import events

pytestmark = pytest.mark.django_db


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def world():
    owner, member, outsider = user_make("owner"), user_make("member"), user_make("outsider")
    community = community_make(owner=owner, name="Stoic Philosophy")
    community_join(user=member, community=community)
    return owner, member, outsider, community


def quote(author, community, text="Luck is preparation meeting opportunity."):
    return post_create(
        author=author, community=community, kind="quote", text=text, attribution="Seneca"
    )


def test_create_quote_as_json(world):
    _, member, _, community = world

    response = client_for(member).post(
        "/api/v1/posts/",
        {
            "community": community.slug,
            "kind": "quote",
            "body": "Know thyself",
            "attribution": "Delphi",
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["body"] == "Know thyself" and body["author"] == "member"
    assert body["community"] == "stoic-philosophy" and body["like_count"] == 0
    assert body["media_url"] is None and body["liked_by_me"] is False
    assert events("post_created")[0]["post_id"] == body["id"]


def test_create_image_and_video_as_multipart(world, media_root):
    _, member, _, community = world
    from django.core.files.uploadedfile import SimpleUploadedFile

    image = client_for(member).post(
        "/api/v1/posts/",
        {
            "community": community.slug,
            "kind": "image",
            "caption": "Sunrise",
            "media": SimpleUploadedFile("a.png", image_bytes("PNG"), content_type="image/png"),
        },
        format="multipart",
    )
    video = client_for(member).post(
        "/api/v1/posts/",
        {
            "community": community.slug,
            "kind": "video",
            "caption": "Clip",
            "media": SimpleUploadedFile("c.mp4", video_bytes("mp4"), content_type="video/mp4"),
        },
        format="multipart",
    )

    assert image.status_code == 201, image.json()
    assert video.status_code == 201, video.json()
    assert image.json()["caption"] == "Sunrise" and image.json()["thumbnail_url"]
    assert video.json()["media_url"].startswith("http://testserver/media/")
    assert len(stored_files(media_root)) == 4  # two files and two thumbnails/posters


def test_bad_upload_is_a_400_and_stores_nothing(world, media_root):
    _, member, _, community = world
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client_for(member).post(
        "/api/v1/posts/",
        {
            "community": community.slug,
            "kind": "image",
            "media": SimpleUploadedFile("x.png", b"MZ\x90\x00not really a picture", "image/png"),
        },
        format="multipart",
    )

    assert response.status_code == 400 and "media" in response.json()
    assert stored_files(media_root) == [] and not Post.objects.exists()


def test_create_rules(world):
    _, _, outsider, community = world

    anonymous = client_for().post(
        "/api/v1/posts/", {"community": community.slug, "kind": "quote", "body": "x"}, format="json"
    )
    not_member = client_for(outsider).post(
        "/api/v1/posts/", {"community": community.slug, "kind": "quote", "body": "x"}, format="json"
    )
    empty = client_for(world[1]).post(
        "/api/v1/posts/", {"community": community.slug, "kind": "quote"}, format="json"
    )
    unknown_kind = client_for(world[1]).post(
        "/api/v1/posts/", {"community": community.slug, "kind": "poll"}, format="json"
    )

    assert anonymous.status_code == 401
    assert not_member.status_code == 403 and not_member.json()["detail"]
    assert empty.status_code == 400 and empty.json()
    assert unknown_kind.status_code == 400 and "kind" in unknown_kind.json()


def test_list_filters_and_orderings(world):
    owner, member, _, community = world
    other = community_make(owner=owner, name="Jazz Records")
    first = quote(member, community, "first")
    second = quote(owner, other, "second")
    from posts.services import post_like

    post_like(user=owner, post=first)
    api = client_for()

    def ids(**params):
        return [p["id"] for p in api.get("/api/v1/posts/", params).json()["results"]]

    assert ids(ordering="new") == [second.pk, first.pk]
    assert ids(ordering="top", period="all") == [first.pk, second.pk]
    assert ids(community="jazz-records") == [second.pk]
    assert ids(author="member") == [first.pk]
    assert ids(kind="image") == []
    assert ids(community="no-such-place") == []


def test_list_is_cursor_paginated_with_constant_queries(world, django_assert_max_num_queries):
    owner, member, _, community = world
    for n in range(30):
        quote(member, community, f"quote {n}")

    # A cache miss: the listing, the posts with their community and author, the viewer's likes.
    with django_assert_max_num_queries(5):
        page = client_for(owner).get("/api/v1/posts/", {"ordering": "new", "page_size": 25})
    body = page.json()
    with django_assert_max_num_queries(1):  # a hit: only the viewer's likes
        again = client_for(owner).get("/api/v1/posts/", {"ordering": "new", "page_size": 25})
    assert again.json() == body
    rest = client_for(owner).get(body["next"]).json()

    assert len(body["results"]) == 25 and len(rest["results"]) == 5
    assert not {p["id"] for p in body["results"]} & {p["id"] for p in rest["results"]}


def test_detail_records_a_view_but_listing_does_not(world):
    _, member, _, community = world
    post = quote(member, community)

    client_for(member).get("/api/v1/posts/")
    detail = client_for(member).get(f"/api/v1/posts/{post.pk}/")

    assert detail.status_code == 200 and detail.json()["id"] == post.pk
    assert [e["post_id"] for e in events("post_viewed")] == [post.pk]


def test_like_is_idempotent_and_unlike_removes_it(world):
    owner, member, outsider, community = world
    post = quote(member, community)
    url = f"/api/v1/posts/{post.pk}/like/"

    first = client_for(outsider).post(url)
    second = client_for(outsider).post(url)
    detail = client_for(outsider).get(f"/api/v1/posts/{post.pk}/").json()
    removed = client_for(outsider).delete(url)

    assert first.json() == {"liked": True, "like_count": 1} == second.json()
    assert detail["liked_by_me"] is True
    assert removed.json() == {"liked": False, "like_count": 0}
    assert not Like.objects.exists()
    assert [e["event_type"] for e in events() if e["event_type"].startswith("post_")] == [
        "post_created",
        "post_liked",
        "post_viewed",
        "post_unliked",
    ]
    assert client_for().post(url).status_code == 401


def test_threaded_comments(world):
    _, member, outsider, community = world
    post = quote(member, community)
    url = f"/api/v1/posts/{post.pk}/comments/"

    top = client_for(member).post(url, {"body": "Agreed"}, format="json")
    reply = client_for(member).post(
        url, {"body": "Me too", "parent": top.json()["id"]}, format="json"
    )
    listed = client_for().get(url).json()

    assert top.status_code == 201 and reply.status_code == 201
    assert reply.json()["parent"] == top.json()["id"] and reply.json()["depth"] == 1
    assert [c["body"] for c in listed["results"]] == ["Agreed", "Me too"]
    assert client_for(outsider).post(url, {"body": "hi"}, format="json").status_code == 403
    assert client_for(member).post(url, {"body": ""}, format="json").status_code == 400
    bad_parent = client_for(member).post(url, {"body": "x", "parent": 999999}, format="json")
    assert bad_parent.status_code == 400 and "parent" in bad_parent.json()
    assert client_for().post(url, {"body": "x"}, format="json").status_code in (401, 403)


def test_comment_delete_by_author_or_moderator_only(world):
    owner, member, outsider, community = world
    post = quote(member, community)
    url = f"/api/v1/posts/{post.pk}/comments/"
    comment_id = client_for(member).post(url, {"body": "mine"}, format="json").json()["id"]

    assert client_for(outsider).delete(f"/api/v1/comments/{comment_id}/").status_code == 403
    assert client_for(owner).delete(f"/api/v1/comments/{comment_id}/").status_code == 204
    assert client_for().get(url).json()["results"][0]["is_deleted"] is True
    assert client_for(member).delete("/api/v1/comments/424242/").status_code == 404


def test_share_into_another_community(world):
    owner, member, _, community = world
    post = quote(owner, community)
    elsewhere = community_make(owner=member, name="Poetry Corner")

    shared = client_for(member).post(
        f"/api/v1/posts/{post.pk}/share/", {"community": elsewhere.slug, "comment": "Worth reading"}
    )
    repost = client_for().get(f"/api/v1/posts/{shared.json()['repost']}/").json()
    not_member = client_for(owner).post(
        f"/api/v1/posts/{post.pk}/share/", {"community": elsewhere.slug}
    )
    unknown = client_for(member).post(f"/api/v1/posts/{post.pk}/share/", {"community": "zzz"})

    assert shared.status_code == 201 and shared.json()["community"] == "poetry-corner"
    assert repost["shared_from"] == {
        "id": post.pk, "community": community.slug, "author": "owner", "is_deleted": False
    }  # fmt: skip
    assert repost["body"] == "Worth reading" and repost["community"] == "poetry-corner"
    assert not_member.status_code == 403
    assert unknown.status_code == 400 and "community" in unknown.json()
    assert client_for(owner).get(f"/api/v1/posts/{post.pk}/").json()["share_count"] == 1


def test_delete_by_author_moderator_or_staff(world):
    owner, member, outsider, community = world
    moderator = user_make()
    community_join(user=moderator, community=community)
    membership_set_role(actor=owner, community=community, user=moderator, role="moderator")
    mine, theirs = quote(member, community), quote(member, community)

    assert client_for(outsider).delete(f"/api/v1/posts/{mine.pk}/").status_code == 403
    assert client_for().delete(f"/api/v1/posts/{mine.pk}/").status_code == 401
    assert client_for(member).delete(f"/api/v1/posts/{mine.pk}/").status_code == 204
    assert client_for(moderator).delete(f"/api/v1/posts/{theirs.pk}/").status_code == 204
    assert client_for(member).get(f"/api/v1/posts/{mine.pk}/").status_code == 404


def test_missing_and_absurd_ids_are_404(world):
    api = client_for(world[1])

    assert api.get("/api/v1/posts/987654/").status_code == 404
    assert api.get("/api/v1/posts/99999999999999999999999/").status_code == 404
    assert api.post("/api/v1/posts/987654/like/").status_code == 404


def test_oversized_request_is_refused_with_413_before_it_is_read(world, settings, media_root):
    _, member, _, community = world
    settings.MAX_REQUEST_BYTES = 1024
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client_for(member).post(
        "/api/v1/posts/",
        {
            "community": community.slug,
            "kind": "image",
            "media": SimpleUploadedFile(
                "big.png", image_bytes("PNG", size=(800, 800)), "image/png"
            ),
        },
        format="multipart",
    )

    assert response.status_code == 413 and "too large" in response.json()["detail"]
    assert stored_files(media_root) == [] and not Post.objects.exists()


def test_a_like_and_a_comment_take_a_few_queries(world, django_assert_max_num_queries):
    """Regression found by bench/write_path.py: a like ran 14 queries here (the post with what
    a page shows, a savepoint around the insert, two counter UPDATEs, two re-reads of the
    counters). Now: the post, its row lock, the like, the insert, one UPDATE for counter and
    hot score, the outbox row, and the savepoint around them."""
    _, member, _, community = world
    post = quote(member, community)
    api = client_for(member)

    with django_assert_max_num_queries(8):
        liked = api.post(f"/api/v1/posts/{post.pk}/like/")
    with django_assert_max_num_queries(8):
        commented = api.post(f"/api/v1/posts/{post.pk}/comments/", {"body": "Yes"}, format="json")

    assert liked.json() == {"liked": True, "like_count": 1}
    assert commented.status_code == 201 and commented.json()["body"] == "Yes"
    post.refresh_from_db()
    assert (post.like_count, post.comment_count) == (1, 1)
