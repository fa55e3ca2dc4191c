// SPDX-License-Identifier: MIT
/*
 * Loading a certificate, its chain and its private key from PEM files, and
 * the checks an operator expects at load time rather than at the first
 * handshake: the key matches, the key file is private, the issuer follows
 * the leaf, the chain is in order. Each error names the file and the
 * configuration line that brought it in.
 */
#include "daemon/tls/cert.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "daemon/base/log.h"
#include "daemon/ocsp/verdict.h"
#include "daemon/base/util.h"

static int cert_check_chain(struct kst_cert *c, struct kst_diag *d,
			    const char *file, int line, const char *path);
static int cert_names(struct kst_cert *c);
static void cert_key_kind(struct kst_cert *c);
static int cert_ocsp_urls(struct kst_cert *c, const struct kst_cert_conf *cc,
			  const struct kst_cert *same);

static time_t asn1_to_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

/*
 * Opens a file the configuration names for reading, and checks on the
 * descriptor that it is a regular file. O_NONBLOCK: a FIFO or device put
 * in its place must not hang the open (and with it start-up or a reload).
 * st is filled for further checks; -EINVAL once the error is recorded.
 */
static int cert_open(const char *what, const char *path, struct stat *st,
		     struct kst_diag *d, const char *file, int line)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0 || fstat(fd, st) < 0) {
		kst_diag_error(d, file, line, "%s %s: cannot read: %s", what,
			       path, strerror(errno));
	} else if (!S_ISREG(st->st_mode)) {
		kst_diag_error(d, file, line, "%s %s is not a regular file",
			       what, path);
	} else {
		return fd;
	}
	if (fd >= 0)
		close(fd);
	return -EINVAL;
}

/* The file's identity as a reload compares it (not its content). */
static void cert_file_stat(struct kst_cert_file *f, const struct stat *st)
{
	f->dev = (unsigned long long)st->st_dev;
	f->ino = (unsigned long long)st->st_ino;
	f->size = (long long)st->st_size;
	f->mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL +
		      st->st_mtim.tv_nsec;
	f->ctime_ns = (long long)st->st_ctim.tv_sec * 1000000000LL +
		      st->st_ctim.tv_nsec;
}

