// SPDX-License-Identifier: MIT
/* Certificate choice from the ClientHello; see sni.h. Pure. */
#include "daemon/tls/sni.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "daemon/tls/cert.h"
#include "daemon/config/config.h"
#include "daemon/base/diag.h"

/* TLS SignatureScheme values (RFC 8446 4.2.3) */
enum {
	SIG_ECDSA_P256 = 0x0403,
	SIG_ECDSA_P384 = 0x0503,
	SIG_ECDSA_P521 = 0x0603,
	SIG_ECDSA_SHA1 = 0x0203,
	SIG_RSA_PKCS1_SHA256 = 0x0401,
	SIG_RSA_PKCS1_SHA384 = 0x0501,
	SIG_RSA_PKCS1_SHA512 = 0x0601,
	SIG_RSA_PKCS1_SHA1 = 0x0201,
	SIG_RSA_PSS_RSAE_SHA256 = 0x0804,
	SIG_RSA_PSS_RSAE_SHA384 = 0x0805,
	SIG_RSA_PSS_RSAE_SHA512 = 0x0806,
	SIG_ED25519 = 0x0807,
	SIG_RSA_PSS_PSS_SHA256 = 0x0809,
};

static bool sni_ldh(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-';
}

static bool sni_ip_literal(const char *name, size_t len)
{
	unsigned char addr[16];
	char buf[64];

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, name, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, addr) == 1 ||
	       inet_pton(AF_INET6, buf, addr) == 1;
}

enum kst_sni_name kst_sni_classify(const char *name, size_t len)
{
	size_t label = 0;

	if (sni_ip_literal(name, len))
		return KST_SNI_IP_LITERAL;
	if (len == 0 || len > KST_SNI_NAME_MAX)
		return KST_SNI_INVALID;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch == '.') {
			/* no empty label, none ending in '-', no trailing
			 * dot (RFC 6066 3: "without a trailing dot") */
			if (label == 0 || name[i - 1] == '-' || i + 1 == len)
				return KST_SNI_INVALID;
			label = 0;
			continue;
		}
		if (!sni_ldh(ch) || (label == 0 && ch == '-') ||
		    ++label > KST_SNI_LABEL_MAX)
			return KST_SNI_INVALID;
	}
	return name[len - 1] == '-' ? KST_SNI_INVALID : KST_SNI_HOSTNAME;
}

int kst_sni_parse(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	size_t list, nlen;

	/* ServerNameList: u16 length, then one {u8 type, u16 len, name};
	 * RFC 6066 allows one host_name, and nothing may follow it */
	if (len < 5 || outlen == 0)
		return -EINVAL;
	list = (size_t)p[0] << 8 | p[1];
	if (list + 2 != len || p[2] != 0 /* host_name */)
		return -EINVAL;
	nlen = (size_t)p[3] << 8 | p[4];
	if (nlen + 5 != len)
		return -EINVAL;
	switch (kst_sni_classify((const char *)p + 5, nlen)) {
	case KST_SNI_IP_LITERAL:
		out[0] = '\0'; /* RFC 6066 forbids it: as if no SNI */
		return 0;
	case KST_SNI_HOSTNAME:
		break;
	default:
		return -EILSEQ;
	}
	if (nlen >= outlen)
		return -EILSEQ;
	for (size_t i = 0; i < nlen; i++)
		out[i] = (char)tolower(p[5 + i]);
	out[nlen] = '\0';
	return 0;
}

static void caps_sigalg(struct kst_hello_caps *c, unsigned sig)
{
	switch (sig) {
	case SIG_ECDSA_P256:
		c->ecdsa_p256 = c->ecdsa_any = true;
		break;
	case SIG_ECDSA_P384:
		c->ecdsa_p384 = c->ecdsa_any = true;
		break;
	case SIG_ECDSA_P521:
		c->ecdsa_p521 = c->ecdsa_any = true;
		break;
	case SIG_ECDSA_SHA1:
		c->ecdsa_any = true;
		break;
	case SIG_RSA_PSS_RSAE_SHA256:
	case SIG_RSA_PSS_RSAE_SHA384:
	case SIG_RSA_PSS_RSAE_SHA512:
		c->rsa_pss = true;
		break;
	case SIG_RSA_PKCS1_SHA256:
	case SIG_RSA_PKCS1_SHA384:
	case SIG_RSA_PKCS1_SHA512:
	case SIG_RSA_PKCS1_SHA1:
		c->rsa_pkcs1 = true;
		break;
	case SIG_ED25519:
		c->ed25519 = true;
		break;
	default:
		break;
	}
}

