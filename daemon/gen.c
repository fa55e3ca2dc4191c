// SPDX-License-Identifier: MIT
/* Building and destroying generations; see gen.h. */
#include "daemon/gen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"

static int gen_certs(struct kst_gen *g, const struct kst_gen_env *env,
		     struct kst_diag *d);
static int gen_listener(struct kst_gen *g, size_t i,
			const struct kst_gen_env *env, struct kst_diag *d);

static unsigned gen_next_id = 1;

static int gen_certs(struct kst_gen *g, const struct kst_gen_env *env,
		     struct kst_diag *d)
{
	const struct kst_config *conf = g->conf;
	int rc = 0;

	g->certs = calloc(conf->n_certs ? conf->n_certs : 1,
			  sizeof(*g->certs));
	if (g->certs == NULL)
		return -ENOMEM;
	g->n_certs = conf->n_certs;
	for (size_t i = 0; i < conf->n_certs; i++) {
		struct kst_cert *c;

		if (kst_cert_load(conf, &conf->certs[i], d, &c) < 0) {
			rc = -EINVAL;
			continue;
		}
		c->state = kst_registry_get1(env->reg, c->leaf, c->issuer,
					     c->sha256, c->name);
		if (c->state == NULL) {
			kst_cert_free(c);
			return -ENOMEM;
		}
		g->certs[i] = c;
	}
	return rc;
}

/* A socket for this bind: kept from the previous generation, passed by
 * systemd, or opened now. */
static int gen_socket(const struct kst_gen_env *env, const struct kst_addr *a,
		      const char *lname, unsigned backlog, struct kst_lsock **out)
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
		for (size_t j = 0; !g->socks_released && l->socks &&
				   j < l->conf->n_binds;
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
	if (g->owns_conf)
		kst_config_free(g->conf);
	free(g);
}
