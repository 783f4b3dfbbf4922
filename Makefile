# sluice: the two commands a user needs are `make run` and `make test`.
# Everything else here is what those two are made of.

BUILD    ?= build
SANITIZE ?= 0
FUZZ     ?= 0
CC       ?= cc
PKGS     := libmicrohttpd jansson sqlite3 libcurl libcrypto libzip expat freexl yajl libpq

CFLAGS_BASE = -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
              -g -Isrc $(shell pkg-config --cflags $(PKGS))
LDLIBS      = $(shell pkg-config --libs $(PKGS)) -lpthread -lm
ifeq ($(FUZZ),1)
  # libFuzzer builds (clang only): the library is instrumented, the targets link the fuzzer main.
  CFLAGS  = $(CFLAGS_BASE) -O1 -fno-omit-frame-pointer \
            -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
  LDFLAGS = -fsanitize=fuzzer,address,undefined
else ifeq ($(SANITIZE),1)
  CFLAGS  = $(CFLAGS_BASE) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=undefined
  LDFLAGS = -fsanitize=address,undefined
else
  CFLAGS  = $(CFLAGS_BASE) -O2
  LDFLAGS =
endif

SRCS      := $(shell find src -name '*.c' | sort)
LIB_SRCS  := $(filter-out src/main.c,$(SRCS))
LIB_OBJS  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
UI_FILES  := $(sort $(wildcard ui/*))
GEN_OBJS  := $(BUILD)/obj/gen/ui_assets.o
TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
PYTHON    ?= /usr/bin/python3
FUZZ_TARGETS := fuzz_multipart fuzz_cron fuzz_readers fuzz_config
FUZZ_BINS    := $(patsubst %,build-fuzz/fuzz/%,$(FUZZ_TARGETS))
FUZZ_SECONDS ?= 300

.PHONY: all run test check unit contract blob-contract api api-pg cluster ui-test asan deps format \
        clean lint bench fuzz fuzz-short fuzz-build soak soak-short valgrind valgrind-short

all: $(BUILD)/sluice

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The web UI (ui/) is built into the binary: scripts/embed.sh writes its files as byte arrays.
$(BUILD)/gen/ui_assets.c: $(UI_FILES) scripts/embed.sh
	@mkdir -p $(dir $@)
	@echo "  EMBED   ui/"
	@scripts/embed.sh $@ $(UI_FILES)

$(BUILD)/obj/gen/ui_assets.o: $(BUILD)/gen/ui_assets.c src/http/ui.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libsluice.a: $(LIB_OBJS) $(GEN_OBJS)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/sluice: $(BUILD)/obj/main.o $(BUILD)/libsluice.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libsluice.a $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/tests/contract/%: tests/contract/%.c tests/unit/testutil.h $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libsluice.a $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libsluice.a $(LDFLAGS) $(LDLIBS)

-include $(LIB_OBJS:.o=.d) $(BUILD)/obj/main.d

# Installs missing Debian packages, builds, serves on the embedded defaults.
run: deps
	$(MAKE) all
	./$(BUILD)/sluice serve

# Installs missing Debian packages, then runs every suite in a plain and a sanitizer build.
test: deps
	$(MAKE) lint
	$(MAKE) check BUILD=build
	$(MAKE) soak-short valgrind-short BUILD=build
	$(MAKE) check BUILD=build-asan SANITIZE=1
	$(MAKE) fuzz-short

deps:
	@scripts/install-deps.sh

# The suites on PostgreSQL + S3 (api-pg, cluster) run in the plain build only: the sanitizer build
# skips them.
PLAIN_ONLY := $(if $(filter 1,$(SANITIZE) $(FUZZ)),,api-pg cluster)

check: unit contract blob-contract api ui-test $(PLAIN_ONLY)

unit: $(BUILD)/sluice $(TEST_BINS)
	@scripts/run-unit-tests.sh $(BUILD)

# The store contract suite, once on SQLite and once on a throwaway PostgreSQL cluster.
contract: $(BUILD)/tests/contract/test_store_contract
	d=$$(mktemp -d) && (cd $$d && env -u SLUICE_TEST_STORE_URL $(abspath $<)) && rm -rf $$d
	scripts/pg-test-server.sh run $(abspath $<)

# The blob contract suite, once on a file: folder and once on s3rver (npm, tests/s3) on loopback.
blob-contract: $(BUILD)/tests/contract/test_blob_contract
	d=$$(mktemp -d) && (cd $$d && env -u SLUICE_TEST_BLOB_URL $(abspath $<)) && rm -rf $$d
	scripts/s3-test-server.sh run $(abspath $<)

api: $(BUILD)/sluice
	SLUICE_BIN=$(abspath $(BUILD)/sluice) $(PYTHON) -m pytest -q tests/api

# Soak (bench/soak.sh): sluice on its defaults under 64 connections of mixed uploads and reads, with
# batches meanwhile; fails on any failed request, on RSS growth, on descriptors left open.
soak: $(BUILD)/sluice
	SLUICE_BIN=$(abspath $(BUILD)/sluice) bash bench/soak.sh 60

soak-short: $(BUILD)/sluice
	SLUICE_BIN=$(abspath $(BUILD)/sluice) bash bench/soak.sh 15

# The API suite with every sluice process under valgrind memcheck (plain build only): a memory
# error or a definite leak fails the test that caused it (scripts/valgrind-sluice.sh and the
# plugin tests/api/test_hardening_valgrind.py). test_xls_isolation is left out: its XLS child is
# /proc/self/exe, valgrind itself when the server runs under it. valgrind-short, a subset of a
# few minutes, runs in make test; reports land in $(BUILD)/valgrind.
VALGRIND_TESTS ?= tests/api --ignore=tests/api/test_xls_isolation.py
VALGRIND_SHORT := tests/api/test_upload.py tests/api/test_hardening.py tests/api/test_jobs.py \
                  tests/api/test_batch.py tests/api/test_hardening_valgrind.py

valgrind: $(BUILD)/sluice
	@command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
	rm -rf $(BUILD)/valgrind
	VG_SLUICE_BIN=$(abspath $(BUILD)/sluice) VG_SLUICE_LOG_DIR=$(abspath $(BUILD)/valgrind) \
	  SLUICE_BIN=$(abspath scripts/valgrind-sluice.sh) PYTHONPATH=$(abspath tests/api) \
	  $(PYTHON) -m pytest -q -p test_hardening_valgrind $(VALGRIND_TESTS)

valgrind-short:
	$(MAKE) valgrind VALGRIND_TESTS="$(VALGRIND_SHORT)"

# The API suite again on a throwaway PostgreSQL cluster and s3rver: every test server gets its own
# schema and bucket prefix (tests/api/conftest.py).
api-pg: $(BUILD)/sluice
	scripts/pg-test-server.sh run $(abspath scripts/s3-test-server.sh) run \
	  env -C $(CURDIR) SLUICE_BIN=$(abspath $(BUILD)/sluice) $(PYTHON) -m pytest -q tests/api

# Three `sluice serve` nodes on one PostgreSQL schema and one bucket prefix (tests/cluster).
cluster: $(BUILD)/sluice
	scripts/pg-test-server.sh run $(abspath scripts/s3-test-server.sh) run \
	  env -C $(CURDIR) SLUICE_BIN=$(abspath $(BUILD)/sluice) $(PYTHON) -m pytest -q tests/cluster

# Browser tests: playwright-core (from npm, into tests/ui/node_modules) drives Debian's chromium
# against the real binary; screenshots go to $(BUILD)/ui-artifacts.
ui-test: $(BUILD)/sluice
	@cd tests/ui && npm install --no-audit --no-fund --loglevel=error
	cd tests/ui && SLUICE_BIN=$(abspath $(BUILD)/sluice) \
	  SLUICE_UI_ARTIFACTS=$(abspath $(BUILD)/ui-artifacts) node --test ui.test.mjs

$(BUILD)/bench/%: bench/%.c $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libsluice.a $(LDFLAGS) $(LDLIBS)

# Benchmarks: figures beside their baselines, measured in the same run (see bench/README.md).
bench: deps
	$(MAKE) all build/bench/readrows build/bench/queue
	bash bench/run.sh

# libFuzzer targets (tests/fuzz): the library rebuilt with clang in build-fuzz/, each target run for
# FUZZ_SECONDS on a scratch copy of its corpus, then every regression input once.
fuzz-build:
	$(MAKE) BUILD=build-fuzz CC=clang FUZZ=1 $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_SEED=$(FUZZ_SEED) scripts/fuzz.sh build-fuzz/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# CI's run: a minute per target with a fixed seed, so that a run that passes here passes there.
fuzz-short:
	$(MAKE) fuzz FUZZ_SECONDS=60 FUZZ_SEED=1

asan:
	$(MAKE) check BUILD=build-asan SANITIZE=1

lint:
	@scripts/lint.sh

format:
	clang-format -i $(shell find src tests/unit tests/fuzz -name '*.[ch]')

clean:
	rm -rf build build-asan build-fuzz
