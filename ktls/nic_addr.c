// SPDX-License-Identifier: MIT
/*
 * Which interface carries a listener's local address, so `kstapled -t`
 * can say which device's TLS offload matters for it ("0.0.0.0:443 -> all
 * interfaces", "127.0.0.1 -> lo"). Read with getifaddrs(3): it lists every
 * configured address, of devices up or down.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "ktls/nic.h"

static int nic_addr_normalise(const struct sockaddr *sa,
			      struct sockaddr_storage *out);
static bool nic_addr_is_any(const struct sockaddr_storage *ss);
static bool nic_addr_match(const struct sockaddr *have,
			   const struct sockaddr_storage *want);
static const char *nic_addr_find(const struct ifaddrs *list,
				 const struct sockaddr_storage *want);
static int nic_copy_name(const char *name, char *buf, size_t len);

/* IPv4-mapped IPv6 (a dual-stack listener's view of IPv4) becomes IPv4. */
static int nic_addr_normalise(const struct sockaddr *sa,
			      struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		memcpy(out, sa, sizeof(struct sockaddr_in));
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		return 0;
	}
	memcpy(out, sa, sizeof(*s6));
	return 0;
}

static bool nic_addr_is_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
		&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static bool nic_addr_match(const struct sockaddr *have,
			   const struct sockaddr_storage *want)
{
	const struct sockaddr_in6 *h6, *w6;

	if (!have || have->sa_family != want->ss_family)
		return false;
	if (want->ss_family == AF_INET)
		return ((const struct sockaddr_in *)have)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)want)->sin_addr.s_addr;
	h6 = (const struct sockaddr_in6 *)have;
	w6 = (const struct sockaddr_in6 *)want;
	/* A link-local address names its link by scope; match it too. */
	if (w6->sin6_scope_id && h6->sin6_scope_id &&
	    w6->sin6_scope_id != h6->sin6_scope_id)
		return false;
	return IN6_ARE_ADDR_EQUAL(&h6->sin6_addr, &w6->sin6_addr);
}

static const char *nic_addr_find(const struct ifaddrs *list,
				 const struct sockaddr_storage *want)
{
	const struct sockaddr_in *w4 = (const struct sockaddr_in *)want;

	for (const struct ifaddrs *i = list; i; i = i->ifa_next)
		if (nic_addr_match(i->ifa_addr, want))
			return i->ifa_name;
	/* The kernel treats all of 127/8 as local, on the loopback device. */
	if (want->ss_family != AF_INET ||
	    (ntohl(w4->sin_addr.s_addr) >> 24) != IN_LOOPBACKNET)
		return NULL;
	for (const struct ifaddrs *i = list; i; i = i->ifa_next)
		if ((i->ifa_flags & IFF_LOOPBACK) && i->ifa_addr &&
		    i->ifa_addr->sa_family == AF_INET)
			return i->ifa_name;
	return NULL;
}

static int nic_copy_name(const char *name, char *buf, size_t len)
{
	int r = len ? snprintf(buf, len, "%s", name) : -1;

	return r >= 0 && (size_t)r < len ? 0 : -ENOSPC;
}

int kst_nic_ifname_for_addr(const struct sockaddr *sa, char *ifname, size_t len)
{
	struct ifaddrs *list = NULL;
	struct sockaddr_storage want;
	const char *found;
	int err;

	if (!sa)
		return -EINVAL;
	err = nic_addr_normalise(sa, &want);
	if (err)
		return err;
	if (nic_addr_is_any(&want))
		return nic_copy_name("*", ifname, len);
	if (getifaddrs(&list) < 0)
		return -errno;
	found = nic_addr_find(list, &want);
	err = found ? nic_copy_name(found, ifname, len) : -EADDRNOTAVAIL;
	freeifaddrs(list);
	return err;
}
