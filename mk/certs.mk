# SPDX-License-Identifier: MIT
#
# Many certificates (issue 13): kst-gen-certs mints N ECDSA leaves with
# keys, chains and staple files in process (bench/certs/gen-certs.c); the
# scale integration test (tests/integration/test_scale.c) and the
# benchmark (bench/certs.sh) use it.

KST_GEN_CERTS := $(BUILD)/tools/kst-gen-certs

$(KST_GEN_CERTS): bench/certs/gen-certs.c
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(KST_CFLAGS) $(KST_LDFLAGS) -o $@ $< \
		$(shell $(PKG_CONFIG) --libs libcrypto 2>/dev/null)

all: $(KST_GEN_CERTS)
$(INTEG_BINS): | $(KST_GEN_CERTS)
