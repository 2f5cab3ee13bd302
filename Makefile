# Market-data relay: small Unix tools that pass NDJSON along a pipeline.
# `make` builds bin/, `make test` runs every suite, `make asan` runs them under sanitizers.

CC      ?= cc
PKGS    := libwebsockets rdkafka libcjson openssl zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lwebsockets -lrdkafka -lcjson -lssl -lcrypto -lz)
ZK_LIBS    := -lzookeeper_mt

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wvla -Wno-unused-parameter -Wno-format-nonliteral
OPT     ?= -O2 -g
ifdef SANITIZE
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
LDSAN   := -fsanitize=$(SANITIZE)
BUILD   ?= build-san
BIN     ?= bin-san
endif
BUILD   ?= build
BIN     ?= bin
ALL_CFLAGS  = -std=gnu11 -D_GNU_SOURCE -DTHREADED -Ilib $(PKG_CFLAGS) $(WARN) $(OPT) -MMD -MP $(CFLAGS)
# --as-needed always: the sanitizer driver drops Debian's default, and the tools should
# record the same libraries in both builds.
ALL_LDFLAGS = -Wl,--as-needed $(LDSAN) $(LDFLAGS)

LIB_SRC   := $(wildcard lib/*.c lib/exchanges/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOLS     := ingest convert distribute serve elect
TEST_TOOLS := $(patsubst tests/tools/%.c,%,$(wildcard tests/tools/*.c)) fakex
UNIT_SRC  := $(wildcard tests/unit/*.c)

TOOL_BINS := $(foreach t,$(TOOLS),$(if $(wildcard $(t)/main.c),$(BIN)/$(t)))
FUZZ_HARNESSES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
TEST_BINS := $(TEST_TOOLS:%=$(BIN)/%) $(if $(UNIT_SRC),$(BIN)/unit-tests) $(FUZZ_HARNESSES:%=$(BIN)/fuzz-%) \
             $(BIN)/slowdns.so

.PHONY: all deps deps-run run demo test deploy-test asan tsan bench fuzz clean
.SECONDARY:
all: $(TOOL_BINS) $(TEST_BINS)

Q ?= @
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC   $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libexchange.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

# Each tool is its directory's .c files plus lib/.
define tool_rule
$(BIN)/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(BUILD)/libexchange.a
	@mkdir -p $(BIN)
	@echo "  LD   $$@"
	$(Q)$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $(PKG_LIBS) $(ZK_LIBS) -lpthread -lm
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

# Each test tool is one file in tests/tools/ plus what they share in tests/tools/common/.
TOOL_COMMON := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/tools/common/*.c))
$(BIN)/%: $(BUILD)/tests/tools/%.o $(TOOL_COMMON) $(BUILD)/libexchange.a
	@mkdir -p $(BIN)
	@echo "  LD   $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread -lm

# fakex is a directory: its core and one file per exchange dialect.
$(BIN)/fakex: $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/tools/fakex/*.c)) $(TOOL_COMMON) $(BUILD)/libexchange.a
	@mkdir -p $(BIN)
	@echo "  LD   $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread -lm

# slowdns.so is preloaded into the tool under test, so it is built without the sanitizers.
$(BIN)/slowdns.so: tests/tools/slowdns/slowdns.c
	@mkdir -p $(BIN)
	@echo "  LD   $@"
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) -O2 -g -fPIC -shared -o $@ $< -ldl

$(BIN)/unit-tests: $(UNIT_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libexchange.a
	@mkdir -p $(BIN)
	@echo "  LD   $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread -lm

# Fuzz harnesses, as replay programs for the test suite (the kept corpus and crashers)...
$(BIN)/fuzz-%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay_main.o $(BUILD)/libexchange.a
	@mkdir -p $(BIN)
	@echo "  LD   $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread -lm

# ...and under libFuzzer: `make fuzz` runs each for FUZZ_SECONDS, keeping what it finds.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Ilib $(PKG_CFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined
fuzz: deps
	@mkdir -p build-fuzz tests/fuzz/crashers
	@for h in $(FUZZ_HARNESSES); do \
		echo "  FUZZ $$h ($(FUZZ_SECONDS) s)"; \
		clang $(FUZZ_CFLAGS) -o build-fuzz/fuzz-$$h tests/fuzz/fuzz_$$h.c $(LIB_SRC) $(PKG_LIBS) -lpthread -lm || exit 1; \
		mkdir -p build-fuzz/corpus-$$h; cp -n tests/fuzz/corpus/$$h/* build-fuzz/corpus-$$h/ 2>/dev/null; \
		build-fuzz/fuzz-$$h -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 \
			-artifact_prefix=tests/fuzz/crashers/$$h- build-fuzz/corpus-$$h || exit 1; \
	done

# Every package: what a node needs to build and run, and what the tests, sanitizer runs,
# fuzzing and benchmarks use (CI runs this).
deps:
	@scripts/install-deps

# Only what building and running a node needs: run and demo install no test toolchain.
deps-run:
	@scripts/install-deps run

run: deps-run all
	@scripts/run

demo: deps-run all
	@scripts/demo

test: deps all
	@BIN=$(abspath $(BIN)) tests/run

# The compose deployment run for real in containers (podman), Kafka mode against the mock,
# and what it measured (deploy/README.md). Images are kept between runs.
deploy-test: deps all
	@scripts/install-deploy-deps
	@BIN=$(abspath $(BIN)) deploy/test/run

asan: deps
	$(MAKE) SANITIZE=address,undefined all
	@BIN=$(abspath bin-san) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 tests/run

# serve's send threads under ThreadSanitizer (the other tools' threads are librdkafka's
# and libzookeeper_mt's, which are not instrumented here)
tsan: deps
	$(MAKE) SANITIZE=thread BUILD=build-tsan BIN=bin-tsan all
	@BIN=$(abspath bin-tsan) TSAN_OPTIONS=halt_on_error=1:abort_on_error=1 \
	  TESTS=tests/serve.bats tests/run

bench: deps all
	@scripts/bench

clean:
	rm -rf build build-san build-tsan build-fuzz bin bin-san bin-tsan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
