// SPDX-License-Identifier: MIT
/*
 * The kTLS handoff on a live connection (see ktls.h): capturing the TLS 1.3
 * client traffic secret from OpenSSL's keylog callback, installing TLS 1.3
 * RX, asking the kernel what is installed, and the record-type aware I/O a
 * kTLS socket needs. The secret lives in one block per SSL (OpenSSL secure
 * heap when there is one) that is wiped and freed by the handoff on every
 * path, and by the ex_data free callback if the handshake never finishes.
 * Only the building of crypto_info (crypto_info.c) decides bytes; this file
 * does the syscalls around it. Like all of ktls/, it includes nothing from
 * daemon/ and never logs: what failed goes back in the result, and the
 * caller logs it.
 */
#include "ktls/ktls.h"

#include "ktls/crypto_info.h"
#include "ktls/probe.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

/* The captured CLIENT_ and SERVER_TRAFFIC_SECRET_0; key material. */
struct ktls_secret {
	unsigned char secret[KST_KTLS_MAX_SECRET_LEN]; /* the client's */
	size_t len;
	unsigned char server[KST_KTLS_MAX_SECRET_LEN];
	size_t server_len;
};

/* The current application traffic secrets of a connection whose two
 * directions are in the kernel, kept for rekeying (kst_ktls_rekey). */
struct kst_ktls_keys {
	const struct kst_ktls_suite *suite;
	unsigned char client[KST_KTLS_MAX_SECRET_LEN];
	unsigned char server[KST_KTLS_MAX_SECRET_LEN];
};

static void ktls_init_once(void);
static void ktls_secret_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
			     int idx, long argl, void *argp);
static void ktls_secret_drop(SSL *ssl);
static int ktls_unhex(const char *hex, size_t hex_len, unsigned char *out);
static bool ktls_ulp_is_tls(int fd);
static bool ktls_installed(int fd, int dir);
static enum kst_ktls_why ktls_why_base(SSL *ssl,
				       const struct kst_ktls_suite *s);
static enum kst_ktls_why ktls_why_openssl(int fd, enum kst_ktls_why base);
static enum kst_ktls_why ktls_rx13_check(SSL *ssl, int fd,
					 enum kst_ktls_why base,
					 enum kst_ktls_why tx_why);
static enum kst_ktls_why ktls_rx13_install(SSL *ssl, int fd,
					   const struct kst_ktls_suite *s,
					   struct kst_ktls_result *res);
static void ktls_verify(int fd, int dir, bool claimed, enum kst_ktls_why why,
			struct kst_ktls_result *res);

static const char *const kst_ktls_why_names[KST_KTLS_WHY__MAX] = {
	[KST_KTLS_WHY_OK] = "ok",
	[KST_KTLS_WHY_DISABLED] = "disabled",
	[KST_KTLS_WHY_NO_KERNEL] = "no-kernel",
	[KST_KTLS_WHY_VERSION] = "version",
	[KST_KTLS_WHY_CIPHER] = "cipher",
	[KST_KTLS_WHY_PENDING] = "pending",
	[KST_KTLS_WHY_NO_SECRET] = "no-secret",
	[KST_KTLS_WHY_SETSOCKOPT] = "setsockopt",
	[KST_KTLS_WHY_NOT_INSTALLED] = "not-installed",
	[KST_KTLS_WHY_OPENSSL] = "openssl",
};

#define KTLS_KEYLOG_LABEL  "CLIENT_TRAFFIC_SECRET_0 "
#define KTLS_KEYLOG_SERVER "SERVER_TRAFFIC_SECRET_0 "
#define KTLS_REC_ALERT	   21
#define KTLS_REC_HS	   22
#define KTLS_REC_DATA	   23
#define KTLS_HS_KEY_UPDATE 24

static pthread_once_t ktls_once = PTHREAD_ONCE_INIT;
static int ktls_ex_idx = -1;

const char *kst_ktls_why_name(enum kst_ktls_why w)
{
	if ((unsigned)w >= KST_KTLS_WHY__MAX)
		return "unknown";
	return kst_ktls_why_names[w];
}

