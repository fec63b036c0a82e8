"""REST API v1 for posts, likes, comments and shares. Thin: serializers shape data, services
and selectors decide; a rule broken in a service comes back as 400/403 through
`core.api.api_exception_handler`."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.usernames import USERNAME_MAX
from communities.models import Community
from communities.services import SLUG_MAX
from core.api import BodyInput, FeedCursorPagination, QueryParams, StandardPagination
from core.api_docs import ERROR_RESPONSES
from core.parsers import DepthLimitedJSONParser
from posts.cards import api_posts
from posts.listings import feed_api
from posts.media import MAX_IMAGE_BYTES, MAX_VIDEO_BYTES, MB
from posts.models import Comment, Post
from posts.selectors import (
    FeedOrder,
    comment_list_for_post,
    community_id_for_slug,
    post_get_for_action,
    post_get_for_viewer,
    post_list_api,
)
from posts.services import (
    ATTRIBUTION_MAX,
    COMMENT_MAX,
    SHARE_COMMENT_MAX,
    TEXT_MAX,
    comment_create,
    comment_delete,
    post_create,
    post_delete,
    post_like,
    post_share,
    post_unlike,
    post_view_record,
)

POST_ID_REGEX = r"[0-9]{1,18}"


class SharedFromOutput(serializers.Serializer):
    """The original of a repost. Once it is deleted, as on the page, nothing of it is shown:
    no community, no author."""

    id = serializers.IntegerField()
    community = serializers.CharField(source="community.slug", allow_null=True)
    author = serializers.CharField(source="author.username", allow_null=True)
    is_deleted = serializers.BooleanField()

    def to_representation(self, original: Post) -> dict:
        if original.is_deleted:
            return {"id": original.pk, "community": None, "author": None, "is_deleted": True}
        return super().to_representation(original)


class PostOutput(serializers.ModelSerializer):
    community = serializers.CharField(source="community.slug")
    author = serializers.CharField(source="author.username", allow_null=True)
    body = serializers.SerializerMethodField()
    caption = serializers.SerializerMethodField()
    media_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    liked_by_me = serializers.BooleanField(source="liked", default=False)
    shared_from = SharedFromOutput(allow_null=True)

    class Meta:
        model = Post
        fields = [
            "id",
            "community",
            "author",
            "kind",
            "body",
            "attribution",
            "caption",
            "media_url",
            "thumbnail_url",
            "like_count",
            "comment_count",
            "share_count",
            "created_at",
            "liked_by_me",
            "shared_from",
        ]
        read_only_fields = fields

    def get_body(self, post: Post) -> str:
        """The quote's text (or a repost's comment)."""
        return post.text if post.kind == Post.Kind.QUOTE or post.shared_from_id else ""

    def get_caption(self, post: Post) -> str:
        return post.text if post.kind != Post.Kind.QUOTE and not post.shared_from_id else ""

    def _url(self, field) -> str | None:
        if not field:
            return None
        request = self.context.get("request")
        url = field.url
        return request.build_absolute_uri(url) if request else url

    def get_media_url(self, post: Post) -> str | None:
        return None if post.content.is_deleted else self._url(post.content.media)

    def get_thumbnail_url(self, post: Post) -> str | None:
        return None if post.content.is_deleted else self._url(post.content.thumbnail)


class PostCreateInput(BodyInput):
    community = serializers.SlugField(trim_whitespace=False, max_length=SLUG_MAX)
    kind = serializers.ChoiceField(choices=Post.Kind.choices)
    body = serializers.CharField(
        trim_whitespace=False,
        required=False,
        allow_blank=True,
        default="",
        max_length=TEXT_MAX,
        help_text="The quote (kind=quote, required there).",
    )
    attribution = serializers.CharField(
        trim_whitespace=False,
        required=False,
        allow_blank=True,
        default="",
        max_length=ATTRIBUTION_MAX,
        help_text="Who said it (quotes only).",
    )
    caption = serializers.CharField(
        trim_whitespace=False,
        required=False,
        allow_blank=True,
        default="",
        max_length=TEXT_MAX,
        help_text="Text under an image or video.",
    )
    media = serializers.FileField(
        required=False,
        allow_null=True,
        default=None,
        help_text=f"kind=image: PNG, JPEG, GIF or WebP up to {MAX_IMAGE_BYTES // MB} MB; "
        f"kind=video: MP4 or WebM up to {MAX_VIDEO_BYTES // MB} MB (multipart/form-data).",
    )


class LikeOutput(serializers.Serializer):
    liked = serializers.BooleanField()
    like_count = serializers.IntegerField()


class CommentOutput(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", allow_null=True)
    post = serializers.IntegerField(source="post_id")
    parent = serializers.IntegerField(source="parent_id", allow_null=True)
    is_deleted = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = ["id", "post", "parent", "depth", "author", "body", "created_at", "is_deleted"]
        read_only_fields = fields

    def get_is_deleted(self, comment: Comment) -> bool:
        return comment.is_deleted

    def to_representation(self, comment: Comment) -> dict:
        data = super().to_representation(comment)
        if comment.is_deleted:
            data["author"] = None  # as the page shows it: "[deleted]", nobody named
        return data


class CommentCreateInput(BodyInput):
    body = serializers.RegexField(
        r"\S",
        max_length=COMMENT_MAX,
        trim_whitespace=False,
        help_text="Not only spaces.",
        error_messages={"invalid": "Write something first."},
    )
    parent = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=2**62
    )


class ShareInput(BodyInput):
    community = serializers.SlugField(
        trim_whitespace=False, max_length=SLUG_MAX, required=False, allow_blank=True, default=""
    )
    comment = serializers.CharField(
        trim_whitespace=False,
        max_length=SHARE_COMMENT_MAX,
        required=False,
        allow_blank=True,
        default="",
    )


class ShareOutput(serializers.Serializer):
    id = serializers.IntegerField()
    post = serializers.IntegerField(source="post_id")
    community = serializers.CharField(source="target_community.slug", allow_null=True, default=None)
    repost = serializers.IntegerField(source="repost_id", allow_null=True)
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()


class PostListParams(QueryParams):
    community = serializers.CharField(
        trim_whitespace=False, required=False, max_length=SLUG_MAX, help_text="Community slug."
    )
    author = serializers.CharField(
        trim_whitespace=False,
        required=False,
        max_length=USERNAME_MAX,
        help_text="Author's username.",
    )
    kind = serializers.ChoiceField(choices=Post.Kind.choices, required=False)
    ordering = serializers.ChoiceField(choices=["hot", "new", "top"], required=False)
    period = serializers.ChoiceField(
        choices=["day", "week", "all"], required=False, help_text="With ordering=top."
    )


@extend_schema_view(
    list=extend_schema(
        parameters=[PostListParams],
        summary="Posts, ranked; cursor-paginated",
        responses={
            200: PostOutput(many=True),
            400: OpenApiResponse(
                ERROR_RESPONSES[400].response, description="Invalid filter, cursor or page size"
            ),
        },
    ),
    retrieve=extend_schema(
        summary="One post (records a view for signed-in users)",
        responses={200: PostOutput, **ERROR_RESPONSES},
    ),
    destroy=extend_schema(responses={204: None, **ERROR_RESPONSES}),
)
class PostViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = PostOutput
    pagination_class = FeedCursorPagination
    lookup_value_regex = POST_ID_REGEX
    # Posts may carry a file (multipart); the other actions read JSON only.
    parser_classes = [DepthLimitedJSONParser, MultiPartParser, FormParser]
    filter_backends: list = []

    def get_queryset(self):
        params = PostListParams(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        filters = params.validated_data
        return post_list_api(
            viewer=self.request.user,
            order=FeedOrder.parse(filters.get("ordering"), filters.get("period")),
            community_slug=filters.get("community"),
            author_username=filters.get("author"),
            kind=filters.get("kind"),
        )

    def list(self, request):
        """A page of the ranked feed from its Redis listing and cached post objects (the
        database when they cannot answer); the same pages and cursors either way."""
        params = PostListParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        filters = params.validated_data
        slug = filters.get("community")
        feed = feed_api(
            order=FeedOrder.parse(filters.get("ordering"), filters.get("period")),
            community_id=community_id_for_slug(slug) if slug else None,
            community_slug=slug,
            author_username=filters.get("author"),
            kind=filters.get("kind"),
        )
        entries = self.paginate_queryset(feed)
        posts = api_posts(
            [entry["pk"] for entry in entries],
            request=request,
            serialize=lambda found: PostOutput(found, many=True).data,
        )
        return self.get_paginated_response(posts)

    def _post(self, pk: str, *, shown: bool = True) -> Post:
        """The post, or 404; `shown=False` for an action that does not show it (one query)."""
        get = post_get_for_viewer if shown else post_get_for_action
        post = get(post_id=int(pk), viewer=self.request.user)
        if post is None:
            raise Http404("No such post.")
        return post

    def retrieve(self, request, pk: str):
        post = self._post(pk)
        post_view_record(viewer=request.user, post=post)
        return Response(PostOutput(post, context={"request": request}).data)

    @extend_schema(
        request={"application/json": PostCreateInput, "multipart/form-data": PostCreateInput},
        responses={201: PostOutput, **ERROR_RESPONSES},
    )
    def create(self, request):
        data = PostCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        community = get_object_or_404(Community, slug=fields["community"])
        text = fields["body"] if fields["kind"] == Post.Kind.QUOTE else fields["caption"]
        post = post_create(
            author=request.user,
            community=community,
            kind=fields["kind"],
            text=text,
            attribution=fields["attribution"],
            media=fields["media"],
        )
        post = post_get_for_viewer(post_id=post.pk, viewer=request.user)
        return Response(
            PostOutput(post, context={"request": request}).data, status=status.HTTP_201_CREATED
        )

    def destroy(self, request, pk: str):
        post_delete(actor=request.user, post=self._post(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["POST"],
        request=None,
        responses={200: LikeOutput, **ERROR_RESPONSES},
        summary="Like (idempotent)",
    )
    @extend_schema(
        methods=["DELETE"],
        request=None,
        responses={200: LikeOutput, **ERROR_RESPONSES},
        summary="Unlike",
    )
    @action(detail=True, methods=["post", "delete"], permission_classes=[IsAuthenticated])
    def like(self, request, pk: str):
        post = self._post(pk, shown=False)
        if request.method == "POST":
            post_like(user=request.user, post=post)
        else:
            post_unlike(user=request.user, post=post)
        # The service leaves the counters it read under the post's row lock on `post`.
        return Response({"liked": request.method == "POST", "like_count": post.like_count})

    @extend_schema(methods=["GET"], responses={200: CommentOutput(many=True), **ERROR_RESPONSES})
    @extend_schema(
        methods=["POST"],
        request=CommentCreateInput,
        responses={201: CommentOutput, **ERROR_RESPONSES},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        pagination_class=StandardPagination,
        parser_classes=[DepthLimitedJSONParser],
    )
    def comments(self, request, pk: str):
        post = self._post(pk, shown=False)
        if request.method == "GET":
            page = self.paginate_queryset(comment_list_for_post(post=post))
            return self.get_paginated_response(CommentOutput(page, many=True).data)
        if not request.user.is_authenticated:
            self.permission_denied(request)
        data = CommentCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        parent = None
        if data.validated_data["parent"] is not None:
            parent = Comment.objects.filter(pk=data.validated_data["parent"], post=post).first()
            if parent is None:
                raise serializers.ValidationError({"parent": ["No such comment on this post."]})
        comment = comment_create(
            author=request.user, post=post, body=data.validated_data["body"], parent=parent
        )
        return Response(CommentOutput(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ShareInput, responses={201: ShareOutput, **ERROR_RESPONSES})
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated],
        parser_classes=[DepthLimitedJSONParser],
    )
    def share(self, request, pk: str):
        post = self._post(pk, shown=False)
        data = ShareInput(data=request.data)
        data.is_valid(raise_exception=True)
        target = None
        if data.validated_data["community"]:
            target = Community.objects.filter(slug=data.validated_data["community"]).first()
            if target is None:
                raise serializers.ValidationError({"community": ["No such community."]})
        share = post_share(
            user=request.user,
            post=post,
            target_community=target,
            comment=data.validated_data["comment"],
        )
        return Response(ShareOutput(share).data, status=status.HTTP_201_CREATED)


@extend_schema_view(destroy=extend_schema(responses={204: None, **ERROR_RESPONSES}))
class CommentViewSet(mixins.DestroyModelMixin, viewsets.GenericViewSet):
    queryset = Comment.objects.select_related("post__community")
    lookup_value_regex = POST_ID_REGEX
    serializer_class = CommentOutput
    filter_backends: list = []

    def destroy(self, request, pk: str):
        comment_delete(actor=request.user, comment=get_object_or_404(self.get_queryset(), pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
