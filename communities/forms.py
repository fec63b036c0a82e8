from django import forms

from communities.services import DESCRIPTION_MAX, NAME_MAX, NAME_MIN


class SignupForm(forms.Form):
    """Checked by accounts.services.user_register (username, e-mail, password rules)."""

    username = forms.CharField(
        max_length=150,
        help_text="Letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    email = forms.EmailField(
        label="E-mail (optional)",
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password_again = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data


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
