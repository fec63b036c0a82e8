#!/usr/bin/env bash
# Starts, stops and checks the local services Streamer needs: MariaDB, Redis and a single-node
# KRaft Kafka broker. Each runs as a plain process on loopback with its data under var/.
#
#   infra/stack.sh start [--record FILE] [mariadb|redis|kafka ...]   start what is not running
#   infra/stack.sh stop [--only FILE] [mariadb|redis|kafka ...]      stop (all, or those listed in FILE)
#   infra/stack.sh status                                           one line per service
#
# With --record, the names of the services this call really started are written to FILE, so
# `make test` can stop only what it started and leave a stack someone else runs alone.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# STREAMER_VAR_DIR moves the services' data, pids and logs (e.g. a private stack for the fault
# suite on other ports); the Kafka jars always come from var/jars.
VAR="${STREAMER_VAR_DIR:-$ROOT/var}"
RUN="$VAR/run"
LOG="$VAR/log"
mkdir -p "$RUN" "$LOG"

DB_PORT="${STREAMER_DB_PORT:-3307}"
DB_NAME="${STREAMER_DB_NAME:-streamer}"
DB_USER="${STREAMER_DB_USER:-streamer}"
DB_PASSWORD="${STREAMER_DB_PASSWORD:-streamer}"
REDIS_PORT="${STREAMER_REDIS_PORT:-6380}"
KAFKA_PORT="${STREAMER_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${STREAMER_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${STREAMER_KAFKA_HEAP:--Xms256m -Xmx768m}"

MARIADB_DIR="$VAR/mariadb"
MARIADB_SOCK="$RUN/mariadb.sock"
REDIS_DIR="$VAR/redis"
KAFKA_DIR="$VAR/kafka"
KAFKA_JARS="$ROOT/var/jars/kafka"

log() { printf '%s\n' "$*" >&2; }

# A *_start function returns 0 when it started its service, ALREADY when it found it running,
# and exits the script on any failure.
ALREADY=3

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then log "error: $what did not become ready in ${seconds}s (see $LOG)"; return 1; fi
    sleep 0.2
  done
}

# --- MariaDB -----------------------------------------------------------------------------
mariadb_up() { mariadb-admin --socket="$MARIADB_SOCK" -uroot ping >/dev/null 2>&1; }

mariadb_start() {
  if mariadb_up; then return $ALREADY; fi
  if [ ! -d "$MARIADB_DIR/mysql" ]; then
    mkdir -p "$MARIADB_DIR"
    mariadb-install-db --datadir="$MARIADB_DIR" --auth-root-authentication-method=normal \
      --user=root --skip-test-db >"$LOG/mariadb-install.log" 2>&1
  fi
  # innodb-flush-log-at-trx-commit=2: the log is written at each commit and flushed to disk
  # once a second, so a killed server loses nothing and only a machine crash can lose the last
  # second. Production databases keep the default (1).
  nohup mariadbd --no-defaults --datadir="$MARIADB_DIR" --socket="$MARIADB_SOCK" \
    --port="$DB_PORT" --bind-address=127.0.0.1 --user=root --pid-file="$RUN/mariadb.pid" \
    --log-error="$LOG/mariadb.log" --character-set-server=utf8mb4 \
    --collation-server=utf8mb4_unicode_ci --innodb-buffer-pool-size=512M \
    --max-connections=300 --skip-name-resolve --innodb-flush-log-at-trx-commit=2 >/dev/null 2>&1 &
  wait_for 30 MariaDB mariadb_up || exit 1
  # The app user may create the test databases pytest-django needs (test_<name>...).
  mariadb --socket="$MARIADB_SOCK" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'localhost';
SQL
}

mariadb_stop() {
  pid_alive "$RUN/mariadb.pid" || return 0
  local pid; pid=$(cat "$RUN/mariadb.pid")
  mariadb-admin --socket="$MARIADB_SOCK" -uroot shutdown 2>/dev/null || kill "$pid"
  wait_for 60 "MariaDB shutdown" bash -c "! kill -0 $pid"
}

# --- Redis -------------------------------------------------------------------------------
redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

