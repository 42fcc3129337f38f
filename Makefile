# The two commands that do everything on a fresh Debian 12 machine:
#   make run    install what is missing, build the server, serve gRPC on
#               [::]:50051 and HTTP/JSON plus the admin page on :8080 (SQLite)
#   make test   install what is missing, build everything, run every test
# Then, for a host (docs/operations.md, "Installing"):
#   make install   build the two binaries; install them, the systemd unit and an
#                  example environment file under PREFIX (/usr/local), staged
#                  under DESTDIR when set
#   make certs     throwaway TLS certificates for trying TLS, in CERTS_DIR (certs)
#   make fuzz      the libFuzzer targets, FUZZ_SECONDS (60) each (docs/reliability.md);
#                  FUZZ_RUNS=N: N executions each instead
#   make fuzz-coverage  the lines of our code the fuzzers' corpora reach
#   make run-postgres  the server on a throwaway PostgreSQL cluster; Ctrl-C
#                      stops both and removes the cluster
#   make run-cluster   3 replicas on a throwaway PostgreSQL behind haproxy;
#                      prints "cluster ready: lb=..." ; Ctrl-C stops all
BUILD_DIR ?= build
ASAN_BUILD_DIR ?= build-asan
TSAN_BUILD_DIR ?= build-tsan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
RUN_ARGS ?=
HTTP_PORT ?= 8080
PREFIX ?= /usr/local
DESTDIR ?=
CERTS_DIR ?= certs

.PHONY: all deps build run run-postgres run-cluster test test-asan test-tsan bench clean format install certs fuzz fuzz-coverage
QUICK ?= 0

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Builds only the server it runs and the client README calls it with, so a
# broken test or benchmark cannot hold up the first call.
run: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS) --target users-server users-client
	$(BUILD_DIR)/server/users-server --http-port $(HTTP_PORT) $(RUN_ARGS)

# The same, over a throwaway PostgreSQL cluster (scripts/with-postgres.sh)
# instead of SQLite: how the server runs when replicas share a database.
run-postgres: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS) --target users-server users-client
	scripts/with-postgres.sh sh -c 'echo "run-postgres: throwaway cluster at $$(echo "$$USERS_TEST_POSTGRES_URI" | sed "s/:[^:@]*@/:***@/"), removed on exit; psql into it with: psql -h $$(dirname "$$PG_DATA") -U users_test postgres" >&2; exec $(BUILD_DIR)/server/users-server --db "$$USERS_TEST_POSTGRES_URI" $(RUN_ARGS)'

run-cluster: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS) --target users-server users-client
	scripts/with-postgres.sh /usr/bin/python3 scripts/cluster.py --build-dir $(BUILD_DIR) $(RUN_ARGS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

# AddressSanitizer + UndefinedBehaviorSanitizer over the whole suite.
test-asan: deps
	cmake -S . -B $(ASAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug \
	  -DUSERS_SANITIZE=address,undefined -DUSERS_BUILD_BENCHMARKS=OFF $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	cd $(ASAN_BUILD_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 900

# ThreadSanitizer over the code free of grpc++ (storage/, directory/: watch
# hub, group commit, caches, change feed, compactor) and its unit tests, with
# Abseil built from Debian's source in the same tree (docs/reliability.md).
test-tsan: deps
	scripts/fetch-abseil-source.sh $(TSAN_BUILD_DIR)/_deps
	cmake -S . -B $(TSAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUSERS_TSAN=ON \
	  -DUSERS_ABSEIL_SOURCE_DIR=$(CURDIR)/$(TSAN_BUILD_DIR)/_deps/abseil $(CMAKE_FLAGS)
	cmake --build $(TSAN_BUILD_DIR) -j $(JOBS)
	cd $(TSAN_BUILD_DIR) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp \
	  ctest --output-on-failure -j $(JOBS) --timeout 900

# libFuzzer targets (fuzz/), built with clang in their own tree and run for
# FUZZ_SECONDS (60) each, or FUZZ_RUNS executions each; FUZZ_TARGETS picks
# some. Non-zero exit on any crash, leak or timeout.
FUZZ_SECONDS ?=
FUZZ_RUNS ?=
FUZZ_TARGETS ?=
fuzz:
	@scripts/install-deps.sh fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_TARGETS="$(FUZZ_TARGETS)" \
	  FUZZ_BUILD_DIR=$(BUILD_DIR)-fuzz scripts/fuzz.sh

# Line coverage of what `make fuzz` found (docs/reliability.md).
fuzz-coverage:
	@scripts/install-deps.sh fuzz
	FUZZ_BUILD_DIR=$(BUILD_DIR)-fuzz FUZZ_COVERAGE_BUILD_DIR=$(BUILD_DIR)-fuzz-coverage \
	  scripts/fuzz-coverage.sh

# Benchmarks (not part of `make test`): users-server against every baseline,
# written to bench/results/. QUICK=1 for a short run.
bench: build
	@scripts/install-deps.sh bench
	bench/baselines/go/build.sh $(CURDIR)/$(BUILD_DIR)/bench/go
	cd bench/baselines/node && { [ -d node_modules/@grpc/grpc-js ] || npm ci --no-audit --no-fund; }
	BUILD_DIR=$(CURDIR)/$(BUILD_DIR) QUICK=$(QUICK) /usr/bin/python3 bench/run_bench.py
	BUILD_DIR=$(CURDIR)/$(BUILD_DIR) QUICK=$(QUICK) scripts/with-postgres.sh /usr/bin/python3 bench/postgres_bench.py
	BUILD_DIR=$(CURDIR)/$(BUILD_DIR) QUICK=$(QUICK) scripts/with-postgres.sh /usr/bin/python3 bench/cluster_bench.py
	BUILD_DIR=$(CURDIR)/$(BUILD_DIR) QUICK=$(QUICK) /usr/bin/python3 bench/http_bench.py

# The unit names the installed paths, which cmake fixes when it configures:
# a build configured for another prefix is configured again first (cheap; no
# object depends on the prefix).
install: deps $(BUILD_DIR)/CMakeCache.txt
	$(if $(filter /%,$(PREFIX)),,$(error PREFIX must be an absolute path, not "$(PREFIX)"))
	@grep -qxF 'CMAKE_INSTALL_PREFIX:PATH=$(PREFIX)' $(BUILD_DIR)/CMakeCache.txt || \
	  cmake -S . -B $(BUILD_DIR) -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build $(BUILD_DIR) -j $(JOBS) --target users-server users-client
	DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR) --prefix $(PREFIX)

certs:
	scripts/make-certs.sh $(CERTS_DIR)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(TSAN_BUILD_DIR)
