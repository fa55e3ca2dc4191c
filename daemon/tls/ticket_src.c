// SPDX-License-Identifier: MIT
/*
 * Session-ticket key files at run time (see ticket.h): one source per
 * file, shared by every SSL_CTX that names it and by every generation
 * (a reload keeps the keys; rereads follow the file, not the
 * configuration); the OpenSSL callbacks that encrypt and decrypt tickets
 * with a source's keys; the watch that rereads a changed file.
 *
 * Threads: the control thread creates sources (building a generation),
 * rereads them (inotify, and a stat every tick as a safety net) and drops
 * them (an SSL_CTX freed with its generation). A worker reads keys
 * without a lock: each source keeps one slot per worker with a reference
 * on the key set that worker uses. A swap bumps the source's generation
 * and a process-wide one; the worker refreshes its slot (under the
 * source's mutex, once per swap) at its next ticket operation or at the
 * end of its loop turn (kst_ticket_worker_sync), so a replaced key set is
 * wiped within a loop turn of every worker, and a handshake takes no
 * ticket lock in the steady state.
 */
#include "daemon/tls/ticket.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "daemon/base/log.h"
#include "daemon/ocsp/certstate.h"
#include "daemon/tls/tls.h"

/* the range of `workers` (config_opts.c) */
#define TICKET_WORKERS_MAX 256

/* What one worker uses of a source: touched only by that worker, or by
 * whoever holds ticket_reg_mu while no worker can run it (the source is
 * being freed). */
struct ticket_wslot {
	struct kst_ticket_keys *ks; /* one reference, NULL = none yet */
	unsigned gen;		    /* src->gen when ks was taken */
};

struct ticket_src {
	struct ticket_src *next;
	char *path;
	unsigned refs;		      /* under ticket_reg_mu */
	uid_t svc_uid;		      /* may own the file, besides root */
	pthread_mutex_t mu;	      /* guards keys */
	struct kst_ticket_keys *keys; /* current, one reference */
	struct stat seen;	      /* the file as last read (or refused) */
	bool refused;		      /* the last reread was: keys are older */
	atomic_uint gen;	      /* bumped by every swap */
	struct ticket_wslot w[TICKET_WORKERS_MAX];
};

/* What an SSL_CTX holds (its ex_data, freed with it). */
struct ticket_ctx {
	struct ticket_src *src;
	int64_t lifetime_s;
};

static int ticket_key_cb(SSL *s, unsigned char *name, unsigned char *iv,
			 EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc);
static int ticket_gen_cb(SSL *s, void *arg);
static void ticket_log_keys(const char *path, const struct kst_ticket_keys *ks);
static SSL_TICKET_RETURN ticket_dec_cb(SSL *s, SSL_SESSION *ss,
				       const unsigned char *keyname,
				       size_t keyname_len,
				       SSL_TICKET_STATUS status, void *arg);

/* seconds a ticket's time may lie ahead of ours (another host's clock) */
#define TICKET_MAX_SKEW 60

static pthread_mutex_t ticket_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ticket_src *ticket_reg;
static pthread_once_t ticket_idx_once = PTHREAD_ONCE_INIT;
static int ticket_idx = -1;
/* bumped by every swap of any source: a worker's cue to refresh */
static atomic_uint ticket_swaps;
static unsigned ticket_swaps_seen[TICKET_WORKERS_MAX]; /* per worker */

/* ------------------------------------------------------------ sources */

static struct kst_ticket_keys *ticket_src_keys_get1(struct ticket_src *src)
{
	struct kst_ticket_keys *ks;

	pthread_mutex_lock(&src->mu);
	ks = src->keys;
	kst_ticket_keys_get(ks);
	pthread_mutex_unlock(&src->mu);
	return ks;
}

/* Swaps in ks (taking its reference); the old set is wiped by its last
 * user. */
static void ticket_src_keys_set0(struct ticket_src *src,
				 struct kst_ticket_keys *ks)
{
	struct kst_ticket_keys *old;

