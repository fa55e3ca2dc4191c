// SPDX-License-Identifier: MIT
/*
 * Staples, certificate states and their registry; see doc/threads.md for
 * the threading rules. The policy decisions of RFC-level importance live in
 * kst_certstate_ingest (what replaces what) and kst_certstate_servable
 * (when a certificate may be served at all).
 */
#include "daemon/ocsp/certstate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ocsp.h>

#include "daemon/config/config.h"
#include "daemon/base/log.h"

static void certstate_log_verdict(struct kst_certstate *cs,
				  enum kst_staple_source src,
				  const struct kst_ocsp_verdict *v,
				  enum kst_ocsp_action act);
static void certstate_free(struct kst_certstate *cs);

struct kst_staple *kst_staple_new(const unsigned char *der, size_t len,
				  const struct kst_ocsp_verdict *v,
				  enum kst_staple_source src, time_t now)
{
	struct kst_staple *s = malloc(sizeof(*s) + len);

	if (s == NULL)
		return NULL;
	atomic_init(&s->refs, 1);
	s->this_update = v->this_update;
	s->next_update = v->next_update;
	s->produced_at = v->produced_at;
	s->loaded_at = now;
	s->source = src;
	s->len = len;
	memcpy(s->der, der, len);
	return s;
}

void kst_staple_get(struct kst_staple *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void kst_staple_put(struct kst_staple *s)
{
	if (s != NULL &&
	    atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		free(s);
}

struct kst_staple *kst_certstate_staple_get1(struct kst_certstate *cs,
					     time_t now)
{
	struct kst_staple *s;

	pthread_mutex_lock(&cs->lock);
	s = cs->cur;
	if (s != NULL && s->next_update > now)
		kst_staple_get(s);
	else
		s = NULL;
	pthread_mutex_unlock(&cs->lock);
	return s;
}

/* 1: a staple valid now; 0: none; -1: one held past its nextUpdate */
static int certstate_slot(struct kst_certstate *cs, time_t now)
{
	int r;

	pthread_mutex_lock(&cs->lock);
	r = cs->cur == NULL ? 0 : cs->cur->next_update > now ? 1 : -1;
	pthread_mutex_unlock(&cs->lock);
	return r;
}

/*
 * The slot first, then the flags: the control thread raises REVOKED or
 * EXPIRED before it empties the slot, and clears them after it fills it,
 * so a worker that finds the slot emptied (under its lock) also sees why.
 */
bool kst_certstate_servable(struct kst_certstate *cs, int policy, time_t now)
{
	int slot, flags;

	switch (policy) {
	case KST_POLICY_STRICT:
		/* served until its staple expires or says revoked */
		slot = certstate_slot(cs, now);
		flags = atomic_load_explicit(&cs->flags, memory_order_acquire);
		return slot >= 0 &&
		       !(flags & (KST_CS_REVOKED | KST_CS_EXPIRED));
	case KST_POLICY_MUST_STAPLE:
		return certstate_slot(cs, now) > 0;
	default:
		return true;
	}
}

/* control thread only, as every slot write */
static unsigned long certstate_epoch;
unsigned long kst_certstate_touches;

unsigned long kst_certstate_epoch(void)
{
	return certstate_epoch;
}

void kst_certstate_staple_set0(struct kst_certstate *cs, struct kst_staple *s)
{
	struct kst_staple *old;

	certstate_epoch++;
	pthread_mutex_lock(&cs->lock);
	old = cs->cur;
	cs->cur = s;
	pthread_mutex_unlock(&cs->lock);
	kst_certstate_touch(cs);
	kst_staple_put(old);
}

static const char *source_name(enum kst_staple_source src)
{
	return src == KST_STAPLE_SRC_FILE ? "staple file" : "fetched response";
}

static void fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * Log once per reason: a refresh that fails the same way is not news. A
 * revocation taken is always news (crit); a good response refused because
 * a revocation is held is logged each time, as it may be a replay.
 */
static void certstate_log_verdict(struct kst_certstate *cs,
				  enum kst_staple_source src,
				  const struct kst_ocsp_verdict *v,
				  enum kst_ocsp_action act)
{
	char nu[32];

	if (v->err == KST_OCSP_OK) {
		fmt_time(v->next_update, nu, sizeof(nu));
		kst_log(cs->ocsp.logged_err != KST_OCSP_OK ? KST_LOG_NOTICE
							   : KST_LOG_INFO,
			"cert %s: stapling %s, good until %s", cs->name,
			source_name(src), nu);
		cs->ocsp.logged_err = KST_OCSP_OK;
		return;
	}
	if (act == KST_OCSP_ACT_REVOKE) {
		kst_crit("cert %s: %s says REVOKED: %s; not stapled", cs->name,
			 source_name(src), v->detail);
		cs->ocsp.logged_err = v->err;
		return;
	}
	if (v->err == KST_OCSP_E_REVOKED &&
	    v->cert_status == V_OCSP_CERTSTATUS_GOOD) {
		kst_warn("cert %s: %s refused: %s", cs->name, source_name(src),
			 v->detail);
		return;
	}
	if (v->err == cs->ocsp.logged_err)
		return;
	kst_warn("cert %s: %s%s%s rejected (%s): %s; %s", cs->name,
		 source_name(src), cs->ocsp.ingest_path ? " " : "",
		 cs->ocsp.ingest_path ? cs->ocsp.ingest_path : "",
		 kst_ocsp_err_name(v->err), v->detail,
		 cs->cur ? "keeping the current staple" : "no staple");
	cs->ocsp.logged_err = v->err;
}

static void certstate_accept(struct kst_certstate *cs, struct kst_staple *s)
{
	cs->ocsp.ever_had = true;
	cs->ocsp.last_this_update = s->this_update;
	cs->ocsp.last_next_update = s->next_update;
	cs->ocsp.last_produced_at = s->produced_at;
	cs->ocsp.last_loaded_at = s->loaded_at;
	kst_certstate_staple_set0(cs, s);
	atomic_fetch_and(&cs->flags, ~(KST_CS_REVOKED | KST_CS_EXPIRED));
}

static void certstate_held(const struct kst_certstate *cs,
			   struct kst_ocsp_held *h)
{
	memset(h, 0, sizeof(*h));
	h->has_staple = cs->cur != NULL;
	h->staple_this_update = cs->cur ? cs->cur->this_update : 0;
	h->newest_good = cs->ocsp.ever_had ? cs->ocsp.last_this_update : 0;
	h->rev.revoked = cs->ocsp.revoked;
	h->rev.this_update = cs->ocsp.revoked_this_update;
	h->rev.revoked_at = cs->ocsp.revoked_at;
	h->rev.reason = cs->ocsp.revocation_reason;
}

static void certstate_revoke(struct kst_certstate *cs,
			     const struct kst_ocsp_revocation *r)
{
	cs->ocsp.revoked = true;
	cs->ocsp.revoked_this_update = r->this_update;
	cs->ocsp.revoked_at = r->revoked_at;
	cs->ocsp.revocation_reason = r->reason;
	atomic_fetch_or(&cs->flags, KST_CS_REVOKED); /* before: servable */
	kst_certstate_staple_set0(cs, NULL);
}

void kst_certstate_hold_revocation(struct kst_certstate *cs,
				   const struct kst_ocsp_revocation *r,
				   const char *src_path)
{
	char tu[32];

	if (cs->ocsp.revoked && r->this_update <= cs->ocsp.revoked_this_update)
		return;
	fmt_time(r->this_update, tu, sizeof(tu));
	kst_crit("cert %s: held REVOKED by %s (response of %s); not stapled "
		 "until a good response with a later thisUpdate",
		 cs->name, src_path, tu);
	certstate_revoke(cs, r);
	cs->ocsp.logged_err = KST_OCSP_E_REVOKED;
}

void kst_certstate_forget_revocation(struct kst_certstate *cs)
{
	kst_certstate_touch(cs);
	cs->ocsp.revoked = false;
	cs->ocsp.revoked_this_update = 0;
	cs->ocsp.revoked_at = 0;
	cs->ocsp.revocation_reason = -1;
	atomic_fetch_and(&cs->flags, ~KST_CS_REVOKED);
}

bool kst_certstate_writes_owed;

int kst_certstate_save_revocation(struct kst_certstate *cs)
{
	struct kst_ocsp_revocation r = {
		.revoked = true,
		.this_update = cs->ocsp.revoked_this_update,
		.revoked_at = cs->ocsp.revoked_at,
		.reason = cs->ocsp.revocation_reason,
	};
	char text[512];
	int n, err = 0;

	if (cs->ocsp.rev_path == NULL)
		return 0;
	if (!cs->ocsp.revoked) {
		if (unlink(cs->ocsp.rev_path) < 0 && errno != ENOENT)
			err = -errno;
	} else {
		n = kst_ocsp_revocation_format(&r, text, sizeof(text));
		err = n < 0 ? n
			    : kst_write_atomic(cs->ocsp.rev_path, text,
					       (size_t)n, 0644);
	}
	cs->ocsp.rev_dirty = err < 0;
	if (err < 0) {
		kst_certstate_writes_owed = true;
		/* tried again at every scan: logged once per reason */
		if (err != cs->ocsp.rev_logged_err)
			kst_err("cert %s: cannot %s revocation record %s: %s; "
				"will try again",
				cs->name, cs->ocsp.revoked ? "write" : "remove",
				cs->ocsp.rev_path, strerror(-err));
		cs->ocsp.rev_logged_err = err;
		return err;
	}
	if (cs->ocsp.rev_logged_err != 0)
		kst_notice("cert %s: revocation record %s %s now", cs->name,
			   cs->ocsp.rev_path,
			   cs->ocsp.revoked ? "written" : "removed");
	cs->ocsp.rev_logged_err = 0;
	cs->ocsp.rev_on_disk = cs->ocsp.revoked;
	return 0;
}

void kst_staple_params(const struct kst_config *conf, struct kst_ocsp_params *p)
{
	kst_ocsp_params_default(p);
	p->max_size = (size_t)conf->ocsp.max_response_size;
	p->skew = (long)(conf->ocsp.skew_ms / 1000);
	p->max_age = (long)(conf->ocsp.max_age_ms / 1000);
}

enum kst_ocsp_err kst_certstate_ingest(struct kst_certstate *cs,
				       const unsigned char *der, size_t len,
				       enum kst_staple_source src, time_t now,
				       const struct kst_ocsp_params *p,
				       struct kst_ocsp_verdict *v)
{
	kst_ocsp_ingest(der, len, cs->leaf, cs->issuer, now, p, v);
	return kst_certstate_apply(cs, der, len, src, now, v);
}

enum kst_ocsp_err kst_certstate_apply(struct kst_certstate *cs,
				      const unsigned char *der, size_t len,
				      enum kst_staple_source src, time_t now,
				      struct kst_ocsp_verdict *v)
{
	struct kst_ocsp_held h;
	struct kst_staple *s;
	enum kst_ocsp_action act;

	certstate_held(cs, &h);
	act = kst_ocsp_choose(&h, v);
	cs->ocsp.last_err = v->err;
	cs->ocsp.last_ingest = now;
	if (act == KST_OCSP_ACT_REVOKE) {
		struct kst_ocsp_revocation r = {true, v->this_update,
						v->revoked_at,
						v->revocation_reason};

		certstate_revoke(cs, &r);
		kst_certstate_save_revocation(cs);
	}
	if (v->err != KST_OCSP_OK) {
		certstate_log_verdict(cs, src, v, act);
		return v->err;
	}
	if (act == KST_OCSP_ACT_KEEP)
		return v->err; /* older than the staple held: not news */
	if (cs->cur != NULL && v->this_update == cs->cur->this_update &&
	    cs->cur->len == len && memcmp(cs->cur->der, der, len) == 0)
		return v->err;
	s = kst_staple_new(der, len, v, src, now);
	if (s == NULL) {
		/* recorded, so a fetch counts it as failed and retries */
		v->err = KST_OCSP_E_INTERNAL;
		cs->ocsp.last_err = v->err;
		kst_err("cert %s: %s: out of memory: not stapled; %s", cs->name,
			source_name(src),
			cs->cur ? "keeping the current staple" : "no staple");
		return v->err;
	}
	if (act == KST_OCSP_ACT_UNREVOKE) {
		kst_notice("cert %s: %s is good and newer than the revocation "
			   "held: no longer revoked",
			   cs->name, source_name(src));
		kst_certstate_forget_revocation(cs);
		kst_certstate_save_revocation(cs);
	}
	certstate_accept(cs, s);
	certstate_log_verdict(cs, src, v, act);
	return KST_OCSP_OK;
}

bool kst_certstate_expire(struct kst_certstate *cs, time_t now)
{
	char nu[32];

	if (cs->cur == NULL || cs->cur->next_update > now)
		return false;
	fmt_time(cs->cur->next_update, nu, sizeof(nu));
	kst_warn("cert %s: staple expired (nextUpdate %s); no longer stapled",
		 cs->name, nu);
	atomic_fetch_or(&cs->flags, KST_CS_EXPIRED); /* before: servable */
	kst_certstate_staple_set0(cs, NULL);
	return true;
}

void kst_certstate_counters(struct kst_certstate *cs,
			    struct kst_conn_counters *sum)
{
	struct kst_cs_counters *a =
		__atomic_load_n(&cs->counters, __ATOMIC_ACQUIRE);

	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; a != NULL && i < cs->nworkers; i++)
		kst_metrics_sum(sum, &a[i].c);
}

struct kst_conn_counters *kst_certstate_counting_new(struct kst_certstate *cs,
						     unsigned w)
{
	static _Thread_local struct kst_cs_counters lost;
	size_t size = sizeof(struct kst_cs_counters) * (cs->nworkers + 1);
	struct kst_cs_counters *a = aligned_alloc(KST_CACHELINE, size),
			       *had = NULL;

	if (a == NULL)
		return &lost.c;
	memset(a, 0, size);
	/* two workers may race to the first count: one block is kept */
	if (!__atomic_compare_exchange_n(&cs->counters, &had, a, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		free(a);
		a = had;
	}
	return &a[w].c;
}

/* ------------------------------------------------------------ registry */

static struct kst_certstate **registry_bucket(struct kst_registry *r,
					      const unsigned char sha256[32])
{
	return &r->buckets[((size_t)sha256[0] << 8 | sha256[1]) %
			   KST_REGISTRY_BUCKETS];
}

void kst_registry_init(struct kst_registry *r, unsigned nworkers)
{
	memset(r, 0, sizeof(*r));
	r->nworkers = nworkers;
}

static struct kst_certstate *certstate_new(X509 *leaf, X509 *issuer,
					   const unsigned char sha256[32],
					   const char *name, unsigned nworkers)
{
	struct kst_certstate *cs = calloc(1, sizeof(*cs));

	if (cs == NULL)
		return NULL;
	atomic_init(&cs->refs, 1);
	atomic_init(&cs->flags, 0);
	pthread_mutex_init(&cs->lock, NULL);
	memcpy(cs->sha256, sha256, 32);
	snprintf(cs->name, sizeof(cs->name), "%s", name);
	cs->nworkers = nworkers;
	cs->ocsp.revocation_reason = -1;
	X509_up_ref(leaf);
	X509_up_ref(issuer);
	cs->leaf = leaf;
	cs->issuer = issuer;
	return cs;
}

static void certstate_free(struct kst_certstate *cs)
{
	free(cs->ocsp.rev_path);
	free(cs->ocsp.state_path);
	kst_staple_put(cs->cur);
	X509_free(cs->leaf);
	X509_free(cs->issuer);
	pthread_mutex_destroy(&cs->lock);
	free(cs->counters);
	free(cs);
}

struct kst_certstate *kst_registry_get1(struct kst_registry *r, X509 *leaf,
					X509 *issuer,
					const unsigned char sha256[32],
					const char *name)
{
	struct kst_certstate **head = registry_bucket(r, sha256), *cs;

	for (cs = *head; cs != NULL; cs = cs->hnext) {
		if (memcmp(cs->sha256, sha256, 32) == 0) {
			atomic_fetch_add(&cs->refs, 1);
			return cs;
		}
	}
	cs = certstate_new(leaf, issuer, sha256, name, r->nworkers);
	if (cs == NULL)
		return NULL;
	cs->hnext = *head;
	*head = cs;
	r->count++;
	return cs;
}

void kst_certstate_get(struct kst_certstate *cs)
{
	atomic_fetch_add(&cs->refs, 1);
}

void kst_registry_put(struct kst_registry *r, struct kst_certstate *cs)
{
	struct kst_certstate **pp;

	if (cs == NULL || atomic_fetch_sub(&cs->refs, 1) != 1)
		return;
	for (pp = registry_bucket(r, cs->sha256); *pp != NULL;
	     pp = &(*pp)->hnext) {
		if (*pp == cs) {
			*pp = cs->hnext;
			r->count--;
			break;
		}
	}
	certstate_free(cs);
}

void kst_registry_each(struct kst_registry *r,
		       void (*fn)(struct kst_certstate *cs, void *arg),
		       void *arg)
{
	for (size_t b = 0; b < KST_ARRAY_SIZE(r->buckets); b++) {
		struct kst_certstate *cs = r->buckets[b], *next;

		for (; cs != NULL; cs = next) {
			next = cs->hnext;
			fn(cs, arg);
		}
	}
}
