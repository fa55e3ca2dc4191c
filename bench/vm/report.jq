# SPDX-License-Identifier: MIT
#
# bench/vm/run.sh: the guest's records (and the host's) to the markdown
# report. Every figure is the median over repetitions. Bulk figures are
# compared with kstapled's own userspace path (kstapled-user), the
# reference of the kTLS target; idle memory with kTLS kstapled, and its
# target with the best of the other products (HAProxy, nginx).
#
# Usage: jq -rs -f bench/vm/report.jq records.jsonl

def median:
	map(select(. != null)) | sort
	| if length == 0 then null
	  elif length % 2 == 1 then .[(length - 1) / 2]
	  else (.[length / 2 - 1] + .[length / 2]) / 2 end;

# number with d decimals, "-" for null
def r(d): if . == null then "-"
	else ((. * pow(10; d)) | round) / pow(10; d) | tostring end;
def ratio: if . == null then "-" else "\(r(2))x" end;
def div($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;
def row: "| " + join(" | ") + " |";
def pct: if . == null then "-" else "\(. * 100 | r(1))%" end;

. as $all
| ($all | map(select(.type == "meta")) | .[0] // {}) as $m
| ($all | map(select(.type == "host")) | .[0] // {}) as $h
| ($all | map(select(.type == "speed")) | .[0] // {}) as $sp
| ($all | map(select(.type == "peer"))) as $peers
| ($all | map(select(.type == "run"))) as $runs
| ($all | map(select(.type == "session"))) as $sessions
| ($all | map(select(.type == "host_sample")) | sort_by(.t)) as $samples
| ($peers | map(select(.available) | .peer)) as $avail
| ($m.parallel // "8") as $par
| ["bulk-down-1", "bulk-up-1", "bulk-down-\($par)", "bulk-up-\($par)"] as $bulk_tests
| ($m.nproc // "2" | tonumber) as $ncpu

| def runs($t; $p): $runs | map(select(.test == $t and .peer == $p));
  def med($rs; f): [$rs[] | f] | median;
  def sum($rs; f): [$rs[] | f // 0] | add // 0;
  def unattributed: div((.foreign_cpu_share // 0) * (.wall_s // 0) * $ncpu;
			(.bytes // 0) / 1e9);

  def bulk_group($t):
	[$avail[] as $p | runs($t; $p) as $rs | select($rs | length > 0)
	 | {peer: $p, n: ($rs | length), mbs: med($rs; .mb_per_s),
	    cpugb: med($rs; .server_cpu_s_per_gb),
	    busy: med($rs; .load_side_busy), overlap: med($rs; .overlap),
	    unattr: (if ($rs[0].conns // 1) > 1 then null
		     else med($rs; unattributed) end),
	    failed: sum($rs; .failed), conns: ($rs[0].conns // 1)}]
	| (map(select(.peer == "kstapled-user")) | .[0]) as $u
	| map(. + {gbcpu: div(1; .cpugb),
		   rcpu: div($u.cpugb; .cpugb),
		   rmbs: div(.mbs; $u.mbs)});

  def idle_group:
	[$avail[] as $p | runs("idle"; $p) as $rs | select($rs | length > 0)
	 | {peer: $p, rss: med($rs; .rss_bytes_per_conn),
	    slab: med($rs; .slab_bytes_per_conn),
	    held: med($rs; .completed), conns: $rs[0].conns,
	    backend: med($rs; .backend_conns),
	    closed: sum($rs; .closed_by_server), failed: sum($rs; .failed)}]
	| (map(select(.peer == "kstapled-ktls")) | .[0].rss) as $k
	| map(. + {rk: div(.rss; $k)});

  def session_group:
	[$avail[] as $p | ($sessions | map(select(.peer == $p))) as $ss
	 | select($ss | length > 0)
	 | ($runs | map(select(.peer == $p))) as $rs
	 | {peer: $p, n: ($ss | length), ok: ($ss | all(.ok)),
	    conns: sum($rs; .completed),
	    tx: sum($ss; .tls_stat_delta.TlsTxSw),
	    rx: sum($ss; .tls_stat_delta.TlsRxSw),
	    derr: sum($ss; .tls_stat_delta.TlsDecryptError),
	    has_tls_stat: ($ss | all(.tls_stat_delta | has("TlsTxSw"))),
	    kst: (if $p | startswith("kstapled") then
		{tx: sum($ss; .kstapled_status.conns_ktls_tx),
		 rx: sum($ss; .kstapled_status.conns_ktls_rx),
		 user: sum($ss; .kstapled_status.conns_userspace),
		 hs: sum($ss; .kstapled_status.handshakes),
		 bk: sum($ss; .kstapled_status.bytes_ktls),
		 bu: sum($ss; .kstapled_status.bytes_userspace),
		 ku: sum($ss; .kstapled_status.keyupdate_closes)}
		else null end)}];

# share of the host's CPUs used by other processes than this run's,
# between two times (host samples every 2 s; null without two samples)
  def host_other($t0; $t1):
	($samples | map(select(.t >= $t0 and .t <= $t1))) as $w
	| if ($w | length) < 2 then null
	  else ($w[-1].t - $w[0].t) as $dt
	  | ((($w[-1].busy - $w[0].busy) - ($w[-1].ours - $w[0].ours))
	     / ($dt * 100 * ($h.nproc // "1" | tonumber))) as $o
	  | if $dt <= 0 then null elif $o < 0 then 0 else $o end end;
  ($sessions | map(. + {host_other: host_other(.t_start // 0; .t_end // 0)}))
	as $sessions

| def verdict:
	if .has_tls_stat | not then "no kTLS in this kernel"
	elif .kst != null and .kst.hs > 0 and .kst.tx == .kst.hs
	     and .kst.rx == .kst.hs then
		"every connection kTLS TX and RX (status: \(.kst.tx)/\(.kst.hs))"
	elif .kst != null and .kst.tx == 0 and .kst.rx == 0 then
		"every connection in userspace (status: \(.kst.user)/\(.kst.hs))"
	elif .kst != null then
		"MIXED: \(.kst.tx) TX, \(.kst.rx) RX, \(.kst.user) userspace of \(.kst.hs)"
	elif .tx == 0 and .rx == 0 then "no kTLS"
	elif .rx == 0 then "kTLS TX only (\(.tx) sockets), RX in userspace"
	else "kTLS TX \(.tx), RX \(.rx) sockets" end;


# ------------------------------------------------------------ header
  [$bulk_tests[] as $t | bulk_group($t)[] | . + {test: $t}] as $bulk
| idle_group as $idle
| session_group as $sess
| (($h.host_other_share // 0) > 0.1) as $host_busy
| ($bulk | map(select(.peer == "kstapled-ktls"))) as $kb
| ($idle | map(select(.peer | startswith("kstapled") | not))
	 | map(select(.rss != null)) | min_by(.rss)) as $best
| ($idle | map(select(.peer == "kstapled-ktls")) | .[0]) as $ki
| div($best.rss; $ki.rss) as $memr

| "# kstapled with kernel TLS: bulk throughput and idle memory in a QEMU guest",
  "",
  (if $host_busy then
	"> **Warning: other processes on the host used \($h.host_other_share | pct) of its CPUs during the run.** Under TCG the guest's CPU time is host time: its CPU figures are inflated where the vCPU threads waited. Rerun on an idle host (`--wait-idle`).\n"
   else empty end),
  (($sessions | map(select((.host_other // 0) > 0.1))) as $busy_s
   | if ($busy_s | length) > 0 then
	"> **Warning: other processes used more than 10% of the host's CPUs during:** \($busy_s | map("\(.peer) rep \(.rep) (\(.host_other | pct))") | join(", ")). Under TCG the guest's CPU time includes the time its vCPU threads waited for the host: those sessions' CPU figures are inflated, their MB/s lowered.\n"
   else empty end),
  (if ($sessions | any(.ok | not)) then
	"> **Warning: some sessions failed:** \($sessions | map(select(.ok | not) | "\(.peer) rep \(.rep)") | join(", ")). Their figures are missing or partial.\n"
   else empty end),
  "- command: `\($h.command // "?")` (in the guest: `\($m.command // "?")`); \($m.date // "?"); whole run \(($h.secs // 0) / 60 | r(1)) min",
  "- host: kernel \($h.kernel // "?"), \($h.cpu // "?"), nproc \($h.nproc // "?"); \($h.qemu // "QEMU") with **\($h.accel // "?")**; guest memory \($h.guest_mem_mb // "?") MB; other load on the host during the run: \($h.host_other_share | pct)",
  "- guest: kernel \($m.kernel // "?") (kernel TLS: \($m.kernel_tls // "?"), gcm(aes) driver: \($m.kernel_gcm_aes // "?")), \($m.nproc // "?") vCPUs (\($m.cpu // "?")); \($m.openssl // "?")",
  "- peers: " + ($peers | map("\(.peer): " + (if .available then .version else "not available (\(.reason))" end)) | join("; ")),
  "- kTLS as each peer offers it: kstapled-ktls `ktls = auto` (TX and RX, splice); kstapled-user `ktls = off` (its userspace relay); HAProxy 2.6 has no kTLS; nginx `ssl_conf_command Options KTLS` + `sendfile on` (OpenSSL installs kTLS TX on each connection, TLS 1.3 RX never in OpenSSL 3.0; proxied data goes through SSL_write)",
  "- pinning: load client + backend on vCPU \($m.client_cpu // "?"), server under test on vCPU \($m.server_cpu // "?"); \($m.workers // "?") workers per server; TLS 1.3, ECDSA P-256, TLS_AES_128_GCM_SHA256, no tickets",
  "- repetitions: \($m.reps // "?"), peers interleaved; each figure is the median",
  "- crypto ceiling on a guest vCPU (`openssl speed -evp aes-128-gcm`, 16 KiB): \($sp.aes_128_gcm_mb_s | r(1)) MB/s",
  "",
  "## Targets",
  "",
  (["target", "measured", "met"] | row),
  (["---", "---", "---"] | row),
  ([ "kTLS + splice: throughput per server CPU >= 1.3x kstapled's userspace path",
     ($kb | map("\(.test | sub("^bulk-"; "")): \(.rcpu | ratio)") | join(", ")),
     (if ($kb | length) == 0 or ($kb | any(.rcpu == null)) then "-"
      elif ($kb | all(.rcpu >= 1.3)) then "yes"
      elif ($kb | any(.rcpu >= 1.3)) then "partly"
      else "no" end) ] | row),
  ([ "userspace memory per idle connection: >= 4x less than the best peer",
     (if $ki == null or $best == null then "-" else
	"kstapled-ktls \($ki.rss | r(0)) B, best peer \($best.peer) \($best.rss | r(0)) B: \($memr | ratio) less" end),
     (if $memr == null then "-" elif $memr >= 4 then "yes" else "no" end) ] | row),
  "",
  "## Bulk throughput",
  "",
  "TLS 1.3 ECDSA AES-128-GCM through the peer to `kst-backend`: down = `GET /bytes/N`, up = `POST` of N bytes; -1 = one connection moving \($m.bulk // "?"), -\($par) = \($par) connections at once (\($par) kst-load processes) moving \($m.bulk // "?") together. MB/s over the data phase; server CPU = utime+stime of all the server's processes (the handshakes included), per 10^9 bytes; \"per CPU\" = GB moved per server CPU second, and its ratio to kstapled's userspace path. \"load side busy\" = CPU of client + backend (one vCPU) over the run: near 1.0 the load side, not the server, set the MB/s (marked >=). \"unattributed\" (one-connection runs) = guest CPU used by none of server, client and backend (kernel threads: work kTLS might defer to a workqueue would show here), per GB. \"overlap\" = mean connections in flight.",
  "",
  (["test", "peer", "MB/s", "vs user", "server CPU s/GB", "GB per CPU s", "per CPU vs user", "load side busy", "overlap", "unattributed s/GB", "failed"] | row),
  (["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"] | row),
  ($bulk[] | [.test, .peer,
	((if (.busy // 0) >= 0.9 then ">=" else "" end) + (.mbs | r(1))),
	(.rmbs | ratio), (.cpugb | r(2)), (.gbcpu | r(4)), (.rcpu | ratio),
	(.busy | r(2)), (if .conns > 1 then .overlap | r(1) else "-" end),
	(.unattr | r(2)), (.failed | tostring)] | row),
  "",
  "## Idle connections: memory",
  "",
  "\($m.idle_conns // "?") TLS 1.3 ECDSA connections opened (50 handshaking at once), handshakes done, then held idle. RSS = growth of the summed VmRSS of all the server's processes, per connection held; slab = growth of the guest kernel's Slab (/proc/meminfo, both ends of every socket and the backend's included) per connection: kernel memory that RSS does not show (kTLS contexts, sockets). Backend conns = the server's connections to the backend while the clients idle.",
  "",
  (["peer", "held", "RSS B/conn", "vs kstapled-ktls", "guest slab B/conn", "RSS + slab B/conn", "backend conns", "failed"] | row),
  (["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"] | row),
  ($idle[] | [.peer, "\(.held | r(0))/\(.conns)", (.rss | r(0)), (.rk | ratio),
	(.slab | r(0)), (if .rss == null or .slab == null then null else .rss + .slab end | r(0)),
	(.backend | r(0)), (.failed | tostring)] | row),
  "",
  "## Which connections ran in the kernel",
  "",
  "Summed over all sessions of a peer. client conns = connections kst-load completed (probes, idle, bulk). tls_stat = deltas of /proc/net/tls_stat around each session (sockets that got kTLS TX / RX; kstapled's start-up probe adds one TX per session, with `ktls = off` too). kstapled's own account from `kstapled status --json` (its pinned map): connections with kTLS TX, RX, or in userspace, of its handshakes.",
  "",
  (["peer", "sessions", "client conns", "TlsTxSw", "TlsRxSw", "TlsDecryptError", "kstapled ktls tx / rx / userspace", "bytes ktls / userspace", "verdict"] | row),
  (["---", "---:", "---:", "---:", "---:", "---:", "---", "---", "---"] | row),
  ($sess[] | [.peer, (.n | tostring), (.conns | tostring), (.tx | tostring),
	(.rx | tostring), (.derr | tostring),
	(if .kst == null then "-" else "\(.kst.tx) / \(.kst.rx) / \(.kst.user) of \(.kst.hs)" end),
	(if .kst == null then "-" else "\(.kst.bk) / \(.kst.bu)" end),
	verdict] | row),
  "",
  "## Sessions",
  "",
  "Each cell: the session's length in the guest, and the share of the host's CPUs that processes other than this run used meanwhile (from host samples every 2 s; above 10% the session's figures are disturbed).",
  "",
  (["rep"] + $avail | row),
  (["---:"] + ($avail | map("---")) | row),
  ([$sessions[].rep] | unique[] as $rep
   | [($rep | tostring)] + [$avail[] as $p
	| ($sessions | map(select(.peer == $p and .rep == $rep)) | .[0])
	| if . == null then "-"
	  else "\(.secs | r(0)) s, host \(.host_other | pct)"
	       + (if .ok then "" else ", FAILED" end) end]
   | row)
