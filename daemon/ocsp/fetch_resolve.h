/* SPDX-License-Identifier: MIT */
/*
 * Name resolution for the OCSP fetcher (fetch_http.c), bounded and
 * cancellable. A responder's or proxy's name is looked up with c-ares, on
 * the calling fetcher thread, through a channel made for this one lookup
 * (so /etc/resolv.conf and /etc/hosts are read again at every attempt):
 * its sockets are polled together with the job's cancel fd and with the
 * attempt's deadline, and giving up destroys the channel, so nothing is
 * left running: no thread, no socket. glibc's getaddrinfo, which OpenSSL's
 * connect BIO calls, can do neither (it waits out resolv.conf's timeout
 * times attempts for every server, and cannot be interrupted).
 *
 * What c-ares does not do is the Name Service Switch: a name that only an
 * NSS module knows (mDNS, LDAP, nss-myhostname) does not resolve here. An
 * OCSP responder's name is a public DNS name, so that is fine; /etc/hosts
 * is read ("lookup"/"options" of resolv.conf as c-ares reads them).
 */
#ifndef KST_FETCH_RESOLVE_H
#define KST_FETCH_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define KST_FETCH_ADDRS_MAX 16 /* addresses kept, in the order to try them */

struct kst_fetch_addrs {
	size_t n;
	struct sockaddr_storage addr[KST_FETCH_ADDRS_MAX];
	socklen_t len[KST_FETCH_ADDRS_MAX];
};

/*
 * The addresses of host for TCP port, in the order to try them (RFC 6724,
 * as c-ares sorts them). An IP literal (IPv6 with or without brackets) is
 * converted without any lookup. A name is looked up with the system's
 * resolver configuration, waiting until deadline (kst_mono_ms()) at most
 * and not at all once cancel_fd (-1: none) is readable.
 *
 * 0; -ETIMEDOUT at the deadline; -ECANCELED; -ENOENT: the name has no
 * address; -EIO: the resolver failed otherwise (both with the resolver's
 * reason in why); -EINVAL (an empty host or one with a NUL), -ENOMEM.
 */
int kst_fetch_resolve(const char *host, int port, uint64_t deadline,
		      int cancel_fd, struct kst_fetch_addrs *out, char *why,
		      size_t why_size);

#endif
