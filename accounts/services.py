"""Writes for people: registration (pages, API) and bulk creation (the fake-data generator)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q

from accounts.models import Profile

BIO_MAX = 280


@dataclass(frozen=True)
class NewUser:
    username: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    bio: str = ""


def _user_errors(user: NewUser, *, taken: set[str] | None = None) -> dict[str, list[str]]:
    """`taken`: the lower-cased usernames already in use, when the caller looked them up for
    many users at once; else this asks the database."""
    errors: dict[str, list[str]] = {}
    user_model = get_user_model()
    try:
        UnicodeUsernameValidator()(user.username)
    except ValidationError as exc:
        errors["username"] = exc.messages
    if not user.username or len(user.username) > 150:
        errors["username"] = ["Choose a username of 1 to 150 characters."]
    elif (
        user.username.lower() in taken
        if taken is not None
        else user_model.objects.filter(username__iexact=user.username).exists()
    ):
        errors["username"] = ["That username is taken."]
    if user.email:
        try:
            validate_email(user.email)
        except ValidationError as exc:
            errors["email"] = exc.messages
    if len(user.bio) > BIO_MAX:
        errors["bio"] = [f"At most {BIO_MAX} characters."]
    return errors


def _usernames_taken(names: Sequence[str]) -> set[str]:
    """Which of `names` are in use, case-insensitively, with one query."""
    if not names:
        return set()
    condition = functools.reduce(operator.or_, (Q(username__iexact=name) for name in names))
    found = get_user_model().objects.filter(condition).values_list("username", flat=True)
    return {name.lower() for name in found}


def user_register(*, new_user: NewUser, password: str) -> AbstractBaseUser:
    """Create a person's account and profile. Raises ValidationError with per-field messages
    (username taken or malformed, weak password, bad e-mail)."""
    errors = _user_errors(new_user)
    candidate = get_user_model()(
        username=new_user.username,
        email=new_user.email,
        first_name=new_user.first_name,
        last_name=new_user.last_name,
    )
    try:
        password_validation.validate_password(password, user=candidate)
    except ValidationError as exc:
        errors["password"] = exc.messages
    if errors:
        raise ValidationError(errors)
    candidate.set_password(password)
    with transaction.atomic():
        candidate.save()
        Profile.objects.create(user=candidate, bio=new_user.bio.strip())
    return candidate


def users_create_bulk(*, new_users: Sequence[NewUser], password: str) -> list[AbstractBaseUser]:
    """Create many accounts at once for generated data; all share one password, hashed once
    (hashing is deliberately slow, and the generator makes thousands of people)."""
    taken = _usernames_taken([u.username for u in new_users])
    for new_user in new_users:
        errors = _user_errors(new_user, taken=taken)
        if errors:
            raise ValidationError(errors)
    password_hash = make_password(password)
    user_model = get_user_model()
    with transaction.atomic():
        users = user_model.objects.bulk_create(
            [
                user_model(
                    username=u.username,
                    email=u.email,
                    first_name=u.first_name,
                    last_name=u.last_name,
                    password=password_hash,
                )
                for u in new_users
            ]
        )
        if not all(user.pk for user in users):
            usernames = [u.username for u in new_users]
            users = list(user_model.objects.filter(username__in=usernames).order_by("id"))
        by_name = {user.username: user for user in users}
        Profile.objects.bulk_create(
            [Profile(user=by_name[u.username], bio=u.bio.strip()) for u in new_users]
        )
    return [by_name[u.username] for u in new_users]


def profile_update(*, user: AbstractBaseUser, bio: str) -> Profile:
    bio = bio.strip()
    if len(bio) > BIO_MAX:
        raise ValidationError({"bio": [f"At most {BIO_MAX} characters."]})
    profile, _ = Profile.objects.update_or_create(user=user, defaults={"bio": bio})
    return profile


def token_for(*, user: AbstractBaseUser) -> str:
    """The user's API token, created on first use."""
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=user)
    return token.key
