// SPDX-License-Identifier: MIT
/* NIC TLS offload at start, reload and -t; see nicctl.h. */
#include "daemon/control/nicctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "ktls/nic.h"

static const char *nicctl_why(int err)
{
	switch (err) {
	case -ENOENT:
		return "the kernel has no ethtool netlink family";
	case -EPROTONOSUPPORT:
		return "the kernel has no generic netlink";
	case -EPERM:
	case -EACCES:
		return "not permitted (CAP_NET_ADMIN)";
	default:
		return strerror(-err);
	}
}

/* Switch offload on where [global] nic-offload asks. */
static void nicctl_enable(struct kst_nic *n, const char *list)
{
	char *copy = strdup(list), *save = NULL, *ifn;

	for (ifn = copy ? strtok_r(copy, ", ", &save) : NULL; ifn != NULL;
	     ifn = strtok_r(NULL, ", ", &save)) {
		struct kst_nic_info after;
		char line[256];
		int rc = kst_nic_enable(n, ifn, true, true, &after);

		if (rc == 0 || rc == -EOPNOTSUPP) {
			kst_nic_format(&after, line, sizeof(line));
			kst_log(rc ? KST_LOG_WARN : KST_LOG_NOTICE,
				"nic-offload %s: %s%s", ifn, line,
				rc ? " (the device refused)" : "");
		} else {
			kst_warn("nic-offload %s: %s", ifn, nicctl_why(rc));
		}
	}
	free(copy);
}

void kst_nicctl_start(struct kst_gen *g)
{
	struct kst_nic_info *all = NULL;
	struct kst_nic *n = NULL;
	size_t count = 0, with = 0;
	int rc = kst_nic_open(&n);

	if (rc < 0) {
		kst_notice("NIC TLS offload: not read: %s", nicctl_why(rc));
		return;
	}
	if (g->conf->global.nic_offload && g->conf->global.nic_offload[0])
		nicctl_enable(n, g->conf->global.nic_offload);
	rc = kst_nic_query_all(n, &all, &count);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		char line[256];

		if (!kst_nic_any_tls(&all[i]))
			continue;
		kst_nic_format(&all[i], line, sizeof(line));
		kst_notice("NIC %s", line);
		with++;
	}
	if (rc < 0)
		kst_notice("NIC TLS offload: not read: %s", nicctl_why(rc));
	else if (with == 0)
		kst_info("NIC TLS offload: no interface offers it (%zu "
			 "interfaces): kTLS runs in software",
			 count);
	free(all);
	kst_nic_close(n);
}

void kst_nicctl_check(const struct kst_config *conf, FILE *out)
{
	struct kst_nic *n = NULL;
	int rc = kst_nic_open(&n);

	if (rc < 0) {
		fprintf(out, "NIC TLS offload: not read: %s\n", nicctl_why(rc));
		return;
	}
	for (size_t i = 0; i < conf->n_listeners; i++) {
		for (size_t j = 0; j < conf->listeners[i].n_binds; j++) {
			const struct kst_addr *a = &conf->listeners[i].binds[j];
			struct kst_nic_info info;
			char ifn[IFNAMSIZ], line[256];

			if (kst_nic_ifname_for_addr((const void *)&a->ss, ifn,
						    sizeof(ifn)) < 0) {
				fprintf(out,
					"listener %s: %s: no local "
					"interface has that address\n",
					conf->listeners[i].name, a->text);
			} else if (strcmp(ifn, "*") == 0) {
				fprintf(out,
					"listener %s: %s: all interfaces\n",
					conf->listeners[i].name, a->text);
			} else if (kst_nic_query(n, ifn, &info) == 0 &&
				   kst_nic_format(&info, line, sizeof(line)) ==
					   0) {
				fprintf(out, "listener %s: %s: %s\n",
					conf->listeners[i].name, a->text, line);
			}
		}
	}
	kst_nic_close(n);
}
