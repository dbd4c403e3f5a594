# make lab    - set up .venv, make the base images ready, start JupyterLab on notebooks/
# make test   - the whole suite: unit, real engine and nbval live, then nbval in recorded mode (no engine)
# make run    - every exercise headless: the comparison table and the figures (work/figures/)
# make record - run the notebooks live (recording + stored outputs), then replay them with no engine
# make clean  - remove every image and container labutils made (nothing else)
# make test-engines - the engine matrix: Docker 28.5 (Debian sid) in containers, overlay2 and the
#                containerd store with a registry mirror; engine tests + every notebook live on each
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NBVAL_TIMEOUT ?= 300
NOTEBOOK_DIR ?= notebooks
LAB_ARGS ?=
NBVAL  := --nbval --nbval-sanitize-with notebooks/sanitize.cfg --nbval-cell-timeout=$(NBVAL_TIMEOUT) -p no:cacheprovider
# the recorded pass points DOCKER_HOST at nothing: it must not need (or reach) an engine
NO_ENGINE := LABUTILS_MODE=recorded DOCKER_HOST=unix:///nonexistent/labutils-recorded-mode.sock

.PHONY: test-engines engines-down lab test test-live test-recorded test-unit test-notebooks run record bases doctor clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[lab]'
	touch $@

doctor: $(STAMP)
	$(BIN)/python -m labutils doctor

bases: $(STAMP)
	$(BIN)/python -m labutils bases --offline

lab: $(STAMP)
	@if $(BIN)/python -m labutils doctor >/dev/null 2>&1 || $(BIN)/python -m labutils bases --offline; then \
	  $(BIN)/python -m labutils doctor; \
	else \
	  echo "*** No Docker Engine answered, or the base images could not be made ready."; \
	  echo "*** The notebooks will run in recorded mode: every answer replays a real run and says so."; \
	  echo "*** To work live: start Docker (or dockerd), or set DOCKER_HOST, then run 'make lab' again."; \
	fi
	$(BIN)/jupyter lab --notebook-dir=$(NOTEBOOK_DIR) $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

test: test-live test-recorded

test-live: $(STAMP)
	LABUTILS_MODE=live $(BIN)/python -m pytest tests notebooks $(NBVAL)

test-recorded: $(STAMP)
	$(NO_ENGINE) $(BIN)/python -m pytest notebooks $(NBVAL)

run: $(STAMP)
	$(BIN)/python -m labutils run-all

record: $(STAMP)
	$(BIN)/python -m labutils record

RIG_KIT ?= /var/tmp/labutils-rig/kit.tar
ENGINES ?= overlay2 containerd

# the kit is this engine's base images (the stand-ins offline), which the rig engines load or serve
test-engines: $(STAMP)
	$(BIN)/python -m labutils bases --offline --quiet
	mkdir -p $(dir $(RIG_KIT))
	$(BIN)/python -m labutils bases --save $(RIG_KIT) --quiet
	python3 tools/engines.py all $(ENGINES) --kit $(RIG_KIT)

engines-down:
	python3 tools/engines.py down $(ENGINES) --purge

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "not engine"

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest notebooks $(NBVAL)

clean: $(STAMP)
	$(BIN)/python -m labutils clean
