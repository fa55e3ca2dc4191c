// SPDX-License-Identifier: MIT
/* Building and destroying generations; see gen.h. */
#include "daemon/datapath/gen.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/metrics/lstats.h"
#include "daemon/base/par.h"
#include "daemon/ocsp/certstate.h"

static int gen_certs(struct kst_gen *g, const struct kst_gen_env *env,
		     struct kst_diag *d);
static int gen_listener(struct kst_gen *g, size_t i,
			const struct kst_gen_env *env, struct kst_diag *d);

static unsigned gen_next_id = 1;

/*
 * The previous generation's certificates by PEM path, for a reload to
 * find what it may reuse: open addressing, a power of two at least twice
 * the count, so a lookup is a probe or two.
 */
struct gen_prev_index {
	const struct kst_cert **slots;
	size_t mask;
};

static size_t gen_hash(const char *s)
{
	size_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static int gen_prev_index(struct gen_prev_index *x, const struct kst_gen *prev)
{
	size_t cap = 16;

	memset(x, 0, sizeof(*x));
	if (prev == NULL || prev->n_certs == 0)
		return 0;
	while (cap < prev->n_certs * 2)
		cap *= 2;
	x->slots = calloc(cap, sizeof(*x->slots));
	if (x->slots == NULL)
		return -ENOMEM;
	x->mask = cap - 1;
	for (size_t i = 0; i < prev->n_certs; i++) {
		const struct kst_cert *c = prev->certs[i];
		size_t h;

		if (c == NULL)
			continue;
		for (h = gen_hash(c->pem_path) & x->mask; x->slots[h] != NULL;
		     h = (h + 1) & x->mask)
			if (strcmp(x->slots[h]->pem_path, c->pem_path) == 0)
				break;
		if (x->slots[h] == NULL)
			x->slots[h] = c; /* the first of a path wins */
	}
	return 0;
}

static const struct kst_cert *gen_prev_find(const struct gen_prev_index *x,
					    const char *pem)
{
	if (x->slots == NULL)
		return NULL;
	for (size_t h = gen_hash(pem) & x->mask; x->slots[h] != NULL;
	     h = (h + 1) & x->mask)
		if (strcmp(x->slots[h]->pem_path, pem) == 0)
			return x->slots[h];
	return NULL;
}

/*
 * Loading certificates on every core (issue 13): parsing and verifying a
 * certificate is independent of the others, so threads take the next
 * index from a counter, each with its own loader and a diag nobody reads.
 * A certificate that fails is loaded again afterwards, in order, on the
 * caller's diag: the messages are the same (the files are), in
 * configuration order, and only a broken configuration pays twice.
 * Registry states are taken afterwards, on the calling (control) thread.
 * The threads: par.h.
 */
struct gen_load {
	struct kst_par par; /* first: the thread gets &par */
	struct kst_gen *g;
	const struct gen_prev_index *prev;
	const struct kst_cert **prev_of; /* per certificate, found once */
};

static const struct kst_cert *gen_prev_of(const struct gen_prev_index *x,
					  const struct kst_cert_conf *cc)
{
	return cc->pem ? gen_prev_find(x, cc->pem) : NULL;
}

static void gen_load_thread(struct kst_par *par)
{
	struct gen_load *job = (struct gen_load *)par;
	struct kst_gen *g = job->g;
	struct kst_cert_loader loader = {0};
	struct kst_diag quiet;
	size_t i;

	kst_diag_init(&quiet);
	while ((i = kst_par_next(par)) < g->n_certs) {
		const struct kst_cert_conf *cc = &g->conf->certs[i];

		job->prev_of[i] = gen_prev_of(job->prev, cc);
		if (kst_cert_load_reuse(g->conf, cc, job->prev_of[i], &loader,
					&quiet, &g->certs[i]) < 0)
			g->certs[i] = NULL;
	}
	kst_cert_loader_fini(&loader);
	kst_diag_free(&quiet);
}

static int gen_certs(struct kst_gen *g, const struct kst_gen_env *env,
		     struct kst_diag *d)
{
	const struct kst_config *conf = g->conf;
	struct kst_cert_loader loader = {0};
	struct gen_prev_index prev;
	struct gen_load job;
	int rc = 0;

	g->certs = calloc(conf->n_certs ? conf->n_certs : 1, sizeof(*g->certs));
	job.prev_of =
		calloc(conf->n_certs ? conf->n_certs : 1, sizeof(*job.prev_of));
	if (g->certs == NULL || job.prev_of == NULL ||
	    gen_prev_index(&prev, env->prev) < 0) {
		free(job.prev_of);
		return -ENOMEM;
	}
	g->n_certs = conf->n_certs;
	job.par.n = g->n_certs;
	job.par.thread = gen_load_thread;
	job.g = g;
	job.prev = &prev;
	kst_par_run(&job.par);
	for (size_t i = 0; i < conf->n_certs; i++) {
		const struct kst_cert_conf *cc = &conf->certs[i];
		const struct kst_cert *p = job.prev_of[i];
		struct kst_cert *c = g->certs[i];

		/* again, in order, to report what failed (or fail again:
		 * out of memory) */
		if (c == NULL &&
		    kst_cert_load_reuse(conf, cc, p, &loader, d, &c) < 0) {
			rc = -EINVAL;
			continue;
		}
		g->certs[i] = c;
		if (c->reused) { /* the same leaf: the same state */
			c->state = p->state;
			kst_certstate_get(c->state);
		} else {
			c->state =
				kst_registry_get1(env->reg, c->leaf, c->issuer,
						  c->sha256, c->name);
		}
		if (c->state == NULL) {
			rc = -ENOMEM;
			break;
		}
		if (c->reused)
			g->n_reused++;
	}
	free(prev.slots);
	free(job.prev_of);
	kst_cert_loader_fini(&loader);
	return rc;
}

/* Must a reload read every staple file again? When what ingest checks
 * or where fetched staples live changed. */
static bool gen_staples_recheck(const struct kst_config *conf,
				const struct kst_gen *prev)
{
	struct kst_ocsp_params a, b;

	if (prev == NULL)
		return true;
	kst_staple_params(conf, &a);
	kst_staple_params(prev->conf, &b);
	return !kst_ocsp_params_equal(&a, &b) ||
	       strcmp(conf->global.state_dir, prev->conf->global.state_dir) !=
		       0;
}

/* A socket for this bind: kept from the previous generation, passed by
 * systemd, or opened now. */
static int gen_socket(const struct kst_gen_env *env, const struct kst_addr *a,
		      const char *lname, unsigned backlog,
		      struct kst_lsock **out)
{
	const struct kst_gen *prev = env->prev;

	for (size_t i = 0; prev != NULL && i < prev->n_listeners; i++) {
		const struct kst_listener *pl = &prev->listeners[i];

		for (size_t j = 0; j < pl->conf->n_binds; j++) {
			if (pl->socks[j] != NULL &&
			    kst_addr_equal(&pl->socks[j]->addr, a)) {
				kst_lsock_get(pl->socks[j]);
				*out = pl->socks[j];
				return 0;
			}
		}
	}
	for (size_t i = 0; i < env->n_passed; i++) {
		struct kst_passed_fd *p = &env->passed[i];

		if (p->used || !(kst_addr_equal(&p->addr, a) ||
				 (p->name[0] && strcmp(p->name, lname) == 0)))
			continue;
		p->used = true;
		return kst_lsock_adopt(p->fd, a, env->nworkers, out);
	}
	return kst_lsock_open(a, env->nworkers, backlog, out);
}

static int gen_listener(struct kst_gen *g, size_t i,
			const struct kst_gen_env *env, struct kst_diag *d)
{
	const struct kst_listener_conf *lc = &g->conf->listeners[i];
	struct kst_listener *l = &g->listeners[i];
	struct kst_cert **certs;
	int rc = 0;

	l->conf = lc;
	l->ktls_mode = kst_config_listener_ktls(g->conf, lc);
	l->socks = calloc(lc->n_binds, sizeof(*l->socks));
	certs = calloc(lc->n_certs, sizeof(*certs));
	if (l->socks == NULL || certs == NULL) {
		free(certs);
		return -ENOMEM;
	}
	for (size_t j = 0; j < lc->n_certs; j++) {
		size_t ci = lc->certs[j].cert;

		/* unresolved or failed certs were reported already */
		certs[j] = ci < g->n_certs ? g->certs[ci] : NULL;
		if (certs[j] == NULL)
			rc = -EINVAL;
	}
	if (rc == 0)
		rc = kst_tls_listener_init(&l->tls, g->conf, lc, certs,
					   l->ktls_mode != KST_KTLS_MODE_OFF &&
						   env->ktls_available,
					   d);
	if (rc == 0) /* same name, same key type: said, not refused */
		kst_sni_warn_dups(g->conf, lc, &l->tls.sni, certs, d);
	free(certs);
	for (size_t j = 0; rc == 0 && env->open_sockets && j < lc->n_binds;
	     j++) {
		int e = gen_socket(env, &lc->binds[j], lc->name,
				   g->conf->global.backlog, &l->socks[j]);

		if (e < 0) {
			kst_diag_error(d, g->conf->path, lc->binds[j].line,
				       "listener %s: bind %s: %s", lc->name,
				       lc->binds[j].text, strerror(-e));
			rc = e;
		}
	}
	return rc;
}

int kst_gen_build(struct kst_config *conf, const struct kst_gen_env *env,
		  struct kst_diag *d, struct kst_gen **out)
{
	struct kst_gen *g = calloc(1, sizeof(*g));
	size_t errors = d->errors;
	int rc;

	*out = NULL;
	if (g == NULL) {
		kst_diag_error(d, conf->path, 0, "cannot build: out of memory");
		return -ENOMEM;
	}
	atomic_init(&g->refs, 1);
	g->conf = conf;
	g->listeners = calloc(conf->n_listeners, sizeof(*g->listeners));
	if (g->listeners == NULL) {
		kst_diag_error(d, conf->path, 0, "cannot build: out of memory");
		kst_gen_destroy(g, env->reg);
		return -ENOMEM;
	}
	g->n_listeners = conf->n_listeners;
	g->staples_recheck = gen_staples_recheck(conf, env->prev);
	rc = gen_certs(g, env, d);
	for (size_t i = 0; i < conf->n_listeners; i++) {
		int e = gen_listener(g, i, env, d);

		if (e < 0)
			rc = e;
	}
	/* a part that failed without a diagnostic (out of memory, an
	 * OpenSSL failure logged where it happened) fails the build too:
	 * never a generation with a listener that has no TLS context */
	if (rc < 0 && d->errors == errors)
		kst_diag_error(d, conf->path, 0, "cannot build: %s",
			       strerror(-rc));
	if (d->errors > errors || rc < 0) {
		kst_gen_destroy(g, env->reg); /* the caller keeps conf */
		return -EINVAL;
	}
	/* per-listener counters: only a generation that serves gets a slot
	 * (not `-t`, not a refused reload) */
	for (size_t i = 0; env->open_sockets && i < g->n_listeners; i++)
		g->listeners[i].hs = kst_lstats_get(g->listeners[i].conf->name,
						    env->nworkers);
	g->owns_conf = true;
	g->id = gen_next_id++;
	*out = g;
	return 0;
}

/* The pointers stay: a worker may still read them, under the references
 * its message carries (kst_gen_socks_get). */
void kst_gen_release_sockets(struct kst_gen *g)
{
	if (g->socks_released)
		return;
	kst_gen_socks_put(g);
	g->socks_released = true;
}

void kst_gen_socks_get(struct kst_gen *g)
{
	for (size_t i = 0; i < g->n_listeners; i++) {
		struct kst_listener *l = &g->listeners[i];

		for (size_t j = 0; l->socks && j < l->conf->n_binds; j++)
			if (l->socks[j] != NULL)
				kst_lsock_get(l->socks[j]);
	}
}

void kst_gen_socks_put(struct kst_gen *g)
{
	for (size_t i = 0; i < g->n_listeners; i++) {
		struct kst_listener *l = &g->listeners[i];

		for (size_t j = 0; l->socks && j < l->conf->n_binds; j++)
			kst_lsock_put(l->socks[j]);
	}
}

void kst_gen_get(struct kst_gen *g)
{
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

void kst_gen_put(struct kst_gen *g)
{
	atomic_fetch_sub_explicit(&g->refs, 1, memory_order_release);
}

bool kst_gen_unused(struct kst_gen *g)
{
	return atomic_load_explicit(&g->refs, memory_order_acquire) == 0;
}

void kst_gen_destroy(struct kst_gen *g, struct kst_registry *reg)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->n_listeners; i++) {
		struct kst_listener *l = &g->listeners[i];

		kst_tls_listener_fini(&l->tls);
		for (size_t j = 0;
		     !g->socks_released && l->socks && j < l->conf->n_binds;
		     j++)
			kst_lsock_put(l->socks[j]);
		free(l->socks);
	}
	free(g->listeners);
	for (size_t i = 0; i < g->n_certs; i++) {
		if (g->certs[i] == NULL)
			continue;
		kst_registry_put(reg, g->certs[i]->state);
		kst_cert_free(g->certs[i]);
	}
	free(g->certs);
	if (g->staple_index != NULL)
		g->staple_index_free(g->staple_index);
	if (g->owns_conf)
		kst_config_free(g->conf);
	free(g);
}
