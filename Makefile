# make lab        - .venv with the course's own packages, base images made meanwhile, JupyterLab on notebooks/
# make site       - the course as a static site in build/site/ (Sphinx, myst-nb), checked in Chromium
# make test-fast  - lint, unit tests, every notebook replayed with no engine (a few minutes)
# make test       - everything: lint, unit, the real engine, the class, the browser, the site, nbval live, then
#                   nbval recorded (no engine), then as Binder runs it (a fresh environment, no docker CLI, no engine)
# make run        - every exercise headless: the comparison table and the figures (work/figures/)
# make record     - run the notebooks live (recording + stored outputs), then replay them with no engine
# make clean      - remove every image and container labutils made (nothing else)
# make test-engines - the engine matrix: Docker 28.5 (Debian sid) in containers, overlay2 and the
#                containerd store with a registry mirror; what differs by engine, and every notebook live, on each
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# the learner's lab installs the `lab` extra only; the tests, the site and the class add theirs (pyproject.toml)
TEST_STAMP := $(VENV)/.installed-test-stamp
HUB_STAMP  := $(VENV)/.installed-hub-stamp
comma := ,
NBVAL_TIMEOUT ?= 300
# JupyterLab's root is the course folder, as in the class: its file browser and terminals reach notebooks/ and
# work/ (where the learner writes work/yours/<exercise>/ and types `cd work/yours/...`)
NOTEBOOK_DIR ?= $(CURDIR)
FIRST_NOTEBOOK = $$(test -f $(NOTEBOOK_DIR)/00-setup.ipynb && echo 00-setup.ipynb || echo notebooks/00-setup.ipynb)
LAB_ARGS ?=
NBVAL  := --nbval --nbval-sanitize-with notebooks/sanitize.cfg --nbval-cell-timeout=$(NBVAL_TIMEOUT) -p no:cacheprovider
# the recorded pass points DOCKER_HOST at nothing: it must not need (or reach) an engine
NO_ENGINE := LABUTILS_MODE=recorded DOCKER_HOST=unix:///nonexistent/labutils-recorded-mode.sock

.PHONY: site test-fast test-engines engines-down bases-other lab test lint class class-down test-live test-recorded test-binder test-unit test-notebooks run record bases doctor clean venv

venv: $(STAMP)

