// SPDX-License-Identifier: MIT
/*
 * Start-up, in the order that keeps kstapled's promises:
 *
 *  1. probe kernel TLS (as root: the probe loads the tls module);
 *  2. build the first generation: certificates, keys and sockets, taking
 *     sockets systemd passed where they match a bind line;
 *  3. pin the metrics maps (as root);
 *  4. load every staple on disk (operator files and state-dir);
 *  5. switch to the service user, keeping only the capabilities probed
 *     necessary, before any thread exists;
 *  6. fetch what no staple on disk covers, for at most startup-wait;
 *  7. start the workers, which accept: the first handshake has a staple
 *     whenever a responder could give one;
 *  8. READY=1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/control/daemon.h"
#include "daemon/control/fetchctl.h"
#include "daemon/base/log.h"
#include "daemon/control/nicctl.h"
#include "daemon/control/sd.h"
#include "daemon/control/staplefile.h"
#include "ktls/ktls.h"
#include "ktls/probe.h"

/* Whether this kernel can take TLS keys: once, before any worker. */
static void start_ktls_probe(struct kst_daemon *d,
			     const struct kst_config *conf)
{
	const char *why = NULL;

	kst_ktls_init();
	d->ktls_available = kst_ktls_probe(&why);
	if (d->ktls_available)
		kst_info("kernel TLS: available; TLS 1.3 KeyUpdate: %s",
			 kst_ktls_rekey_probe(&why)
				 ? "rekeyed in the kernel"
				 : "closes the connection (no kernel rekey)");
	else
		kst_notice("kernel TLS: not available (%s): connections stay "
			   "in userspace",
			   why ? why : "?");
	for (size_t i = 0; !d->ktls_available && i < conf->n_listeners; i++)
		if (kst_config_listener_ktls(conf, &conf->listeners[i]) ==
		    KST_KTLS_MODE_REQUIRE)
			kst_warn(
				"listener %s: ktls = require, but this kernel "
				"has no kTLS: every connection will be refused",
				conf->listeners[i].name);
}

/* BPF export: optional; one notice when it cannot be had. */
static void start_metrics(struct kst_daemon *d, const struct kst_config *conf)
{
	const char *dir = conf->global.bpf_pin_dir;
	gid_t gid = d->privs.drop ? d->privs.gid : (gid_t)-1;
	int rc;

	if (dir == NULL || dir[0] == '\0') {
		kst_info("metrics: bpf-pin-dir is empty: no BPF export");
		return;
	}
	rc = kst_metrics_open(dir, gid, &d->exp.m);
	if (rc < 0) {
		kst_notice("metrics: no BPF export at %s: %s; serving without",
			   dir, strerror(-rc));
		d->exp.m = NULL;
		return;
	}
	kst_info("metrics: maps pinned under %s%s", dir,
		 kst_metrics_reused(d->exp.m) ? " (re-used)" : "");
}

/* The generation, with the sockets systemd passed (socket activation). */
static int start_build(struct kst_daemon *d, struct kst_config *conf)
{
	struct kst_passed_fd *passed = NULL;
	size_t n = 0;
	int rc;

	if (kst_sd_listen_fds(&passed, &n) < 0)
		kst_warn("systemd: LISTEN_FDS could not be read");
	if (n > 0)
		kst_info("systemd: %zu listening sockets passed", n);
	rc = kst_control_build(d, conf, passed, n, &d->gen);
	for (size_t i = 0; i < n; i++) {
		if (passed[i].used)
			continue;
		kst_warn("systemd: passed socket %s (%s) matches no bind line; "
			 "closed",
			 passed[i].addr.text,
			 passed[i].name[0] ? passed[i].name : "no name");
		close(passed[i].fd);
	}
	free(passed);
	return rc;
}

static int start_bpf_probe(void *arg)
{
	return kst_metrics_probe_write(arg);
}

/* What the service user keeps: see privs.h. */
static int start_caps(struct kst_daemon *d, cap_value_t *caps)
{
	const struct kst_config *conf = d->gen->conf;
	int n = 0;

	for (size_t i = 0; i < conf->n_listeners; i++) {
		for (size_t j = 0; j < conf->listeners[i].n_binds; j++) {
			const struct kst_addr *a = &conf->listeners[i].binds[j];
			unsigned port = ntohs(((const struct sockaddr_in
							*)(const void *)&a->ss)
						      ->sin_port);

			if (port > 0 && port < 1024 && n == 0)
				caps[n++] = CAP_NET_BIND_SERVICE;
		}
	}
	if (d->exp.m != NULL &&
	    !kst_privs_works_without_caps(&d->privs, start_bpf_probe, d->exp.m))
		caps[n++] = CAP_BPF;
	return n;
}

