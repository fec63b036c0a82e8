"""Spark job tests use the session-scoped `spark` fixture of the top-level tests."""

from tests.conftest import _quiet_py4j, spark  # noqa: F401