# a venv without pip of its own (0.1 s, not 4): uv installs into it. Where uv is not on PATH it is fetched into the
# venv once, by the pip wheel Python bundles (ensurepip's); only where that fails does the venv get pip. The same
# packages either way.
define install
	@test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	@UVBIN=$$(command -v uv || echo $(BIN)/uv); \
	if [ ! -x "$$UVBIN" ]; then \
	  wheel=$$($(BIN)/python -c "import ensurepip, pathlib; print(next(iter(sorted((pathlib.Path(ensurepip.__file__).parent / '_bundled').glob('pip-*.whl'))), ''))" 2>/dev/null); \
	  { [ -n "$$wheel" ] && $(BIN)/python $$wheel/pip install --quiet --disable-pip-version-check uv >/dev/null 2>&1; } || \
	  { $(BIN)/python -m ensurepip --upgrade >/dev/null 2>&1 && $(BIN)/python -m pip install --quiet --disable-pip-version-check uv >/dev/null 2>&1; } || true; \
	fi; \
	if [ -x "$$UVBIN" ] && { echo "installing .[$(1)] with uv"; $$UVBIN pip install --quiet --python $(BIN)/python -e '.[$(1)]'; }; then :; else \
	  echo "uv is not available: installing .[$(1)] with pip"; \
	  { $(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade >/dev/null; } && \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[$(1)]'; \
	fi
	touch $@
endef

$(STAMP): pyproject.toml
	$(call install,lab)

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(call install,lab$(comma)test$(comma)hub)

$(HUB_STAMP): pyproject.toml $(STAMP)
	$(call install,lab$(comma)hub)

doctor: $(STAMP)
	$(BIN)/python -m labutils doctor

bases: $(STAMP)
	$(BIN)/python -m labutils bases --offline

# the other platform's bases (arm64 on x86-64, amd64 on arm64), which notebook 08's emulated build and the arm64
# tests use: made under QEMU where the kernel has it (about 7 minutes once), else said and left out
OTHER_PLATFORM := $(if $(filter aarch64 arm64,$(shell uname -m)),linux/amd64,linux/arm64)
MULTI_PLATFORM_NB := notebooks/08-multi-platform.ipynb
OTHER_QEMU := /proc/sys/fs/binfmt_misc/qemu-$(if $(filter linux/amd64,$(OTHER_PLATFORM)),x86_64,aarch64)
bases-other: $(STAMP)
	@if grep -qs enabled $(OTHER_QEMU); then \
	  $(BIN)/python -m labutils bases --offline --quiet --platform $(OTHER_PLATFORM); \
	else echo "No QEMU for $(OTHER_PLATFORM) ($(OTHER_QEMU)): its bases are not made, and notebook 08 leaves out its emulated build."; fi

# JupyterLab opens at once with the course's settings (jupyter/lab-settings: no news prompt); base images
# still missing are made in the background meanwhile (work/bases.log), and builds wait for them. The job is
# started beside JupyterLab, not before it: finding what is missing takes a few seconds of its own.
# Its layout is kept with the learner's work (work/jupyterlab-workspaces), not in ~/.jupyter: the first
# start opens 00-setup, a later one restores the tabs where the learner left off.
LAB_SETTINGS := $(CURDIR)/jupyter/lab-settings
LAB_WORKSPACES ?= $(or $(LABUTILS_WORK),$(CURDIR)/work)/jupyterlab-workspaces
lab: $(STAMP)
	@mkdir -p $(LAB_WORKSPACES)
	@{ $(BIN)/python -m labutils bases --offline --background || { \
	  echo "*** The notebooks will run in recorded mode: every answer replays a real run and says so."; \
	  echo "*** To work live: start Docker (or dockerd), or set DOCKER_HOST, then run 'make lab' again."; }; } &
	COURSE_BIN="$(abspath $(BIN))" COURSE_ROOT="$(abspath $(NOTEBOOK_DIR))" PATH="$(abspath $(BIN)):$$PATH" \
	  $(BIN)/jupyter lab --config=$(CURDIR)/jupyter/jupyter_lab_config.py --notebook-dir=$(NOTEBOOK_DIR) \
	  --LabApp.app_settings_dir=$(LAB_SETTINGS) --LabApp.workspaces_dir=$(LAB_WORKSPACES) \
	  --LabApp.default_url=$$(ls $(LAB_WORKSPACES)/*.jupyterlab-workspace >/dev/null 2>&1 && echo /lab || echo /lab/tree/$(FIRST_NOTEBOOK)) \
	  $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

test: lint test-live

# static checks first (seconds): ruff over the code, the notebooks and class/; mypy; the layers (import-linter's
# contracts in pyproject.toml); docs/reference.md as the code says it
lint: $(TEST_STAMP)
	$(BIN)/ruff check labutils tests tools bench notebooks class
	$(BIN)/mypy labutils
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m tools.reference --check

site: $(TEST_STAMP)
	$(BIN)/python -m tools.site build
	$(BIN)/python -m tools.site check

test-fast: lint test-unit test-recorded

# first what the tests need on the engine, as make lab makes it (local, else pulled, else offline stand-ins,
# with progress), so that no test depends on another having made the bases
# the real engine in two streams at once (a class's labs and a swarm's nodes are engines of their own, and the
# tests wait on them much of the time): the class on JupyterHub (tests marked hub) into work/test-classroom.log,
# and meanwhile unit, engine, browser, the shared-engine class and every notebook live, then recorded and as Binder
# (no engine). Both must pass; the class's log is shown at the end.
CLASSROOM_LOG := $(or $(LABUTILS_WORK),$(CURDIR)/work)/test-classroom.log
LIVE_TESTS := tests/unit tests/engine tests/browser tests/classroom notebooks -m "not hub" --durations=15
test-live: $(TEST_STAMP) bases-other
	$(BIN)/python -m labutils bases --offline
	$(BIN)/python -m labutils doctor
	@mkdir -p $(dir $(CLASSROOM_LOG))
	@echo "the class on JupyterHub (tests/classroom -m hub) runs alongside (log: $(CLASSROOM_LOG))"
	@LABUTILS_MODE=live $(BIN)/python -m pytest tests/classroom -m hub -p no:cacheprovider -rA --durations=0 > $(CLASSROOM_LOG) 2>&1 & classroom=$$!; \
	if grep -qs enabled $(OTHER_QEMU); then LABUTILS_MODE=live $(BIN)/python -m pytest $(LIVE_TESTS) $(NBVAL); else \
	  echo "No QEMU for $(OTHER_PLATFORM) ($(OTHER_QEMU)): notebook 08 runs to its end, its checkpoints saying what they leave out, but is not compared with its stored outputs (made where QEMU runs arm64)."; \
	  LABUTILS_MODE=live $(BIN)/python -m pytest $(LIVE_TESTS) $(NBVAL) --ignore $(MULTI_PLATFORM_NB) \
	  && LABUTILS_MODE=live $(BIN)/python -m pytest $(subst --nbval ,--nbval-lax ,$(NBVAL)) $(MULTI_PLATFORM_NB); fi; \
	rest=$$?; [ $$rest -ne 0 ] || $(MAKE) --no-print-directory test-recorded test-binder; rest=$$(( rest || $$? )); \
	echo "waiting for tests/classroom ..."; wait $$classroom; classes=$$?; \
	echo "=== tests/classroom ($(CLASSROOM_LOG))"; grep -E "^(PASSED|FAILED|ERROR|SKIPPED)|passed|failed|^[0-9.]+s (setup|call|teardown)" $(CLASSROOM_LOG) | tail -n 80; \
	[ $$classes -eq 0 ] || tail -n 200 $(CLASSROOM_LOG); \
	exit $$(( rest || classes ))

test-recorded: $(TEST_STAMP)
	$(NO_ENGINE) $(BIN)/python -m pytest notebooks $(NBVAL)

# as Binder: a fresh environment from environment.yml and postBuild, no docker CLI, no engine, through ./start
test-binder:
	tools/as-binder.sh

run: $(STAMP)
	$(BIN)/python -m labutils run-all

record: $(TEST_STAMP)
	$(BIN)/python -m labutils record

# make class      - a class on this machine: JupyterHub, a lab and a rootless Docker Engine per learner, a
#                   registry mirror of the bases; prints the URL, the class code and where the instructor's token is
# make class-down - every container, network and process the class started (learners' volumes kept unless
#                   CLASS_PURGE=1). Settings: CLASS_* variables or class/class.env (labutils/classroom/settings.py)
CLASS_PROXY_BIN := .class/node_modules/.bin/configurable-http-proxy
$(CLASS_PROXY_BIN):
	npm install --silent --no-audit --no-fund --prefix .class configurable-http-proxy@5

class: $(HUB_STAMP) $(CLASS_PROXY_BIN)
	$(BIN)/python -m labutils bases --offline --quiet
	$(BIN)/python -m labutils.classroom up

class-down: $(HUB_STAMP)
	$(BIN)/python -m labutils.classroom down $(if $(filter 1,$(CLASS_PURGE)),--purge,)

RIG_KIT ?= /var/tmp/labutils-rig/kit.tar
ENGINES ?= overlay2 containerd

# the kit is this engine's base images (the stand-ins offline), which the rig engines load or serve
test-engines: $(TEST_STAMP) bases-other
	$(BIN)/python -m labutils bases --offline --quiet
	mkdir -p $(dir $(RIG_KIT))
	$(BIN)/python -m labutils bases --save $(RIG_KIT) --quiet
	$(BIN)/python -m tools.engines all $(ENGINES) --kit $(RIG_KIT)

engines-down:
	python3 -m tools.engines down $(ENGINES) --purge

test-unit: $(TEST_STAMP)
	$(BIN)/python -m pytest tests/unit

test-notebooks: $(TEST_STAMP)
	$(BIN)/python -m pytest notebooks $(NBVAL)

clean: $(STAMP)
	$(BIN)/python -m labutils clean