redis_start() {
  if redis_up; then return $ALREADY; fi
  mkdir -p "$REDIS_DIR"
  # AOF on: queued Celery tasks survive a Redis restart.
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --save '' \
    --appendonly yes --daemonize yes --pidfile "$RUN/redis.pid" --logfile "$LOG/redis.log"
  wait_for 15 Redis redis_up || exit 1
}

redis_stop() {
  # Only the Redis this stack started (its pid file), never another one on the same port.
  pid_alive "$RUN/redis.pid" || return 0
  local pid; pid=$(cat "$RUN/redis.pid")
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$pid"
  wait_for 15 "Redis shutdown" bash -c "! kill -0 $pid"
}

# --- Kafka (KRaft, single node) ----------------------------------------------------------
kafka_up() { (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null && grep -q "Kafka Server started" "$LOG/kafka.log" 2>/dev/null; }

kafka_java() { java $KAFKA_HEAP -Dlog4j2.configurationFile="$ROOT/infra/kafka/log4j2.properties" \
  -Dkafka.logs.dir="$LOG" -cp "$KAFKA_JARS/*" "$@"; }

kafka_config() {
  mkdir -p "$KAFKA_DIR"
  sed -e "s#@DATA@#$KAFKA_DIR/data#" -e "s#@PORT@#$KAFKA_PORT#g" \
      -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
      "$ROOT/infra/kafka/server.properties" >"$KAFKA_DIR/server.properties"
}

kafka_start() {
  if kafka_up; then return $ALREADY; fi
  [ -d "$KAFKA_JARS" ] || { log "error: Kafka jars missing in $KAFKA_JARS: run 'make setup'"; exit 1; }
  kafka_config
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    kafka_java kafka.tools.StorageTool format --standalone --ignore-formatted \
      -t "$(kafka_java kafka.tools.StorageTool random-uuid)" \
      -c "$KAFKA_DIR/server.properties" >"$LOG/kafka-format.log" 2>&1
  fi
  : >"$LOG/kafka.log"
  nohup java $KAFKA_HEAP -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ROOT/infra/kafka/log4j2.properties" -Dkafka.logs.dir="$LOG" \
    -cp "$KAFKA_JARS/*" kafka.Kafka "$KAFKA_DIR/server.properties" >>"$LOG/kafka.log" 2>&1 &
  echo $! >"$RUN/kafka.pid"
  wait_for 90 Kafka kafka_up || exit 1
}

kafka_stop() {
  pid_alive "$RUN/kafka.pid" || return 0
  local pid; pid=$(cat "$RUN/kafka.pid")
  kill "$pid"
  wait_for 60 "Kafka shutdown" bash -c "! kill -0 $pid" || kill -9 "$pid"
  rm -f "$RUN/kafka.pid"
}

# --- commands ----------------------------------------------------------------------------
ALL=(mariadb redis kafka)

cmd_start() {
  local record="" names=()
  while [ $# -gt 0 ]; do
    case "$1" in --record) record=$2; shift 2 ;; *) names+=("$1"); shift ;; esac
  done
  [ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
  [ -z "$record" ] || : >"$record"
  local rc
  for name in "${names[@]}"; do
    rc=0; "${name}_start" || rc=$?
    if [ $rc -eq 0 ]; then
      log "started $name"
      [ -z "$record" ] || echo "$name" >>"$record"
    else
      log "$name already running"
    fi
  done
}

cmd_stop() {
  local names=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --only) [ -f "$2" ] && mapfile -t names < <(tac "$2"); [ ${#names[@]} -gt 0 ] || return 0; shift 2 ;;
      *) names+=("$1"); shift ;;
    esac
  done
  [ ${#names[@]} -gt 0 ] || names=(kafka redis mariadb)
  for name in "${names[@]}"; do "${name}_stop" && log "stopped $name"; done
}

cmd_status() {
  mariadb_up && echo "mariadb  up    127.0.0.1:$DB_PORT" || echo "mariadb  down  127.0.0.1:$DB_PORT"
  redis_up && echo "redis    up    127.0.0.1:$REDIS_PORT" || echo "redis    down  127.0.0.1:$REDIS_PORT"
  kafka_up && echo "kafka    up    127.0.0.1:$KAFKA_PORT" || echo "kafka    down  127.0.0.1:$KAFKA_PORT"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) cmd_status ;;
  *) log "usage: infra/stack.sh start|stop|status [service ...]"; exit 2 ;;
esac