static void ktls_init_once(void)
{
	ktls_ex_idx =
		SSL_get_ex_new_index(0, NULL, NULL, NULL, ktls_secret_free);
}

int kst_ktls_init(void)
{
	pthread_once(&ktls_once, ktls_init_once);
	return ktls_ex_idx >= 0 ? 0 : -ENOMEM;
}

/* ex_data free callback: runs at SSL_free for a handshake that never got
 * to the handoff. */
static void ktls_secret_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
			     int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	OPENSSL_secure_clear_free(ptr, sizeof(struct ktls_secret));
}

/* Wipe, free and detach the secret block of ssl, if any. */
static void ktls_secret_drop(SSL *ssl)
{
	struct ktls_secret *sec = NULL;

	if (ktls_ex_idx < 0)
		return;
	sec = SSL_get_ex_data(ssl, ktls_ex_idx);
	if (sec == NULL)
		return;
	SSL_set_ex_data(ssl, ktls_ex_idx, NULL);
	OPENSSL_secure_clear_free(sec, sizeof(*sec));
}

static int ktls_unhex(const char *hex, size_t hex_len, unsigned char *out)
{
	for (size_t i = 0; i < hex_len; i++) {
		int v = OPENSSL_hexchar2int((unsigned char)hex[i]);

		if (v < 0)
			return -EINVAL;
		if (i % 2 == 0)
			out[i / 2] = (unsigned char)(v << 4);
		else
			out[i / 2] |= (unsigned char)v;
	}
	return 0;
}

/*
 * "CLIENT_TRAFFIC_SECRET_0 <64 hex client_random> <hex secret>", and the
 * same for SERVER_TRAFFIC_SECRET_0 (kept only for a rekey). OpenSSL passes
 * a const SSL, but the SSL is this connection's own and ex_data is the
 * place for per-connection state, hence the cast.
 */
void kst_ktls_keylog_cb(const SSL *ssl, const char *line)
{
	const size_t lab = sizeof(KTLS_KEYLOG_LABEL) - 1;
	unsigned char cr[SSL3_RANDOM_SIZE], mine[SSL3_RANDOM_SIZE];
	struct ktls_secret *sec = NULL;
	const char *hex = NULL;
	size_t hex_len = 0;
	bool server;

	_Static_assert(sizeof(KTLS_KEYLOG_SERVER) == sizeof(KTLS_KEYLOG_LABEL),
		       "labels of one length");
	if (ktls_ex_idx < 0)
		return;
	if (strncmp(line, KTLS_KEYLOG_LABEL, lab) == 0)
		server = false;
	else if (strncmp(line, KTLS_KEYLOG_SERVER, lab) == 0)
		server = true;
	else
		return;
	hex = line + lab + 2 * SSL3_RANDOM_SIZE + 1;
	if (strnlen(line + lab, 2 * SSL3_RANDOM_SIZE + 1) !=
		    2 * SSL3_RANDOM_SIZE + 1 ||
	    hex[-1] != ' ')
		return;
	hex_len = strlen(hex);
	if ((hex_len != 64 && hex_len != 96) ||
	    ktls_unhex(line + lab, 2 * SSL3_RANDOM_SIZE, cr) != 0 ||
	    SSL_get_client_random(ssl, mine, sizeof(mine)) != sizeof(mine) ||
	    CRYPTO_memcmp(cr, mine, sizeof(cr)) != 0)
		return;
	sec = SSL_get_ex_data(ssl, ktls_ex_idx);
	if (sec == NULL) {
		sec = OPENSSL_secure_zalloc(sizeof(*sec));
		if (sec == NULL)
			sec = OPENSSL_zalloc(sizeof(*sec));
		if (sec == NULL)
			return;
		if (SSL_set_ex_data((SSL *)ssl, ktls_ex_idx, sec) != 1) {
			OPENSSL_secure_clear_free(sec, sizeof(*sec));
			return;
		}
	}
	if (server) {
		sec->server_len = 0;
		if (ktls_unhex(hex, hex_len, sec->server) == 0)
			sec->server_len = hex_len / 2;
	} else {
		sec->len = 0;
		if (ktls_unhex(hex, hex_len, sec->secret) == 0)
			sec->len = hex_len / 2;
	}
}