static bool cert_file_same_stat(const struct kst_cert_file *a,
				const struct kst_cert_file *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/*
 * The whole file in one buffer, read in a few read()s (an unbuffered BIO
 * on the descriptor reads PEM one byte per system call), and the SHA-256
 * of its content in f. Takes fd. A PEM or key file is small: at most
 * CERT_FILE_MAX bytes.
 */
#define CERT_FILE_MAX (1 << 20)
static int cert_slurp(int fd, const struct stat *st, struct kst_cert_file *f,
		      const char *what, const char *path, struct kst_diag *d,
		      const char *file, int line, unsigned char **out,
		      size_t *outlen)
{
	size_t cap = (size_t)st->st_size + 1, len = 0;
	unsigned char *buf = NULL;
	int err = 0;

	if (st->st_size >= CERT_FILE_MAX)
		err = EFBIG;
	else if ((buf = malloc(cap)) == NULL)
		err = ENOMEM;
	while (err == 0 && len < cap) {
		ssize_t r = read(fd, buf + len, cap - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = errno;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (err == 0 && len == cap) /* grew while we read: read it again */
		err = EAGAIN;
	if (err != 0) {
		kst_diag_error(d, file, line, "%s %s: cannot read: %s", what,
			       path, strerror(err));
		free(buf);
		return -EINVAL;
	}
	cert_file_stat(f, st);
	SHA256(buf, len, f->sha256);
	*out = buf;
	*outlen = len;
	return 0;
}

/* A chain certificate the loader saw already (same DER), or NULL. */
static struct kst_cert_interned *cert_intern_slot(struct kst_cert_loader *l,
						  const unsigned char sha[32])
{
	size_t h;

	memcpy(&h, sha, sizeof(h));
	for (h &= l->mask; l->interned[h].x != NULL; h = (h + 1) & l->mask)
		if (memcmp(l->interned[h].sha256, sha, 32) == 0)
			break;
	return &l->interned[h];
}

static int cert_intern_grow(struct kst_cert_loader *l)
{
	struct kst_cert_loader old = *l;
	size_t cap = l->mask ? (l->mask + 1) * 2 : 64;

	if (l->interned != NULL && (l->n_interned + 1) * 2 <= l->mask + 1)
		return 0;
	l->interned = calloc(cap, sizeof(*l->interned));
	if (l->interned == NULL) {
		l->interned = old.interned;
		return -ENOMEM;
	}
	l->mask = cap - 1;
	for (size_t i = 0; old.interned != NULL && i <= old.mask; i++)
		if (old.interned[i].x != NULL)
			*cert_intern_slot(l, old.interned[i].sha256) =
				old.interned[i];
	free(old.interned);
	return 0;
}

/*
 * The next certificate of the PEM after the leaf: the same intermediate
 * in 100,000 PEM files is parsed once and shared (up_ref), which saves
 * its memory and, OpenSSL 3 decoding every public key with a new
 * decoder, a third of the load time (issue 13). Other blocks (the key)
 * are skipped, as PEM_read_bio_X509 does.
 */
static X509 *cert_read_chain_x509(struct kst_cert_loader *l, BIO *bio)
{
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL, sha[32];
	const unsigned char *p;
	struct kst_cert_interned *slot;
	X509 *x = NULL;
	long len = 0;

	if (l == NULL)
		return PEM_read_bio_X509(bio, NULL, NULL, NULL);
	while (PEM_read_bio(bio, &name, &header, &data, &len) == 1) {
		bool cert = strcmp(name, PEM_STRING_X509) == 0 ||
			    strcmp(name, PEM_STRING_X509_OLD) == 0;

		OPENSSL_free(name);
		OPENSSL_free(header);
		if (cert)
			break;
		OPENSSL_free(data);
		data = NULL;
	}
	if (data == NULL || cert_intern_grow(l) < 0)
		goto out;
	SHA256(data, (size_t)len, sha);
	slot = cert_intern_slot(l, sha);
	if (slot->x != NULL) {
		x = slot->x;
		X509_up_ref(x);
		goto out;
	}
	p = data;
	x = d2i_X509(NULL, &p, len);
	if (x == NULL || p != data + len) {
		X509_free(x);
		x = NULL;
		goto out;
	}
	X509_up_ref(x); /* the loader's reference */
	slot->x = x;
	memcpy(slot->sha256, sha, 32);
	l->n_interned++;
out:
	OPENSSL_free(data);
	return x;
}

static int cert_parse_pem(struct kst_cert *c, struct kst_cert_loader *l,
			  const unsigned char *pem, size_t len,
			  struct kst_diag *d, const char *file, int line,
			  const char *path)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x;

	if (bio == NULL) {
		kst_diag_error(d, file, line, "cert %s: cannot read: %s", path,
			       strerror(ENOMEM));
		ERR_clear_error();
		return -EINVAL;
	}
	c->chain = sk_X509_new_null();
	c->leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	while (c->leaf != NULL && c->chain != NULL &&
	       (x = cert_read_chain_x509(l, bio)) != NULL) {
		if (!sk_X509_push(c->chain, x)) {
			X509_free(x);
			break;
		}
	}
	ERR_clear_error(); /* the loop ends on "no start line" */
	BIO_free(bio);
	if (c->leaf == NULL || c->chain == NULL) {
		kst_diag_error(d, file, line,
			       "cert %s: no PEM certificate in the file", path);
		return -EINVAL;
	}
	/* a CA first and a server certificate after it: the order is wrong */
	for (int i = 0;
	     X509_check_ca(c->leaf) != 0 && i < sk_X509_num(c->chain); i++) {
		char dn[256];

		if (X509_check_ca(sk_X509_value(c->chain, i)) != 0)
			continue;
		X509_NAME_oneline(
			X509_get_subject_name(sk_X509_value(c->chain, i)), dn,
			sizeof(dn));
		kst_diag_error(d, file, line,
			       "cert %s: the leaf must come first: the first "
			       "certificate is a CA, the leaf (%s) is "
			       "certificate %d; order the PEM leaf, its "
			       "issuer, ...",
			       path, dn, i + 2);
		return -EINVAL;
	}
	return 0;
}

/* Who may own a key file: root, the service user ([global] user), or,
 * with no user set, the user the daemon runs as. */
static bool cert_key_owner_ok(const struct kst_config *conf, uid_t owner)
{
	const char *user = conf->global.user;
	struct passwd pwbuf, *pw = NULL;
	char buf[4096];

	if (owner == 0)
		return true;
	if (user == NULL || user[0] == '\0')
		return owner == geteuid();
	/* the _r form: certificates load on several threads */
	if (getpwnam_r(user, &pwbuf, buf, sizeof(buf), &pw) != 0)
		pw = NULL;
	return pw != NULL && pw->pw_uid == owner;
}

/*
 * Opens the key file and checks what was opened (fstat on the descriptor,
 * not stat on the name, so the checked file is the read file). Symbolic
 * links are followed on purpose: operators point key = at certbot's
 * live/ links; the file they end at is what must be regular, private
 * (no group or other bits) and owned by root or the service user.
 */
static int cert_key_check(const struct kst_config *conf, const char *path,
			  const struct stat *st, struct kst_diag *d,
			  const char *file, int line)
{
	if (st->st_mode & (S_IRWXG | S_IRWXO))
		kst_diag_error(d, file, line,
			       "key %s is accessible by group or others (mode "
			       "%04o): run chmod 600 on it",
			       path, (unsigned)(st->st_mode & 07777));
	else if (!cert_key_owner_ok(conf, st->st_uid))
		kst_diag_error(d, file, line,
			       "key %s is owned by uid %u: it must belong to "
			       "root or the service user (%s)",
			       path, (unsigned)st->st_uid,
			       conf->global.user && conf->global.user[0]
				       ? conf->global.user
				       : "the user kstapled runs as");
	else
		return 0;
	return -EINVAL;
}

static int cert_key_open(const struct kst_config *conf, const char *path,
			 struct stat *st, struct kst_diag *d, const char *file,
			 int line)
{
	int fd = cert_open("key", path, st, d, file, line);

	if (fd < 0)
		return -EINVAL;
	if (cert_key_check(conf, path, st, d, file, line) == 0)
		return fd;
	close(fd);
	return -EINVAL;
}

/*
 * A PEM private key through the loader's decoder, made once: OpenSSL 3
 * builds a decoder for every PEM_read_bio_PrivateKey call, which was half
 * of the load time of a certificate (issue 13). The same input types and
 * selection as PEM_read_bio_PrivateKey; no passphrase (none is asked).
 */
static EVP_PKEY *cert_decode_key(struct kst_cert_loader *l,
				 const unsigned char *pem, size_t len)
{
	const unsigned char *p = pem;
	EVP_PKEY *k;

	if (l == NULL) {
		BIO *bio = BIO_new_mem_buf(pem, (int)len);

		k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		return k;
	}
	/* the decoder reads one PEM block: skip the certificates before
	 * the key, as PEM_read_bio_PrivateKey does */
	while (p != NULL) {
		const char *eol = memchr(p, '\n', len - (size_t)(p - pem));

		if (eol != NULL && memcmp(p, "-----BEGIN ", 11) == 0 &&
		    memmem(p, (size_t)((const unsigned char *)eol - p),
			   "PRIVATE KEY-----", 16) != NULL)
			break;
		p = memmem(p + 1, len - (size_t)(p + 1 - pem), "-----BEGIN ",
			   11);
	}
	if (p == NULL)
		return NULL;
	len -= (size_t)(p - pem);
	if (l->dctx == NULL)
		l->dctx = OSSL_DECODER_CTX_new_for_pkey(&l->out, "PEM", NULL,
							NULL, EVP_PKEY_KEYPAIR,
							NULL, NULL);
	if (l->dctx == NULL)
		return NULL;
	l->out = NULL;
	if (OSSL_DECODER_from_data(l->dctx, &p, &len) != 1) {
		EVP_PKEY_free(l->out);
		l->out = NULL;
		return NULL;
	}
	k = l->out;
	l->out = NULL;
	return k;
}

void kst_cert_loader_fini(struct kst_cert_loader *l)
{
	OSSL_DECODER_CTX_free(l->dctx);
	EVP_PKEY_free(l->out);
	for (size_t i = 0; l->interned != NULL && i <= l->mask; i++)
		X509_free(l->interned[i].x);
	free(l->interned);
	memset(l, 0, sizeof(*l));
}

static int cert_parse_key(struct kst_cert *c, struct kst_cert_loader *l,
			  const unsigned char *pem, size_t len,
			  const char *path, struct kst_diag *d,
			  const char *file, int line)
{
	c->key = cert_decode_key(l, pem, len);
	ERR_clear_error();
	if (c->key == NULL) {
		kst_diag_error(d, file, line,
			       "key %s: no PEM private key in "
			       "the file (or it is encrypted)",
			       path);
		return -EINVAL;
	}
	if (X509_check_private_key(c->leaf, c->key) != 1) {
		ERR_clear_error();
		kst_diag_error(d, file, line,
			       "key %s does not match the certificate (%s)",
			       path, c->subject_cn);
		return -EINVAL;
	}
	return 0;
}

/*
 * Whether issuer is subject's issuer: the names, and the key identifiers
 * when both carry them (X509_check_issued compares them). Only without
 * them is the signature checked: an ECDSA verify per certificate was a
 * fifth of the load time, and with matching identifiers it tells nothing
 * more about which certificate the OCSP CertID must name (clients verify
 * the signatures).
 */
static bool cert_signed_by(X509 *subject, X509 *issuer)
{
	EVP_PKEY *pk = X509_get0_pubkey(issuer);
	const ASN1_OCTET_STRING *akid = X509_get0_authority_key_id(subject);
	bool ok = X509_check_issued(issuer, subject) == X509_V_OK;

	if (ok && (akid == NULL || X509_get0_subject_key_id(issuer) == NULL))
		ok = pk != NULL && X509_verify(subject, pk) == 1;
	ERR_clear_error();
	return ok;
}

static void cert_dn(X509_NAME *n, char *buf, size_t len)
{
	X509_NAME_oneline(n, buf, (int)len);
}

static int cert_check_chain(struct kst_cert *c, struct kst_diag *d,
			    const char *file, int line, const char *path)
{
	int n = sk_X509_num(c->chain);
	char dn[256];

	if (cert_signed_by(c->leaf, c->leaf)) {
		c->self_issued = true;
		c->issuer = c->leaf;
		return 0;
	}
	if (n == 0 || !cert_signed_by(c->leaf, sk_X509_value(c->chain, 0))) {
		cert_dn(X509_get_issuer_name(c->leaf), dn, sizeof(dn));
		kst_diag_error(d, file, line,
			       "cert %s: chain incomplete: the issuer of %s "
			       "(%s) must follow it in the PEM",
			       path, c->subject_cn, dn);
		return -EINVAL;
	}
	c->issuer = sk_X509_value(c->chain, 0);
	for (int i = 0; i + 1 < n; i++) {
		X509 *sub = sk_X509_value(c->chain, i);

		if (!cert_signed_by(sub, sk_X509_value(c->chain, i + 1))) {
			cert_dn(X509_get_subject_name(sub), dn, sizeof(dn));
			kst_diag_error(d, file, line,
				       "cert %s: chain out of order: "
				       "certificate %d (%s) is not followed "
				       "by its issuer",
				       path, i + 2, dn);
			return -EINVAL;
		}
	}
	return 0;
}

static int cert_add_name(struct kst_cert *c, const unsigned char *s, size_t len)
{
	char **arr, *name;

	if (len == 0 || len > 253 || memchr(s, '\0', len) != NULL)
		return 0;
	name = strndup((const char *)s, len);
	if (name == NULL)
		return -ENOMEM;
	for (char *p = name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	arr = realloc(c->names, (c->n_names + 1) * sizeof(*arr));
	if (arr == NULL) {
		free(name);
		return -ENOMEM;
	}
	c->names = arr;
	arr[c->n_names++] = name;
	return 0;
}

/* DNS subjectAltNames, else the subject CN (as clients do). */
static int cert_names(struct kst_cert *c)
{
	GENERAL_NAMES *gens;
	int rc = 0;

	X509_NAME_get_text_by_NID(X509_get_subject_name(c->leaf),
				  NID_commonName, c->subject_cn,
				  sizeof(c->subject_cn));
	gens = X509_get_ext_d2i(c->leaf, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_DNS)
			rc = cert_add_name(
				c, ASN1_STRING_get0_data(g->d.dNSName),
				(size_t)ASN1_STRING_length(g->d.dNSName));
		if (rc < 0)
			break;
	}
	GENERAL_NAMES_free(gens);
	if (rc == 0 && c->n_names == 0 && c->subject_cn[0] != '\0')
		rc = cert_add_name(c, (const unsigned char *)c->subject_cn,
				   strlen(c->subject_cn));
	return rc;
}

static void cert_key_kind(struct kst_cert *c)
{
	char group[64];

	switch (EVP_PKEY_get_base_id(c->key)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		c->kind = KST_KEY_RSA;
		break;
	case EVP_PKEY_EC:
		c->kind = KST_KEY_ECDSA;
		if (EVP_PKEY_get_group_name(c->key, group, sizeof(group),
					    NULL) == 1)
			c->curve_nid = OBJ_sn2nid(group);
		break;
	case EVP_PKEY_ED25519:
		c->kind = KST_KEY_ED25519;
		break;
	default:
		c->kind = KST_KEY_OTHER;
	}
}

/* The responders: the configuration's, else the leaf's AIA (copied from
 * same, the previous generation's certificate with this leaf, when that
 * one read them from the AIA too). */
static int cert_ocsp_urls(struct kst_cert *c, const struct kst_cert_conf *cc,
			  const struct kst_cert *same)
{
	STACK_OF(OPENSSL_STRING) *aia = NULL;
	char *const *from = cc->ocsp_urls;
	size_t n = cc->n_ocsp_urls;

	if (n == 0 && same != NULL && same->conf->n_ocsp_urls == 0) {
		from = same->ocsp_urls;
		n = same->n_ocsp_urls;
	} else if (n == 0) {
		aia = X509_get1_ocsp(c->leaf);
		n = aia ? (size_t)sk_OPENSSL_STRING_num(aia) : 0;
	}
	c->ocsp_urls = calloc(n ? n : 1, sizeof(char *));
	for (; c->ocsp_urls != NULL && c->n_ocsp_urls < n; c->n_ocsp_urls++) {
		size_t i = c->n_ocsp_urls;

		c->ocsp_urls[i] = strdup(
			aia ? sk_OPENSSL_STRING_value(aia, (int)i) : from[i]);
		if (c->ocsp_urls[i] == NULL)
			break;
	}
	X509_email_free(aia);
	return c->ocsp_urls != NULL && c->n_ocsp_urls == n ? 0 : -ENOMEM;
}

static int cert_identity(struct kst_cert *c, const struct kst_cert_conf *cc)
{
	const char *base = strrchr(cc->name, '/');
	unsigned len = 0;

	c->name = strdup(cc->inline_cert && base ? base + 1 : cc->name);
	if (c->name == NULL ||
	    X509_digest(c->leaf, EVP_sha256(), c->sha256, &len) != 1)
		return -ENOMEM;
	kst_hex(c->fingerprint, c->sha256, sizeof(c->sha256));
	c->not_before = asn1_to_time(X509_get0_notBefore(c->leaf));
	c->not_after = asn1_to_time(X509_get0_notAfter(c->leaf));
	return cert_names(c);
}

/* prev: the previous generation's certificate; when c shares its leaf,
 * what the leaf's extensions say is known (a reload decoded them again
 * for each of 100,000 certificates: issue 13). */
static int cert_options(struct kst_cert *c, const struct kst_config *conf,
			const struct kst_cert_conf *cc,
			const struct kst_cert *prev)
{
	const struct kst_cert *same =
		prev != NULL && prev->leaf == c->leaf ? prev : NULL;

	c->must_staple =
		same ? same->must_staple : kst_ocsp_cert_must_staple(c->leaf);
	c->policy = c->must_staple ? KST_POLICY_MUST_STAPLE
				   : kst_config_cert_policy(conf, cc);
	c->stapling = cc->stapling;
	c->fetch = c->stapling && kst_config_cert_fetch(conf, cc);
	if (cc->staple_file != NULL)
		c->staple_path = strdup(cc->staple_file);
	else if (asprintf(&c->staple_path, "%s.ocsp", cc->pem) < 0)
		c->staple_path = NULL;
	if (c->staple_path == NULL)
		return -ENOMEM;
	return cert_ocsp_urls(c, cc, same);
}

/* Same paths as the previous generation's certificate? */
static bool cert_same_paths(const struct kst_cert_conf *cc,
			    const struct kst_cert *prev)
{
	const char *key = cc->key ? cc->key : cc->pem;

	return prev != NULL && strcmp(prev->pem_path, cc->pem) == 0 &&
	       strcmp(prev->key_path, key) == 0;
}

/*
 * A reload's shortcut: both files stand as they stood (device, inode,
 * size, mtime, ctime: chmod and chown change ctime) and the key file
 * still passes its checks under this configuration. Nothing reported
 * here: on any doubt, the full load reports.
 */
static bool cert_unchanged(const struct kst_config *conf,
			   const struct kst_cert_conf *cc,
			   const struct kst_cert *prev, struct kst_cert *c)
{
	const char *key = cc->key ? cc->key : cc->pem;
	struct stat st;

	if (!cert_same_paths(cc, prev) || stat(cc->pem, &st) < 0 ||
	    !S_ISREG(st.st_mode))
		return false;
	cert_file_stat(&c->pem_file, &st);
	if (!cert_file_same_stat(&c->pem_file, &prev->pem_file))
		return false;
	if (key != cc->pem && (stat(key, &st) < 0 || !S_ISREG(st.st_mode)))
		return false;
	cert_file_stat(&c->key_file, &st);
	if (!cert_file_same_stat(&c->key_file, &prev->key_file))
		return false;
	memcpy(c->pem_file.sha256, prev->pem_file.sha256, 32);
	memcpy(c->key_file.sha256, prev->key_file.sha256, 32);
	return !(st.st_mode & (S_IRWXG | S_IRWXO)) &&
	       cert_key_owner_ok(conf, st.st_uid);
}

/* What the files gave the previous generation, shared (up_ref). */
static int cert_clone(struct kst_cert *c, const struct kst_cert_conf *cc,
		      const struct kst_cert *prev)
{
	const char *base = strrchr(cc->name, '/');

	c->leaf = prev->leaf;
	X509_up_ref(c->leaf);
	c->key = prev->key;
	EVP_PKEY_up_ref(c->key);
	c->chain = X509_chain_up_ref(prev->chain);
	c->name = strdup(cc->inline_cert && base ? base + 1 : cc->name);
	c->names = calloc(prev->n_names ? prev->n_names : 1, sizeof(char *));
	if (c->chain == NULL || c->name == NULL || c->names == NULL)
		return -ENOMEM;
	for (; c->n_names < prev->n_names; c->n_names++) {
		c->names[c->n_names] = strdup(prev->names[c->n_names]);
		if (c->names[c->n_names] == NULL)
			return -ENOMEM;
	}
	c->self_issued = prev->self_issued;
	c->issuer = c->self_issued ? c->leaf : sk_X509_value(c->chain, 0);
	c->kind = prev->kind;
	c->curve_nid = prev->curve_nid;
	memcpy(c->sha256, prev->sha256, sizeof(c->sha256));
	memcpy(c->fingerprint, prev->fingerprint, sizeof(c->fingerprint));
	memcpy(c->subject_cn, prev->subject_cn, sizeof(c->subject_cn));
	c->not_before = prev->not_before;
	c->not_after = prev->not_after;
	c->reused = true;
	return 0;
}

/* The PEM and key files, read whole (a key in the PEM is read once). */
static int cert_read_files(struct kst_cert *c, const struct kst_config *conf,
			   const struct kst_cert_conf *cc, struct kst_diag *d,
			   unsigned char **pem, size_t *pem_len,
			   unsigned char **key, size_t *key_len)
{
	const char *file = conf->path, *kpath = cc->key ? cc->key : cc->pem;
	int pem_line = cc->pem_line ? cc->pem_line : cc->line;
	int key_line = cc->key_line ? cc->key_line : pem_line;
	struct stat st;
	int fd = cert_open("cert", cc->pem, &st, d, file, pem_line);

	if (fd < 0 || cert_slurp(fd, &st, &c->pem_file, "cert", cc->pem, d,
				 file, pem_line, pem, pem_len) < 0)
		return -EINVAL;
	if (kpath == cc->pem) {
		/* the PEM's descriptor was checked as a file; the key
		 * checks apply to it too */
		if (cert_key_check(conf, kpath, &st, d, file, key_line) < 0)
			return -EINVAL;
		c->key_file = c->pem_file;
		return 0;
	}
	fd = cert_key_open(conf, kpath, &st, d, file, key_line);
	if (fd < 0 || cert_slurp(fd, &st, &c->key_file, "key", kpath, d, file,
				 key_line, key, key_len) < 0)
		return -EINVAL;
	return 0;
}

static int cert_parse(struct kst_cert *c, const struct kst_config *conf,
		      const struct kst_cert_conf *cc, struct kst_cert_loader *l,
		      struct kst_diag *d, const unsigned char *pem,
		      size_t pem_len, const unsigned char *key, size_t key_len)
{
	const char *file = conf->path, *kpath = cc->key ? cc->key : cc->pem;
	int pem_line = cc->pem_line ? cc->pem_line : cc->line;
	int key_line = cc->key_line ? cc->key_line : pem_line;

	if (cert_parse_pem(c, l, pem, pem_len, d, file, pem_line, cc->pem) < 0)
		return -EINVAL;
	if (cert_identity(c, cc) < 0)
		return -ENOMEM;
	if (cert_parse_key(c, l, key ? key : pem, key ? key_len : pem_len,
			   kpath, d, file, key_line) < 0)
		return -EINVAL;
	if (cert_check_chain(c, d, file, pem_line, cc->pem) < 0)
		return -EINVAL;
	cert_key_kind(c);
	return 0;
}

int kst_cert_load_reuse(const struct kst_config *conf,
			const struct kst_cert_conf *cc,
			const struct kst_cert *prev, struct kst_cert_loader *l,
			struct kst_diag *diag, struct kst_cert **out)
{
	struct kst_cert *c = calloc(1, sizeof(*c));
	unsigned char *pem = NULL, *key = NULL;
	size_t pem_len = 0, key_len = 0;
	int rc = -ENOMEM;

	*out = NULL;
	if (c == NULL)
		return -ENOMEM;
	c->conf = cc;
	c->pem_path = strdup(cc->pem);
	c->key_path = strdup(cc->key ? cc->key : cc->pem);
	if (c->pem_path == NULL || c->key_path == NULL)
		goto error;
	if (cert_unchanged(conf, cc, prev, c)) {
		rc = cert_clone(c, cc, prev);
	} else {
		rc = cert_read_files(c, conf, cc, diag, &pem, &pem_len, &key,
				     &key_len);
		/* touched, or copied in place, but the same bytes */
		if (rc == 0 && cert_same_paths(cc, prev) &&
		    memcmp(c->pem_file.sha256, prev->pem_file.sha256, 32) ==
			    0 &&
		    memcmp(c->key_file.sha256, prev->key_file.sha256, 32) == 0)
			rc = cert_clone(c, cc, prev);
		else if (rc == 0)
			rc = cert_parse(c, conf, cc, l, diag, pem, pem_len, key,
					key_len);
	}
	if (rc == 0)
		rc = cert_options(c, conf, cc, prev);
	if (rc < 0)
		goto error;
	if (key != NULL)
		OPENSSL_cleanse(key, key_len);
	if (pem != NULL) /* a key may be in it */
		OPENSSL_cleanse(pem, pem_len);
	free(key);
	free(pem);
	*out = c;
	return 0;
error:
	if (key != NULL)
		OPENSSL_cleanse(key, key_len);
	if (pem != NULL)
		OPENSSL_cleanse(pem, pem_len);
	free(key);
	free(pem);
	kst_cert_free(c);
	return rc;
}

int kst_cert_load(const struct kst_config *conf, const struct kst_cert_conf *cc,
		  struct kst_diag *diag, struct kst_cert **out)
{
	return kst_cert_load_reuse(conf, cc, NULL, NULL, diag, out);
}

void kst_cert_free(struct kst_cert *c)
{
	if (c == NULL)
		return;
	X509_free(c->leaf);
	sk_X509_pop_free(c->chain, X509_free);
	EVP_PKEY_free(c->key);
	for (size_t i = 0; i < c->n_names; i++)
		free(c->names[i]);
	free(c->names);
	for (size_t i = 0; i < c->n_ocsp_urls; i++)
		free(c->ocsp_urls[i]);
	free(c->ocsp_urls);
	free(c->staple_path);
	free(c->name);
	free(c->pem_path);
	free(c->key_path);
	free(c);
}

const char *kst_cert_kind_name(const struct kst_cert *c)
{
	static const char *const names[] = {
		[KST_KEY_RSA] = "RSA",
		[KST_KEY_ECDSA] = "ECDSA",
		[KST_KEY_ED25519] = "Ed25519",
		[KST_KEY_OTHER] = "other",
	};

	return names[c->kind];
}
