# SPDX-License-Identifier: MIT
#
# The allocation-failure sweep (tests/allocfail/): one driver that fails
# the Nth allocation, for every N reached, on configuration load, staple
# ingest, OCSP fetch, reload and the connection path, OpenSSL's
# allocations included, each N in a fresh child checked for crashes,
# leaks (LeakSanitizer), fd leaks and a wrong outcome. It needs the
# ASan+UBSan build, so `make allocfail` builds it under SAN=1 in
# $(BUILD)/san (shared with san-unit). Bounded for CI (tests/allocfail/af.c);
# ALLOCFAIL_FULL=1 fails every site, however long that takes.
#
#   make allocfail                        bounded sweep (part of make check)
#   make allocfail ALLOCFAIL_FULL=1       every site of every scenario
#   make allocfail AF_ARGS="reload conn"  some scenarios only

AF_SRCS := $(sort $(wildcard tests/allocfail/*.c))
AF_OBJS := $(AF_SRCS:%.c=$(BUILD)/%.o)
AF_BIN  := $(BUILD)/tests/allocfail/allocfail
# The project's allocation calls go through the counting allocator (and
# its log lines through a counter of warnings); OpenSSL's are routed there
# by CRYPTO_set_mem_functions at run time.
AF_WRAP := malloc calloc realloc reallocarray aligned_alloc strdup strndup \
	asprintf vasprintf fopen open_memstream nl_socket_alloc nlmsg_alloc \
	kst_log kst_vlog kst_log_ssl
AF_LDFLAGS := $(foreach f,$(AF_WRAP),-Wl,--wrap=$(f))
AF_ARGS ?=

$(AF_BIN): $(AF_OBJS) $(TESTLIB) $(KST_LIB)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(KST_LDFLAGS) $(AF_LDFLAGS) -o $@ $^ $(KST_LIBS)

.PHONY: allocfail allocfail-run
AF_KNOBS := ALLOCFAIL_FULL ALLOCFAIL_OFFSET ALLOCFAIL_FIRST ALLOCFAIL_LAST ALLOCFAIL_MAX_RUNS \
	ALLOCFAIL_BUDGET ALLOCFAIL_N ALLOCFAIL_COLD
allocfail-run: $(AF_BIN) $(TEST_PKI)
	$(Q)$(TEST_ENV) $(foreach v,$(AF_KNOBS),$(if $($(v)),$(v)=$($(v)))) \
		$(AF_BIN) $(AF_ARGS)

ifeq ($(SAN),1)
allocfail: allocfail-run
else
allocfail:
	$(Q)$(MAKE) --no-print-directory SAN=1 BUILD=$(BUILD)/san allocfail-run
endif

CHECK_EXTRA += allocfail