bool kst_ktls_has_secret(const SSL *ssl)
{
	const struct ktls_secret *sec =
		ktls_ex_idx >= 0 && ssl != NULL
			? SSL_get_ex_data(ssl, ktls_ex_idx)
			: NULL;

	return sec != NULL && sec->len > 0;
}

static bool ktls_ulp_is_tls(int fd)
{
	char ulp[16] = {0};
	socklen_t len = sizeof(ulp) - 1;

	return getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &len) == 0 &&
	       strcmp(ulp, "tls") == 0;
}

/* Reasons that hold for both directions, before any syscall. */
static enum kst_ktls_why ktls_why_base(SSL *ssl, const struct kst_ktls_suite *s)
{
	int v = SSL_version(ssl);

	if ((SSL_get_options(ssl) & SSL_OP_ENABLE_KTLS) == 0)
		return KST_KTLS_WHY_DISABLED;
	if (v != TLS1_2_VERSION && v != TLS1_3_VERSION)
		return KST_KTLS_WHY_VERSION;
	if (s == NULL)
		return KST_KTLS_WHY_CIPHER;
	return KST_KTLS_WHY_OK;
}

/*
 * Why a direction OpenSSL handles is not in the kernel. OpenSSL attaches
 * the ULP before it sets keys, so a ULP without keys means the kernel
 * refused them (typically: the AEAD module could not be loaded).
 */
static enum kst_ktls_why ktls_why_openssl(int fd, enum kst_ktls_why base)
{
	if (base != KST_KTLS_WHY_OK)
		return base;
	if (ktls_ulp_is_tls(fd))
		return KST_KTLS_WHY_NOT_INSTALLED;
	if (!kst_ktls_probe(NULL))
		return KST_KTLS_WHY_NO_KERNEL;
	return KST_KTLS_WHY_OPENSSL;
}

/* The direction has keys in the kernel. Header only: the full read-back
 * would copy the key out. */
static bool ktls_installed(int fd, int dir)
{
	struct tls_crypto_info info;
	socklen_t len = sizeof(info);

	return getsockopt(fd, SOL_TLS, dir, &info, &len) == 0;
}

/*
 * Preconditions of TLS 1.3 RX. It goes to the kernel only when TX is
 * there: both or TX alone, never RX alone. With TX in userspace
 * (OpenSSL 3.0 declines it when max_fragment_length is negotiated) the
 * connection keeps calling SSL_write and SSL_shutdown, and OpenSSL would
 * then read the kernel's plaintext as TLS records. Bytes OpenSSL has
 * already read from the socket (read_ahead, or anything SSL_has_pending
 * sees; note SSL_pending alone misses unprocessed records) would be lost
 * to the kernel, so such a connection stays in userspace too. The
 * conditions on OpenSSL's state come first, so that they are reported on
 * any kernel; TX put the ULP in place.
 */
static enum kst_ktls_why ktls_rx13_check(SSL *ssl, int fd,
					 enum kst_ktls_why base,
					 enum kst_ktls_why tx_why)
{
	if (base != KST_KTLS_WHY_OK)
		return base;
	if (SSL_get_read_ahead(ssl) || SSL_has_pending(ssl))
		return KST_KTLS_WHY_PENDING;
	if (!kst_ktls_has_secret(ssl))
		return KST_KTLS_WHY_NO_SECRET;
	if (tx_why != KST_KTLS_WHY_OK)
		return tx_why; /* RX follows TX, for the same reason */
	if (!ktls_installed(fd, TLS_TX))
		return KST_KTLS_WHY_NOT_INSTALLED;
	return KST_KTLS_WHY_OK;
}

/* Key, iv and crypto_info from the secret; RX with rec_seq 0, the first
 * record under the application traffic key. A failed step is noted in res
 * (rx_step, rx_err) for the caller's log line. */
static enum kst_ktls_why ktls_rx13_install(SSL *ssl, int fd,
					   const struct kst_ktls_suite *s,
					   struct kst_ktls_result *res)
{
	struct ktls_secret *sec = SSL_get_ex_data(ssl, ktls_ex_idx);
	unsigned char key[KST_KTLS_MAX_KEY_LEN], iv[KST_KTLS_IV_LEN];
	union kst_ktls_crypto_info ci;
	socklen_t len = 0;
	enum kst_ktls_why why = KST_KTLS_WHY_OK;

