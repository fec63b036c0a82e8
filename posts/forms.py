from django import forms

from communities.models import Community
from posts.models import Post
from posts.services import ATTRIBUTION_MAX, COMMENT_MAX, SHARE_COMMENT_MAX, TEXT_MAX


class PostForm(forms.Form):
    """One form for the three kinds; the service decides what each kind needs."""

    community = forms.ModelChoiceField(queryset=Community.objects.none(), empty_label=None)
    kind = forms.ChoiceField(
        choices=Post.Kind.choices, initial=Post.Kind.QUOTE, widget=forms.RadioSelect
    )
    text = forms.CharField(
        label="Quote or caption",
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    attribution = forms.CharField(
        label="Attribution (quotes)",
        required=False,
        max_length=ATTRIBUTION_MAX,
        help_text="Who said it — optional.",
    )
    media = forms.FileField(
        label="Image or video file",
        required=False,
        help_text="Images: JPEG, PNG, GIF or WebP up to 10 MB. Videos: MP4 or WebM up to 100 MB.",
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/jpeg,image/png,image/gif,image/webp,video/mp4,video/webm"}
        ),
    )

    def __init__(self, *args, communities=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if communities is not None:
            self.fields["community"].queryset = communities


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment", max_length=COMMENT_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput)


class ShareForm(forms.Form):
    target_community = forms.ModelChoiceField(
        label="Share into", queryset=Community.objects.none(), empty_label=None
    )
    comment = forms.CharField(
        label="Add a comment (optional)", required=False, max_length=SHARE_COMMENT_MAX
    )

    def __init__(self, *args, communities=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if communities is not None:
            self.fields["target_community"].queryset = communities
