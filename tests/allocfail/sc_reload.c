// SPDX-License-Identifier: MIT
/*
 * Sweep scenario "reload": what SIGHUP does (kst_control_reload), from a
 * serving generation (listener a: ec + rsa, stapled) to another
 * configuration (listener a: ec; listener b: a new certificate, a new
 * socket, PROXY v2). One worker's mailbox receives the new generation.
 * Each failure must end in the new generation serving, or the reload
 * refused with a logged reason and the old generation still serving its
 * staple; nothing leaked either way.
 */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon/control/daemon.h"
#include "daemon/control/staplefile.h"
#include "tests/allocfail/af.h"
#include "tests/allocfail/fixture.h"

static int reload_prepare(void)
{
	return af_fixture(9, NULL);
}

/* The worker as far as the control thread sees it: a mailbox. */
static int reload_worker(struct kst_worker *w)
{
	w->mq_tail = &w->mq;
	pthread_mutex_init(&w->mlock, NULL);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return w->evfd < 0 ? -1 : 0;
}

static void reload_worker_fini(struct kst_worker *w)
{
	struct kst_wmsg *m, *next;

	/* what a worker that never read them drops (kst_worker_join) */
	for (m = w->mq; m != NULL; m = next) {
		next = m->next;
		if (m->type == KST_WMSG_GEN) {
			kst_gen_socks_put(m->gen);
			kst_gen_put(m->gen);
		}
		free(m);
	}
	close(w->evfd);
	pthread_mutex_destroy(&w->mlock);
}

/* The worker was told to accept with the new generation. */
static bool reload_told(struct kst_daemon *d)
{
	for (struct kst_wmsg *m = d->workers[0].mq; m != NULL; m = m->next)
		if (m->type == KST_WMSG_GEN && m->gen == d->gen)
			return true;
	af_fail("reloaded, but the worker was not given the new generation");
	return false;
}

static int reload_check(struct kst_daemon *d, struct kst_gen *old)
{
	bool stapled;

	if (d->gen == old) {
		if (af_logged() == 0) {
			af_fail("reload refused without a reason");
			return -1;
		}
		if (af_handshake(old, 0, &stapled) < 0)
			return -1;
		if (!stapled) {
			af_fail("the old generation lost its staple");
			return -1;
		}
		return 0;
	}
	if (!reload_told(d) || !af_gen_whole(d->gen, true) ||
	    af_handshake(d->gen, 0, &stapled) < 0)
		return -1;
	if (!stapled) {
		af_fail("the new generation serves cert ec without its staple");
		return -1;
	}
	return af_handshake(d->gen, 1, &stapled);
}

static int reload_run(void)
{
	struct kst_worker worker = {0};
	struct kst_daemon d = {
		.inofd = -1, .epfd = -1, .sigfd = -1, .tickfd = -1};
	struct kst_gen *old;
	int ok;

	kst_registry_init(&d.reg, 1);
	d.nworkers = 1;
	d.workers = &worker;
	if (reload_worker(&worker) < 0)
		return -1;
	d.gen = af_gen_build("a.conf", &d.reg, NULL, true);
	if (d.gen == NULL) {
		reload_worker_fini(&worker);
		return -1;
	}
	old = d.gen;
	kst_staplefile_scan(d.gen, af_t0, true);
	d.config_path = af_path("b.conf");
	af_begin();
	kst_control_reload(&d);
	af_end();
	ok = reload_check(&d, old);
	/* tear down: the worker's messages, then every generation */
	reload_worker_fini(&worker);
	for (size_t i = 0; i < d.n_retired; i++)
		kst_gen_destroy(d.retired[i], &d.reg);
	free(d.retired);
	kst_gen_destroy(d.gen, &d.reg);
	if (d.reg.count != 0) {
		af_fail("%zu certificate states left in the registry",
			d.reg.count);
		ok = -1;
	}
	return ok;
}

const struct af_scenario af_sc_reload = {
	.name = "reload",
	.what = "reload (SIGHUP: new generation, publish)",
	.prepare = reload_prepare,
	.warm = true,
	.run = reload_run,
};
