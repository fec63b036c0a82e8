"""The cluster topology's configuration: the stack script and the app agree on every address,
`kafka_setup` lays the topic out as the settings say, and each Spark job gets its own core
budget on a standalone master. (The cluster itself runs in the fault suite's cluster form,
tests/test_faults.py, and in the whole suite with STREAMER_TOPOLOGY=cluster make test.)"""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest
from django.core.management import call_command

from events.kafka_admin import admin_client, kafka_health, topic_delete
from spark_jobs import contract
from tests.support.processes import REPO_DIR

PORTS = {
    "STREAMER_KAFKA_PORT": "9461",
    "STREAMER_KAFKA_CONTROLLER_PORT": "9462",
    "STREAMER_SPARK_PORT": "7461",
}


def script_addresses(env: dict[str, str]) -> dict[str, str]:
    result = subprocess.run(
        [str(REPO_DIR / "infra" / "stack.sh"), "addresses"],
        env=env, text=True, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


@pytest.mark.parametrize("topology", ["single", "cluster"])
def test_stack_script_and_app_agree_on_the_addresses(monkeypatch, tmp_path, topology):
    env = {"STREAMER_TOPOLOGY": topology, "STREAMER_VAR_DIR": str(tmp_path), **PORTS}
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    from_script = script_addresses(dict(os.environ))

    assert from_script == {
        "KAFKA_BOOTSTRAP_SERVERS": contract.local_kafka_bootstrap(),
        "SPARK_MASTER": contract.local_spark_master(),
        "SPARK_MASTER_UI_URL": contract.local_spark_master_ui(),
    }
    if topology == "cluster":
        assert from_script["KAFKA_BOOTSTRAP_SERVERS"] == (
            "127.0.0.1:9461,127.0.0.1:9463,127.0.0.1:9465"
        )
        assert from_script["SPARK_MASTER"] == "spark://127.0.0.1:7461"
        assert contract.local_events_topic() == contract.TopicLayout(6, 3, 2)
        assert contract.local_spark_engagement_cores() == 1  # 2 workers x 1 core, 1 for trends
    else:
        assert contract.local_events_topic() == contract.TopicLayout(3, 1, 1)
        assert contract.local_spark_engagement_cores() is None


def test_an_unknown_topology_is_refused(monkeypatch):
    monkeypatch.setenv("STREAMER_TOPOLOGY", "galaxy")
    with pytest.raises(ValueError, match="single, cluster"):
        contract.local_kafka_bootstrap()


def test_kafka_setup_lays_the_topic_out_as_the_settings_say(settings, capsys):
    settings.KAFKA_EVENTS_TOPIC = f"test.layout.{uuid.uuid4().hex[:8]}"
    settings.KAFKA_EVENTS_PARTITIONS = 4
    try:
        call_command("kafka_setup")
        admin = admin_client(timeout_ms=10_000)
        try:
            (topic,) = admin.describe_topics([settings.KAFKA_EVENTS_TOPIC])
        finally:
            admin.close()
        health = kafka_health()
    finally:
        topic_delete(name=settings.KAFKA_EVENTS_TOPIC)

    replicas = settings.KAFKA_EVENTS_REPLICATION_FACTOR
    assert f"created, 4 partitions, {replicas} replicas" in capsys.readouterr().out
    assert len(topic["partitions"]) == 4
    assert {len(p["replica_nodes"]) for p in topic["partitions"]} == {replicas}
    assert health.min_insync_replicas == settings.KAFKA_EVENTS_MIN_INSYNC_REPLICAS
    assert health.under_replicated == 0
    assert len(health.brokers_up) == len(settings.KAFKA_BOOTSTRAP_SERVERS)


def test_each_spark_job_gets_its_own_core_budget(settings, capsys):
    settings.SPARK_MASTER = "spark://127.0.0.1:7461"
    settings.SPARK_ENGAGEMENT_CORES_MAX = 3
    settings.SPARK_TRENDS_CORES_MAX = 1

    call_command("run_spark_job", "--dry-run", "engagement")
    call_command("run_spark_job", "--dry-run", "trends_predict", "--model-path", "m")

    lines = capsys.readouterr().out.splitlines()
    assert "SPARK_MASTER=spark://127.0.0.1:7461 SPARK_CORES_MAX=3" in lines[1]
    assert "SPARK_CORES_MAX=1" in lines[3]


def test_without_a_core_budget_a_job_takes_what_it_is_offered(settings, capsys, monkeypatch):
    monkeypatch.setenv("SPARK_CORES_MAX", "7")  # not passed on: the settings decide
    settings.SPARK_ENGAGEMENT_CORES_MAX = None

    call_command("run_spark_job", "--dry-run", "engagement")

    assert "SPARK_CORES_MAX" not in capsys.readouterr().out
