// SPDX-License-Identifier: MIT
/*
 * Loading a certificate, its chain and its private key from PEM files, and
 * the checks an operator expects at load time rather than at the first
 * handshake: the key matches, the key file is private, the issuer follows
 * the leaf, the chain is in order. Each error names the file and the
 * configuration line that brought it in.
 */
#include "daemon/cert.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "daemon/log.h"
#include "daemon/ocsp_store.h"
#include "daemon/util.h"

static int cert_read_pem(struct kst_cert *c, const char *path,
			 struct kst_diag *d, const char *file, int line);
static int cert_read_key(struct kst_cert *c, const struct kst_config *conf,
			 const char *path, struct kst_diag *d, const char *file,
			 int line);
static int cert_check_chain(struct kst_cert *c, struct kst_diag *d,
			    const char *file, int line, const char *path);
static int cert_names(struct kst_cert *c);
static void cert_key_kind(struct kst_cert *c);
static int cert_ocsp_urls(struct kst_cert *c, const struct kst_cert_conf *cc);

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

static int cert_read_pem(struct kst_cert *c, const char *path,
			 struct kst_diag *d, const char *file, int line)
{
	struct stat st;
	int fd = cert_open("cert", path, &st, d, file, line);
	BIO *bio = fd < 0 ? NULL : BIO_new_fd(fd, BIO_CLOSE);
	X509 *x;

	if (bio == NULL) {
		if (fd >= 0) {
			close(fd);
			kst_diag_error(d, file, line,
				       "cert %s: cannot read: %s", path,
				       strerror(ENOMEM));
		}
		ERR_clear_error();
		return -EINVAL;
	}
	c->chain = sk_X509_new_null();
	c->leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	while (c->leaf != NULL && c->chain != NULL &&
	       (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
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
	return 0;
}

/* Who may own a key file: root, the service user ([global] user), or,
 * with no user set, the user the daemon runs as. */
static bool cert_key_owner_ok(const struct kst_config *conf, uid_t owner)
{
	const char *user = conf->global.user;
	struct passwd *pw;

	if (owner == 0)
		return true;
	if (user == NULL || user[0] == '\0')
		return owner == geteuid();
	pw = getpwnam(user);
	return pw != NULL && pw->pw_uid == owner;
}

/*
 * Opens the key file and checks what was opened (fstat on the descriptor,
 * not stat on the name, so the checked file is the read file). Symbolic
 * links are followed on purpose: operators point key = at certbot's
 * live/ links; the file they end at is what must be regular, private
 * (no group or other bits) and owned by root or the service user.
 */
static int cert_key_open(const struct kst_config *conf, const char *path,
			 struct kst_diag *d, const char *file, int line)
{
	struct stat st;
	int fd = cert_open("key", path, &st, d, file, line);

	if (fd < 0)
		return -EINVAL;
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		kst_diag_error(d, file, line,
			       "key %s is accessible by group or others (mode "
			       "%04o): run chmod 600 on it",
			       path, (unsigned)(st.st_mode & 07777));
	else if (!cert_key_owner_ok(conf, st.st_uid))
		kst_diag_error(d, file, line,
			       "key %s is owned by uid %u: it must belong to "
			       "root or the service user (%s)",
			       path, (unsigned)st.st_uid,
			       conf->global.user && conf->global.user[0]
				       ? conf->global.user
				       : "the user kstapled runs as");
	else
		return fd;
	close(fd);
	return -EINVAL;
}

static int cert_read_key(struct kst_cert *c, const struct kst_config *conf,
			 const char *path, struct kst_diag *d, const char *file,
			 int line)
{
	int fd = cert_key_open(conf, path, d, file, line);
	BIO *bio;

	if (fd < 0)
		return -EINVAL;
	bio = BIO_new_fd(fd, BIO_CLOSE);
	if (bio == NULL) {
		close(fd);
		kst_diag_error(d, file, line, "key %s: cannot read: %s", path,
			       strerror(ENOMEM));
		ERR_clear_error();
		return -EINVAL;
	}
	c->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (c->key == NULL) {
		kst_diag_error(d, file, line, "key %s: no PEM private key in "
			       "the file (or it is encrypted)", path);
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

static bool cert_signed_by(X509 *subject, X509 *issuer)
{
	EVP_PKEY *pk = X509_get0_pubkey(issuer);
	bool ok = X509_check_issued(issuer, subject) == X509_V_OK &&
		  pk != NULL && X509_verify(subject, pk) == 1;

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

static int cert_add_name(struct kst_cert *c, const unsigned char *s,
			 size_t len)
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
			rc = cert_add_name(c, ASN1_STRING_get0_data(g->d.dNSName),
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

static int cert_ocsp_urls(struct kst_cert *c, const struct kst_cert_conf *cc)
{
	STACK_OF(OPENSSL_STRING) *aia = NULL;
	size_t n = cc->n_ocsp_urls;

	if (n == 0) {
		aia = X509_get1_ocsp(c->leaf);
		n = aia ? (size_t)sk_OPENSSL_STRING_num(aia) : 0;
	}
	c->ocsp_urls = calloc(n ? n : 1, sizeof(char *));
	if (c->ocsp_urls == NULL) {
		X509_email_free(aia);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		c->ocsp_urls[i] = strdup(
			aia ? sk_OPENSSL_STRING_value(aia, (int)i)
			    : cc->ocsp_urls[i]);
	c->n_ocsp_urls = n;
	X509_email_free(aia);
	return 0;
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

static int cert_options(struct kst_cert *c, const struct kst_config *conf,
			const struct kst_cert_conf *cc)
{
	c->must_staple = kst_ocsp_cert_must_staple(c->leaf);
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
	return cert_ocsp_urls(c, cc);
}

int kst_cert_load(const struct kst_config *conf,
		  const struct kst_cert_conf *cc, struct kst_diag *diag,
		  struct kst_cert **out)
{
	const char *file = conf->path;
	int pem_line = cc->pem_line ? cc->pem_line : cc->line;
	int key_line = cc->key_line ? cc->key_line : pem_line;
	struct kst_cert *c = calloc(1, sizeof(*c));
	int rc = -EINVAL;

	*out = NULL;
	if (c == NULL)
		return -ENOMEM;
	c->conf = cc;
	if (cert_read_pem(c, cc->pem, diag, file, pem_line) < 0)
		goto error;
	if (cert_identity(c, cc) < 0) {
		rc = -ENOMEM;
		goto error;
	}
	if (cert_read_key(c, conf, cc->key ? cc->key : cc->pem, diag, file,
			  key_line) < 0)
		goto error;
	if (cert_check_chain(c, diag, file, pem_line, cc->pem) < 0)
		goto error;
	cert_key_kind(c);
	if (cert_options(c, conf, cc) < 0) {
		rc = -ENOMEM;
		goto error;
	}
	*out = c;
	return 0;
error:
	kst_cert_free(c);
	return rc;
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
