from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Page
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.static import serve

from analytics.selectors.trends import trending_community_list, trending_state
from communities.models import Community
from communities.selectors import (
    community_header,
    community_list_for_user,
    membership_get,
    user_can_moderate,
)
from core.pagecache import anonymous_page_cache
from core.web import PAGE_SIZE, message_errors, page_of, redirect_back
from posts import cards, listings, selectors, services
from posts.forms import CommentForm, PostForm, ShareForm
from posts.models import Comment, Post

TRENDING_COMMUNITIES = 10


def _card_page(request: HttpRequest, feed: listings.Feed) -> Page:
    """A page of a feed, as the viewer's cards."""
    feed.prefetch(request.GET.get("page"), PAGE_SIZE)
    page = page_of(feed, request.GET.get("page"))
    ids = [entry["pk"] for entry in page.object_list]
    page.object_list = cards.cards_for(ids, request=request)
    return page


def _post_page(request: HttpRequest, posts) -> Page:
    """A page of posts from a database query, as the viewer's cards."""
    page = page_of(posts, request.GET.get("page"))
    loaded = list(page.object_list)
    page.object_list = cards.cards_for([p.pk for p in loaded], request=request, posts=loaded)
    return page


@anonymous_page_cache
def home(request: HttpRequest) -> HttpResponse:
    order = selectors.FeedOrder.parse(request.GET.get("sort"), request.GET.get("t"))
    feed = listings.feed_home(viewer=request.user, order=order)
    context = {
        "page": _card_page(request, feed),
        "order": order,
        "my_communities": community_list_for_user(user=request.user)[:12],
    }
    return render(request, "home.html", context)


def trending(request: HttpRequest) -> HttpResponse:
    """Posts the trend model expects to get the most engagement in the next hour, and the
    communities it expects to be busiest; until its first predictions, the hot ranking,
    labelled with why."""
    state = trending_state()
    if state.batch is not None:
        posts = selectors.post_list_trending(viewer=request.user)
    else:
        posts = selectors.post_list_hot(viewer=request.user)
    context = {
        "page": _post_page(request, posts),
        "run": state.batch,
        "state": state,
        "communities": trending_community_list(run=state.batch, limit=TRENDING_COMMUNITIES),
    }
    return render(request, "posts/trending.html", context)


@anonymous_page_cache
def community_page(request: HttpRequest, slug: str) -> HttpResponse:
    """A community's page: its feed of posts, with who runs it and the viewer's membership.
    (In the communities URL namespace as `communities:detail`; see streamer/urls.py.)"""
    header = community_header(slug=slug)
    if header is None:
        raise Http404("No such community.")
    community = header.community
    order = selectors.FeedOrder.parse(request.GET.get("sort"), request.GET.get("t"))
    feed = listings.feed_community(community_id=community.pk, order=order)
    context = {
        "community": community,
        "membership": membership_get(user=request.user, community=community),
        "can_moderate": user_can_moderate(user=request.user, community=community),
        "moderators": header.moderators,
        "page": _card_page(request, feed),
        "order": order,
    }
    return render(request, "communities/detail.html", context)


def _visible_post(request: HttpRequest, post_id: int) -> Post:
    post = selectors.post_get_for_viewer(post_id=post_id, viewer=request.user)
    if post is None:
        raise Http404("No such post.")
    return post


def post_detail(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _visible_post(request, post_id)
    services.post_view_record(viewer=request.user, post=post)
    context = {
        "post": post,
        "threads": selectors.comment_threads(post=post, page_number=request.GET.get("page")),
        "is_member": membership_get(user=request.user, community=post.community) is not None,
        "can_moderate": user_can_moderate(user=request.user, community=post.community),
        "comment_form": CommentForm(),
    }
    return render(request, "posts/detail.html", context)


@login_required
def post_create(request: HttpRequest) -> HttpResponse:
    communities = community_list_for_user(user=request.user)
    if not communities.exists():
        messages.info(request, "Join a community (or create one) before you post.")
        return redirect("communities:list")
    initial = {}
    if slug := request.GET.get("community"):
        initial["community"] = communities.filter(slug=slug).first()
    form = PostForm(request.POST or None, request.FILES or None, communities=communities)
    if request.method == "POST" and form.is_valid():
        try:
            post = services.post_create(author=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Posted.")
            return redirect(post)
    if not form.is_bound:
        form = PostForm(initial=initial, communities=communities)
    return render(request, "posts/create.html", {"form": form})


@require_POST
@login_required
def post_delete(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _visible_post(request, post_id)
    services.post_delete(actor=request.user, post=post)
    messages.success(request, "The post was deleted.")
    return redirect(post.community)


def _like_response(request: HttpRequest, post: Post, *, liked: bool) -> HttpResponse:
    """htmx swaps in the new button; without JavaScript, back to the page."""
    if request.headers.get("HX-Request"):
        post.liked = liked
        return render(request, "posts/_like_button.html", {"post": post})
    return redirect_back(request, post.get_absolute_url())


@require_POST
@login_required
def post_like(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _visible_post(request, post_id)
    services.post_like(user=request.user, post=post)
    return _like_response(request, post, liked=True)


@require_POST
@login_required
def post_unlike(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _visible_post(request, post_id)
    services.post_unlike(user=request.user, post=post)
    return _like_response(request, post, liked=False)


@require_POST
@login_required
def comment_create(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _visible_post(request, post_id)
    form = CommentForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for text in errors:
                messages.error(request, text)
        return redirect(post)
    parent = None
    if form.cleaned_data["parent"]:
        parent = Comment.objects.filter(pk=form.cleaned_data["parent"], post=post).first()
        if parent is None:
            raise Http404("No such comment.")
    try:
        comment = services.comment_create(
            author=request.user, post=post, body=form.cleaned_data["body"], parent=parent
        )
    except ValidationError as error:
        message_errors(request, error)
        return redirect(post)
    return redirect(f"{post.get_absolute_url()}#comment-{comment.pk}")


@require_POST
@login_required
def comment_delete(request: HttpRequest, comment_id: int) -> HttpResponse:
    comment = get_object_or_404(Comment.objects.select_related("post__community"), pk=comment_id)
    services.comment_delete(actor=request.user, comment=comment)
    messages.success(request, "The comment was deleted.")
    return redirect(f"{comment.post.get_absolute_url()}#comment-{comment.pk}")


@login_required
def post_share(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _visible_post(request, post_id)
    targets = selectors.share_targets(user=request.user, post=post)
    form = ShareForm(request.POST or None, communities=targets)
    if request.method == "POST" and form.is_valid():
        try:
            share = services.post_share(user=request.user, post=post, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Shared into c/{share.target_community.slug}.")
            return redirect(share.repost)
    context = {"post": post, "form": form, "has_targets": targets.exists()}
    return render(request, "posts/share.html", context)


def user_profile(request: HttpRequest, username: str) -> HttpResponse:
    person = get_object_or_404(get_user_model(), username=username, is_active=True)
    posts = selectors.post_list_author(author=person, viewer=request.user)
    context = {
        "person": person,
        "page": _post_page(request, posts),
        "communities": Community.objects.filter(memberships__user=person).order_by("name")[:20],
        "post_total": Post.objects.filter(author=person, deleted_at__isnull=True).count(),
    }
    return render(request, "posts/profile.html", context)


@require_GET
def media_serve(request: HttpRequest, path: str) -> HttpResponse:
    """A stored upload from local storage (random names; safe_join keeps it in MEDIA_ROOT)."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)