static int start_drop(struct kst_daemon *d)
{
	const struct kst_global_conf *g = &d->gen->conf->global;
	cap_value_t caps[4];
	char have[256];
	int n, rc;

	if (!d->privs.drop) {
		if (geteuid() == 0 && !g->allow_root) {
			kst_crit("refusing to serve as root: set [global] user "
				 "(or allow-root = on)");
			return -EPERM;
		}
		return kst_privs_drop(&d->privs, NULL, 0); /* no_new_privs */
	}
	n = start_caps(d, caps);
	rc = kst_privs_drop(&d->privs, caps, n);
	if (rc < 0) {
		kst_crit("cannot switch to user %s: %s", d->privs.user,
			 strerror(-rc));
		return rc;
	}
	kst_privs_describe(have, sizeof(have));
	kst_notice("running as %s (uid %u, gid %u), capabilities: %s",
		   d->privs.user, (unsigned)d->privs.uid,
		   (unsigned)d->privs.gid, have);
	return 0;
}

static int start_privs(struct kst_daemon *d, const struct kst_config *conf)
{
	char why[200];
	int rc = kst_privs_resolve(&conf->global, &d->privs, why, sizeof(why));

	if (rc < 0) {
		kst_crit("%s: %s", conf->path, why);
		return rc;
	}
	rc = kst_privs_state_dir(conf->global.state_dir, &d->privs);
	if (rc == -ELOOP)
		kst_warn("state-dir %s is a symbolic link: not giving it to "
			 "user %s (set state-dir to the directory itself); "
			 "fetched staples will not persist",
			 conf->global.state_dir, d->privs.user);
	else if (rc < 0)
		kst_warn("state-dir %s: %s: fetched staples will not persist",
			 conf->global.state_dir, strerror(-rc));
	(void)kst_staplefile_sweep(conf->global.state_dir);
	return 0;
}

static int start_workers(struct kst_daemon *d)
{
	struct kst_gen *g = d->gen;
	int rc;

	d->workers = calloc(d->nworkers, sizeof(*d->workers));
	d->heartbeats = calloc(d->nworkers, sizeof(*d->heartbeats));
	if (d->workers == NULL || d->heartbeats == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < d->nworkers; i++) {
		rc = kst_worker_start(&d->workers[i], i, &d->shared, g);
		if (rc < 0) {
			kst_crit("worker %u: %s", i, strerror(-rc));
			return rc;
		}
		d->nstarted++;
	}
	for (size_t i = 0; i < g->n_listeners; i++)
		for (size_t j = 0; j < g->listeners[i].conf->n_binds; j++)
			kst_notice("listener %s: serving on %s",
				   g->listeners[i].conf->name,
				   g->listeners[i].conf->binds[j].text);
	return 0;
}

int kst_start_run(struct kst_daemon *d, struct kst_config *conf)
{
	int rc;

	d->nworkers = kst_control_nworkers(conf);
	kst_registry_init(&d->reg, d->nworkers);
	start_ktls_probe(d, conf);
	if (start_privs(d, conf) < 0)
		return -EINVAL;
	if (start_build(d, conf) < 0)
		return -EINVAL;
	atomic_store(&d->shared.max_connections,
		     kst_control_rlimit(d->gen, d->nworkers));
	kst_nicctl_start(d->gen);
	start_metrics(d, conf);
	kst_export_prune(&d->exp, d->gen);
	kst_staplefile_scan(d->gen, kst_now(), true);
	rc = start_drop(d);
	if (rc < 0)
		return rc;
	rc = kst_fetchctl_start(d);
	if (rc < 0)
		return rc;
	kst_fetchctl_startup_wait(d);
	rc = start_workers(d);
	if (rc < 0)
		return rc;
	kst_control_watch(d);
	kst_control_flush(d);
	d->watchdog_usec = kst_sd_watchdog_usec();
	kst_control_summary(d, d->status, sizeof(d->status));
	kst_sd_ready(d->status);
	kst_notice("started: %u worker%s, %s", d->nworkers,
		   d->nworkers == 1 ? "" : "s", d->status);
	return 0;
}
