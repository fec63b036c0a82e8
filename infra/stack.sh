#!/usr/bin/env bash
# Starts, stops and checks the local services Streamer needs. Each runs as a plain process on
# loopback with its data under var/. Two topologies (STREAMER_TOPOLOGY):
#
#   single (default)  MariaDB, Redis and a single-node KRaft Kafka broker; Spark jobs run in
#                     their own process (local[*]).
#   cluster           MariaDB, Redis, three KRaft nodes (each a broker and a controller voter;
#                     replication 3, min.insync.replicas 2) and a Spark standalone cluster: a
#                     master and STREAMER_SPARK_WORKERS (2) workers, each with its own cores,
#                     memory, work directory and web UI, started from the pyspark distribution.
#
#   infra/stack.sh start [--record FILE] [SERVICE ...]   start what is not running
#   infra/stack.sh stop [--only FILE] [SERVICE ...]      stop (all, or those listed in FILE)
#   infra/stack.sh status                                one line per service
#   infra/stack.sh addresses                             the app's addresses for this topology
#
# SERVICE: mariadb, redis, kafka (the broker, or all three nodes), spark (master and workers),
# or one part of the cluster: kafka-1..3, spark-master, spark-worker-1..N. `stop` with no
# service stops everything its pid files name, whichever topology started it.
#
# Ports (every one moves with its STREAMER_*_PORT, so stacks run side by side):
#   Kafka node N (1-3)   broker STREAMER_KAFKA_PORT + 2(N-1), controller
#                        STREAMER_KAFKA_CONTROLLER_PORT + 2(N-1)  (9092/9094/9096, 9093/9095/9097)
#   Spark                master STREAMER_SPARK_PORT (7077), its web UI +1; worker N RPC + 2N,
#                        its web UI + 2N + 1
# spark_jobs/contract.py derives the app's default addresses by the same rules.
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
TOPOLOGY="${STREAMER_TOPOLOGY:-single}"
case "$TOPOLOGY" in single|cluster) ;; *) echo "STREAMER_TOPOLOGY is single or cluster" >&2; exit 2 ;; esac
if [ "$TOPOLOGY" = cluster ]; then
  KAFKA_HEAP="${STREAMER_KAFKA_HEAP:--Xms128m -Xmx512m}"
else
  KAFKA_HEAP="${STREAMER_KAFKA_HEAP:--Xms256m -Xmx768m}"
fi
KAFKA_NODES=3
SPARK_PORT="${STREAMER_SPARK_PORT:-7077}"
SPARK_WORKERS="${STREAMER_SPARK_WORKERS:-2}"
SPARK_WORKER_CORES="${STREAMER_SPARK_WORKER_CORES:-1}"
SPARK_WORKER_MEMORY="${STREAMER_SPARK_WORKER_MEMORY:-1g}"
SPARK_DAEMON_HEAP="${STREAMER_SPARK_DAEMON_MEMORY:-256m}"

MARIADB_DIR="$VAR/mariadb"
MARIADB_SOCK="$RUN/mariadb.sock"
REDIS_DIR="$VAR/redis"
KAFKA_DIR="$VAR/kafka"
KAFKA_JARS="$ROOT/var/jars/kafka"
KAFKA_CLUSTER_DIR="$VAR/kafka-cluster"
SPARK_DIR="$VAR/spark"

log() { printf '%s\n' "$*" >&2; }

# A *_start function returns 0 when it started its service, ALREADY when it found it running,
# and exits the script on any failure.
ALREADY=3

# A pid file names our process only while that process started before the file was written:
# a pid file left from before the machine restarted may name a pid reused since by anything
# (which `stop` would then kill).
pid_alive() {
  [ -f "$1" ] || return 1
  local pid age; pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null || return 1
  age=$(ps -o etimes= -p "$pid" 2>/dev/null | tr -d ' ')
  [ -n "$age" ] && [ $(($(date +%s) - age)) -le $(($(stat -c %Y "$1") + 5)) ]
}

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
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Up: this stack's process (pid file), listening, and done starting. The pid file keeps a
# cluster node on the same port from passing for the single broker, and the other way round.
kafka_single_up() {
  pid_alive "$RUN/kafka.pid" && port_open "$KAFKA_PORT" \
    && grep -q "Kafka Server started" "$LOG/kafka.log" 2>/dev/null
}

kafka_port_free() {  # kafka_port_free PORT: or exit with who to stop
  if port_open "$1"; then
    log "error: port $1 is taken by a process this stack did not start as this broker (the other topology? infra/stack.sh stop kafka)"
    exit 1
  fi
}

kafka_java() { java $KAFKA_HEAP -Dlog4j2.configurationFile="$ROOT/infra/kafka/log4j2.properties" \
  -Dkafka.logs.dir="$LOG" -cp "$KAFKA_JARS/*" "$@"; }

