"""REST API v1 for communities. Thin: serializers shape data, services and selectors decide."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from communities.models import Community, Membership
from communities.selectors import community_list, community_members, membership_get
from communities.services import (
    DESCRIPTION_MAX,
    NAME_MAX,
    NAME_MIN,
    NAME_PATTERN,
    SLUG_MAX,
    SLUG_PATTERN,
    community_create,
    community_join,
    community_leave,
    community_update,
)
from core.api import BodyInput, QueryParams
from core.api_docs import ERROR_RESPONSES


class CommunityOutput(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    is_member = serializers.BooleanField(read_only=True, default=False)

    class Meta:
        model = Community
        fields = [
            "slug",
            "name",
            "description",
            "created_by",
            "created_at",
            "member_count",
            "is_member",
        ]
        read_only_fields = fields


class CommunityCreateInput(BodyInput):
    # Text as sent (no trimming): the limits in the schema are the ones checked.
    name = serializers.RegexField(
        NAME_PATTERN, min_length=NAME_MIN, max_length=NAME_MAX, trim_whitespace=False
    )
    slug = serializers.RegexField(
        SLUG_PATTERN,
        max_length=SLUG_MAX,
        required=False,
        default="",
        trim_whitespace=False,
        help_text="The URL name: lowercase letters, digits and hyphens. Left out: made from "
        "the name.",
    )
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
    )


class CommunityUpdateInput(BodyInput):
    name = serializers.RegexField(
        NAME_PATTERN,
        min_length=NAME_MIN,
        max_length=NAME_MAX,
        required=False,
        trim_whitespace=False,
    )
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX, required=False, allow_blank=True, trim_whitespace=False
    )


class CommunityListParams(QueryParams):
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=NAME_MAX,
        trim_whitespace=False,
        help_text="Part of the name.",
    )


class MembershipOutput(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role", "joined_at"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        summary="Communities, largest first; `search` filters by name",
        parameters=[CommunityListParams],
        responses={200: CommunityOutput(many=True)},
    ),
    retrieve=extend_schema(responses={200: CommunityOutput, **ERROR_RESPONSES}),
)
class CommunityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_field = "slug"
    lookup_value_regex = rf"[-a-zA-Z0-9_]{{1,{SLUG_MAX}}}"
    serializer_class = CommunityOutput
    filter_backends: list = []

    def get_queryset(self):
        search = ""
        if self.action == "list":
            params = CommunityListParams(data=self.request.query_params)
            params.is_valid(raise_exception=True)
            search = params.validated_data.get("search", "")
        return community_list(user=self.request.user, search=search)

    @extend_schema(
        request=CommunityCreateInput, responses={201: CommunityOutput, **ERROR_RESPONSES}
    )
    def create(self, request):
        data = CommunityCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        community = community_create(creator=request.user, **data.validated_data)
        community.is_member = True
        return Response(CommunityOutput(community).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=CommunityUpdateInput, responses={200: CommunityOutput, **ERROR_RESPONSES}
    )
    def partial_update(self, request, slug: str):
        community = self.get_object()
        data = CommunityUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        community = community_update(actor=request.user, community=community, **data.validated_data)
        community.is_member = membership_get(user=request.user, community=community) is not None
        return Response(CommunityOutput(community).data)

    @extend_schema(request=None, responses={200: MembershipOutput, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def join(self, request, slug: str):
        community = get_object_or_404(Community, slug=slug)
        membership = community_join(user=request.user, community=community)
        return Response(MembershipOutput(membership).data)

    @extend_schema(request=None, responses={204: None, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def leave(self, request, slug: str):
        community = get_object_or_404(Community, slug=slug)
        community_leave(user=request.user, community=community)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: MembershipOutput(many=True), **ERROR_RESPONSES})
    @action(detail=True, methods=["get"])
    def members(self, request, slug: str):
        community = get_object_or_404(Community, slug=slug)
        page = self.paginate_queryset(community_members(community=community))
        return self.get_paginated_response(MembershipOutput(page, many=True).data)
