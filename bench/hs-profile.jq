# SPDX-License-Identifier: MIT
#
# bench/hs-profile.sh: its records (slurped) to the markdown report. Per
# test, each peer's userspace instructions per handshake (callgrind) split
# by object, and its system calls per handshake (strace), each as a ratio
# to the lowest peer.
#
# Usage: jq -rs -f bench/hs-profile.jq hs-profile.jsonl

def r(d): if . == null then "-"
	else ((. * pow(10; d)) | round) / pow(10; d) | tostring end;
def ratio: if . == null then "-" else "\(r(3))x" end;
def row: "| " + join(" | ") + " |";
def k: if . == null then "-" else "\(. / 1000 | r(1))k" end;

. as $all
| ($all | map(select(.type == "meta")) | .[0] // {}) as $m
| ($all | map(select(.type == "peer" and .available) | .peer)) as $peers
| ($all | map(select(.type == "callgrind" and .hs > 0))) as $cg
| ($all | map(select(.type == "syscalls" and .hs > 0))) as $sc
| ([$cg[], $sc[] | .test] | unique) as $tests
| def cg_rows($t):
	[$cg[] | select(.test == $t)
	 | .ir_by_object as $o | .hs as $n
	 | {peer, hs: $n, failed,
	    total: (([$o[]] | add) / $n),
	    crypto: (($o["libcrypto.so.3"] // 0) / $n),
	    ssl: (($o["libssl.so.3"] // 0) / $n),
	    libc: (($o["libc.so.6"] // 0) / $n),
	    own: (([$o | to_entries[] | select(.key | test("^(kstapled|nginx|haproxy|hitch)$")) | .value] | add // 0) / $n)}
	 | . + {other: (.total - .crypto - .ssl - .libc - .own)}]
	| (map(.total) | min) as $b
	| map(. + {ratio: (if $b > 0 then .total / $b else null end)});
  def sc_rows($t):
	[$sc[] | select(.test == $t)
	 | .hs as $n
	 | {peer, hs: $n,
	    total: (([.by_name[] | .calls] | add // 0) / $n),
	    # epoll_wait's count depends on how events happen to batch
	    # (and strace slows the server): the comparison leaves it out
	    work: (([.by_name | to_entries[] | select(.key != "epoll_wait") | .value.calls] | add // 0) / $n),
	    failed: (([.by_name[] | .errors] | add // 0) / $n),
	    names: ([.by_name | to_entries[]
		     | {name: .key, per: (.value.calls / $n), err: (.value.errors / $n)}]
		    | sort_by(-.per))}]
	| (map(.work) | min) as $b
	| map(. + {ratio: (if $b > 0 then .work / $b else null end)});

  "# Where a handshake's server work goes (counted, not timed)",
  "",
  "- command: `bench/hs-profile.sh`, \($m.date // "?"); kernel \($m.kernel // "?"); \($m.openssl // "?")",
  "- userspace: instructions per completed full handshake of all the server's processes and threads (valgrind callgrind, \($cg[0].hs // "?") handshakes per test at 25/s after 20 of warm-up), by object: OpenSSL (libcrypto, libssl), the C library (malloc, memcpy, locks: mostly on OpenSSL's behalf), the server's own binary; a handshake plus `GET /` relayed to the backend and close",
  "- kernel: system calls per handshake (strace -c -f, 300 handshakes at 100/s), failed ones (EAGAIN, EINPROGRESS) included; \"vs best\" compares them without epoll_wait, whose count depends on how events happen to arrive together",
  "",
  ($tests[] as $t
   | "## \($t)",
     "",
     (["peer", "instructions/hs", "vs best", "libcrypto", "libssl", "libc", "own binary", "other", "syscalls/hs", "without epoll_wait", "vs best", "of which failed", "per handshake, by call"] | row),
     (["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"] | row),
     (cg_rows($t) as $c | sc_rows($t) as $s
      | ([$c[].peer, $s[].peer] | unique) as $ps
      | $ps[] as $p
      | ($c | map(select(.peer == $p)) | .[0]) as $ci
      | ($s | map(select(.peer == $p)) | .[0]) as $si
      | [$p, ($ci.total | k), ($ci.ratio | ratio), ($ci.crypto | k), ($ci.ssl | k),
	 ($ci.libc | k), ($ci.own | k), ($ci.other | k),
	 ($si.total | r(1)), ($si.work | r(1)), ($si.ratio | ratio), ($si.failed | r(1)),
	 ($si.names // [] | map(select(.per >= 0.05) | "\(.name) \(.per | r(1))" + (if .err >= 0.05 then " (\(.err | r(1)) failed)" else "" end)) | join(", "))] | row),
     "")
