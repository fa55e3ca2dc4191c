# SPDX-License-Identifier: MIT
#
# bench/run.sh: turns the raw results (all JSON lines, slurped) into the
# markdown report. Every figure is the median over repetitions, followed by
# its ratio to the best peer of the same row group ("best" = lowest CPU per
# handshake or per byte, highest throughput, lowest RSS per connection).
# For handshakes the best is taken among the peers that sustained the
# offered rate, since a comparison is only valid at the same load.
#
# Usage: jq -rs -f bench/report.jq results.jsonl

def median:
	map(select(. != null)) | sort
	| if length == 0 then null
	  elif length % 2 == 1 then .[(length - 1) / 2]
	  else (.[length / 2 - 1] + .[length / 2]) / 2 end;

# number with d decimals, "-" for null
def r(d): if . == null then "-"
	else ((. * pow(10; d)) | round) / pow(10; d) | tostring end;
def ratio: if . == null then "-" else "\(r(2))x" end;
def row: "| " + join(" | ") + " |";

def hs_tests: ["hs-tls13-ecdsa", "hs-tls13-rsa", "hs-tls12-ecdsa", "hs-tls12-rsa"];
def bulk_tests: ["bulk-down", "bulk-up"];

. as $all
| ($all | map(select(.type == "meta")) | .[0] // {}) as $m
| ($all | map(select(.type == "peer"))) as $peers
| ($all | map(select(.type == "run"))) as $runs
| ($all | map(select(.type == "session_failed"))) as $sfail
| ($all | map(select(.type == "speed") | {(.op): .value}) | add // {}) as $sp
| ($peers | map(select(.available) | .peer)) as $avail

# per (test, peer): the runs, and medians of fields
| def runs($t; $p): $runs | map(select(.test == $t and .peer == $p));
  def med($rs; f): [$rs[] | f] | median;
  def sum($rs; f): [$rs[] | f // 0] | add // 0;

# one handshake row group: stats per peer, then ratios
  def hs_group($t):
	[$avail[] as $p | runs($t; $p) as $rs | select($rs | length > 0)
	 | {peer: $p, n: ($rs | length),
	    offered: $rs[0].offered_rate,
	    achieved: med($rs; .achieved_rate),
	    sustained: ($rs | all(.sustained)),
	    cpu: med($rs; .server_cpu_us_per_hs),
	    user: med($rs; .server_user_us_per_hs),
	    sys: med($rs; .server_sys_us_per_hs),
	    p50: med($rs; .hs_p50_ms), p99: med($rs; .hs_p99_ms),
	    stapled: ([$rs[] | .staple_share // 0] | min),
	    done: sum($rs; .completed), sched: sum($rs; .scheduled),
	    failed: sum($rs; .failed),
	    tickets: med($rs; .tickets_per_conn),
	    sessid: med($rs; .session_id_share),
	    foreign: med($rs; .foreign_cpu_share),
	    cipher: $rs[0].cipher, group: $rs[0].group, sigalg: $rs[0].sigalg}]
	| (map(select(.sustained and .cpu != null)) | map(.cpu) | min) as $b1
	| (map(select(.cpu != null)) | map(.cpu) | min) as $b2
	| ($b1 // $b2) as $best
	| map(. + {ratio: (if .cpu == null or $best == null or $best == 0
			then null else .cpu / $best end)});

  def bulk_group($t):
	[$avail[] as $p | runs($t; $p) as $rs | select($rs | length > 0)
	 | {peer: $p, mbs: med($rs; .mb_per_s),
	    cpugb: med($rs; .server_cpu_s_per_gb),
	    busy: med($rs; .load_side_busy), failed: sum($rs; .failed),
	    foreign: med($rs; .foreign_cpu_share)}]
	| (map(.mbs // empty) | max) as $bm
	| (map(.cpugb // empty) | min) as $bc
	| map(. + {rm: (if .mbs == null or $bm == null then null else .mbs / $bm end),
		   rc: (if .cpugb == null or $bc == null or $bc == 0 then null
			else .cpugb / $bc end)});

  def idle_group:
	[$avail[] as $p | runs("idle"; $p) as $rs | select($rs | length > 0)
	 | {peer: $p, rss: med($rs; .rss_bytes_per_conn),
	    held: med($rs; .completed), conns: $rs[0].conns,
	    backend: med($rs; .backend_conns),
	    closed: sum($rs; .closed_by_server), failed: sum($rs; .failed),
	    foreign: med($rs; .foreign_cpu_share)}]
	| (map(.rss // empty) | min) as $b
	| map(. + {ratio: (if .rss == null or $b == null or $b <= 0 then null
			   else .rss / $b end)});

# the crypto floor of one full handshake of a test, in us of one core:
# 1 signature + 2 X25519 (the server's key generation and derivation)
  def floor_us($t):
	(if ($t | endswith("rsa")) then $sp.rsa2048_sign else $sp.ecdsa_p256_sign end) as $sign
	| if $sign and $sp.x25519_derive then 1e6 * (1 / $sign + 2 / $sp.x25519_derive)
	  else null end;

# handshakes under a bulk transfer next to the same test alone
  def mixed_group:
	[$avail[] as $p | runs("mixed-tls13-ecdsa"; $p) as $rs | select($rs | length > 0)
	 | runs("hs-tls13-ecdsa"; $p) as $alone
	 | {peer: $p, p99: med($rs; .hs_p99_ms), p50: med($rs; .hs_p50_ms),
	    alone: med($alone; .hs_p99_ms), sustained: ($rs | all(.sustained)),
	    done: sum($rs; .completed), sched: sum($rs; .scheduled),
	    failed: sum($rs; .failed), foreign: med($rs; .foreign_cpu_share)}
	 | . + {delta: (if .p99 == null or .alone == null then null else .p99 - .alone end)}]
	| (map(.delta // empty) | min) as $bd
	| (map(.p99 // empty) | min) as $bp
	| map(. + {rdelta: (if .delta == null or $bd == null then null else .delta - $bd end),
		   rp99: (if .p99 == null or $bp == null or $bp == 0 then null else .p99 / $bp end)});

# kstapled's figure over the best other peer's (targets for the lead;
# kstapled-alt, the same daemon in another build, is no other peer)
  def vs_others($rows; f; best):
	($rows | map(select(.peer == "kstapled")) | .[0] | f) as $k
	| ($rows | map(select(.peer | startswith("kstapled") | not) | f // empty) | best) as $o
	| if $k == null or $o == null or $o == 0 then null else $k / $o end;

  def pct: if . == null then "-" else "\(. * 100 | r(1))%" end;
  def size: if . == null then "-"
	elif . >= 1073741824 then "\(. / 1073741824 | r(2)) GiB"
	else "\(. / 1048576 | r(2)) MiB" end;
  ([$runs[] | select(.mode == "bulk") | .bytes // empty | select(. > 0)] | max) as $bulkbytes
  |
  # the figures are medians: so is the other load they were taken under
  ([$runs | map(select(.test | startswith("probe") | not))
	| group_by(.peer + " " + .test)[]
	| {key: "\(.[0].peer) \(.[0].test)",
	   v: ([.[] | .foreign_cpu_share] | median // 0)}]
   | map(select(.v > 0.10))) as $disturbed

# ---------------------------------------------------------------- output
  | "# kstapled side-by-side benchmark",
  "",
  (if ($disturbed | length) > 0 then
	"> **Warning: other processes used more than 10% of the machine's CPU (median over the repetitions) during: \($disturbed | map("\(.key) (\(.v | pct))") | join(", "))**. Those rows' figures, latencies above all, are disturbed; rerun on an idle machine (`--wait-idle`, more `--reps`).",
	""
   else empty end),
  "- command: `\($m.command)`" + (if $m.quick == "1" then " (quick smoke: tiny counts, not a measurement)" else "" end),
  "- date: \($m.date); kernel \($m.kernel); CPU: \($m.cpu); nproc \($m.nproc)",
  "- \($m.openssl); " + ($peers | map("\(.peer): \(if .available then .version else "not available (\(.reason))" end)") | join("; ")),
  "- pinning: \($m.pinning); \($m.workers) workers per server; RLIMIT_NOFILE \($m.nofile); CPU busy before the run: \($m.busy_at_start)%",
  "- repetitions: \($m.reps), peers interleaved; each figure is the median; ratios are to the best peer",
  "- TLS: client offers one suite (TLS_AES_128_GCM_SHA256 / ECDHE-*-AES128-GCM-SHA256), key share X25519, the signature algorithm of the key type under test, status_request; servers: same cipher lists, groups \($m.groups), \($m.tickets) TLS 1.3 tickets, no session cache",
  "",
  "## Machine ceiling (openssl speed, one core)",
  "",
  (["operation", "per second"] | row),
  (["---", "---:"] | row),
  (["ECDSA P-256 sign", ($sp.ecdsa_p256_sign | r(0))] | row),
  (["RSA-2048 sign", ($sp.rsa2048_sign | r(0))] | row),
  (["X25519 derive", ($sp.x25519_derive | r(0))] | row),
  (if $sp.ecdsa_p256_sign and $sp.x25519_derive then
	(1 / (1 / $sp.ecdsa_p256_sign + 2 / $sp.x25519_derive)) as $c
	| ["full handshakes, ECDSA (1 sign + 2 X25519)", "\($c | r(0)) (offered \($m.rate_ecdsa)/s = \(($m.rate_ecdsa | tonumber) / $c * 100 | r(1))% of it)"] | row
   else empty end),
  (if $sp.rsa2048_sign and $sp.x25519_derive then
	(1 / (1 / $sp.rsa2048_sign + 2 / $sp.x25519_derive)) as $c
	| ["full handshakes, RSA (1 sign + 2 X25519)", "\($c | r(0)) (offered \($m.rate_rsa)/s = \(($m.rate_rsa | tonumber) / $c * 100 | r(1))% of it)"] | row
   else empty end),
  (["AES-128-GCM, 16 KiB blocks (MB/s)", ($sp["aes-128-gcm"] | if . then . / 1e6 else null end | r(0))] | row),
  (["AES-256-GCM, 16 KiB blocks (MB/s)", ($sp["aes-256-gcm"] | if . then . / 1e6 else null end | r(0))] | row),
  (["ChaCha20-Poly1305, 16 KiB blocks (MB/s)", ($sp["chacha20-poly1305"] | if . then . / 1e6 else null end | r(0))] | row),
  "",
  "## Full handshakes at a fixed offered rate",
  "",
  "Each connection: TCP connect, full handshake, `GET /` through the peer to the backend, close. CPU = utime+stime of all the server's processes per completed handshake; latency from the scheduled start (open loop). \"sustained\" = all connections done at >= 95% of the offered rate: only then are the CPU figures comparable.",
  "",
  (["test", "peer", "offered/s", "achieved/s", "sustained", "server CPU us/hs", "vs best", "hs p50 ms", "hs p99 ms", "stapled", "done/sched (failed)", "tickets/conn", "session IDs", "cipher, group, signature", "other load"] | row),
  (["---", "---", "---:", "---:", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---", "---:"] | row),
  (hs_tests[] as $t | hs_group($t)[]
	| [$t, .peer, (.offered | r(0)), (.achieved | r(0)),
	   (if .sustained then "yes" else "**NO**" end), (.cpu | r(0)),
	   (.ratio | ratio), (.p50 | r(2)), (.p99 | r(2)),
	   "\(.stapled * 100 | r(1))%", "\(.done)/\(.sched) (\(.failed))",
	   (.tickets | r(2)), (.sessid | r(2)), "\(.cipher), \(.group), \(.sigalg)",
	   (.foreign | pct)] | row),
  "",
  (if ([hs_tests[] as $t | hs_group($t)[] | .user // empty] | length) > 0 then
	"## Where a handshake's CPU goes: user vs system time, and the crypto floor",
	"",
	"Server CPU per completed handshake split into user time (OpenSSL, the C library, the server's own code) and system time (the kernel: TCP, epoll, the system calls), from utime and stime (tick-based: a few percent of noise at these counts). Floor = the crypto alone on this core (`openssl speed`): 1 signature + 2 X25519 operations; \"x floor\" = total / floor.",
	"",
	(["test", "peer", "user us/hs", "sys us/hs", "total us/hs", "vs best", "sys share", "floor us/hs", "x floor"] | row),
	(["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"] | row),
	(hs_tests[] as $t | floor_us($t) as $f | hs_group($t)[]
	 | [$t, .peer, (.user | r(0)), (.sys | r(0)), (.cpu | r(0)), (.ratio | ratio),
	    (if .sys == null or .cpu == null or .cpu == 0 then null else .sys / .cpu end | pct),
	    ($f | r(0)), (if $f == null or .cpu == null then "-" else (.cpu / $f | ratio) end)] | row),
	""
   else empty end),
  (if (mixed_group | length) > 0 then
	"## Handshakes while a bulk transfer runs (TLS 1.3, ECDSA)",
	"",
	"The fixed-rate handshake test again, while one connection downloads through the same server (`GET /bytes/N`, the client at a lower priority on the load CPU). \"increase\" = p99 under the transfer minus p99 of the same test alone (the table above); \"vs best\" = that increase minus the smallest peer's.",
	"",
	(["peer", "hs p50 ms", "hs p99 ms", "vs best", "p99 alone ms", "increase ms", "vs best", "sustained", "done/sched (failed)", "other load"] | row),
	(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---", "---:", "---:"] | row),
	(mixed_group[] | [.peer, (.p50 | r(2)), (.p99 | r(2)), (.rp99 | ratio), (.alone | r(2)),
	    (.delta | r(2)), (if .rdelta == null then "-" else "+\(.rdelta | r(2))" end),
	    (if .sustained then "yes" else "**NO**" end),
	    "\(.done)/\(.sched) (\(.failed))", (.foreign | pct)] | row),
	""
   else empty end),
  "## Bulk throughput, one connection (TLS 1.3, ECDSA, AES-128-GCM, \($bulkbytes | size))",
  "",
  "down = backend -> client (`GET /bytes/N`), up = client -> backend (`POST`, the backend hashes it). \"load side busy\" = CPU of load client + backend over the transfer time; they share one core, so near 1.0 the load side, not the server, was the limit: such a row's MB/s (marked >=) is only a lower bound of the server's, its CPU per byte still holds.",
  "",
  (["direction", "peer", "MB/s", "vs best", "server CPU s/GB", "vs best", "load side busy", "failed", "other load"] | row),
  (["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"] | row),
  (bulk_tests[] as $t | bulk_group($t)[]
	| ((.busy // 0) >= 0.9) as $bound
	| [($t | ltrimstr("bulk-")), .peer,
	   ((if $bound then ">= " else "" end) + (.mbs | r(0))), (.rm | ratio),
	   (.cpugb | r(3)), (.rc | ratio),
	   ((.busy | r(2)) + (if $bound then " (load-bound)" else "" end)),
	   (.failed | tostring), (.foreign | pct)] | row),
  "",
  "## Server memory per idle connection (\($m.idle_conns) TLS 1.3 connections, handshake done, then idle)",
  "",
  "Growth of the sum of VmRSS of all the server's processes, divided by the connections held. \"backend conns\" = the server's established connections to the backend while the clients were idle.",
  "",
  (["peer", "RSS bytes/conn", "vs best", "held", "backend conns", "closed by server", "failed", "other load"] | row),
  (["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"] | row),
  (idle_group[] | [.peer, (.rss | r(0)), (.ratio | ratio), "\(.held | r(0))/\(.conns)",
	(.backend | r(0)), (.closed | tostring), (.failed | tostring),
	(.foreign | pct)] | row),
  "",
  (if ($avail | index("kstapled")) then
	"## kstapled against its targets (ratio to the best other peer)",
	"",
	(["figure", "kstapled / best other", "target", "met"] | row),
	(["---", "---:", "---", "---"] | row),
	(hs_tests[] as $t | vs_others(hs_group($t); .cpu; min) as $v
	 | ["CPU per handshake, \($t)", ($v | ratio), "<= 0.8x", (if $v == null then "-" elif $v <= 0.8 then "yes" else "no" end)] | row),
	(["hs-tls13-ecdsa", "hs-tls12-ecdsa"][] as $t | vs_others(hs_group($t); .p99; min) as $v
	 | ["p99 handshake latency, \($t)", ($v | ratio), "<= 1x", (if $v == null then "-" elif $v <= 1 then "yes" else "no" end)] | row),
	(mixed_group as $g
	 | ($g | map(select(.peer == "kstapled")) | .[0].delta) as $k
	 | ($g | map(select(.peer | startswith("kstapled") | not) | .delta // empty) | min) as $o
	 | if $k == null or $o == null then empty else
	   ["p99 increase under a bulk transfer (ms), kstapled - best other", (($k - $o) | r(2)), "<= 0", (if $k - $o <= 0 then "yes" else "no" end)] | row end),
	(bulk_tests[] as $t | vs_others(bulk_group($t); .mbs; max) as $v
	 | ["throughput, \($t)", ($v | ratio), ">= 1.1x", (if $v == null then "-" elif $v >= 1.1 then "yes" else "no" end)] | row),
	(idle_group as $g
	 | ($g | map(select(.peer == "kstapled")) | .[0].rss) as $k
	 | ($g | map(select(.peer == "hitch" or .peer == "haproxy") | .rss // empty) | min) as $o
	 | (if $k == null or $o == null or $o <= 0 then null else $k / $o end) as $v
	 | ["RSS per idle connection vs hitch/HAProxy", ($v | ratio), "<= 0.5x", (if $v == null then "-" elif $v <= 0.5 then "yes" else "no" end)] | row),
	""
   else empty end),
  "## How each peer was set up",
  "",
  "- hitch: one frontend (port) per key type, each with its certificate and `ocsp-resp-file` (hitch cannot hold an ECDSA and an RSA certificate for one name); `ocsp-dir = \"\"` (no fetching); TLS 1.3 tickets only through OPENSSL_CONF `NumTickets` (no hitch setting); hitch keeps OpenSSL's internal session cache, hence TLS 1.2 session IDs (no setting either).",
  "- HAProxy: mode tcp, `nbthread`, one bind with both certificates (chosen by the client's signature algorithms), staples from `<crt>.ocsp`; `tune.ssl.cachesize 0`, `no-tls-tickets`, TLS 1.3 tickets through OPENSSL_CONF.",
  "- nginx: HTTP reverse proxy (its stream module cannot staple before 1.27.2), proxy buffering off both ways; one server block (port) per key type, since `ssl_stapling_file` applies to every certificate of a block; `ssl_session_cache off`, `ssl_session_tickets off`, `ssl_conf_command NumTickets`.",
  "- kstapled: one listener with both certificates, staples from `<pem>.ocsp`, `fetch = off`, `ktls = auto` (without kTLS in the kernel the relay runs in userspace), the same `ciphers`, `ciphersuites`, `groups`, and `session-tickets = 0`.",
  "- all: OPENSSL_CONF with the same MinProtocol, cipher lists, groups and NumTickets; the tickets/conn and session-ID columns are what the client actually received.",
  (if ($sfail | length) > 0 then
	"",
	"## Sessions that failed",
	"",
	($sfail[] | "- \(.peer) rep \(.rep): \(.log | gsub("\n"; " "))")
   else empty end)