# A new cluster id: the tool's last line (log lines may come before it).
kafka_random_uuid() { kafka_java kafka.tools.StorageTool random-uuid | tail -n 1; }

kafka_jars_check() {
  [ -d "$KAFKA_JARS" ] || { log "error: Kafka jars missing in $KAFKA_JARS: run 'make setup'"; exit 1; }
}

kafka_launch() {  # kafka_launch PROPERTIES LOGFILE PIDFILE
  : >"$2"
  nohup java $KAFKA_HEAP -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ROOT/infra/kafka/log4j2.properties" -Dkafka.logs.dir="$LOG" \
    -cp "$KAFKA_JARS/*" kafka.Kafka "$1" >>"$2" 2>&1 &
  echo $! >"$3"
}

kafka_single_start() {
  if kafka_single_up; then return $ALREADY; fi
  kafka_jars_check
  kafka_port_free "$KAFKA_PORT"
  mkdir -p "$KAFKA_DIR"
  sed -e "s#@DATA@#$KAFKA_DIR/data#" -e "s#@PORT@#$KAFKA_PORT#g" \
      -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
      "$ROOT/infra/kafka/server.properties" >"$KAFKA_DIR/server.properties"
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    kafka_java kafka.tools.StorageTool format --standalone --ignore-formatted \
      -t "$(kafka_random_uuid)" \
      -c "$KAFKA_DIR/server.properties" >"$LOG/kafka-format.log" 2>&1
  fi
  kafka_launch "$KAFKA_DIR/server.properties" "$LOG/kafka.log" "$RUN/kafka.pid"
  wait_for 90 Kafka kafka_single_up || exit 1
}

stop_pid_file() {  # stop_pid_file PIDFILE WHAT: TERM, up to 60 s, then KILL; only that pid
  pid_alive "$1" || { rm -f "$1"; return 0; }
  local pid; pid=$(cat "$1")
  kill "$pid" 2>/dev/null || true
  wait_for 60 "$2 shutdown" bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}

# --- Kafka (KRaft, three nodes: STREAMER_TOPOLOGY=cluster) --------------------------------
kafka_node_port() { echo $((KAFKA_PORT + 2 * ($1 - 1))); }
kafka_node_controller_port() { echo $((KAFKA_CONTROLLER_PORT + 2 * ($1 - 1))); }

kafka_bootstrap() {
  local n out=()
  for n in $(seq "$KAFKA_NODES"); do out+=("127.0.0.1:$(kafka_node_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

kafka_node_up() {
  pid_alive "$RUN/kafka-$1.pid" && port_open "$(kafka_node_port "$1")" \
    && grep -q "Kafka Server started" "$LOG/kafka-$1.log" 2>/dev/null
}

kafka_cluster_id() {  # one id for the three nodes, made once
  mkdir -p "$KAFKA_CLUSTER_DIR"
  [ -s "$KAFKA_CLUSTER_DIR/cluster.id" ] \
    || kafka_random_uuid >"$KAFKA_CLUSTER_DIR/cluster.id"
  cat "$KAFKA_CLUSTER_DIR/cluster.id"
}

# Starts node N in the background (returns ALREADY when it runs); the caller waits for it,
# since a node only finishes starting once a majority of the controller voters is up.
kafka_node_launch() {
  local n=$1 dir="$KAFKA_CLUSTER_DIR/node-$1" voters="" v
  if kafka_node_up "$n"; then return $ALREADY; fi
  kafka_jars_check
  kafka_port_free "$(kafka_node_port "$n")"
  for v in $(seq "$KAFKA_NODES"); do voters+="${voters:+,}$v@127.0.0.1:$(kafka_node_controller_port "$v")"; done
  mkdir -p "$dir"
  sed -e "s#@DATA@#$dir/data#" -e "s#@NODE_ID@#$n#" -e "s#@VOTERS@#$voters#" \
      -e "s#@PORT@#$(kafka_node_port "$n")#g" \
      -e "s#@CONTROLLER_PORT@#$(kafka_node_controller_port "$n")#g" \
      "$ROOT/infra/kafka/cluster.properties" >"$dir/server.properties"
  if [ ! -f "$dir/data/meta.properties" ]; then
    kafka_java kafka.tools.StorageTool format --ignore-formatted -t "$(kafka_cluster_id)" \
      -c "$dir/server.properties" >"$LOG/kafka-$n-format.log" 2>&1
  fi
  kafka_launch "$dir/server.properties" "$LOG/kafka-$n.log" "$RUN/kafka-$n.pid"
}

kafka_nodes_start() {  # kafka_nodes_start N...: launch those not running, then wait for them
  local n rc started=()
  for n in "$@"; do
    rc=0; kafka_node_launch "$n" || rc=$?
    [ $rc -eq 0 ] && started+=("$n")
  done
  [ ${#started[@]} -gt 0 ] || return $ALREADY
  for n in "${started[@]}"; do wait_for 120 "Kafka node $n" kafka_node_up "$n" || exit 1; done
}

kafka_node_stop() { stop_pid_file "$RUN/kafka-$1.pid" "Kafka node $1"; }

# --- Spark standalone (STREAMER_TOPOLOGY=cluster) ----------------------------------------
# The master and workers run from the pyspark distribution the venv installed (its bin/ and
# jars/), so they are exactly the Spark version of the jobs' drivers.
spark_home() {
  if [ -n "${SPARK_HOME:-}" ]; then echo "$SPARK_HOME"; return; fi
  local dir
  for dir in "$ROOT"/.venv/lib/python3*/site-packages/pyspark; do
    [ -x "$dir/bin/spark-class" ] && { echo "$dir"; return; }
  done
  log "error: no pyspark in $ROOT/.venv: run 'make setup'"; exit 1
}

spark_master_ui_port() { echo $((SPARK_PORT + 1)); }
spark_worker_port() { echo $((SPARK_PORT + 2 * $1)); }
spark_worker_ui_port() { echo $((SPARK_PORT + 2 * $1 + 1)); }
spark_master_url() { echo "spark://127.0.0.1:$SPARK_PORT"; }

spark_class() {  # spark_class LOGFILE PIDFILE CLASS ARGS...: in the background
  local logfile=$1 pidfile=$2 home; shift 2
  home=$(spark_home)
  : >"$logfile"
  # setsid: the process leads a session of its own (a worker's executors are its children),
  # so a worker "machine" can be killed whole, and a stop reaches its executors.
  SPARK_HOME="$home" SPARK_CONF_DIR="$ROOT/infra/spark" SPARK_LOCAL_IP=127.0.0.1 \
    SPARK_DAEMON_MEMORY="$SPARK_DAEMON_HEAP" SPARK_NO_DAEMONIZE=1 \
    setsid nohup "$home/bin/spark-class" "$@" >>"$logfile" 2>&1 &
  echo $! >"$pidfile"
}

spark_master_up() {
  port_open "$SPARK_PORT" && port_open "$(spark_master_ui_port)" \
    && grep -q "I have been elected leader" "$LOG/spark-master.log" 2>/dev/null
}

spark_master_start() {
  if spark_master_up; then return $ALREADY; fi
  spark_class "$LOG/spark-master.log" "$RUN/spark-master.pid" \
    org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$SPARK_PORT" \
    --webui-port "$(spark_master_ui_port)"
  wait_for 120 "Spark master" spark_master_up || exit 1
}

spark_master_stop() { stop_pid_file "$RUN/spark-master.pid" "Spark master"; }

spark_worker_up() {
  pid_alive "$RUN/spark-worker-$1.pid" \
    && grep -q "Successfully registered with master" "$LOG/spark-worker-$1.log" 2>/dev/null
}

spark_worker_start() {
  local n=$1 dir="$SPARK_DIR/worker-$1"
  if spark_worker_up "$n"; then return $ALREADY; fi
  spark_master_up || { log "error: the Spark master is not running (start spark-master)"; exit 1; }
  mkdir -p "$dir/work" "$dir/local"
  SPARK_LOCAL_DIRS="$dir/local" \
  SPARK_WORKER_OPTS="-Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.appDataTtl=86400" \
    spark_class "$LOG/spark-worker-$n.log" "$RUN/spark-worker-$n.pid" \
    org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --port "$(spark_worker_port "$n")" \
    --webui-port "$(spark_worker_ui_port "$n")" --cores "$SPARK_WORKER_CORES" \
    --memory "$SPARK_WORKER_MEMORY" --work-dir "$dir/work" "$(spark_master_url)"
  wait_for 120 "Spark worker $n" spark_worker_up "$n" || exit 1
}

spark_worker_stop() {
  local pid_file="$RUN/spark-worker-$1.pid" pid
  pid_alive "$pid_file" || { rm -f "$pid_file"; return 0; }
  pid=$(cat "$pid_file")
  stop_pid_file "$pid_file" "Spark worker $1"
  kill -9 -- "-$pid" 2>/dev/null || true  # executors left in its session, if any
}

# --- services by name ----------------------------------------------------------------------
# Each NAME_start returns 0 when it started something, ALREADY when all of it was running.
kafka_start() {
  if [ "$TOPOLOGY" = cluster ]; then kafka_nodes_start $(seq "$KAFKA_NODES"); else kafka_single_start; fi
}