void kst_hello_caps_parse(struct kst_hello_caps *c,
			  const unsigned char *sigalgs, size_t sigalgs_len,
			  const unsigned char *versions, size_t versions_len,
			  int max_version)
{
	bool suite12_ecdsa = c->suite12_ecdsa, suite12_rsa = c->suite12_rsa;

	memset(c, 0, sizeof(*c));
	c->suite12_ecdsa = suite12_ecdsa;
	c->suite12_rsa = suite12_rsa;
	if (versions != NULL && versions_len >= 1 &&
	    (size_t)versions[0] + 1 == versions_len) {
		for (size_t i = 1; i + 1 < versions_len; i += 2) {
			int v = versions[i] << 8 | versions[i + 1];

			if (v == 0x0304 && max_version >= 0x0304)
				c->tls13 = true;
		}
	}
	if (sigalgs == NULL || sigalgs_len < 2)
		return;
	if (((size_t)sigalgs[0] << 8 | sigalgs[1]) + 2 != sigalgs_len)
		return;
	c->has_sigalgs = true;
	for (size_t i = 2; i + 1 < sigalgs_len; i += 2)
		caps_sigalg(c, (unsigned)(sigalgs[i] << 8 | sigalgs[i + 1]));
}

/* Can this client verify a signature by this candidate's key? */
static bool pick_verifiable(const struct kst_hello_caps *c,
			    const struct kst_sni_cand *k)
{
	if (c->tls13) {
		switch (k->kind) {
		case KST_KEY_ECDSA:
			/* TLS 1.3 binds the curve to the scheme */
			return (k->curve_nid == NID_X9_62_prime256v1 &&
				c->ecdsa_p256) ||
			       (k->curve_nid == NID_secp384r1 &&
				c->ecdsa_p384) ||
			       (k->curve_nid == NID_secp521r1 && c->ecdsa_p521);
		case KST_KEY_RSA:
			return c->rsa_pss;
		case KST_KEY_ED25519:
			return c->ed25519;
		default:
			return false;
		}
	}
	switch (k->kind) {
	case KST_KEY_ECDSA:
		return c->suite12_ecdsa && c->ecdsa_any;
	case KST_KEY_RSA:
		/* no signature_algorithms: RFC 5246 7.4.1.4.1 default */
		return c->suite12_rsa &&
		       (!c->has_sigalgs || c->rsa_pkcs1 || c->rsa_pss);
	case KST_KEY_ED25519:
		return c->suite12_ecdsa && c->ed25519;
	default:
		return false;
	}
}

int kst_sni_pick(const struct kst_hello_caps *caps,
		 const struct kst_sni_cand *cands, size_t n)
{
	int other = -1;

	for (size_t i = 0; i < n; i++) {
		if (!cands[i].servable || !pick_verifiable(caps, &cands[i]))
			continue;
		if (cands[i].kind == KST_KEY_ECDSA)
			return (int)i;
		if (other < 0)
			other = (int)i;
	}
	return other;
}

/* ------------------------------------------------------- name table */

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kst_sni_entry *)a)->name,
		      ((const struct kst_sni_entry *)b)->name);
}

static struct kst_sni_entry *table_find(const struct kst_sni_table *t,
					const char *name)
{
	struct kst_sni_entry key = {.name = (char *)name};

	return bsearch(&key, t->entries, t->n, sizeof(key), entry_cmp);
}

/* One (name, certificate) pair; sorted by name, then configuration order. */
struct sni_pair {
	const char *name;
	size_t cert;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct sni_pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->cert < y->cert ? -1 : x->cert > y->cert;
}

/* Entries from sorted pairs: one per name, its certificates in order,
 * a certificate listed once. */
static int table_fill(struct kst_sni_table *t, const struct sni_pair *p,
		      size_t n)
{
	for (size_t i = 0; i < n;) {
		struct kst_sni_entry *e = &t->entries[t->n];
		size_t j = i;

		while (j < n && strcmp(p[j].name, p[i].name) == 0)
			j++;
		e->name = strdup(p[i].name);
		e->certs = malloc((j - i) * sizeof(*e->certs));
		t->n++;
		if (e->name == NULL || e->certs == NULL)
			return -ENOMEM;
		for (size_t k = i; k < j; k++)
			if (e->n == 0 || e->certs[e->n - 1] != p[k].cert)
				e->certs[e->n++] = p[k].cert;
		i = j;
	}
	return 0;
}

/* O(n log n) in the number of names, whatever their count. */
int kst_sni_table_build(struct kst_sni_table *t, char *const *const *names,
			const size_t *n_names, size_t n_certs)
{
	struct kst_sni_entry *def;
	struct sni_pair *pairs;
	size_t n = 0, k = 0;
	int rc = -ENOMEM;

	memset(t, 0, sizeof(*t));
	t->default_entry = SIZE_MAX;
	for (size_t c = 0; c < n_certs; c++)
		n += n_names[c];
	pairs = malloc((n ? n : 1) * sizeof(*pairs));
	t->entries = calloc(n ? n : 1, sizeof(*t->entries));
	if (pairs == NULL || t->entries == NULL)
		goto out;
	for (size_t c = 0; c < n_certs; c++)
		for (size_t j = 0; j < n_names[c]; j++)
			pairs[k++] = (struct sni_pair){names[c][j], c};
	qsort(pairs, n, sizeof(*pairs), pair_cmp);
	if (table_fill(t, pairs, n) < 0)
		goto out;
	if (n_certs > 0 && n_names[0] > 0) {
		def = table_find(t, names[0][0]);
		t->default_entry = (size_t)(def - t->entries);
	}
	t->fallback[0] = 0;
	rc = 0;
out:
	free(pairs);
	return rc;
}

