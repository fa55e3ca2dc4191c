/* SPDX-License-Identifier: MIT */
/*
 * A DNS server that never answers, for tests of resolution deadlines: the
 * calling test process moves into a private network namespace (lo up) and
 * a private mount namespace whose /etc/resolv.conf names 127.0.0.1, where
 * a UDP socket is bound on port 53 and never read, so every query is
 * swallowed. Processes the test starts afterwards (the daemon) share both
 * namespaces; nothing outside the test sees any of it. Needs root.
 */
#ifndef KST_DNSSINK_H
#define KST_DNSSINK_H

/* The bound UDP socket, or -errno (no namespaces here: skip). */
int kst_h_dns_sink(void);

/* Queries the sink has received so far (read and dropped); -1 on error. */
int kst_h_dns_sink_queries(int fd);

#endif
