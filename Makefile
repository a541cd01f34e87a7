# The course's commands. `make all` regenerates report/; `make test` checks everything.
#
#   make all PROFILE=smoke|cpu|paper DATA=auto|coco_sample|samples|<folder> OVERRIDES="size=96 gan_epochs=3"
#   make bench DATA=<folder>      (plain vs colorlib: data path, training steps, SSIM)
#   make PYTHON=python all        (inside an activated conda environment: no .venv)

PYTHON ?= .venv/bin/python
PROFILE ?= cpu
DATA ?=
OVERRIDES ?=
REPORT ?= report
# Empty: runs/PROFILE for the profile's own settings, runs/PROFILE-HASH when DATA or OVERRIDES
# make it another run (colorlib.stages.run_name), so a new run never meets an old one's checkpoints.
RUN_DIR ?=
NBVAL = -m pytest --nbval notebooks -p no:cacheprovider

# With the default PYTHON, every target first makes sure .venv exists and is up to date;
# with PYTHON set to another interpreter, the environment is taken as given.
ifeq ($(PYTHON),.venv/bin/python)
ENV := .venv/.installed
endif

.PHONY: env lock all test unit nbval report-smoke bench notebooks lab clean

env: $(ENV)

# Python compiles what it imports on first use and keeps the bytecode, even where the
# environment says PYTHONDONTWRITEBYTECODE (as some CI images do): every process, each notebook's
# kernel among them, would otherwise compile torch and fastai anew, 21 s to start instead of 8 s
# on two cores. pip's own compile of every installed file instead made the install about 70 s
# longer (some 220 s against 142 to 157 s).
# pip is not upgraded first: the one venv ships does the install.
unexport PYTHONDONTWRITEBYTECODE

# Where requirements.lock holds (CPython 3.11 on Linux x86_64, as CI), its exact versions are
# installed without resolving, three pip processes at once: pip unpacks one wheel at a time and
# most of the 200 packages are small, so the install is bound by pip's work per package, not by
# the bytes (72 s against 145 s resolving, on two cores). pip check then proves that the lock
# meets pyproject.toml's ranges. Anywhere else pip resolves those ranges.
LOCKED := $(shell python3 -c 'import platform, sys; print(sys.platform == "linux" and platform.machine() == "x86_64" and sys.version_info[:2] == (3, 11))' 2>/dev/null)

.venv/.installed: pyproject.toml requirements.lock
	python3 -m venv .venv
ifeq ($(LOCKED),True)
	grep -v '^#' requirements.lock | xargs -P 3 -n 20 .venv/bin/python -m pip install --quiet --no-compile --no-deps
	.venv/bin/python -m pip install --quiet --no-compile --no-deps -e .
	.venv/bin/python -m pip check || { echo "requirements.lock does not meet pyproject.toml: run make lock"; exit 1; }
else
	.venv/bin/python -m pip install --quiet --no-compile -e '.[dev]'
endif
	touch $@

# Write requirements.lock again from a fresh resolution of pyproject.toml (after changing a range).
lock:
	rm -rf .venv-lock && python3 -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --no-compile -e '.[dev]'
	{ sed -n '/^#/p' requirements.lock; .venv-lock/bin/python -m pip freeze --all --exclude-editable | grep -v '^pip=='; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .venv-lock

# A value from the make line as one shell word, exactly as typed: make's $(value) does not expand
# the $ in DATA='x$HOME' (plain $(DATA) would read it as make's $H), and single quotes keep the
# shell from expanding it.
shell_word = '$(subst ','\'',$(value $1))'

all: $(ENV)
	$(PYTHON) -m colorlib report --profile $(PROFILE) --data $(call shell_word,DATA) --overrides $(call shell_word,OVERRIDES) \
		$(if $(value RUN_DIR),--run-dir $(call shell_word,RUN_DIR)) --out $(REPORT) $(if $(filter report,$(REPORT)),--readme README.md)

# The unit tests run beside the notebooks (nbval, then the report check), each line with half the
# cores for torch's threads. Their networks are small (16 to 64 px) and much of their time is
# single-threaded (imports, kernel starts, checkpoint writes): on two cores the whole took 270 s
# side by side against 600 s one after the other with every core each (and 825 s side by side
# with every core each, their threads spinning against each other). What the checks compare does
# not depend on the thread count: nbval's expected outputs were written with every core.
# GNU make before 4 (as macOS ships) has no --output-sync: its two logs interleave.
TEST_THREADS := $(shell python3 -c 'import os; print(max(1, (os.cpu_count() or 2) // 2))')
test: $(ENV)
	OMP_NUM_THREADS=$(TEST_THREADS) $(MAKE) --no-print-directory -j2 $(if $(filter 3.%,$(MAKE_VERSION)),,--output-sync=target) unit report-smoke

# `make unit PYTEST_ARGS="-m 'not slow'"` leaves out the tests that train or run a whole stage.
PYTEST_ARGS ?=
unit: $(ENV)
	$(PYTHON) -m pytest tests -q -p no:cacheprovider $(PYTEST_ARGS)

# Notebooks run in a run folder of their own (COLORLIB_RUNS, relative to notebooks/), never a
# learner's runs/smoke, and start from nothing.
CHECK_RUNS = runs/checks

nbval: $(ENV)
	rm -rf $(CHECK_RUNS) && COLORLIB_RUNS=../$(CHECK_RUNS) $(PYTHON) $(NBVAL) -q

# The report machinery, end to end on the smoke profile, in a temporary folder: it must write
# every page, and the same metrics.json as the notebooks' own smoke run under nbval (a second,
# independent run from nothing: the run is reproducible), so nbval runs first. No page may name
# the checkout's path (where .venv and its packages live too); the run folder given is a parameter.
report-smoke: nbval
	tmp=$$(mktemp -d) && \
	$(PYTHON) -m colorlib report --profile smoke --run-dir $$tmp/run --out $$tmp/report && \
	ls $$tmp/report/index.html $$tmp/report/0[1-7]_*.html >/dev/null && \
	cmp $$tmp/report/metrics.json $(CHECK_RUNS)/smoke/metrics.json && \
	! grep -rl -e "$(CURDIR)" $$tmp/report && \
	echo "report-smoke: the report and the notebooks' run wrote identical metrics.json; no page names the checkout's path" && rm -rf $$tmp

# Plain (the capstone's way) against colorlib's data path, training steps and SSIM, side by side.
bench: $(ENV)
	$(PYTHON) -m colorlib bench --data $(if $(value DATA),$(call shell_word,DATA),samples)

# Re-execute the committed notebooks with their default parameters (after editing them). The
# kernels talk over Unix sockets in a private folder, as make all's do: over TCP each warns.
notebooks: $(ENV)
	rm -rf $(CHECK_RUNS) && sockets=$$(mktemp -d) && COLORLIB_RUNS=../$(CHECK_RUNS) \
		$(PYTHON) -m jupyter nbconvert --to notebook --execute --inplace notebooks/0*.ipynb \
		--KernelManager.transport=ipc --KernelManager.ip=$$sockets/kernel; \
		status=$$?; rm -rf $$sockets; exit $$status

lab: $(ENV)
	$(PYTHON) -m jupyter lab notebooks

clean:
	rm -rf runs .pytest_cache
