# SPDX-License-Identifier: MIT
# Tests start the project's tools and the daemon: build them first.
$(UNIT_BINS) $(INTEG_BINS): | $(TOOLS) $(KSTAPLED)
