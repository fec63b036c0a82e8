"""Promoting a trend model by hand: only staff allowed to change model runs may, only a run
that produced a model can be, and the automatic rule's verdict stays on the record."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from analytics.models import ModelRun
from analytics.selectors.trends import model_run_live
from analytics.services.trends import model_run_promote
from tests.factories import user_make

pytestmark = pytest.mark.django_db

RULE_NOTE = "hurdle MAE 0.9 vs persistence 0.8, Spearman 0.3 vs 0.6: not promoted"


def run_make(version: str, status: str = ModelRun.Status.SUCCEEDED) -> ModelRun:
    return ModelRun.objects.create(
        version=version,
        status=status,
        started_at=datetime.now(UTC),
        horizon_minutes=60,
        artefact_path=f"/models/{version}" if status == ModelRun.Status.SUCCEEDED else "",
        promotion_note=RULE_NOTE,
    )


def test_staff_with_change_permission_promote_and_the_rule_note_stays():
    run = run_make("v1")
    staff = user_make("model-keeper", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="change_modelrun"))
    model_run_promote(run=run, by=staff)
    run.refresh_from_db()
    assert run.promoted
    assert run.promotion_note == f"promoted by model-keeper in the admin; {RULE_NOTE}"
    assert model_run_live() == run


@pytest.mark.parametrize("extra", [{}, {"is_staff": True}])
def test_people_without_the_permission_cannot_promote(extra):
    run = run_make("v1")
    with pytest.raises(PermissionDenied):
        model_run_promote(run=run, by=user_make("curious", **extra))
    run.refresh_from_db()
    assert not run.promoted and model_run_live() is None


def test_a_failed_run_has_nothing_to_promote(admin_client):
    failed = run_make("broken", status=ModelRun.Status.FAILED)
    with pytest.raises(ValidationError, match="did not succeed"):
        model_run_promote(run=failed, by=user_make("root", is_staff=True, is_superuser=True))
    page = admin_client.post(
        reverse("admin:analytics_modelrun_changelist"),
        {"action": "promote", "_selected_action": [failed.pk], "index": 0},
        follow=True,
    ).content.decode()
    assert "did not succeed" in page
    failed.refresh_from_db()
    assert not failed.promoted
