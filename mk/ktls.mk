# SPDX-License-Identifier: MIT
#
# ktls/ stands alone (DESIGN.md's layout; issue 17): it uses libc, OpenSSL
# and libnl, nothing from daemon/, and never logs (results and -errno carry
# the reason; the daemon logs). `make ktls-alone` proves it: no ktls/ file
# (nor a ktls unit test) includes daemon/; every ktls/*.c compiles in a copy
# of the tree that holds only ktls/ (so no daemon/ header can be found);
# and the ktls unit tests link against the ktls objects, the test helper
# tests/lib/testutil.c (libc and OpenSSL only), criterion, OpenSSL and libnl:
# an undefined daemon symbol fails the link. Part of `make check` (about
# 5 s from scratch on the 2-core machine, nothing when up to date).

KTLS_ALONE := $(BUILD)/ktls-alone
KTLS_ALONE_SRCS := $(sort $(wildcard ktls/*.c))
KTLS_ALONE_TESTS := $(sort $(wildcard tests/unit/test_ktls*.c)) \
	tests/unit/test_crypto_info.c tests/unit/test_nic.c \
	tests/unit/test_sockdiag.c
KTLS_ALONE_FILES := $(KTLS_ALONE_SRCS) $(sort $(wildcard ktls/*.h)) \
	$(KTLS_ALONE_TESTS) tests/lib/testutil.c tests/lib/testutil.h
KTLS_ALONE_COPY := $(KTLS_ALONE_FILES:%=$(KTLS_ALONE)/src/%)
KTLS_ALONE_OBJS := $(KTLS_ALONE_SRCS:%.c=$(KTLS_ALONE)/obj/%.o)
KTLS_ALONE_BINS := $(KTLS_ALONE_TESTS:tests/unit/%.c=$(KTLS_ALONE)/%)
ifneq ($(MAKECMDGOALS),deps)
KTLS_ALONE_LIBS := $(shell $(PKG_CONFIG) --libs openssl libnl-3.0 \
	libnl-genl-3.0 2>/dev/null) -lpthread
endif

# Kept between runs, so that an up-to-date check does nothing.
.SECONDARY: $(KTLS_ALONE_COPY) $(KTLS_ALONE_OBJS) \
	$(KTLS_ALONE_TESTS:%.c=$(KTLS_ALONE)/obj/%.o) \
	$(KTLS_ALONE)/obj/tests/lib/testutil.o

.PHONY: ktls-alone
ktls-alone: $(KTLS_ALONE_BINS)
	@echo "  OK      ktls/ builds and links without daemon/"

# The readable failure first; the pruned tree below catches any other path
# (a relative "../daemon/" too).
$(KTLS_ALONE)/includes.ok: $(KTLS_ALONE_FILES)
	@mkdir -p $(@D)
	$(Q)if grep -n '^[[:space:]]*#[[:space:]]*include.*daemon/' $^; then \
		echo "ktls-alone: ktls/ must not include daemon/ (lines above)" >&2; \
		exit 1; \
	fi
	$(Q)touch $@

$(KTLS_ALONE)/src/%: % $(KTLS_ALONE)/includes.ok
	@mkdir -p $(@D)
	$(Q)cp $< $@

# Only the copy is on the include path: not -I. (the repository root,
# daemon/ included) and not -I$(BUILD).
$(KTLS_ALONE)/obj/%.o: $(KTLS_ALONE)/src/%.c $(filter %.h,$(KTLS_ALONE_COPY))
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) -D_GNU_SOURCE -I$(KTLS_ALONE)/src $(KST_CFLAGS) -c $< -o $@

$(KTLS_ALONE)/test_%: $(KTLS_ALONE)/obj/tests/unit/test_%.o \
		$(KTLS_ALONE)/obj/tests/lib/testutil.o $(KTLS_ALONE_OBJS)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(KST_LDFLAGS) -o $@ $^ $(CRIT_LIBS) $(KTLS_ALONE_LIBS)

CHECK_EXTRA += ktls-alone
