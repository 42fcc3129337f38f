# The two commands that do everything on a fresh Debian 12 machine:
#   make run    install what is missing, build, serve on [::]:50051 (SQLite)
#   make test   install what is missing, build, run every test
BUILD_DIR ?= build
ASAN_BUILD_DIR ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
RUN_ARGS ?=

.PHONY: all deps build run test test-asan bench clean format
QUICK ?= 0

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/server/users-server $(RUN_ARGS)

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

# Benchmarks (not part of `make test`): users-server against every baseline,
# written to bench/results/. QUICK=1 for a short run.
bench: build
	@scripts/install-deps.sh bench
	bench/baselines/go/build.sh $(CURDIR)/$(BUILD_DIR)/bench/go
	cd bench/baselines/node && { [ -d node_modules/@grpc/grpc-js ] || npm ci --no-audit --no-fund; }
	BUILD_DIR=$(CURDIR)/$(BUILD_DIR) QUICK=$(QUICK) /usr/bin/python3 bench/run_bench.py

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR)
