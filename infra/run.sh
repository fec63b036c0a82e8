#!/usr/bin/env bash
# `make run`: start the services, prepare the database and topic, then run the app processes
# (Procfile, through honcho) in the foreground. Ctrl-C stops the processes and the services
# this run started. `make run-cluster` is the same with STREAMER_TOPOLOGY=cluster: three Kafka
# nodes and a Spark standalone cluster, which the app's defaults then point at.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY=.venv/bin/python
STARTED=var/run/started-by-run
# Local development: DEBUG is on here, and only here (the settings default to off). Plain
# HTTP on 127.0.0.1, so no HTTPS redirect and no secure-only cookies either.
export DEBUG="${DEBUG:-true}"

infra/stack.sh start --record "$STARTED"
stop_services() { infra/stack.sh stop --only "$STARTED"; }
trap stop_services EXIT

$PY manage.py migrate --no-input -v0
$PY manage.py kafka_setup
$PY manage.py collectstatic --no-input -v0

PORT="${WEB_PORT:-8000}"
cat <<MSG

  Streamer is starting:
    site       http://127.0.0.1:$PORT/
    admin      http://127.0.0.1:$PORT/admin/   (create a login: .venv/bin/python manage.py createsuperuser)
    API docs   http://127.0.0.1:$PORT/api/docs/
  Ctrl-C stops everything.

MSG
if [ "${STREAMER_TOPOLOGY:-single}" = cluster ]; then
  printf '  Cluster topology (infra/stack.sh status):\n'
  infra/stack.sh status | sed 's/^/    /'
  infra/stack.sh addresses | sed 's/^/    /'
  echo
fi
export PATH="$ROOT/.venv/bin:$PATH" WEB_PORT="$PORT"
# honcho stops every process on Ctrl-C; the trap above then stops the services. Its pid goes
# to var/run/honcho.pid (the subshell writes its own pid, then becomes honcho), so
# `make stop` stops this stack's processes and no other.
HONCHO_PID=var/run/honcho.pid
( echo "$BASHPID" >"$HONCHO_PID"; exec honcho start -f Procfile ) || true
rm -f "$HONCHO_PID"
