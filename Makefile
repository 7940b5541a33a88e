# Two commands on a fresh machine (Python >= 3.11 and make): `make demo` plays the checkout stories,
# `make test` runs every test. Each creates .venv and installs the project when needed; the
# .venv/bin/... commands of README.md are the longer form of the same thing.
# Extra arguments: make demo ARGS="--fast", make test ARGS="-k window -x".

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider
# Debian installs mosquitto in /usr/sbin, which is not on an ordinary user's PATH.
export PATH := $(PATH):/usr/sbin

.PHONY: demo test quick mosquitto chromium

demo: $(VENV)/.installed
	$(BIN)/gongji-terminal demo $(ARGS)

# Everything: unit, integration on both brokers, end to end, the scenario library (minutes).
test: $(VENV)/.installed mosquitto chromium
	$(PYTEST) $(ARGS)

# The inner loop, well under a minute: the pure core's unit tests and the scenario library.
quick: $(VENV)/.installed
	$(PYTEST) tests/unit scenarios $(ARGS)

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "gongji needs Python >= 3.11; '$(PYTHON)' is $$($(PYTHON) -V 2>&1): pass PYTHON=python3.12 (or another)"; \
	  exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "cannot create $(VENV) with '$(PYTHON) -m venv' (on Debian and Ubuntu: apt-get install python3-venv)"; \
	  exit 1; }
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

# Debian's broker and its command-line clients, which the tests run against; installed with apt-get
# when missing and this user is root or may use sudo, otherwise one line says what to install.
mosquitto:
	@if command -v mosquitto >/dev/null 2>&1 && command -v mosquitto_pub >/dev/null 2>&1; then exit 0; fi; \
	ask="the tests need Debian's mosquitto and mosquitto-clients: install them (apt-get install mosquitto mosquitto-clients) and run make test again"; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "$$ask"; exit 1; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
	else echo "$$ask"; exit 1; fi; \
	echo "== installing Debian's mosquitto and mosquitto-clients ($${sudo:-as root})"; \
	{ $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq \
	    mosquitto mosquitto-clients >/dev/null; } || { echo "$$ask"; exit 1; }

# Debian's chromium, which the studio's browser tests drive (Playwright's own browser download is never
# used), and a Chinese font so its screenshots are legible; installed like mosquitto, or one line says what.
CHROMIUM ?= /usr/bin/chromium
CJK_FONT ?= /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
chromium:
	@missing=""; [ -x "$(CHROMIUM)" ] || missing="chromium"; [ -e "$(CJK_FONT)" ] || missing="$$missing fonts-wqy-microhei"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	ask="the browser tests need Debian's chromium at $(CHROMIUM) and fonts-wqy-microhei: install them (apt-get install chromium fonts-wqy-microhei) and run make test again"; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "$$ask"; exit 1; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
	else echo "$$ask"; exit 1; fi; \
	echo "== installing Debian's$$missing ($${sudo:-as root})"; \
	{ $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq \
	    $$missing >/dev/null; } || { echo "$$ask"; exit 1; }