	if (sec == NULL || sec->len != s->secret_len)
		return KST_KTLS_WHY_NO_SECRET;
	if (kst_ktls_tls13_derive(s, sec->secret, sec->len, key, iv) != 0) {
		/* OpenSSL's error queue keeps the reasons for the caller */
		res->rx_step = KST_KTLS_STEP_DERIVE;
		why = KST_KTLS_WHY_OPENSSL;
		goto out;
	}
	if (kst_ktls_crypto_info_build(s, key, iv, 0, &ci, &len) != 0 ||
	    setsockopt(fd, SOL_TLS, TLS_RX, &ci, len) != 0) {
		res->rx_step = KST_KTLS_STEP_TLS_RX;
		res->rx_err = -errno;
		why = KST_KTLS_WHY_SETSOCKOPT;
	}
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(iv, sizeof(iv));
	OPENSSL_cleanse(&ci, sizeof(ci));
	return why;
}

/* The kernel has the last word on each direction. */
static void ktls_verify(int fd, int dir, bool claimed, enum kst_ktls_why why,
			struct kst_ktls_result *res)
{
	struct kst_ktls_info info;
	bool in = kst_ktls_get_info(fd, dir, &info) == 0;

	if (!in && claimed)
		why = KST_KTLS_WHY_NOT_INSTALLED;
	if (in) {
		why = KST_KTLS_WHY_OK;
		res->cipher_type = info.cipher_type;
	}
	if (dir == TLS_TX) {
		res->tx = in;
		res->tx_why = why;
		res->tx_rec_seq = in ? info.rec_seq : 0;
	} else {
		res->rx = in;
		res->rx_why = why;
		res->rx_rec_seq = in ? info.rec_seq : 0;
	}
}

/* Both secrets of a TLS 1.3 connection whose two directions the kernel
 * has with the suite's cipher, moved out of the SSL; NULL otherwise. */
static struct kst_ktls_keys *ktls_keys_take(SSL *ssl,
					    const struct kst_ktls_suite *s,
					    const struct kst_ktls_result *res)
{
	struct ktls_secret *sec = SSL_get_ex_data(ssl, ktls_ex_idx);
	struct kst_ktls_keys *k = NULL;

	if (sec == NULL || s == NULL || s->version != TLS1_3_VERSION ||
	    !res->tx || !res->rx || res->cipher_type != s->cipher->type ||
	    sec->len != s->secret_len || sec->server_len != s->secret_len)
		return NULL;
	k = OPENSSL_secure_zalloc(sizeof(*k));
	if (k == NULL)
		k = OPENSSL_zalloc(sizeof(*k));
	if (k == NULL)
		return NULL;
	k->suite = s;
	memcpy(k->client, sec->secret, sec->len);
	memcpy(k->server, sec->server, sec->server_len);
	return k;
}

static int ktls_handoff(SSL *ssl, int fd, bool want_rx13,
			struct kst_ktls_result *res,
			struct kst_ktls_keys **keys)
{
	const SSL_CIPHER *c = ssl != NULL ? SSL_get_current_cipher(ssl) : NULL;
	const struct kst_ktls_suite *s = NULL;
	enum kst_ktls_why base, tx_why, rx_why;
	bool tx_claim, rx_claim;

