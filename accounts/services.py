"""Writes for people: registration (pages, API) and bulk creation (the fake-data generator)."""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import Profile
from accounts.usernames import USERNAME_PATTERN, USERNAME_RULE, username_key

BIO_MAX = 280


@dataclass(frozen=True)
class NewUser:
    username: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    bio: str = ""


@dataclass(frozen=True)
class UsernamesTaken:
    """What a batch of new usernames may collide with, looked up once for the whole batch:
    names in use (lower-cased) and the look-alike keys in use."""

    names: set[str]
    keys: set[str]


def _username_key_taken(key: str) -> bool:
    """Profiles keep the key (the services and the admin give everyone one). Staff made by
    `createsuperuser` have none: they are few, and the names most worth imitating, so they
    are compared one by one."""
    if Profile.objects.filter(username_key=key).exists():
        return True
    return key in _staff_without_profile_keys()


def _staff_without_profile_keys() -> set[str]:
    staff = get_user_model().objects.filter(profile__isnull=True, is_staff=True)
    return {username_key(name) for name in staff.values_list("username", flat=True)}


def profile_ensure(*, user: AbstractBaseUser) -> Profile:
    """Give a person made outside registration (the admin's "Add user") a profile with the
    key of their username, so later look-alikes of it are refused."""
    profile, _ = Profile.objects.get_or_create(user=user)
    if profile.username_key is None:
        try:
            with transaction.atomic():
                key = username_key(user.username)
                Profile.objects.filter(pk=profile.pk).update(username_key=key)
        except IntegrityError:
            pass  # staff chose a look-alike on purpose; the first of the two keeps the key
    return profile


def _username_errors(
    username: str, *, taken: UsernamesTaken | None = None
) -> list[str | ValidationError]:
    """Code "conflict" where only another person's name is in the way (the API: 409).
    `taken`: looked up for many names at once by the caller; else this asks the database."""
    if not re.fullmatch(USERNAME_PATTERN, username):
        return [f"Choose a username of {USERNAME_RULE}"]
    if (
        username.lower() in taken.names
        if taken is not None
        else get_user_model().objects.filter(username__iexact=username).exists()
    ):
        return [ValidationError("That username is taken.", code="conflict")]
    key = username_key(username)
    if key in taken.keys if taken is not None else _username_key_taken(key):
        message = "That username looks like one that is taken; choose a more distinct one."
        return [ValidationError(message, code="conflict")]
    return []


def _user_errors(user: NewUser, *, taken: UsernamesTaken | None = None) -> dict[str, list]:
    errors: dict[str, list] = {}
    username_errors = _username_errors(user.username, taken=taken)
    if username_errors:
        errors["username"] = username_errors
    if user.email:
        try:
            validate_email(user.email)
        except ValidationError as exc:
            errors["email"] = exc.messages
    if len(user.bio) > BIO_MAX:
        errors["bio"] = [f"At most {BIO_MAX} characters."]
    return errors


def _usernames_taken(names: Sequence[str]) -> UsernamesTaken:
    """Which of `names` (or look-alikes of them) are in use: three queries, whatever the count."""
    if not names:
        return UsernamesTaken(names=set(), keys=set())
    condition = functools.reduce(operator.or_, (Q(username__iexact=name) for name in names))
    found = get_user_model().objects.filter(condition).values_list("username", flat=True)
    keys = {username_key(name) for name in names}
    keys_found = Profile.objects.filter(username_key__in=keys).values_list(
        "username_key", flat=True
    )
    return UsernamesTaken(
        names={name.lower() for name in found},
        keys=set(keys_found) | (keys & _staff_without_profile_keys()),
    )


def password_min_length() -> int:
    """The shortest password the configured validators (AUTH_PASSWORD_VALIDATORS) accept."""
    return max(
        (
            validator.min_length
            for validator in password_validation.get_default_password_validators()
            if isinstance(validator, password_validation.MinimumLengthValidator)
        ),
        default=1,
    )


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
    try:
        with transaction.atomic():
            candidate.save()
            Profile.objects.create(
                user=candidate,
                bio=new_user.bio.strip(),
                username_key=username_key(candidate.username),
            )
    except IntegrityError as exc:  # lost a race for the same name or a look-alike
        taken = ValidationError("That username was just taken.", code="conflict")
        raise ValidationError({"username": [taken]}) from exc
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
            [
                Profile(
                    user=by_name[u.username],
                    bio=u.bio.strip(),
                    username_key=username_key(u.username),
                )
                for u in new_users
            ]
        )
    return [by_name[u.username] for u in new_users]


def profile_update(*, user: AbstractBaseUser, bio: str) -> Profile:
    bio = bio.strip()
    if len(bio) > BIO_MAX:
        raise ValidationError({"bio": [f"At most {BIO_MAX} characters."]})
    profile, _ = Profile.objects.update_or_create(user=user, defaults={"bio": bio})
    return profile


def token_expires_at(token: Token) -> datetime:
    return token.created + timedelta(hours=settings.API_TOKEN_TTL_HOURS)


def token_is_expired(token: Token) -> bool:
    return timezone.now() >= token_expires_at(token)


def token_issue(*, user: AbstractBaseUser) -> Token:
    """The user's API token (one per person, shared by all their clients): the current one
    while it lasts, a new one once it has expired or been revoked."""
    with transaction.atomic():
        token, _ = Token.objects.select_for_update().get_or_create(user=user)
        if token_is_expired(token):
            token.delete()
            token = Token.objects.create(user=user)
    return token


def token_for(*, user: AbstractBaseUser) -> str:
    return token_issue(user=user).key


def tokens_revoke(*, user: AbstractBaseUser) -> int:
    """Revoke every API token of the person (logging out of the API everywhere)."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted
