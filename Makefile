# Streamer: `make run` starts the whole stack, `make test` runs the whole suite.
# Both call `make setup`, which installs only what is missing and is quiet when done.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := mariadb-server mariadb-client redis-server libmariadb-dev pkg-config ffmpeg chromium wrk
MVN := mvn -q -B -Dstyle.color=never -Dmaven.repo.local=$(CURDIR)/var/m2

.PHONY: setup run run-cluster stop status test lint bench bench-cluster faults security clean-var
.DEFAULT_GOAL := run

setup: var/.apt-done $(VENV)/.installed var/jars/kafka/.done var/jars/spark/.done static/vendor/.done

var/.apt-done: Makefile
	@mkdir -p var
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@touch $@

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "installing Python packages into $(VENV) (pyspark builds a wheel the first time)"
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

var/jars/%/.done: infra/jvm/%/pom.xml
	@echo "resolving $* jars from Maven Central into var/jars/$*"
	@rm -rf var/jars/$*
	@$(MVN) -f $< dependency:copy-dependencies -DoutputDirectory=$(CURDIR)/var/jars/$* -DincludeScope=runtime
	@touch $@

# Pico CSS, htmx and Chart.js (UMD build) from the npm registry (versions pinned in
# package.json/package-lock.json), copied with their licenses into static/vendor/ (git-ignored)
# so pages never load anything from a CDN.
static/vendor/.done: package.json package-lock.json
	@echo "installing front-end files into static/vendor"
	@mkdir -p static/vendor
	@npm ci --silent --no-audit --no-fund
	@cp node_modules/@picocss/pico/css/pico.min.css node_modules/@picocss/pico/LICENSE.md static/vendor/
	@mv static/vendor/LICENSE.md static/vendor/pico.LICENSE.md
	@cp node_modules/htmx.org/dist/htmx.min.js static/vendor/
	@cp node_modules/htmx.org/LICENSE static/vendor/htmx.LICENSE
	@cp node_modules/chart.js/dist/chart.umd.min.js static/vendor/chart.umd.min.js
	@cp node_modules/chart.js/LICENSE.md static/vendor/chart.js.LICENSE.md
	@touch $@

run: setup
	@infra/run.sh

# The same on the cluster topology, on this machine's loopback: three KRaft nodes (topic with
# 6 partitions, replication 3, min.insync.replicas 2) and a Spark standalone master with two
# workers (1 core, 1 GiB each); the jobs are submitted to the master. `make test`, `make
# faults` and `make bench` take the same switch: STREAMER_TOPOLOGY=cluster make test.
run-cluster: setup
	@STREAMER_TOPOLOGY=cluster infra/run.sh

# By pid file only: another stack on this machine keeps running.
stop:
	@if [ -f var/run/honcho.pid ] && grep -qs honcho /proc/$$(cat var/run/honcho.pid)/cmdline; then \
	  kill -TERM "$$(cat var/run/honcho.pid)"; \
	  for _ in $$(seq 50); do kill -0 "$$(cat var/run/honcho.pid)" 2>/dev/null || break; sleep 0.2; done; \
	fi; rm -f var/run/honcho.pid
	@infra/stack.sh stop

status: setup
	@infra/stack.sh status
	@$(PY) manage.py stack_status

test: setup
	@mkdir -p var/run
	@infra/stack.sh start --record var/run/started-by-test
	@rc=0; $(PY) -m pytest $(PYTEST_ARGS) || rc=$$?; \
	  infra/stack.sh stop --only var/run/started-by-test; exit $$rc

# Every benchmark (write path, read path, pipeline, Spark replay, outbox publisher), each
# beside its baseline, recorded on top of bench/RESULTS.md. Full sizes by default;
# BENCH_ARGS="--scale small" for a quick run, "--only read,outbox" for some of them.
bench: setup
	@mkdir -p var/run
	@infra/stack.sh start --record var/run/started-by-bench
	@rc=0; $(PY) bench/run_all.py $(BENCH_ARGS) || rc=$$?; \
	  infra/stack.sh stop --only var/run/started-by-bench; exit $$rc

# The cluster benchmarks (bench/cluster.py): 5M replay with one Spark worker and with two,
# producer throughput to the 3-replica topic against a single broker, freshness at 1,000
# events/s on the cluster. Starts the cluster topology (and stops what it started).
bench-cluster: setup
	@mkdir -p var/run
	@STREAMER_TOPOLOGY=cluster infra/stack.sh start --record var/run/started-by-bench-cluster
	@rc=0; STREAMER_TOPOLOGY=cluster $(PY) bench/run_all.py --only cluster $(BENCH_ARGS) || rc=$$?; \
	  STREAMER_TOPOLOGY=cluster infra/stack.sh stop --only var/run/started-by-bench-cluster; exit $$rc

# Fault suite on a PRIVATE stack (its own MariaDB, Redis and Kafka on other ports, data under
# var/faults/): under live traffic, Kafka stopped 30 s, the Spark job and the Celery worker
# killed with -9, MariaDB restarted; after each, nothing lost and metrics equal the domain
# tables. The short form runs in `make test` (tests/test_faults.py). FAULTS_ARGS=--short etc.
# STREAMER_TOPOLOGY=cluster make faults: the cluster faults (a Kafka node and a Spark worker
# killed with -9, the Spark driver killed), on a private cluster under var/faults-cluster/;
# `make test` runs only the Kafka node fault there, in its short form. FAULTS_ARGS="--only
# spark-worker" runs some of them (tests/faults/harness.py --help).
faults: setup
	@$(PY) -m tests.faults.harness $(FAULTS_ARGS)

# Bad input and security suite with the larger budget: schemathesis (every check, then the
# stateful phase) with STREAMER_SCHEMATHESIS_EXAMPLES (default 300) examples per operation,
# the fuzzing pass over every parameter and body field, the hardening checks (lockouts,
# throttles by client address, CSP, safe defaults, tokens), uploads, the authorization matrix,
# XSS, check --deploy, bandit.
security: setup
	@mkdir -p var/run
	@infra/stack.sh start --record var/run/started-by-security
	@rc=0; STREAMER_SCHEMATHESIS_EXAMPLES=$${STREAMER_SCHEMATHESIS_EXAMPLES:-300} $(PY) -m pytest \
	  tests/test_security.py tests/test_security_authz.py tests/test_security_uploads.py \
	  tests/test_security_schema.py tests/test_security_hardening.py tests/test_security_fuzz.py \
	  $(PYTEST_ARGS) || rc=$$?; \
	  infra/stack.sh stop --only var/run/started-by-security; exit $$rc

lint: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports
