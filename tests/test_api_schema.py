"""Property-based run of the REST API against its own OpenAPI schema (schemathesis), every
check on (schemathesis.toml says the little a schema cannot): no 5xx, no undocumented status,
no response off the schema, every schema-valid request accepted and every invalid one
refused, authentication enforced; then the stateful phase, chains of calls along the links
schemathesis infers (create a community, post in it, comment, delete...). A small budget
here; `make security` runs the same with STREAMER_SCHEMATHESIS_EXAMPLES
(tests/test_security_schema.py)."""

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings

from core.cache import cache_state_reset
from posts.services import comment_create, post_create
from tests.factories import community_make, user_make

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
_identity: dict[str, str] = {}


@schema.auth(refresh_interval=None)
class TokenAuth:
    """The test person's token, as schemathesis auth: its checks know it is valid, and take it
    off (or spoil it) to see that the API then refuses."""

    def get(self, case, context) -> str:
        return _identity.get("token", "")

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


@pytest.fixture
def api_identity(transactional_db) -> str:
    from accounts.services import token_for

    person = user_make("schemathesis")
    community = community_make(owner=person, name="Property Tests", slug="property-tests")
    post = post_create(author=person, community=community, kind="quote", text="Hello")
    comment_create(author=person, post=post, body="First")
    _identity["token"] = token_for(user=person)
    return _identity["token"]


def hypothesis_settings(examples: int, **extra) -> settings:
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), **extra
    )


class Workflow(schema.as_state_machine()):
    """Each scenario runs in a transaction rolled back after it (the app runs in this thread,
    on this connection): every scenario starts from the same data, as Hypothesis needs to
    replay one (a token revoked by a logout, a name taken, would change what it draws). The
    cache is emptied too: feed listings built from a rolled-back scenario's posts, and its
    throttle counters, are not the next one's."""

    def setup(self) -> None:
        cache.clear()
        cache_state_reset()
        # Django closes the connection after each request (CONN_MAX_AGE=0 in tests), which
        # would end the scenario's transaction: not while a scenario runs.
        for signal in (request_started, request_finished):
            signal.disconnect(close_old_connections)
        self._scenario = transaction.atomic()
        self._scenario.__enter__()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._scenario.__exit__(None, None, None)
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


def workflows_run(*, examples: int, steps: int) -> None:
    Workflow.run(settings=hypothesis_settings(examples, stateful_step_count=steps))


@schema.parametrize()
@hypothesis_settings(25)
@pytest.mark.django_db(transaction=True)
def test_api_conforms_to_its_schema(case, api_identity):
    case.call_and_validate()


@pytest.mark.django_db(transaction=True)
def test_api_workflows_conform_to_its_schema(api_identity):
    workflows_run(examples=10, steps=5)