void kst_sni_table_free(struct kst_sni_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->entries[i].name);
		free(t->entries[i].certs);
	}
	free(t->entries);
	memset(t, 0, sizeof(*t));
}

const size_t *kst_sni_lookup(const struct kst_sni_table *t, const char *name,
			     size_t *n)
{
	const struct kst_sni_entry *e = NULL;
	char wild[300];
	const char *dot;

	if (name != NULL && *name != '\0') {
		e = table_find(t, name);
		dot = strchr(name, '.');
		if (e == NULL && dot != NULL && dot[1] != '\0') {
			snprintf(wild, sizeof(wild), "*%s", dot);
			e = table_find(t, wild);
		}
	}
	if (e == NULL && t->default_entry != SIZE_MAX)
		e = &t->entries[t->default_entry];
	if (e == NULL) {
		*n = 1;
		return t->fallback;
	}
	*n = e->n;
	return e->certs;
}

/* ------------------------------------------------------ duplicates */

#define SNI_DUP_WARN_MAX 10 /* per listener; then one line of count */
#define SNI_TYPES_MAX	 8  /* key types told apart per name */

static bool sni_same_type(const struct kst_cert *a, const struct kst_cert *b)
{
	return a->kind == b->kind &&
	       (a->kind != KST_KEY_ECDSA || a->curve_nid == b->curve_nid);
}

static void sni_type_text(const struct kst_cert *c, char *buf, size_t len)
{
	const char *curve = c->kind == KST_KEY_ECDSA
				    ? EC_curve_nid2nist(c->curve_nid)
				    : NULL;

	snprintf(buf, len, "%s%s%s", kst_cert_kind_name(c), curve ? " " : "",
		 curve ? curve : "");
}

struct sni_dups {
	const struct kst_config *conf;
	const struct kst_listener_conf *lc;
	struct kst_cert *const *certs;
	struct kst_diag *d;
	bool *seen; /* [lc->n_certs]: warned about already */
	size_t warned, more;
};

static void sni_dup(struct sni_dups *x, const char *name, size_t first,
		    size_t later)
{
	const struct kst_cert *a = x->certs[first], *b = x->certs[later];
	char type[64];

	if (x->seen[later])
		return;
	x->seen[later] = true;
	if (x->warned == SNI_DUP_WARN_MAX) {
		x->more++;
		return;
	}
	x->warned++;
	sni_type_text(b, type, sizeof(type));
	kst_diag_warn(x->d, x->conf->path, x->lc->certs[later].line,
		      "listener %s: cert %s and cert %s (line %d) both serve "
		      "%s with an %s key: the first is served, the second "
		      "only when the first cannot be",
		      x->lc->name, a->pem_path, b->pem_path,
		      x->lc->certs[first].line, name, type);
}

/* One SNI name: each certificate against the first of its key type.
 * Few key types exist, so this is linear in the candidates. */
static void sni_dups_entry(struct sni_dups *x, const struct kst_sni_entry *e)
{
	size_t firsts[SNI_TYPES_MAX], n_firsts = 0;

	for (size_t i = 0; i < e->n; i++) {
		const struct kst_cert *c = x->certs[e->certs[i]];
		size_t k;

		for (k = 0; k < n_firsts; k++)
			if (sni_same_type(x->certs[firsts[k]], c))
				break;
		if (k == n_firsts) {
			if (n_firsts < SNI_TYPES_MAX)
				firsts[n_firsts++] = e->certs[i];
			continue;
		}
		if (x->certs[firsts[k]] != c) /* one cert listed twice */
			sni_dup(x, e->name, firsts[k], e->certs[i]);
	}
}

void kst_sni_warn_dups(const struct kst_config *conf,
		       const struct kst_listener_conf *lc,
		       const struct kst_sni_table *t,
		       struct kst_cert *const *certs, struct kst_diag *d)
{
	struct sni_dups x = {
		.conf = conf,
		.lc = lc,
		.certs = certs,
		.d = d,
		.seen = calloc(lc->n_certs ? lc->n_certs : 1, sizeof(bool)),
	};

	if (x.seen == NULL)
		return; /* a warning lost to memory, nothing else */
	for (size_t i = 0; i < t->n; i++)
		if (t->entries[i].n > 1)
			sni_dups_entry(&x, &t->entries[i]);
	if (x.more > 0)
		kst_diag_warn(d, conf->path, lc->line,
			      "listener %s: %zu more certificates duplicate "
			      "an earlier one's name and key type",
			      lc->name, x.more);
	free(x.seen);
}