	pthread_mutex_lock(&src->mu);
	old = src->keys;
	src->keys = ks;
	atomic_fetch_add_explicit(&src->gen, 1, memory_order_release);
	pthread_mutex_unlock(&src->mu);
	atomic_fetch_add_explicit(&ticket_swaps, 1, memory_order_release);
	kst_ticket_keys_put(old);
}

/* Worker w's key set of src, refreshed when a swap happened since. */
static struct kst_ticket_keys *ticket_wslot_keys(struct ticket_src *src,
						 unsigned w)
{
	struct ticket_wslot *slot = &src->w[w];
	unsigned gen = atomic_load_explicit(&src->gen, memory_order_acquire);
	struct kst_ticket_keys *old;

	if (slot->ks != NULL && slot->gen == gen)
		return slot->ks;
	old = slot->ks;
	pthread_mutex_lock(&src->mu);
	slot->ks = src->keys;
	kst_ticket_keys_get(slot->ks);
	slot->gen = atomic_load_explicit(&src->gen, memory_order_relaxed);
	pthread_mutex_unlock(&src->mu);
	kst_ticket_keys_put(old);
	return slot->ks;
}

void kst_ticket_worker_sync(unsigned w)
{
	unsigned swaps;

	if (w >= TICKET_WORKERS_MAX)
		return;
	swaps = atomic_load_explicit(&ticket_swaps, memory_order_acquire);
	if (swaps == ticket_swaps_seen[w])
		return;
	ticket_swaps_seen[w] = swaps;
	pthread_mutex_lock(&ticket_reg_mu);
	for (struct ticket_src *src = ticket_reg; src != NULL; src = src->next)
		if (src->w[w].ks != NULL)
			(void)ticket_wslot_keys(src, w);
	pthread_mutex_unlock(&ticket_reg_mu);
}

static bool ticket_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec &&
	       a->st_mode == b->st_mode && a->st_uid == b->st_uid;
}

/*
 * Reads and parses the key file, checking what was opened (fstat on the
 * descriptor): a regular file, no group or other bits, owned by root or
 * svc_uid. *st gets what was read. Errors in d, as PATH:LINE.
 */
static struct kst_ticket_keys *ticket_read(const char *path, uid_t svc_uid,
					   struct stat *st, struct kst_diag *d)
{
	struct kst_ticket_keys *ks = NULL;
	char *buf = NULL;
	ssize_t n = 0, r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	memset(st, 0, sizeof(*st));
	if (fd < 0 || fstat(fd, st) < 0) {
		kst_diag_error(d, path, 0,
			       "cannot read the ticket key file: %s",
			       strerror(errno));
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		kst_diag_error(d, path, 0, "not a regular file");
		goto out;
	}
	if (st->st_mode & (S_IRWXG | S_IRWXO)) {
		kst_diag_error(d, path, 0,
			       "ticket keys are accessible by group or others "
			       "(mode %04o): run chmod 600 on the file",
			       (unsigned)(st->st_mode & 07777));
		goto out;
	}
	if (st->st_uid != 0 && st->st_uid != svc_uid) {
		kst_diag_error(d, path, 0,
			       "owned by uid %u: ticket keys must belong to "
			       "root or the service user (uid %u)",
			       (unsigned)st->st_uid, (unsigned)svc_uid);
		goto out;
	}
	buf = OPENSSL_malloc(KST_TICKET_MAX_FILE + 1);
	if (buf == NULL) {
		kst_diag_error(d, path, 0, "out of memory");
		goto out;
	}
	while (n <= KST_TICKET_MAX_FILE &&
	       (r = read(fd, buf + n, (size_t)(KST_TICKET_MAX_FILE + 1 - n))) >
		       0)
		n += r;
	if (r < 0)
		kst_diag_error(d, path, 0, "cannot read: %s", strerror(errno));
	else
		ks = kst_ticket_keys_parse(path, buf, (size_t)n, d);
out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, KST_TICKET_MAX_FILE + 1);
	if (fd >= 0)
		close(fd);
	return ks;
}

