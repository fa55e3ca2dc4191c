#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# First-handshake latencies of the cold-fetch benchmark (bench/certs.sh
# coldfetch): S names drawn without repetition from c0..c<N-1>.<DOMAIN>,
# one TLS handshake each (TCP connect to done, no verification: the time
# is what is measured), started at S evenly spaced moments over WINDOW
# seconds from the moment the port first accepts a connection (the
# daemon's sockets exist once its certificates are loaded; probed every
# 50 ms for at most TIMEOUT x 10 s), each in its own thread, so that one
# handshake queued behind the daemon's start-up never delays the next
# sample. Every handshake has a deadline (TIMEOUT s). One line per sample
# on stdout: "<start, ms since the epoch> <latency ms or -1> <name>
# <ok|error>".
#
#   hs-sample.py PORT N S WINDOW TIMEOUT [DOMAIN]
import random
import socket
import ssl
import sys
import threading
import time


def main():
    port, n, s = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    window, timeout = float(sys.argv[4]), float(sys.argv[5])
    domain = sys.argv[6] if len(sys.argv) > 6 else "bench.test"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    names = random.sample(range(n), min(s, n))
    give_up = time.monotonic() + timeout * 10
    while time.monotonic() < give_up:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    t0 = time.monotonic()
    epoch0 = time.time() * 1000 - t0 * 1000
    out = []
    lock = threading.Lock()

    def one(k, i):
        at = t0 + window * k / max(len(names), 1)
        time.sleep(max(0.0, at - time.monotonic()))
        name = "c%d.%s" % (i, domain)
        start = time.monotonic()
        res, lat = "ok", -1.0
        try:
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=timeout) as raw:
                raw.settimeout(max(0.1, start + timeout - time.monotonic()))
                with ctx.wrap_socket(raw, server_hostname=name):
                    lat = (time.monotonic() - start) * 1000
        except (OSError, ssl.SSLError) as e:
            res = "error:" + type(e).__name__
        with lock:
            out.append("%d %.1f %s %s" % (epoch0 + start * 1000, lat, name,
                                          res))

    threads = [threading.Thread(target=one, args=(k, i), daemon=True)
               for k, i in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(window + timeout + 5)
    with lock:
        print("\n".join(sorted(out, key=lambda l: int(l.split()[0]))))


if __name__ == "__main__":
    main()
