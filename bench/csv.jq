# SPDX-License-Identifier: MIT
#
# bench/run.sh: the raw results (JSON lines) as CSV, one row per kst-load
# run, for spreadsheets. Usage: jq -rn -f bench/csv.jq results.jsonl
def cols: ["peer", "rep", "test", "mode", "tls", "key", "version", "cipher",
	"group", "scheduled", "completed", "failed", "stapled",
	"staple_mismatch", "staple_share", "tickets_per_conn",
	"session_id_share", "offered_rate", "achieved_rate", "sustained",
	"hs_p50_ms", "hs_p90_ms", "hs_p99_ms", "hs_max_ms", "req_p99_ms",
	"start_lag_p99_ms", "server_cpu_s", "server_procs",
	"server_cpu_us_per_hs", "client_cpu_us_per_hs", "bytes", "data_s",
	"mb_per_s", "server_ns_per_byte", "server_cpu_s_per_gb",
	"load_side_busy", "conns", "rss_kb_before", "rss_kb_after",
	"rss_bytes_per_conn", "backend_conns", "closed_by_server",
	"first_error"];

(cols | @csv),
(inputs | select(.type == "run") | . as $r | [cols[] | $r[.]] | @csv)