/* Who may own the file besides root: [global] user, else who we run as. */
static uid_t ticket_svc_uid(const struct kst_config *conf)
{
	const char *user = conf->global.user;
	struct passwd *pw;

	if (user == NULL || user[0] == '\0')
		return geteuid();
	pw = getpwnam(user);
	return pw != NULL ? pw->pw_uid : 0;
}

/* The source for path, created (file read) if none: one reference. */
static struct ticket_src *ticket_src_get1(const char *path, uid_t svc_uid,
					  struct kst_diag *d)
{
	struct ticket_src *src;
	struct kst_ticket_keys *ks;
	struct stat st;

	pthread_mutex_lock(&ticket_reg_mu);
	for (src = ticket_reg; src != NULL; src = src->next) {
		if (strcmp(src->path, path) != 0)
			continue;
		/* a reload takes the file a reread refused, any valid one */
		if (src->refused) {
			ks = ticket_read(path, svc_uid, &st, d);
			if (ks == NULL) {
				pthread_mutex_unlock(&ticket_reg_mu);
				return NULL;
			}
			src->seen = st;
			src->refused = false;
			ticket_log_keys(path, ks);
			ticket_src_keys_set0(src, ks);
		}
		src->refs++;
		pthread_mutex_unlock(&ticket_reg_mu);
		return src;
	}
	pthread_mutex_unlock(&ticket_reg_mu);
	ks = ticket_read(path, svc_uid, &st, d);
	if (ks == NULL)
		return NULL;
	src = calloc(1, sizeof(*src));
	if (src == NULL || (src->path = strdup(path)) == NULL) {
		free(src);
		kst_ticket_keys_put(ks);
		kst_diag_error(d, path, 0, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&src->mu, NULL);
	src->keys = ks;
	src->seen = st;
	src->svc_uid = svc_uid;
	src->refs = 1;
	pthread_mutex_lock(&ticket_reg_mu);
	src->next = ticket_reg;
	ticket_reg = src;
	pthread_mutex_unlock(&ticket_reg_mu);
	return src;
}

static void ticket_src_put(struct ticket_src *src)
{
	struct ticket_src **pp;

	pthread_mutex_lock(&ticket_reg_mu);
	if (--src->refs > 0) {
		pthread_mutex_unlock(&ticket_reg_mu);
		return;
	}
	for (pp = &ticket_reg; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == src) {
			*pp = src->next;
			break;
		}
	}
	pthread_mutex_unlock(&ticket_reg_mu);
	for (size_t i = 0; i < TICKET_WORKERS_MAX; i++)
		kst_ticket_keys_put(src->w[i].ks);
	kst_ticket_keys_put(src->keys); /* wiped by the last user */
	pthread_mutex_destroy(&src->mu);
	free(src->path);
	free(src);
}

/* ---------------------------------------------------------- SSL_CTX */

static void ticket_ctx_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
			    int idx, long argl, void *argp)
{
	struct ticket_ctx *tc = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (tc == NULL)
		return;
	ticket_src_put(tc->src);
	free(tc);
}

static void ticket_idx_init(void)
{
	ticket_idx =
		SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ticket_ctx_free);
}

/* A bad file was reported for this build already (listeners with several
 * certificates, several listeners naming one file): not again. */
static bool ticket_reported(const struct kst_diag *d, const char *path)
{
	for (size_t i = 0; i < d->n; i++)
		if (!d->msgs[i].warning && d->msgs[i].file != NULL &&
		    strcmp(d->msgs[i].file, path) == 0)
			return true;
	return false;
}

/* This listener's line naming the file was reported (its other contexts
 * fail alike). */
static bool ticket_reported_at(const struct kst_diag *d, const char *file,
			       int line, const char *listener)
{
	char what[300];

	snprintf(what, sizeof(what), "listener %s: ticket-keys", listener);
	for (size_t i = 0; i < d->n; i++)
		if (d->msgs[i].line == line && d->msgs[i].file != NULL &&
		    strcmp(d->msgs[i].file, file) == 0 &&
		    strncmp(d->msgs[i].text, what, strlen(what)) == 0)
			return true;
	return false;
}

