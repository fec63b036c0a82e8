# The shared real-service fixtures live in tests/conftest.py; make them visible here too.
from tests.conftest import celery_worker_factory, celery_worker_process, kafka_topic  # noqa: F401
