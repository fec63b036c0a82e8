"""`make bench`: run every benchmark, print its figures, and record them on top of
bench/RESULTS.md (newest run first, older runs kept), with the machine's core count, the
exact commands and the sizes used.

    .venv/bin/python bench/run_all.py [--scale full|small] [--only write,read,...]
    STREAMER_TOPOLOGY=cluster .venv/bin/python bench/run_all.py --only cluster  # make bench-cluster

--scale full (the default) uses each benchmark's own defaults, which are the issue's sizes:
1,000,000 posts / 10,000,000 likes, 1000 actions/s for 5 minutes, 5,000,000 events, a
200,000-action back-fill. --scale
small runs the same code with sizes a loaded 2-core machine finishes in about 15 minutes.
Each benchmark prints its baseline and the ratio itself; this script only runs and records.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORES, REPO, arguments

RESULTS = REPO / "bench" / "RESULTS.md"
PY = ".venv/bin/python"

BENCHES: dict[str, dict[str, list[str]]] = {
    "write": {
        "full": ["bench/write_path.py"],
        "small": ["bench/write_path.py", "--seconds", "15", "--rounds", "2"],
    },
    "read": {
        "full": ["bench/read_path.py"],
        "small": [
            "bench/read_path.py",
            "--posts",
            "200000",
            "--likes",
            "2000000",
            "--users",
            "20000",
            "--seconds",
            "10",
        ],
    },
    "pipeline": {
        "full": ["bench/pipeline.py"],
        "small": ["bench/pipeline.py", "--rate", "1000", "--duration", "60"],
    },
    "spark": {
        "full": ["bench/spark_replay.py"],
        "small": ["bench/spark_replay.py", "--events", "300000", "--posts", "5000"],
    },
    "freshness": {
        "full": ["bench/spark_engagement.py", "--skip-throughput", "--sweep", "2000,4000,8000"],
        "small": [
            "bench/spark_engagement.py",
            "--skip-throughput",
            "--live-rate",
            "500",
            "--live-seconds",
            "60",
        ],
    },
    "outbox": {
        "full": ["bench/outbox_publisher.py"],
        "small": ["bench/outbox_publisher.py", "--events", "10000", "--rounds", "2"],
    },
    "seed": {
        "full": ["bench/seed_fake_data.py"],
        "small": [
            "bench/seed_fake_data.py",
            "--users",
            "300",
            "--posts",
            "2000",
            "--actions",
            "40000",
            "--live-seconds",
            "15",
        ],
    },
    # Only on the cluster topology (`make bench-cluster`), so not in the default list.
    "cluster": {
        "full": ["bench/cluster.py"],
        "small": ["bench/cluster.py", "--scale", "small"],
    },
}
DEFAULT = ("write", "read", "pipeline", "spark", "freshness", "outbox", "seed")


def run(command: list[str]) -> tuple[int, str, float]:
    started = time.monotonic()
    process = subprocess.Popen(
        [PY, *command], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    return process.wait(), "".join(lines), time.monotonic() - started


def summary(output: str) -> str:
    """The benchmark's closing block: from its last blank line on (its figures and ratio)."""
    text = output.rstrip()
    tail = text.rsplit("\n\n", 1)[-1]
    return tail if len(tail) > 40 else "\n".join(text.splitlines()[-15:])


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--scale", choices=("full", "small"), default="full")
    parser.add_argument("--only", default=",".join(DEFAULT), help=f"of {', '.join(BENCHES)}")
    args = parser.parse_args()

    load = os.getloadavg()
    header = (
        f"## {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, scale {args.scale}, "
        f"{CORES} cores, load {load[0]:.1f} at start, {platform.python_version()}"
    )
    sections = [header, ""]
    failed = []
    for name in args.only.split(","):
        command = BENCHES[name][args.scale]
        print(f"\n=== {name}: {PY} {' '.join(command)}", flush=True)
        code, output, seconds = run(command)
        if code != 0:
            failed.append(name)
        load_after = os.getloadavg()[0]
        sections += [
            f"### {name} ({seconds:.0f} s{', FAILED exit ' + str(code) if code else ''}; "
            f"load {load_after:.1f} at its end)",
            "```",
            f"$ {PY} {' '.join(command)}",
            summary(output),
            "```",
            "",
        ]
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    title, _, older = previous.partition("\n<!-- runs -->\n")
    if not older and not previous.startswith("# "):
        title, older = "", previous
    title = title or "# Benchmark results"
    RESULTS.write_text(f"{title}\n<!-- runs -->\n" + "\n".join(sections) + "\n" + older)
    print(f"\nrecorded in {RESULTS.relative_to(REPO)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