int kst_ticket_ctx_init(SSL_CTX *ctx, const struct kst_config *conf,
			const struct kst_listener_conf *lc, struct kst_diag *d)
{
	int line = 0;
	const char *path = kst_config_listener_ticket_keys(conf, lc, &line);
	struct ticket_ctx *tc;

	/* counting only: OpenSSL's own keys and lifetime, as before */
	SSL_CTX_set_session_ticket_cb(ctx, ticket_gen_cb, ticket_dec_cb, NULL);
	if (path[0] == '\0')
		return 0;
	pthread_once(&ticket_idx_once, ticket_idx_init);
	tc = calloc(1, sizeof(*tc));
	if (ticket_idx < 0 || tc == NULL) {
		free(tc);
		kst_diag_error(d, conf->path, line,
			       "ticket-keys: out of memory");
		return -ENOMEM;
	}
	if (ticket_reported(d, path) ||
	    (tc->src = ticket_src_get1(path, ticket_svc_uid(conf), d)) ==
		    NULL) {
		if (!ticket_reported_at(d, conf->path, line, lc->name))
			kst_diag_error(d, conf->path, line,
				       "listener %s: ticket-keys %s refused "
				       "(see the errors above)",
				       lc->name, path);
		free(tc);
		return -EINVAL;
	}
	tc->lifetime_s = conf->global.ticket_lifetime_ms / 1000;
	if (SSL_CTX_set_ex_data(ctx, ticket_idx, tc) != 1) {
		ticket_ctx_free(NULL, tc, NULL, 0, 0, NULL);
		kst_diag_error(d, conf->path, line,
			       "ticket-keys: out of memory");
		return -ENOMEM;
	}
	SSL_CTX_set_timeout(ctx, (long)tc->lifetime_s);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb);
	return 0;
}

/* -------------------------------------------------------- callbacks */

static struct kst_conn_counters *ticket_counters(SSL *s)
{
	struct kst_tls_sess *ts = SSL_get_app_data(s);

	if (ts == NULL || ts->chosen == NULL)
		return NULL;
	return kst_certstate_counting(ts->chosen->cert->state, ts->worker);
}

/* The worker's process-wide counters, or NULL. */
static struct kst_proc_counters *ticket_proc(SSL *s)
{
	struct kst_tls_sess *ts = SSL_get_app_data(s);

	return ts != NULL ? ts->pc : NULL;
}

/* The listener's counters of the worker, or NULL. */
static struct kst_hs_counters *ticket_listener(SSL *s)
{
	struct kst_tls_sess *ts = SSL_get_app_data(s);

	return ts != NULL ? ts->lc : NULL;
}

static int ticket_mac_init(EVP_MAC_CTX *hctx, const struct kst_ticket_key *k)
{
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_octet_string(
		OSSL_MAC_PARAM_KEY, (void *)k->hmac, sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -EINVAL;
}

/*
 * OpenSSL's ticket key callback (TLS 1.2 tickets and TLS 1.3 PSK tickets
 * alike). Encrypt: the first key, a random IV. Decrypt: the key the
 * ticket names; 0 (a full handshake) when none is listed, 2 (use it and
 * issue a new ticket under the first key) when it is an older key.
 */
static int ticket_key_cb(SSL *s, unsigned char *name, unsigned char *iv,
			 EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct ticket_ctx *tc =
		SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), ticket_idx);
	struct kst_tls_sess *ts = SSL_get_app_data(s);
	const struct kst_ticket_key *k;
	struct kst_ticket_keys *ks;
	bool first = true, mine = false;
	int rc = -1;

	if (tc == NULL)
		return -1;
	if (ts != NULL && ts->worker < TICKET_WORKERS_MAX) {
		ks = ticket_wslot_keys(tc->src, ts->worker);
	} else {
		ks = ticket_src_keys_get1(tc->src); /* not a worker's SSL */
		mine = true;
	}
	k = enc ? &ks->k[0] : kst_ticket_keys_find(ks, name, &first);
	if (k == NULL) {
		rc = 0;
	} else if (enc) {
		memcpy(name, k->name, sizeof(k->name));
		if (RAND_bytes(iv, 16) == 1 &&
		    EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
				       iv) == 1 &&
		    ticket_mac_init(hctx, k) == 0)
			rc = 1;
	} else if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
				      iv) == 1 &&
		   ticket_mac_init(hctx, k) == 0) {
		rc = first ? 1 : 2;
	}
	if (mine)
		kst_ticket_keys_put(ks);
	return rc;
}

