import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_register_returns_a_token_that_authenticates(api):
    response = api.post(
        "/api/v1/auth/register/",
        {"username": "ada", "password": "analytical-engine-1843", "email": "ada@example.org"},
    )

    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "ada" and body["id"] > 0
    api.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    created = api.post("/api/v1/communities/", {"name": "Engines", "description": "Gears"})
    assert created.status_code == 201


def test_register_errors_are_per_field(api):
    response = api.post("/api/v1/auth/register/", {"username": "bad name!", "password": "1"})

    assert response.status_code == 400
    assert set(response.json()) >= {"username", "password"}
    assert not get_user_model().objects.exists()


def test_register_requires_username_and_password(api):
    response = api.post("/api/v1/auth/register/", {})

    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_token_for_right_and_wrong_passwords(api):
    api.post("/api/v1/auth/register/", {"username": "bo", "password": "a-good-long-password"})

    good = api.post("/api/v1/auth/token/", {"username": "bo", "password": "a-good-long-password"})
    bad = api.post("/api/v1/auth/token/", {"username": "bo", "password": "wrong-password"})

    assert good.status_code == 200 and len(good.json()["token"]) == 40
    assert bad.status_code == 400 and "non_field_errors" in bad.json()


def test_auth_endpoints_are_throttled_and_recover(api, settings):
    from django.core.cache import cache

    cache.clear()
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "auth": "3/min"},
    }
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    api_settings.reload()
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        codes = [
            api.post("/api/v1/auth/token/", {"username": "x", "password": "y"}).status_code
            for _ in range(4)
        ]
        assert codes == [400, 400, 400, 429]
        cache.clear()
        assert (
            api.post("/api/v1/auth/token/", {"username": "x", "password": "y"}).status_code == 400
        )
    finally:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
        api_settings.reload()
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