	if (ssl == NULL || fd < 0 || res == NULL)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	res->version = (uint16_t)SSL_version(ssl);
	if (c != NULL)
		s = kst_ktls_suite_find(res->version,
					SSL_CIPHER_get_id(c) & 0xffff);
	res->cipher_type = s != NULL ? s->cipher->type : 0;
	base = ktls_why_base(ssl, s);
	tx_claim = BIO_get_ktls_send(SSL_get_wbio(ssl)) > 0;
	rx_claim = BIO_get_ktls_recv(SSL_get_rbio(ssl)) > 0;
	/* before our RX install attaches the ULP */
	tx_why = tx_claim ? KST_KTLS_WHY_OK : ktls_why_openssl(fd, base);
	if (rx_claim)
		rx_why = KST_KTLS_WHY_OK;
	else if (res->version != TLS1_3_VERSION)
		rx_why = ktls_why_openssl(fd, base);
	else if (!want_rx13)
		rx_why = KST_KTLS_WHY_DISABLED;
	else if ((rx_why = ktls_rx13_check(ssl, fd, base, tx_why)) ==
		 KST_KTLS_WHY_OK)
		rx_why = ktls_rx13_install(ssl, fd, s, res);
	rx_claim = rx_claim || (res->version == TLS1_3_VERSION && want_rx13 &&
				rx_why == KST_KTLS_WHY_OK);
	ktls_verify(fd, TLS_TX, tx_claim, tx_why, res);
	ktls_verify(fd, TLS_RX, rx_claim, rx_why, res);
	if (keys != NULL)
		*keys = ktls_keys_take(ssl, s, res);
	ktls_secret_drop(ssl);
	return 0;
}

int kst_ktls_handoff(SSL *ssl, int fd, bool want_rx13,
		     struct kst_ktls_result *res)
{
	return ktls_handoff(ssl, fd, want_rx13, res, NULL);
}

int kst_ktls_handoff_keep(SSL *ssl, int fd, bool want_rx13,
			  struct kst_ktls_result *res,
			  struct kst_ktls_keys **keys)
{
	if (keys == NULL)
		return -EINVAL;
	*keys = NULL;
	return ktls_handoff(ssl, fd, want_rx13, res, keys);
}

void kst_ktls_keys_free(struct kst_ktls_keys *k)
{
	if (k != NULL)
		OPENSSL_secure_clear_free(k, sizeof(*k));
}

int kst_ktls_rekey(struct kst_ktls_keys *k, int fd, int dir)
{
	unsigned char next[KST_KTLS_MAX_SECRET_LEN];
	unsigned char key[KST_KTLS_MAX_KEY_LEN], iv[KST_KTLS_IV_LEN];
	union kst_ktls_crypto_info ci;
	socklen_t len = 0;
	unsigned char *cur = NULL;
	int err;

	if (k == NULL)
		return -ENOKEY;
	if (dir != TLS_TX && dir != TLS_RX)
		return -EINVAL;
	cur = dir == TLS_RX ? k->client : k->server;
	memset(&ci, 0, sizeof(ci));
	err = kst_ktls_tls13_next_secret(k->suite, cur, k->suite->secret_len,
					 next);
	if (err == 0)
		err = kst_ktls_tls13_derive(k->suite, next,
					    k->suite->secret_len, key, iv);
	/* a new key starts at record 0 (RFC 8446 5.3) */
	if (err == 0)
		err = kst_ktls_crypto_info_build(k->suite, key, iv, 0, &ci,
						 &len);
	if (err == 0 && setsockopt(fd, SOL_TLS, dir, &ci, len) < 0)
		err = -errno;
	if (err == 0)
		memcpy(cur, next, k->suite->secret_len);
	OPENSSL_cleanse(next, sizeof(next));
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(iv, sizeof(iv));
	OPENSSL_cleanse(&ci, sizeof(ci));
	return err;
}

int kst_ktls_get_info(int fd, int dir, struct kst_ktls_info *out)
{
	union kst_ktls_crypto_info ci;
	const struct kst_ktls_cipher *c = NULL;
	socklen_t len = sizeof(ci.info);
	int err = 0;

	if (out == NULL || (dir != TLS_TX && dir != TLS_RX))
		return -EINVAL;
	memset(&ci, 0, sizeof(ci));
	if (getsockopt(fd, SOL_TLS, dir, &ci, &len) < 0)
		return -errno;
	out->version = ci.info.version;
	out->cipher_type = ci.info.cipher_type;
	out->rec_seq = 0;
	c = kst_ktls_cipher_find(ci.info.cipher_type);
	if (c == NULL)
		return 0;
	len = c->info_len;
	if (getsockopt(fd, SOL_TLS, dir, &ci, &len) < 0)
		err = -errno;
	else if (kst_ktls_crypto_info_rec_seq(&ci, &out->rec_seq) != 0)
		err = -EINVAL;
	OPENSSL_cleanse(&ci, sizeof(ci));
	return err;
}