static int ticket_gen_cb(SSL *s, void *arg)
{
	struct kst_conn_counters *cnt = ticket_counters(s);
	struct kst_proc_counters *pc = ticket_proc(s);
	struct kst_hs_counters *lc = ticket_listener(s);

	(void)arg;
	if (cnt != NULL)
		KST_COUNT(cnt->tickets_issued);
	if (pc != NULL)
		KST_COUNT(pc->tickets_issued);
	if (lc != NULL)
		KST_COUNT(lc->tickets_issued);
	return 1;
}

/*
 * After a ticket was decrypted (or not): count, and refuse a ticket older
 * than ticket-lifetime even while its key is listed (the session's time
 * travels inside the ticket, so another host's tickets are judged alike;
 * one from further in the future than the hosts' clocks may disagree is
 * refused too). "Unknown" counts what no listed key decrypts: a dropped
 * key, another fleet's, or a forged ticket (its HMAC fails). The other
 * answers are OpenSSL's defaults.
 */
/* When the session began (OpenSSL 3.3 added the time_t form and 3.4
 * deprecated the long one). */
static time_t ticket_session_time(const SSL_SESSION *ss)
{
#if OPENSSL_VERSION_NUMBER >= 0x30300000L
	return SSL_SESSION_get_time_ex(ss);
#else
	return (time_t)SSL_SESSION_get_time(ss);
#endif
}

static SSL_TICKET_RETURN ticket_dec_cb(SSL *s, SSL_SESSION *ss,
				       const unsigned char *keyname,
				       size_t keyname_len,
				       SSL_TICKET_STATUS status, void *arg)
{
	struct ticket_ctx *tc =
		ticket_idx >= 0
			? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), ticket_idx)
			: NULL;
	struct kst_conn_counters *cnt = ticket_counters(s);
	struct kst_proc_counters *pc = ticket_proc(s);
	struct kst_hs_counters *lc = ticket_listener(s);
	long age;

	(void)keyname;
	(void)keyname_len;
	(void)arg;
	switch (status) {
	case SSL_TICKET_NO_DECRYPT:
		if (cnt != NULL)
			KST_COUNT(cnt->tickets_refused_unknown);
		if (pc != NULL)
			KST_COUNT(pc->tickets_refused_unknown);
		if (lc != NULL)
			KST_COUNT(lc->tickets_refused_unknown);
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	case SSL_TICKET_SUCCESS:
	case SSL_TICKET_SUCCESS_RENEW:
		break;
	default:
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	}
	age = (long)time(NULL) - (long)ticket_session_time(ss);
	if (tc != NULL && (age < -TICKET_MAX_SKEW || age >= tc->lifetime_s)) {
		if (cnt != NULL)
			KST_COUNT(cnt->tickets_refused_expired);
		if (pc != NULL)
			KST_COUNT(pc->tickets_refused_expired);
		if (lc != NULL)
			KST_COUNT(lc->tickets_refused_expired);
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	}
	return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE
					    : SSL_TICKET_RETURN_USE_RENEW;
}

/* ----------------------------------------------------------- watch */

