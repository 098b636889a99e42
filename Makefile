# cathx: every target depends on the virtual environment that `make setup` builds.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export NO_ALBUMENTATIONS_UPDATE := 1
export MPLBACKEND := Agg

.PHONY: setup demo test test-fast mutation bench clean-venv browser

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; cathx needs Python 3.11" >&2; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	$(PY) -m cathx.postprocess.precompile  # compile the post-processing once now, not in the first prediction
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m cathx demo --out runs/demo

# The README's test command and CI's (.ci/run): every test, the slow-marked ones included, in random
# order (pytest-randomly; the summary names the seed that reruns an order). As root it first installs
# Debian's Chromium for the web app's browser test and then requires it (a missing browser fails the
# test instead of skipping it). `make test-fast` skips the slow-marked tests for a quick local loop.
# Both run on two pytest-xdist worker processes, one per core (Ray's tests together on one of them,
# tests/conftest.py), each with one OpenMP/torch thread (two workers with two threads each on two
# cores: 188 s against 156 s with one, back to back); `make test PYTEST_WORKERS=` runs everything in
# one process.
PYTEST_WORKERS ?= -n 2 --dist loadgroup
test: $(STAMP) browser
	CATHX_REQUIRE_BROWSER=$${CATHX_REQUIRE_BROWSER:-$$([ "$$(id -u)" = 0 ] && echo 1)} OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} \
	  $(PY) -m pytest -q -m "" $(PYTEST_WORKERS)

test-fast: $(STAMP)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m pytest -q -m "not slow" $(PYTEST_WORKERS)

# Mutation testing of the core modules ([tool.mutmut] in pyproject.toml); not part of CI.
# MUTATE narrows it to mutant name patterns, e.g. make mutation MUTATE="cathx.metrics.*".
# mutants/ is rebuilt each time: mutmut keeps its old copies of the files it does not mutate.
MUTATE ?=
MUTATION_JOBS ?= 1
mutation: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,mutation]"
	rm -rf mutants
	OMP_NUM_THREADS=1 nice -n 10 $(VENV)/bin/mutmut run --max-children $(MUTATION_JOBS) $(foreach m,$(MUTATE),'$(m)')
	$(PY) benchmarks/mutation_report.py --command "make mutation MUTATE='$(MUTATE)'"

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# Debian's chromium + chromium-driver for the web app's browser test (tests/app/test_app.py), installed
# with apt-get when missing and running as root (CI); otherwise `sudo make browser`.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
	  echo "browser: chromium and chromedriver found"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; \
	else \
	  echo "browser: chromium/chromedriver missing and not root: the app's browser test will be skipped (sudo make browser)"; \
	fi

clean-venv:
	rm -rf $(VENV)
