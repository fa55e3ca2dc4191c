# SPDX-License-Identifier: MIT
# Tests that start the project's tools need them built first.
$(BUILD)/tests/unit/test_tools: | $(TOOLS)
$(INTEG_BINS): | $(TOOLS) $(KSTAPLED)
