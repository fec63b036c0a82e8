"""The whole journey in real headless Chromium: sign up, create communities, post an image,
like it, comment, reply, share. Screenshots of the feed and the post page go to
test-artifacts/ (git-ignored)."""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test
# (and the live server) are still plain synchronous calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import Page, expect, sync_playwright

from tests.support.browser import csp_violations_watch

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "a-long-Browser-pass-42"


def landscape_png() -> bytes:
    """A small sunset picture, so the screenshots show a real image."""
    width, height = 960, 600
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / height
        draw.line(
            [(0, y), (width, y)], fill=(int(255 - 80 * t), int(140 - 90 * t), int(60 + 90 * t))
        )
    draw.ellipse((380, 300, 580, 500), fill=(255, 214, 102))
    draw.polygon([(0, 600), (260, 380), (520, 600)], fill=(46, 49, 80))
    draw.polygon([(380, 600), (700, 330), (960, 600)], fill=(30, 32, 60))
    out = BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def page(live_server, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        blocked = csp_violations_watch(page)
        yield page
        assert blocked == [], f"the Content Security Policy blocked: {blocked}"
        context.close()
        browser.close()


def create_community(page: Page, base: str, name: str, description: str) -> None:
    page.goto(f"{base}/communities/new/")
    page.get_by_label("Name:", exact=True).fill(name)
    page.get_by_label("Description").fill(description)
    page.get_by_role("button", name="Create community").click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()


def seed_neighbours(photography_slug: str, favourites_slug: str) -> None:
    """Other people's posts, so the feed looks lived-in."""
    from communities.models import Community
    from communities.services import community_join
    from posts import services
    from tests.factories import user_make, video_upload

    ada = user_make("ada")
    photography = Community.objects.get(slug=photography_slug)
    favourites = Community.objects.get(slug=favourites_slug)
    for community in (photography, favourites):
        community_join(user=ada, community=community)
    services.post_create(
        author=ada,
        community=favourites,
        kind="quote",
        text="The best way to predict the future is to invent it.",
        attribution="Alan Kay",
    )
    services.post_create(
        author=ada,
        community=photography,
        kind="video",
        text="Test pattern, 1 second",
        media=video_upload("mp4"),
    )


@pytest.mark.browser
def test_sign_up_post_like_comment_reply_share(page: Page, live_server):
    from events.models import OutboxEvent
    from posts.models import Comment, Post

    base = live_server.url
    ARTIFACTS.mkdir(exist_ok=True)

    # Sign up.
    page.goto(f"{base}/")
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign up").click()
    page.get_by_label("Username").fill("grace")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("Welcome, grace!")).to_be_visible()

    # Two communities: one to post in, one to share into.
    create_community(page, base, "Photography", "Pictures worth a thousand words.")
    create_community(page, base, "Favourites", "Things we keep coming back to.")
    seed_neighbours("photography", "favourites")
    page.goto(f"{base}/communities/")
    page.screenshot(path=str(ARTIFACTS / "communities.png"))

    # Post an image.
    page.goto(f"{base}/submit/?community=photography")
    page.get_by_role("radio", name="Image").check()
    expect(page.get_by_label("Attribution (quotes)")).to_be_hidden()
    page.get_by_label("Caption (optional)").fill("Sunset over the hills")
    page.get_by_label("Image or video file").set_input_files(
        {"name": "sunset.png", "mimeType": "image/png", "buffer": landscape_png()}
    )
    page.screenshot(path=str(ARTIFACTS / "new-post.png"))
    page.get_by_role("button", name="Post", exact=True).click()
    expect(page.get_by_text("Posted.")).to_be_visible()
    image = page.locator("figure.post-media img")
    expect(image).to_be_visible()
    assert page.evaluate("img => img.naturalWidth", image.element_handle()) == 960
    post = Post.objects.get(kind="image")

    # Like it (htmx swaps the button in place).
    like = page.locator(".like-button")
    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".like-button")).to_contain_text("1")

    # Comment, then reply to the comment.
    page.get_by_label("Add a comment").fill("What a view!")
    page.get_by_role("button", name="Comment", exact=True).click()
    comment = Comment.objects.get(post=post)
    thread = page.locator(f"#comment-{comment.pk}")
    expect(thread).to_contain_text("What a view!")
    thread.locator("summary", has_text="Reply").click()
    thread.get_by_label("Reply to u/grace").fill("Taken last night from the ridge.")
    thread.get_by_role("button", name="Reply").click()
    reply = Comment.objects.get(parent=comment)
    expect(page.locator(f"#comment-{reply.pk}")).to_contain_text("Taken last night")
    page.screenshot(path=str(ARTIFACTS / "post.png"), full_page=True)

    # Share it into the other community with a short comment.
    page.get_by_role("link", name="Share").first.click()
    page.get_by_label("Share into").select_option(label="Favourites")
    page.get_by_label("Add a comment (optional)").fill("Had to share this one")
    page.get_by_role("button", name="Share").click()
    expect(page.get_by_text("Shared into c/favourites.")).to_be_visible()
    expect(page.locator(".shared-from")).to_contain_text("Shared from c/photography")

    page.goto(f"{base}/c/photography/")
    page.screenshot(path=str(ARTIFACTS / "community.png"), full_page=True)

    # The feed shows it all.
    page.goto(f"{base}/?sort=new")
    expect(page.locator(".post-card")).to_have_count(4)
    page.screenshot(path=str(ARTIFACTS / "feed.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "feed-mobile.png"), full_page=False)

    post.refresh_from_db()
    assert (post.like_count, post.comment_count, post.share_count) == (1, 2, 1)
    types = set(OutboxEvent.objects.values_list("event_type", flat=True))
    assert {
        "community_created", "post_created", "post_viewed", "post_liked",
        "comment_created", "post_shared",
    } <= types  # fmt: skip


@pytest.mark.browser
def test_api_docs_render_under_the_content_security_policy(page: Page, live_server):
    """Swagger UI draws the schema with nothing inline (the fixture fails on any CSP block)."""
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .title")).to_contain_text("Streamer API")
    expect(page.get_by_text("/api/v1/auth/logout/")).to_be_visible()
