import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from accounts.services import NewUser, profile_update, user_register, users_create_bulk

pytestmark = pytest.mark.django_db


def test_register_creates_a_user_who_can_log_in_and_a_profile(client):
    user = user_register(
        new_user=NewUser(username="ada", email="ada@example.org", bio=" Counts things. "),
        password="analytical-engine-1843",
    )

    assert user.profile.bio == "Counts things."
    assert (
        client.post(
            "/accounts/login/", {"username": "ada", "password": "analytical-engine-1843"}
        ).status_code
        == 302
    )


@pytest.mark.parametrize(
    ("new_user", "password", "field"),
    [
        (NewUser(username="bad name!"), "a-good-long-password", "username"),
        (NewUser(username="ok", email="not-an-email"), "a-good-long-password", "email"),
        (NewUser(username="weak"), "123", "password"),
        (NewUser(username="long", bio="x" * 281), "a-good-long-password", "bio"),
    ],
)
def test_register_rejects_bad_input_by_field_and_stores_nothing(new_user, password, field):
    with pytest.raises(ValidationError) as caught:
        user_register(new_user=new_user, password=password)

    assert field in caught.value.message_dict
    assert not get_user_model().objects.exists()


def test_register_rejects_a_taken_username_whatever_its_case():
    user_register(new_user=NewUser(username="Grace"), password="cobol-compiler-1959")

    with pytest.raises(ValidationError) as caught:
        user_register(new_user=NewUser(username="grace"), password="cobol-compiler-1959")

    assert "username" in caught.value.message_dict


def test_bulk_creation_gives_everyone_a_working_password_and_profile(client):
    users = users_create_bulk(
        new_users=[NewUser(username=f"fake{n}", bio=f"bio {n}") for n in range(5)],
        password="generated-people-pass",
    )

    assert [u.username for u in users] == [f"fake{n}" for n in range(5)]
    assert [u.profile.bio for u in users] == [f"bio {n}" for n in range(5)]
    assert (
        client.post(
            "/accounts/login/", {"username": "fake3", "password": "generated-people-pass"}
        ).status_code
        == 302
    )


def test_profile_update_limits_the_bio():
    user = user_register(new_user=NewUser(username="lin"), password="a-good-long-password")

    profile_update(user=user, bio="Hello there")
    with pytest.raises(ValidationError):
        profile_update(user=user, bio="y" * 300)

    user.profile.refresh_from_db()
    assert user.profile.bio == "Hello there"
