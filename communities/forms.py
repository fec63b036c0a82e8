from django import forms

from communities.services import DESCRIPTION_MAX, NAME_MAX, NAME_MIN


class CommunityForm(forms.Form):
    name = forms.CharField(min_length=NAME_MIN, max_length=NAME_MAX)
    slug = forms.CharField(
        label="URL name",
        required=False,
        max_length=50,
        help_text="Lowercase letters, digits and hyphens; made from the name if left empty.",
    )
    description = forms.CharField(
        required=False, max_length=DESCRIPTION_MAX, widget=forms.Textarea(attrs={"rows": 4})
    )


class CommunityEditForm(forms.Form):
    name = forms.CharField(min_length=NAME_MIN, max_length=NAME_MAX)
    description = forms.CharField(
        required=False, max_length=DESCRIPTION_MAX, widget=forms.Textarea(attrs={"rows": 5})
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=[("moderator", "moderator"), ("member", "member")])
