"""The layering of docs/architecture.md holds, and the check really catches a breach."""

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.processes import REPO_DIR

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = (
    "streamer", "generator", "dashboard", "accounts", "communities", "posts", "analytics",
    "events", "core", "spark_jobs",
)  # fmt: skip


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def tree_copy(destination: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            REPO_DIR / package, destination / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO_DIR / ".importlinter", destination / ".importlinter")
    return destination


def test_the_layer_contracts_are_kept():
    result = lint_imports(REPO_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_import_against_the_layers_breaks_the_build(tmp_path):
    tree = tree_copy(tmp_path)
    with open(tree / "analytics" / "models.py", "a") as models:
        models.write("\nfrom posts.models import Post  # noqa\n")

    result = lint_imports(tree)

    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "analytics.models -> posts.models" in result.stdout


def test_django_in_a_spark_job_breaks_the_build(tmp_path):
    tree = tree_copy(tmp_path)
    with open(tree / "spark_jobs" / "engagement" / "transform.py", "a") as transform:
        transform.write("\nfrom django.conf import settings  # noqa\n")

    result = lint_imports(tree)

    assert result.returncode != 0
    assert "spark_jobs.engagement.transform -> django" in result.stdout