ssize_t kst_ktls_recv(int fd, void *buf, size_t len, int flags,
		      uint8_t *record_type)
{
	union {
		char buf[CMSG_SPACE(sizeof(unsigned char))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	ssize_t n = recvmsg(fd, &msg, flags);

	if (n < 0)
		return -errno;
	*record_type = KTLS_REC_DATA;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm != NULL;
	     cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_TLS &&
		    cm->cmsg_type == TLS_GET_RECORD_TYPE &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(unsigned char)))
			*record_type = *(unsigned char *)CMSG_DATA(cm);
	}
	return n;
}

enum kst_ktls_rec kst_ktls_record_classify(uint8_t record_type, const void *buf,
					   size_t len,
					   struct kst_ktls_record *out)
{
	const unsigned char *p = buf;
	struct kst_ktls_record r = {.kind = KST_KTLS_REC_INVALID};

	if (record_type == KTLS_REC_DATA) {
		r.kind = KST_KTLS_REC_DATA;
	} else if (record_type == KTLS_REC_ALERT && len >= 2) {
		r.alert_level = p[0];
		r.alert_desc = p[1];
		r.kind = p[1] == 0 ? KST_KTLS_REC_CLOSE_NOTIFY
				   : KST_KTLS_REC_ALERT;
	} else if (record_type == KTLS_REC_HS && len >= 4) {
		r.hs_type = p[0];
		r.kind = KST_KTLS_REC_HANDSHAKE;
		if (p[0] == KTLS_HS_KEY_UPDATE)
			r.kind = kst_ktls_key_update_parse(
					 buf, len, &r.update_requested) == 0
					 ? KST_KTLS_REC_KEY_UPDATE
					 : KST_KTLS_REC_INVALID;
	}
	if (out != NULL)
		*out = r;
	return r.kind;
}

/* One record of type through kernel TX (TLS_SET_RECORD_TYPE); only when
 * TX is in the kernel: on a plain socket the bytes would go out in clear. */
static int ktls_send_record(int fd, uint8_t type, const void *buf, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(unsigned char))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	struct tls_crypto_info info;
	socklen_t ilen = sizeof(info);
	ssize_t n;

	/* header only: the full read-back would copy the key out */
	if (getsockopt(fd, SOL_TLS, TLS_TX, &info, &ilen) < 0)
		return -EOPNOTSUPP;
	memset(&control, 0, sizeof(control));
	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_SET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(sizeof(unsigned char));
	*(unsigned char *)CMSG_DATA(cm) = type;
	n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

int kst_ktls_send_alert(int fd, uint8_t level, uint8_t desc)
{
	unsigned char alert[2] = {level, desc};

	return ktls_send_record(fd, KTLS_REC_ALERT, alert, sizeof(alert));
}

int kst_ktls_send_key_update(int fd, bool update_requested)
{
	/* HandshakeType key_update(24), u24 length 1, KeyUpdateRequest */
	unsigned char ku[5] = {KTLS_HS_KEY_UPDATE, 0, 0, 1,
			       update_requested ? 1 : 0};

	return ktls_send_record(fd, KTLS_REC_HS, ku, sizeof(ku));
}

int kst_ktls_key_update_parse(const void *buf, size_t len,
			      bool *update_requested)
{
	const unsigned char *p = buf;
	bool req = false;

	/* exactly one message, and the record ends with it: a key change
	 * must fall on a record boundary (RFC 8446 5.1) */
	if (p == NULL || len != 5 || p[0] != KTLS_HS_KEY_UPDATE || p[1] != 0 ||
	    p[2] != 0 || p[3] != 1)
		return -EBADMSG;
	if (p[4] == 1)
		req = true;
	else if (p[4] != 0)
		return -EBADMSG; /* neither update_not_requested nor _requested
				  */
	if (update_requested != NULL)
		*update_requested = req;
	return 0;
}

int kst_ktls_set_rx_no_pad(int fd, bool on)
{
	int v = on ? 1 : 0;

	if (setsockopt(fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &v, sizeof(v)) < 0)
		return -errno;
	return 0;
}
