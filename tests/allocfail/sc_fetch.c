// SPDX-License-Identifier: MIT
/*
 * Sweep scenario "fetch": one OCSP fetch from submission to completion
 * (kst_fetchctl_start: the pool and the first tick; the job on a fetcher
 * thread: request, OpenSSL's HTTP client, ingest, the state-dir write;
 * kst_fetchctl_done: the fetched file ingested), against a loopback
 * responder process that answers every request with a good response.
 * Each failure must end in the staple installed, or the failure recorded
 * and logged (or, when no job could even be made, the fetch still due at
 * the next tick); then the pool stops with nothing left behind.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/control/daemon.h"
#include "daemon/control/fetchctl.h"
#include "daemon/ocsp/fetcher.h"
#include "daemon/control/staplefile.h"
#include "daemon/base/util.h"
#include "tests/allocfail/af.h"
#include "tests/allocfail/fixture.h"

static pid_t fetch_responder = -1;

/* The responder: every request gets the newer good response for ec. */
static void fetch_serve(int lfd)
{
	char head[512];

	snprintf(head, sizeof(head),
		 "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response"
		 "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		 af_der_new_len);
	for (;;) {
		char req[8192];
		size_t got = 0;
		int fd = accept(lfd, NULL, NULL);
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (fd < 0)
			continue;
		while (got < sizeof(req) - 1 && poll(&p, 1, 2000) > 0) {
			ssize_t n =
				recv(fd, req + got, sizeof(req) - 1 - got, 0);

			if (n <= 0)
				break;
			got += (size_t)n;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL)
				break;
		}
		if (send(fd, head, strlen(head), MSG_NOSIGNAL) > 0)
			send(fd, af_der_new, af_der_new_len, MSG_NOSIGNAL);
		close(fd);
	}
}

static int fetch_prepare(void)
{
	unsigned short port;
	char url[64];
	int lfd;

	if (af_fixture(9, NULL) < 0) /* mints the staples */
		return -1;
	lfd = af_listen(&port);
	if (lfd < 0)
		return -1;
	fetch_responder = fork();
	if (fetch_responder == 0)
		fetch_serve(lfd);
	close(lfd);
	if (fetch_responder < 0)
		return -1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)port);
	return af_fixture(9, url);
}

static void fetch_cleanup(void)
{
	if (fetch_responder > 0) {
		kill(fetch_responder, SIGKILL);
		waitpid(fetch_responder, NULL, 0);
	}
	fetch_responder = -1;
}

/* Until the job came back (or none was submitted), at most 15 s. */
static void fetch_wait(struct kst_daemon *d)
{
	uint64_t end = kst_mono_ms() + 15000;

	while (d->fetcher != NULL && kst_fetcher_in_flight(d->fetcher) > 0 &&
	       kst_mono_ms() < end) {
		struct pollfd p = {.fd = kst_fetcher_fd(d->fetcher),
				   .events = POLLIN};

		if (poll(&p, 1, 100) > 0)
			kst_fetchctl_done(d);
	}
	if (d->fetcher != NULL)
		kst_fetchctl_done(d);
}

static int fetch_check(struct kst_daemon *d, struct kst_certstate *cs, int rc)
{
	bool stapled;

	if (rc < 0 || d->fetcher == NULL) {
		/* start-up refuses to go on: kst_crit said why */
		if (af_logged() == 0) {
			af_fail("fetcher start failed without a reason");
			return -1;
		}
		return 0;
	}
	if (cs->ocsp.fetch_in_flight) {
		af_fail("the fetch never came back");
		return -1;
	}
	if (cs->ocsp.fetch_successes == 1) {
		if (cs->cur == NULL) {
			af_fail("fetch counted a success, but no staple");
			return -1;
		}
		if (af_handshake(d->gen, 0, &stapled) < 0)
			return -1;
		if (!stapled) {
			af_fail("fetched staple not served");
			return -1;
		}
		return 0;
	}
	if (cs->ocsp.fetch_failures == 1) {
		/* refused by the job (an OpenSSL failure looks like a bad
		 * response), then taken by the control thread: stapled */
		if (cs->cur == NULL && af_logged() == 0) {
			af_fail("fetch failed without a logged reason");
			return -1;
		}
		return 0;
	}
	/* no job could be made: the next tick must try again */
	if (cs->ocsp.next_refresh == 0 || cs->ocsp.next_refresh > kst_now()) {
		af_fail("no fetch happened and none is due");
		return -1;
	}
	return 0;
}

static int fetch_run(void)
{
	struct kst_daemon d = {.inofd = -1, .sigfd = -1, .tickfd = -1};
	struct kst_certstate *cs;
	char path[4096];
	int rc, ok;

	kst_registry_init(&d.reg, 1);
	d.nworkers = 1;
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	d.gen = af_gen_build("a.conf", &d.reg, NULL, false);
	if (d.gen == NULL || d.epfd < 0)
		return -1;
	cs = d.gen->certs[0]->state;
	if (kst_staplefile_state_path(d.gen->conf, d.gen->certs[0], path,
				      sizeof(path)) == 0)
		unlink(path); /* a previous child's fetch */
	af_begin();
	rc = kst_fetchctl_start(&d);
	fetch_wait(&d);
	af_end();
	ok = fetch_check(&d, cs, rc);
	af_begin(); /* stopping is on the path too */
	kst_fetchctl_stop(&d);
	af_end();
	kst_gen_destroy(d.gen, &d.reg);
	close(d.epfd);
	if (d.reg.count != 0) {
		af_fail("%zu certificate states left in the registry",
			d.reg.count);
		ok = -1;
	}
	unlink(path);
	return ok;
}

const struct af_scenario af_sc_fetch = {
	.name = "fetch",
	.what = "OCSP fetch and fetched-response ingest",
	.prepare = fetch_prepare,
	.warm = true,
	.run = fetch_run,
	.cleanup = fetch_cleanup,
};
