import pytest
from django.test import Client
from django.urls import reverse

from communities.services import community_join
from events.envelope import EventType
from posts import services
from posts.models import Comment, Post
from tests.factories import community_make, image_upload, user_make, video_upload
from tests.support.outbox import events

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_client(client):
    user = user_make("writer")
    community = community_make(owner=user, name="Writers")
    client.force_login(user)
    client.user, client.community = user, community
    return client


def quote(user, community, text="Brevity is the soul of wit.") -> Post:
    return services.post_create(author=user, community=community, kind="quote", text=text)


def stranger_quote(text: str = "Elsewhere", name: str | None = None) -> Post:
    """A quote by someone else, in a community of their own."""
    owner = user_make()
    return quote(owner, community_make(owner=owner, name=name), text=text)


def test_home_for_anonymous_shows_all_communities(client):
    post = stranger_quote("Hello world")
    page = client.get(reverse("home"))
    assert page.status_code == 200
    assert b"Hello world" in page.content
    assert page.context["page"][0].pk == post.pk


def test_home_for_a_member_shows_joined_communities_only(member_client):
    quote(member_client.user, member_client.community, text="mine")
    stranger_quote("theirs")
    page = member_client.get(reverse("home"), {"sort": "new"})
    assert b"mine" in page.content and b"theirs" not in page.content


def test_home_sort_tabs(client):
    stranger_quote()
    for params in ({"sort": "hot"}, {"sort": "new"}, {"sort": "top", "t": "day"}, {"sort": "x"}):
        assert client.get(reverse("home"), params).status_code == 200


def test_new_post_page_for_each_kind(member_client):
    url = reverse("posts:create")
    assert member_client.get(url).status_code == 200
    community = member_client.community.pk
    response = member_client.post(
        url, {"community": community, "kind": "quote", "text": "Q", "attribution": "A"}
    )
    assert response.status_code == 302
    response = member_client.post(
        url, {"community": community, "kind": "image", "text": "pic", "media": image_upload()}
    )
    image_post = Post.objects.get(kind="image")
    assert response.headers["Location"] == image_post.get_absolute_url()
    member_client.post(url, {"community": community, "kind": "video", "media": video_upload()})
    assert Post.objects.filter(kind="video").count() == 1


def test_new_post_page_shows_media_errors_and_stores_nothing(member_client, media_root):
    bad = image_upload(name="evil.png")
    bad.file.seek(0)
    bad.file.truncate(0)
    bad.file.write(b"MZ\x90\x00 not an image at all")
    bad.file.seek(0)
    bad.size = 24
    response = member_client.post(
        reverse("posts:create"),
        {"community": member_client.community.pk, "kind": "image", "media": bad},
    )
    assert response.status_code == 200
    assert b"not a valid JPEG, PNG, GIF or WebP image" in response.content
    assert Post.objects.count() == 0
    assert not any(p.is_file() for p in media_root.rglob("*")) if media_root.exists() else True


def test_new_post_needs_a_community(client):
    client.force_login(user_make())
    response = client.get(reverse("posts:create"))
    assert response.headers["Location"] == reverse("communities:list")


def test_post_page_records_a_view_and_shows_threads(member_client):
    post = quote(member_client.user, member_client.community)
    top = services.comment_create(author=member_client.user, post=post, body="first!")
    services.comment_create(author=member_client.user, post=post, body="a reply", parent=top)
    page = member_client.get(post.get_absolute_url())
    assert page.status_code == 200
    assert b"first!" in page.content and b"a reply" in page.content
    assert f'name="parent" value="{top.pk}"'.encode() in page.content
    [view] = events(EventType.POST_VIEWED)
    assert view["post_id"] == post.pk


def test_image_post_page_shows_full_size_and_feed_shows_thumbnail(member_client):
    post = services.post_create(
        author=member_client.user,
        community=member_client.community,
        kind="image",
        media=image_upload(),
    )
    assert post.media.url.encode() in member_client.get(post.get_absolute_url()).content
    feed = member_client.get(member_client.community.get_absolute_url()).content
    assert post.thumbnail.url.encode() in feed and post.media.url.encode() not in feed


def test_video_plays_in_a_video_element_with_poster(member_client):
    post = services.post_create(
        author=member_client.user,
        community=member_client.community,
        kind="video",
        media=video_upload("mp4"),
    )
    content = member_client.get(post.get_absolute_url()).content.decode()
    assert f'poster="{post.thumbnail.url}"' in content
    assert f'<source src="{post.media.url}" type="video/mp4">' in content


def test_deleted_post_is_gone(member_client):
    post = quote(member_client.user, member_client.community)
    member_client.post(reverse("posts:delete", args=[post.pk]))
    assert member_client.get(post.get_absolute_url()).status_code == 404


def test_like_and_unlike_without_javascript(member_client):
    post = quote(member_client.user, member_client.community)
    response = member_client.post(
        reverse("posts:like", args=[post.pk]), {"next": post.get_absolute_url()}
    )
    assert response.headers["Location"] == post.get_absolute_url()
    post.refresh_from_db()
    assert post.like_count == 1
    page = member_client.get(post.get_absolute_url())
    assert reverse("posts:unlike", args=[post.pk]).encode() in page.content
    member_client.post(reverse("posts:unlike", args=[post.pk]))
    post.refresh_from_db()
    assert post.like_count == 0


def test_like_next_must_stay_on_site(member_client):
    post = quote(member_client.user, member_client.community)
    response = member_client.post(
        reverse("posts:like", args=[post.pk]), {"next": "https://evil.example/"}
    )
    assert response.headers["Location"] == post.get_absolute_url()


