# SPDX-License-Identifier: MIT
#
# Benchmark (bench/): the load generator $(BUILD)/bench/kst-load and the
# side-by-side run of kstapled, hitch, HAProxy and nginx (bench/run.sh,
# method in bench/README.md).
#
#   make bench         full run (about 10-15 minutes), writes bench/results/
#   make bench-quick   seconds-long smoke of the whole pipeline, tiny counts,
#                      results in $(BUILD)/bench/quick/ (CI may run it)
#   BENCH_ARGS=...     extra bench/run.sh options (--peers, --measure, ...)
#
# kst-load depends on OpenSSL only (not on libkst.a), so the harness builds
# while the daemon is being written. kstapled is built if it can be; when
# it cannot, or `kstapled -t` refuses the generated config, the run marks
# it "not available" and benchmarks the three peers.

BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCH_OBJS := $(BENCH_SRCS:%.c=$(BUILD)/%.o)
KST_LOAD   := $(BUILD)/bench/kst-load
BENCH_LIBS := $(shell $(PKG_CONFIG) --libs openssl 2>/dev/null) -lm
BENCH_BACKEND := $(BUILD)/tools/kst-backend
BENCH_RUN  := bench/run.sh --build $(BUILD)

# Own rule: bench objects need no generated (BPF) headers.
$(BUILD)/bench/%.o: bench/%.c
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $<")
	$(Q)$(CC) $(KST_CPPFLAGS) $(KST_CFLAGS) -c $< -o $@

$(KST_LOAD): $(BENCH_OBJS)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(KST_LDFLAGS) -o $@ $^ $(BENCH_LIBS)

.PHONY: bench bench-quick bench-kstapled

# kstapled is optional for the benchmark: a failed build is reported, not
# fatal.
bench-kstapled:
	$(Q)$(MAKE) --no-print-directory $(KSTAPLED) >/dev/null 2>&1 || \
		echo "bench: $(KSTAPLED) did not build; running without it"

bench: $(KST_LOAD) $(BENCH_BACKEND) $(TEST_PKI) bench-kstapled
	$(Q)$(BENCH_RUN) $(BENCH_ARGS)

bench-quick: $(KST_LOAD) $(BENCH_BACKEND) $(TEST_PKI) bench-kstapled
	$(Q)$(BENCH_RUN) --quick --out $(BUILD)/bench/quick $(BENCH_ARGS)

# The load generator's own tests (bench/tests/test_*.c, criterion): the
# real kst-load against `openssl s_server` on loopback; no peers needed,
# so `make check` runs them and the harness cannot rot unnoticed.
BENCH_TEST_SRCS := $(sort $(wildcard bench/tests/test_*.c))
BENCH_TESTS     := $(BENCH_TEST_SRCS:bench/tests/%.c=$(BUILD)/bench/tests/%)

.SECONDARY: $(BENCH_TESTS:%=%.o)
$(BUILD)/bench/tests/%: $(BUILD)/bench/tests/%.o $(TESTLIB) $(KST_LIB)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(KST_LDFLAGS) -o $@ $^ $(CRIT_LIBS) $(KST_LIBS)

.PHONY: bench-test
bench-test: $(BENCH_TESTS) $(KST_LOAD) $(TEST_PKI)
	$(Q)$(TEST_ENV) tests/run.sh bench $(BENCH_TESTS)

CHECK_EXTRA += bench-test

# The kTLS benchmark inside a QEMU guest booted from Debian's kernel
# (bench/vm/; method in bench/README.md, "kTLS in a QEMU guest"): this
# machine's kernel may have no kTLS, the guest's has. kstapled with kTLS +
# splice, kstapled's userspace path, HAProxy and nginx; bulk throughput,
# CPU per GB and memory per idle connection, with kTLS verified.
#   make bench-vm        full run (about 15 minutes under TCG), writes
#                        bench/results/vm-latest.md and vm-latest.jsonl
#   make bench-vm-quick  smoke of the whole pipeline (about 2.5 minutes),
#                        results in $(BUILD)/bench/vm-quick/
#   BENCH_VM_ARGS=...    extra bench/vm/run.sh options (--reps, --peers,
#                        --bulk-bytes, --wait-idle, ...)
# When the VM cannot run here (no QEMU, no kernel), it says why and
# succeeds, like `make hwtest`.
BENCH_VM_DEPS := $(KSTAPLED) $(KST_LOAD) $(BENCH_BACKEND) $(TEST_PKI)
BENCH_VM_RUN  := rc=0; bench/vm/run.sh --build $(BUILD)

.PHONY: bench-vm bench-vm-quick
bench-vm: $(BENCH_VM_DEPS)
	$(Q)$(BENCH_VM_RUN) $(BENCH_VM_ARGS) || rc=$$?; \
		[ $$rc = 77 ] && echo "bench-vm: SKIPPED" && rc=0; exit $$rc

bench-vm-quick: $(BENCH_VM_DEPS)
	$(Q)$(BENCH_VM_RUN) --quick $(BENCH_VM_ARGS) || rc=$$?; \
		[ $$rc = 77 ] && echo "bench-vm-quick: SKIPPED" && rc=0; exit $$rc