void kst_ticket_watch(int inofd)
{
	char dir[PATH_MAX];

	if (inofd < 0)
		return;
	pthread_mutex_lock(&ticket_reg_mu);
	for (struct ticket_src *src = ticket_reg; src != NULL;
	     src = src->next) {
		char *slash;

		snprintf(dir, sizeof(dir), "%s", src->path);
		slash = strrchr(dir, '/');
		if (slash == NULL)
			continue;
		*slash = '\0';
		inotify_add_watch(inofd, dir[0] ? dir : "/",
				  IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
					  IN_DELETE | IN_MOVED_FROM |
					  IN_ATTRIB);
	}
	pthread_mutex_unlock(&ticket_reg_mu);
}

static void ticket_log_keys(const char *path, const struct kst_ticket_keys *ks)
{
	char fp[32];

	kst_ticket_key_fingerprint(&ks->k[0], fp, sizeof(fp));
	kst_notice("ticket-keys %s: %zu key%s, new tickets under %s", path,
		   ks->n, ks->n == 1 ? "" : "s", fp);
}

/* One source: reread when the file changed since it was last seen. */
static void ticket_src_rescan(struct ticket_src *src)
{
	struct kst_ticket_keys *ks, *cur;
	struct kst_diag d;
	struct stat st;
	char why[256];

	if (stat(src->path, &st) < 0)
		memset(&st, 0, sizeof(st)); /* gone: reported once */
	if (ticket_same_file(&st, &src->seen))
		return;
	kst_diag_init(&d);
	ks = ticket_read(src->path, src->svc_uid, &st, &d);
	src->seen = st; /* a refused file is not retried until it changes */
	cur = ticket_src_keys_get1(src);
	if (ks != NULL &&
	    kst_ticket_keys_rotation_ok(cur, ks, why, sizeof(why)) < 0) {
		kst_diag_error(&d, src->path, ks->k[0].line, "%s", why);
		kst_ticket_keys_put(ks);
		ks = NULL;
	}
	kst_ticket_keys_put(cur);
	kst_diag_log(&d);
	kst_diag_free(&d);
	src->refused = ks == NULL;
	if (ks == NULL) {
		kst_err("ticket-keys %s: refused; the keys in use stay",
			src->path);
		return;
	}
	ticket_log_keys(src->path, ks);
	ticket_src_keys_set0(src, ks);
}

void kst_ticket_rescan(void)
{
	pthread_mutex_lock(&ticket_reg_mu);
	for (struct ticket_src *src = ticket_reg; src != NULL; src = src->next)
		ticket_src_rescan(src);
	pthread_mutex_unlock(&ticket_reg_mu);
}

void kst_ticket_dump(FILE *out)
{
	char fp[32];

	pthread_mutex_lock(&ticket_reg_mu);
	for (struct ticket_src *src = ticket_reg; src != NULL;
	     src = src->next) {
		struct kst_ticket_keys *ks = ticket_src_keys_get1(src);

		fprintf(out, "# ticket-keys %s:", src->path);
		for (size_t i = 0; i < ks->n; i++) {
			kst_ticket_key_fingerprint(&ks->k[i], fp, sizeof(fp));
			fprintf(out, " %s", fp);
		}
		fprintf(out, "\n");
		kst_ticket_keys_put(ks);
	}
	pthread_mutex_unlock(&ticket_reg_mu);
}

/* -------------------------------------------------------- the tool */

int kst_ticket_main(int argc, char **argv)
{
	unsigned char raw[KST_TICKET_KEY_LEN];
	unsigned char line[4 * ((KST_TICKET_KEY_LEN + 2) / 3) + 1];
	int rc = 1;

	if (argc != 2 || strcmp(argv[1], "new") != 0) {
		fprintf(stderr, "usage: kstapled ticket-key new\n"
				"  prints a new session-ticket key line (the "
				"base64 of 80 random bytes)\n");
		return 2;
	}
	if (RAND_priv_bytes(raw, sizeof(raw)) == 1 &&
	    EVP_EncodeBlock(line, raw, sizeof(raw)) > 0 &&
	    printf("%s\n", line) > 0 && fflush(stdout) == 0)
		rc = 0;
	else
		fprintf(stderr, "kstapled: cannot make a key\n");
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(line, sizeof(line));
	return rc;
}
