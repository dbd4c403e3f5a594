# make lab   - set up .venv, make the base images ready, start JupyterLab on notebooks/
# make test  - set up .venv and run the whole test suite (unit, real engine, nbval)
# make clean - remove every image and container labutils made (nothing else)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NBVAL_TIMEOUT ?= 300

.PHONY: lab test test-unit test-notebooks bases doctor clean venv

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
	  echo "*** The notebooks need an engine: start Docker (or dockerd), or set DOCKER_HOST, then run 'make lab' again."; \
	fi
	$(BIN)/jupyter lab --notebook-dir=notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root)

test: $(STAMP)
	$(BIN)/python -m pytest tests notebooks --nbval --nbval-sanitize-with notebooks/sanitize.cfg \
	  --nbval-cell-timeout=$(NBVAL_TIMEOUT) -p no:cacheprovider

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "not engine"

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest notebooks --nbval --nbval-sanitize-with notebooks/sanitize.cfg \
	  --nbval-cell-timeout=$(NBVAL_TIMEOUT)

clean: $(STAMP)
	$(BIN)/python -m labutils clean
