# The two commands: `make demo` and `make test`. Each bootstraps what it needs on first use:
# Debian's libnl-route-3-200 (nsjail links it), chromium + chromium-driver (browser tests), a .venv on Python 3.12, and the package with its dev extras (Ray included) and the trainer extras.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The verifiers adapter is its own distribution in its own venv: verifiers 0.4.0 pins mcp==2.0.0,
# codegym-mcp needs mcp>=2.3 (integrations/verifiers, docs/trainers.md).
VVENV := .venv-verifiers
VSTAMP := $(VVENV)/.installed
PYTHON312 := $(shell command -v python3.12 2>/dev/null || ls -d $$HOME/.pyenv/versions/3.12*/bin/python3 2>/dev/null | tail -n 1)

.PHONY: demo test lint typecheck imports unit bench bench-ray soak bootstrap clean

bootstrap: $(STAMP) $(VSTAMP)

$(STAMP): pyproject.toml
	@if ! ldconfig -p 2>/dev/null | grep -q libnl-route-3.so.200; then \
		echo "installing Debian's libnl-route-3-200 (nsjail needs it)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnl-route-3-200; \
	fi
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		echo "installing Debian's chromium and chromium-driver (the viewer's browser tests drive them)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi
	@if [ ! -x $(BIN)/python ]; then \
		if [ -z "$(PYTHON312)" ]; then echo "Python 3.12 not found: install it (pyenv install 3.12) and rerun" >&2; exit 2; fi; \
		"$(PYTHON312)" -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,gymnasium,skyrl,openenv]'
	@# verl needs torch, so only its wheel: tests load verl's tool schema model from it
	$(BIN)/python -m pip download -q --no-deps verl==0.9.1 -d $(VENV)/wheels
	@touch $(STAMP)

$(VSTAMP): integrations/verifiers/pyproject.toml | $(STAMP)
	@if [ ! -x $(VVENV)/bin/python ]; then "$$(readlink -f $(BIN)/python)" -m venv $(VVENV); fi
	$(VVENV)/bin/python -m pip install -q --upgrade pip
	$(VVENV)/bin/python -m pip install -q -e 'integrations/verifiers[dev]'
	@touch $(VSTAMP)

# mypy needs the installed layout (codegym_mcp.<folder>); a symlink tree gives it that view.
.typecheck/codegym_mcp: | $(STAMP)
	@mkdir -p .typecheck/codegym_mcp
	@for d in schemas runtime generator servers; do ln -sfn ../../$$d .typecheck/codegym_mcp/$$d; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) $(VSTAMP) .typecheck/codegym_mcp
	$(BIN)/mypy .typecheck/codegym_mcp tests benchmarks
	cd integrations/verifiers && ../../$(VVENV)/bin/mypy codegym_verifiers

# Import contracts (.importlinter): one-way layers, public names across packages, no cycles, and
# the in-jail modules importing only the standard library. Run from the installed-layout view.
imports: $(STAMP) .typecheck/codegym_mcp
	cd .typecheck && ../$(BIN)/lint-imports --no-cache ../.importlinter

unit: $(STAMP) $(VSTAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck imports unit

# The demo keeps its catalog in demo-out/ (regenerated each time, so a catalog made by another
# version or with other settings never stands in the way).
DEMO_CATALOG := demo-out/catalog

demo: $(STAMP)
	$(BIN)/codegym-mcp doctor
	$(BIN)/codegym-mcp generate --dataset humaneval --out $(DEMO_CATALOG) --no-resume
	$(BIN)/codegym-mcp audit --catalog $(DEMO_CATALOG)
	$(BIN)/codegym-mcp rollout --catalog $(DEMO_CATALOG) --policy oracle --concurrency 8 --min-success 1.0 --out demo-out/oracle.jsonl
	$(BIN)/codegym-mcp rollout --catalog $(DEMO_CATALOG) --policy random --concurrency 8 --out demo-out/random.jsonl

bench: $(STAMP)
	$(BIN)/python -m benchmarks.sandbox
	$(BIN)/python -m benchmarks.run

# Ray scale-out (docs/scaling.md): HumanEval local vs a local Ray cluster, then 4,096 sessions over 2 replicas;
# then the front's upstream pools, 1 vs 16 (front CPU per proxied request).
bench-ray: $(STAMP)
	$(BIN)/python -m benchmarks.ray_scale
	$(BIN)/python -m benchmarks.front_pools

# Soak and load of one catalog server (docs/serving.md, "Long runs"): 20,000 oracle episodes with the
# server's RSS sampled, then 1,024 sessions held at once. Long: run it on a quiet machine.
soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak

clean:
	rm -rf .typecheck build *.egg-info integrations/verifiers/*.egg-info .pytest_cache .mypy_cache .ruff_cache
