from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from communities import selectors, services
from communities.forms import CommunityEditForm, CommunityForm, RoleForm
from communities.models import Community
from core.web import message_errors, page_of, redirect_back


def community_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")
    communities = selectors.community_list(user=request.user, search=search)
    page = page_of(communities, request.GET.get("page"))
    return render(request, "communities/list.html", {"page": page, "search": search})


@login_required
def community_create(request: HttpRequest) -> HttpResponse:
    form = CommunityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            community = services.community_create(creator=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"c/{community.slug} is ready. Write its first post!")
            return redirect(community)
    return render(request, "communities/create.html", {"form": form})


@login_required
def community_edit(request: HttpRequest, slug: str) -> HttpResponse:
    community = get_object_or_404(Community, slug=slug)
    if not selectors.user_can_moderate(user=request.user, community=community):
        raise PermissionDenied("Only the owner or moderators can edit this community.")
    initial = {"name": community.name, "description": community.description}
    form = CommunityEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.community_update(actor=request.user, community=community, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Saved.")
            return redirect(community)
    return render(request, "communities/edit.html", {"form": form, "community": community})


@require_POST
@login_required
def community_join(request: HttpRequest, slug: str) -> HttpResponse:
    community = get_object_or_404(Community, slug=slug)
    services.community_join(user=request.user, community=community)
    messages.success(request, f"You joined c/{community.slug}.")
    return redirect_back(request, community.get_absolute_url())


@require_POST
@login_required
def community_leave(request: HttpRequest, slug: str) -> HttpResponse:
    community = get_object_or_404(Community, slug=slug)
    try:
        services.community_leave(user=request.user, community=community)
    except ValidationError as error:
        message_errors(request, error)
    else:
        messages.success(request, f"You left c/{community.slug}.")
    return redirect_back(request, community.get_absolute_url())


def community_members(request: HttpRequest, slug: str) -> HttpResponse:
    community = get_object_or_404(Community, slug=slug)
    membership = selectors.membership_get(user=request.user, community=community)
    is_owner = request.user.is_authenticated and (
        request.user.is_staff or (membership is not None and membership.role == "owner")
    )
    page = page_of(selectors.community_members(community=community), request.GET.get("page"), 50)
    context = {"community": community, "page": page, "is_owner": is_owner}
    return render(request, "communities/members.html", context)


@require_POST
@login_required
def membership_role(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    community = get_object_or_404(Community, slug=slug)
    member = get_object_or_404(get_user_model(), pk=user_id)
    form = RoleForm(request.POST)
    try:
        if request.POST.get("action") == "transfer":
            services.community_transfer_ownership(
                actor=request.user, community=community, new_owner=member
            )
            messages.success(request, f"{member.username} is now the owner.")
        elif form.is_valid():
            services.membership_set_role(
                actor=request.user, community=community, user=member, role=form.cleaned_data["role"]
            )
            messages.success(request, f"{member.username} is now a {form.cleaned_data['role']}.")
    except ValidationError as error:
        message_errors(request, error)
    return redirect("communities:members", slug=community.slug)
