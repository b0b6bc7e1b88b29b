# minivmm — `make` builds build/minivmm and the test guests; see README.md for the rest.
BUILD ?= build
CC ?= cc
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wno-missing-field-initializers
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -MMD -MP
LDLIBS := -lpthread
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

VMM_SRCS := $(wildcard vmm/*.c devices/*.c firmware/*.c)
LIB_SRCS := $(filter-out vmm/main.c,$(VMM_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)

# Two flavours of the same objects: plain, and with sanitizers for the unit tests.
obj = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(2))

.PHONY: all check check-unit check-fuzz check-integration check-linux demo bench deps clean
all: $(BUILD)/minivmm guests

include guest/guest.mk

.PHONY: guests
guests: $(MINITEST)

$(BUILD)/plain/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -c $< -o $@

$(BUILD)/minivmm: $(call obj,plain,$(VMM_SRCS))
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/asan/minivmm: $(call obj,asan,$(VMM_SRCS))
	$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ $(LDLIBS)

$(BUILD)/unit/%: tests/unit/%.c $(call obj,plain,$(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

$(BUILD)/unit-asan/%: tests/unit/%.c $(call obj,asan,$(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -o $@ $^ -lcmocka $(LDLIBS)

# libFuzzer needs clang; each target links the library sources it exercises.
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(UNIT_SRCS))
FUZZERS := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRCS))

deps:
	scripts/setup-deps.sh

check: deps
	$(MAKE) all $(addprefix $(BUILD)/unit/,$(UNIT_TESTS)) \
		$(addprefix $(BUILD)/unit-asan/,$(UNIT_TESTS)) $(addprefix $(BUILD)/fuzz/,$(FUZZERS))
	$(MAKE) check-unit check-fuzz check-integration

check-unit: $(addprefix $(BUILD)/unit/,$(UNIT_TESTS)) $(addprefix $(BUILD)/unit-asan/,$(UNIT_TESTS))
	scripts/run-unit-tests.sh $^

check-fuzz: $(addprefix $(BUILD)/fuzz/,$(FUZZERS))
	scripts/run-fuzzers.sh $^

check-integration: $(BUILD)/minivmm guests
	tests/integration/run.sh $(BUILD)/minivmm $(MINITEST)

check-linux: deps $(BUILD)/minivmm
	tests/integration/linux.sh $(BUILD)/minivmm

demo: deps all
	scripts/demo.sh $(BUILD)/minivmm $(MINITEST)

$(BUILD)/bench-%: scripts/bench-%.c
	$(CC) $(ALL_CFLAGS) -o $@ $<

bench: deps all $(BUILD)/bench-timeline $(BUILD)/bench-monitor
	scripts/bench.sh $(BUILD)/minivmm $(MINITEST) $(BUILD)/bench-timeline $(BUILD)/bench-monitor

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/plain $(BUILD)/asan $(BUILD)/unit $(BUILD)/unit-asan -type f -name '*.d' 2>/dev/null)
