# SPDX-License-Identifier: MIT
#
# Session resumption benchmark (bench/tickets.sh): handshakes per server
# CPU second with and without a session ticket, kstapled beside HAProxy
# and nginx given the same ticket keys. Not part of `make check` (it
# needs root and the peers); about a minute.
#
#   make bench-tickets                    5 s per measurement
#   make bench-tickets BENCH_TICKETS_ARGS=--quick

.PHONY: bench-tickets
bench-tickets: $(KSTAPLED) $(BUILD)/tools/kst-backend $(TEST_PKI)
	$(Q)bench/tickets.sh --build $(BUILD) $(BENCH_TICKETS_ARGS)