kafka_stop() {  # the single broker and every node with a pid file, whichever topology
  local n pid pids=()
  stop_pid_file "$RUN/kafka.pid" Kafka
  # All nodes at once: stopped one by one, the last ones wait for a controller quorum that
  # the first ones took away.
  for n in $(seq "$KAFKA_NODES"); do
    if pid_alive "$RUN/kafka-$n.pid"; then pids+=("$(cat "$RUN/kafka-$n.pid")"); fi
  done
  [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
  for pid in "${pids[@]}"; do
    wait_for 60 "Kafka node shutdown" bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
  done
  for n in $(seq "$KAFKA_NODES"); do rm -f "$RUN/kafka-$n.pid"; done
}

spark_start() {
  local n rc any=1
  rc=0; spark_master_start || rc=$?; [ $rc -eq 0 ] && any=0
  for n in $(seq "$SPARK_WORKERS"); do
    rc=0; spark_worker_start "$n" || rc=$?; [ $rc -eq 0 ] && any=0
  done
  return $any
}

spark_stop() {
  local pid_file
  for pid_file in "$RUN"/spark-worker-*.pid; do
    [ -e "$pid_file" ] || continue
    pid_file=${pid_file##*/spark-worker-}; spark_worker_stop "${pid_file%.pid}"
  done
  spark_master_stop
}

service() {  # service start|stop NAME
  local action=$1 name=$2
  case "$name" in
    mariadb|redis|kafka|spark) "${name}_$action" ;;
    kafka-[0-9]*)
      if [ "$action" = start ]; then kafka_nodes_start "${name#kafka-}"; else kafka_node_stop "${name#kafka-}"; fi ;;
    spark-master) "spark_master_$action" ;;
    spark-worker-[0-9]*) "spark_worker_$action" "${name#spark-worker-}" ;;
    *) log "unknown service: $name"; exit 2 ;;
  esac
}

# --- commands ----------------------------------------------------------------------------
if [ "$TOPOLOGY" = cluster ]; then ALL=(mariadb redis kafka spark); else ALL=(mariadb redis kafka); fi

cmd_start() {
  local record="" names=()
  while [ $# -gt 0 ]; do
    case "$1" in --record) record=$2; shift 2 ;; *) names+=("$1"); shift ;; esac
  done
  [ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
  [ -z "$record" ] || : >"$record"
  local rc
  for name in "${names[@]}"; do
    rc=0; service start "$name" || rc=$?
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
  if [ ${#names[@]} -eq 0 ]; then
    names=(kafka redis mariadb)
    if [ "$TOPOLOGY" = cluster ] || compgen -G "$RUN/spark-master.pid" >/dev/null \
      || compgen -G "$RUN/spark-worker-*.pid" >/dev/null; then names=(spark "${names[@]}"); fi
  fi
  for name in "${names[@]}"; do service stop "$name" && log "stopped $name"; done
}

line() { printf '%-16s %-5s %s\n' "$1" "$2" "$3"; }

cmd_status() {
  local n
  mariadb_up && line mariadb up "127.0.0.1:$DB_PORT" || line mariadb down "127.0.0.1:$DB_PORT"
  redis_up && line redis up "127.0.0.1:$REDIS_PORT" || line redis down "127.0.0.1:$REDIS_PORT"
  if [ "$TOPOLOGY" = single ]; then
    kafka_single_up && line kafka up "127.0.0.1:$KAFKA_PORT" || line kafka down "127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  for n in $(seq "$KAFKA_NODES"); do
    kafka_node_up "$n" && line "kafka-$n" up "127.0.0.1:$(kafka_node_port "$n")" \
      || line "kafka-$n" down "127.0.0.1:$(kafka_node_port "$n")"
  done
  local where="$(spark_master_url)  UI http://127.0.0.1:$(spark_master_ui_port)/"
  spark_master_up && line spark-master up "$where" || line spark-master down "$where"
  for n in $(seq "$SPARK_WORKERS"); do
    where="127.0.0.1:$(spark_worker_port "$n")  UI http://127.0.0.1:$(spark_worker_ui_port "$n")/"
    spark_worker_up "$n" && line "spark-worker-$n" up "$where" || line "spark-worker-$n" down "$where"
  done
}

cmd_addresses() {  # what the app's defaults are for this topology (spark_jobs/contract.py)
  if [ "$TOPOLOGY" = cluster ]; then
    echo "KAFKA_BOOTSTRAP_SERVERS=$(kafka_bootstrap)"
    echo "SPARK_MASTER=$(spark_master_url)"
    echo "SPARK_MASTER_UI_URL=http://127.0.0.1:$(spark_master_ui_port)"
  else
    echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT"
    echo "SPARK_MASTER=local[*]"
    echo "SPARK_MASTER_UI_URL="
  fi
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) cmd_status ;;
  addresses) cmd_addresses ;;
  *) log "usage: infra/stack.sh start|stop|status|addresses [service ...]"; exit 2 ;;
esac
