"""The schemathesis runs of tests/test_api_schema.py with a larger budget: every operation of
/api/schema/ gets STREAMER_SCHEMATHESIS_EXAMPLES generated requests (`make security` sets
300), every check on, then the stateful phase with a tenth of that many scenarios. Skipped
when the variable is unset, so `make test` keeps the small runs only."""

import os

import pytest

from tests.test_api_schema import api_identity, hypothesis_settings, schema, workflows_run

__all__ = ["api_identity"]  # the fixture, shared

EXAMPLES = int(os.environ.get("STREAMER_SCHEMATHESIS_EXAMPLES", "0"))
needs_budget = pytest.mark.skipif(
    EXAMPLES <= 0, reason="set STREAMER_SCHEMATHESIS_EXAMPLES (make security)"
)


@needs_budget
@schema.parametrize()
@hypothesis_settings(max(EXAMPLES, 1))
@pytest.mark.django_db(transaction=True)
def test_api_conforms_to_its_schema_large_budget(case, api_identity):
    case.call_and_validate()


@needs_budget
@pytest.mark.django_db(transaction=True)
def test_api_workflows_conform_to_its_schema_large_budget(api_identity):
    workflows_run(examples=max(EXAMPLES // 10, 1), steps=10)