def test_like_with_htmx_returns_the_button(member_client):
    post = quote(member_client.user, member_client.community)
    response = member_client.post(reverse("posts:like", args=[post.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b'aria-pressed="true"' in response.content
    assert reverse("posts:unlike", args=[post.pk]).encode() in response.content


def test_anonymous_like_goes_to_login(client):
    post = stranger_quote()
    response = client.post(reverse("posts:like", args=[post.pk]))
    assert reverse("login") in response.headers["Location"]


def test_comment_and_reply_forms(member_client):
    post = quote(member_client.user, member_client.community)
    url = reverse("posts:comment", args=[post.pk])
    member_client.post(url, {"body": "Top"})
    top = Comment.objects.get()
    response = member_client.post(url, {"body": "Reply", "parent": top.pk})
    reply = Comment.objects.get(parent=top)
    assert response.headers["Location"].endswith(f"#comment-{reply.pk}")
    empty = member_client.post(url, {"body": ""}, follow=True)
    assert b"This field is required." in empty.content


def test_non_members_see_no_comment_form_and_cannot_comment(client):
    post = stranger_quote(name="Closed Circle")
    client.force_login(user_make())
    page = client.get(post.get_absolute_url())
    assert b"to comment." in page.content and b'name="body"' not in page.content
    response = client.post(reverse("posts:comment", args=[post.pk]), {"body": "hi"})
    assert response.status_code == 403


def test_comment_delete_page_action(member_client):
    post = quote(member_client.user, member_client.community)
    comment = services.comment_create(author=member_client.user, post=post, body="bye")
    member_client.post(reverse("posts:comment_delete", args=[comment.pk]))
    comment.refresh_from_db()
    assert comment.is_deleted
    assert b"This comment was deleted." in member_client.get(post.get_absolute_url()).content


def test_share_page_shares_into_another_community(member_client):
    post = stranger_quote("Original words", name="Source")
    community_join(user=member_client.user, community=post.community)
    url = reverse("posts:share", args=[post.pk])
    page = member_client.get(url)
    assert page.status_code == 200 and b"Writers" in page.content
    response = member_client.post(
        url, {"target_community": member_client.community.pk, "comment": "Worth reading"}
    )
    repost = Post.objects.get(shared_from=post)
    assert response.headers["Location"] == repost.get_absolute_url()
    shown = member_client.get(repost.get_absolute_url()).content
    assert b"Shared from" in shown and b"c/source" in shown and b"Worth reading" in shown


def test_share_page_without_other_communities(member_client):
    post = quote(member_client.user, member_client.community)
    page = member_client.get(reverse("posts:share", args=[post.pk]))
    assert b"Find communities to join" in page.content


def test_profile_lists_the_persons_posts(client):
    author = user_make("poet")
    community = community_make(owner=author)
    for index in range(3):
        quote(author, community, text=f"verse {index}")
    page = client.get(reverse("posts:profile", args=["poet"]))
    assert page.status_code == 200
    assert b"verse 2" in page.content and page.context["post_total"] == 3
    assert client.get(reverse("posts:profile", args=["nobody"])).status_code == 404


def test_user_text_is_escaped_everywhere(member_client):
    evil = '<img src=x onerror="alert(1)">'
    post = quote(member_client.user, member_client.community, text=evil)
    services.comment_create(author=member_client.user, post=post, body=evil)
    for url in (
        post.get_absolute_url(),
        reverse("home"),
        member_client.community.get_absolute_url(),
    ):
        assert evil.encode() not in member_client.get(url).content


def test_forms_carry_csrf_tokens(member_client):
    post = quote(member_client.user, member_client.community)
    page = member_client.get(post.get_absolute_url()).content.decode()
    assert page.count("<form") == page.count("csrfmiddlewaretoken")


def test_csrf_is_enforced_on_likes():
    post = stranger_quote()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_make())
    assert client.post(reverse("posts:like", args=[post.pk])).status_code == 403


def test_uploaded_media_is_served(member_client):
    post = services.post_create(
        author=member_client.user,
        community=member_client.community,
        kind="image",
        media=image_upload(),
    )
    response = member_client.get(post.thumbnail.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert member_client.get("/media/../streamer/settings.py").status_code in (400, 404)


def test_admin_pages_for_staff(client):
    owner = user_make()
    community = community_make(owner=owner)
    post = quote(owner, community)
    comment = services.comment_create(author=owner, post=post, body="hello")
    services.post_like(user=owner, post=post)
    services.post_share(user=owner, post=post)
    client.force_login(user_make(is_staff=True, is_superuser=True))
    for model in ("post", "like", "comment", "share"):
        listing = client.get(f"/admin/posts/{model}/", {"q": "a"})
        assert listing.status_code == 200, model
    for model in ("community", "membership"):
        assert client.get(f"/admin/communities/{model}/").status_code == 200
    change = client.get(f"/admin/posts/post/{post.pk}/change/")
    assert b'name="like_count"' not in change.content  # counters are read-only
    client.post(
        "/admin/posts/post/",
        {"action": "delete_through_service", "_selected_action": [post.pk]},
    )
    post.refresh_from_db()
    assert post.is_deleted
    assert comment.pk


def test_admin_is_staff_only(client):
    client.force_login(user_make())
    response = client.get("/admin/posts/post/")
    assert response.status_code == 302 and "/admin/login/" in response.headers["Location"]
