/* SPDX-License-Identifier: MIT */
/*
 * Handing a finished TLS handshake to the kernel (kTLS), and the record I/O
 * a connection needs afterwards.
 *
 * OpenSSL 3.0 with SSL_OP_ENABLE_KTLS installs TX for TLS 1.2 and 1.3 and
 * RX for TLS 1.2 on its own, during the handshake. It never installs TLS
 * 1.3 RX: kst_ktls_handoff() does, from the client application traffic
 * secret that kst_ktls_keylog_cb() captured. Then it asks the kernel what is
 * really installed, because OpenSSL falls back to userspace silently and a
 * socket with ULP "tls" but no keys is still userspace. kTLS is an
 * optimisation: the handoff never breaks a connection; a direction that
 * can't go to the kernel stays in OpenSSL and the result says why. ktls/
 * stands alone (libc, OpenSSL, libnl; nothing from daemon/, `make
 * ktls-alone` checks) and never logs: results and -errno carry the reason,
 * and the caller logs it.
 *
 * Use, per SSL_CTX and connection:
 *   kst_ktls_init() once at start, and kst_ktls_probe() (probe.h) there
 *   too, so that no worker pays for the probe;
 *   SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
 *   SSL_CTX_set_keylog_callback(ctx, kst_ktls_keylog_cb);
 *   read_ahead off (the default) and no early data on such connections;
 *   after SSL_do_handshake() returns 1: kst_ktls_handoff(ssl, fd, ...).
 *
 * Rules once a direction is in the kernel:
 * - RX in the kernel: read the fd directly (kst_ktls_recv, or splice for
 *   data records). Never use OpenSSL's read path again: no SSL_read, no
 *   SSL_peek, no second SSL_shutdown (it waits for the peer's
 *   close_notify): OpenSSL would parse kernel plaintext as TLS records.
 *   Hence kst_ktls_handoff installs TLS 1.3 RX only next to kernel TX.
 * - TX in the kernel: write plaintext to the fd (write, splice, sendfile);
 *   end with kst_ktls_send_alert(fd, 1, 0) (close_notify).
 * - Never call SSL_key_update on a kTLS socket: kernel 6.1 cannot rekey
 *   and OpenSSL 3.0 would change only its userspace keys (the peer then
 *   fails with bad_record_mac).
 * - With TX in the kernel, no SSL_write and no SSL_do_handshake after
 *   the handoff (the kernel takes the data): with RX in userspace,
 *   OpenSSL takes a peer's KeyUpdate(update_requested) and holds its
 *   answer until its next write; that write sends the answer through the
 *   kernel and switches only OpenSSL's copy of the key, so every later
 *   record goes out under the key the peer just retired. Until then the
 *   kernel's key is the one the peer reads, and kst_ktls_send_alert(fd,
 *   1, 0) closes cleanly.
 * - With RX in the kernel, a peer's KeyUpdate arrives through
 *   kst_ktls_recv as a handshake record (KST_KTLS_REC_KEY_UPDATE). A
 *   kernel that can rekey (kst_ktls_rekey_probe, Linux 6.14+) then holds
 *   every later record (reads fail with EKEYEXPIRED) until the next client
 *   key is installed: kst_ktls_rekey(keys, fd, TLS_RX), with the secrets
 *   kst_ktls_handoff_keep kept. When the peer asks for ours
 *   (update_requested), kst_ktls_send_key_update(fd, false) goes out under
 *   the current key, then kst_ktls_rekey(keys, fd, TLS_TX). On older
 *   kernels (6.1, 6.12) the only correct answer is to close the
 *   connection, since every later record fails to decrypt (EBADMSG,
 *   sticky). Our TX keys are unaffected, so a close_notify still goes out
 *   cleanly first.
 * - Without a rekey, long-lived TLS 1.3 connections must be capped below
 *   the AEAD record limits; with one, send a KeyUpdate before them.
 */
#ifndef KST_KTLS_KTLS_H
#define KST_KTLS_KTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

/* Why a direction is not in the kernel. Stable codes exported in metrics
 * (kst_ktls_why_name gives the label): append only, never renumber. */
enum kst_ktls_why {
	KST_KTLS_WHY_OK = 0,	    /* in the kernel */
	KST_KTLS_WHY_DISABLED,	    /* not asked for (option off, !want_rx13) */
	KST_KTLS_WHY_NO_KERNEL,	    /* kernel has no tls ULP */
	KST_KTLS_WHY_VERSION,	    /* neither TLS 1.2 nor TLS 1.3 */
	KST_KTLS_WHY_CIPHER,	    /* suite not offloadable (CBC, 1.3 CCM) */
	KST_KTLS_WHY_PENDING,	    /* OpenSSL buffered data / read_ahead on */
	KST_KTLS_WHY_NO_SECRET,	    /* TLS 1.3 secret not captured */
	KST_KTLS_WHY_SETSOCKOPT,    /* TCP_ULP or SOL_TLS setsockopt failed */
	KST_KTLS_WHY_NOT_INSTALLED, /* kernel says no keys (e.g. no AEAD) */
	KST_KTLS_WHY_OPENSSL,	    /* OpenSSL declined though it could */
	KST_KTLS_WHY__MAX
};

/* "ok", "disabled", "no-kernel", "version", "cipher", "pending",
 * "no-secret", "setsockopt", "not-installed", "openssl"; "unknown" else. */
const char *kst_ktls_why_name(enum kst_ktls_why w);

/* The step of kst_ktls_handoff's own TLS 1.3 RX install that failed. ktls/
 * never logs: the caller logs from this, naming the connection. */
enum kst_ktls_step {
	KST_KTLS_STEP_NONE = 0, /* not tried, or it worked */
	/* key and iv from the secret: OpenSSL's error queue holds the
	 * reasons, left for the caller to drain (kst_log_ssl) */
	KST_KTLS_STEP_DERIVE,
	KST_KTLS_STEP_TLS_RX, /* crypto_info or setsockopt(TLS_RX): rx_err */
};

/* What the handoff achieved, as read back from the kernel. */
struct kst_ktls_result {
	bool tx, rx; /* the direction runs in the kernel */
	/* KST_KTLS_WHY_OK exactly when tx / rx */
	enum kst_ktls_why tx_why, rx_why;
	/* negotiated version, e.g. TLS1_3_VERSION */
	uint16_t version;
	/* TLS_CIPHER_* the suite maps to (as read back when installed); 0
	 * when the suite has no kernel cipher */
	uint16_t cipher_type;
	/* the kernel's next record number per direction right after the
	 * handoff (TLS 1.3 TX: 2 after OpenSSL's two session tickets; TLS 1.2:
	 * 1 after Finished); 0 when not installed */
	uint64_t tx_rec_seq, rx_rec_seq;
	/* our TLS 1.3 RX install, when a step of it failed (rx_why is then
	 * "openssl" or "setsockopt"), and the -errno of KST_KTLS_STEP_TLS_RX */
	enum kst_ktls_step rx_step;
	int rx_err;
};

/*
 * Registers the SSL ex_data slot that holds a captured secret. Call once
 * before any handshake (later calls are no-ops). 0 or -ENOMEM.
 */
int kst_ktls_init(void);

/*
 * SSL_CTX keylog callback: keeps only CLIENT_TRAFFIC_SECRET_0 (TLS 1.3)
 * whose client_random is this connection's, in a wiped-on-free block
 * attached to the SSL. Everything else is ignored. Never logs the line.
 */
void kst_ktls_keylog_cb(const SSL *ssl, const char *line);
/* true while a captured TLS 1.3 client secret is held for ssl. */
bool kst_ktls_has_secret(const SSL *ssl);

/*
 * Call right after SSL_do_handshake() returned 1 on a server connection
 * whose socket is fd. Reads what OpenSSL installed; for TLS 1.3 with
 * want_rx13 installs RX from the captured secret (preconditions: TX is in
 * the kernel, so never RX alone: OpenSSL keeps reading records while it
 * writes them; a suite kst_ktls_suite_find knows, read_ahead off and
 * nothing buffered in OpenSSL, the secret captured); wipes the secret on
 * every path; then fills res from the kernel's view of each direction.
 * When TX stayed in userspace, RX gives TX's reason. Returns 0 (res
 * filled, whatever was installed) or -EINVAL for bad arguments. Never
 * changes the connection when a step fails.
 */
int kst_ktls_handoff(SSL *ssl, int fd, bool want_rx13,
		     struct kst_ktls_result *res);

/* A connection's current TLS 1.3 application traffic secrets (both
 * directions) and suite, kept after the handoff for rekeying; key
 * material, in OpenSSL's secure heap when there is one. */
struct kst_ktls_keys;

/*
 * kst_ktls_handoff, and when the kernel took both directions of a TLS 1.3
 * connection with a suite of ours and both traffic secrets were captured,
 * those secrets move to *keys (free with kst_ktls_keys_free); else *keys
 * is NULL and they are wiped, as by kst_ktls_handoff. Ask for them only
 * where the kernel can rekey: they are the connection's keys for as long
 * as it lives. 0 or -EINVAL.
 */
int kst_ktls_handoff_keep(SSL *ssl, int fd, bool want_rx13,
			  struct kst_ktls_result *res,
			  struct kst_ktls_keys **keys);
/* Wipe and free (NULL is fine). */
void kst_ktls_keys_free(struct kst_ktls_keys *k);

/*
 * Move one direction to its next key generation: secret_{N+1} =
 * HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length) (RFC 8446
 * 7.2), key and iv from it, installed with setsockopt(SOL_TLS, dir) and
 * rec_seq 0. TLS_RX: the client's secret (after its KeyUpdate); TLS_TX:
 * ours (after our KeyUpdate went out). The kept secret advances only when
 * the kernel took the key. 0; -ENOKEY (k NULL), -EINVAL, -EIO (OpenSSL),
 * or setsockopt's -errno (EBUSY on a kernel that cannot rekey).
 */
int kst_ktls_rekey(struct kst_ktls_keys *k, int fd, int dir);

/*
 * Our KeyUpdate through kernel TX: a handshake record (TLS_SET_RECORD_TYPE
 * 22) holding one KeyUpdate message. It goes out under the current key;
 * install the next one (kst_ktls_rekey TLS_TX) right after. 0, -EAGAIN
 * (socket full: nothing sent), -EOPNOTSUPP (TX not in the kernel), -errno.
 */
int kst_ktls_send_key_update(int fd, bool update_requested);

/*
 * Parse a handshake record that holds a KeyUpdate, as the kernel hands it
 * over (outside input; pure): exactly one message, type 24, length 1,
 * request_update 0 or 1, and nothing after it in the record (a key change
 * ends its record, RFC 8446 5.1). 0 (*update_requested set when not NULL)
 * or -EBADMSG.
 */
int kst_ktls_key_update_parse(const void *buf, size_t len,
			      bool *update_requested);

/* One direction as the kernel reports it. */
struct kst_ktls_info {
	uint16_t version;     /* TLS_1_2_VERSION / TLS_1_3_VERSION */
	uint16_t cipher_type; /* TLS_CIPHER_* */
	uint64_t rec_seq;     /* next record number (0 if cipher unknown) */
};

/*
 * getsockopt(SOL_TLS, dir) for dir TLS_TX or TLS_RX: header first, then the
 * exact per-cipher size for rec_seq (the read-back contains the key; it is
 * wiped). 0; -EBUSY: direction not installed; -EOPNOTSUPP or -ENOPROTOOPT:
 * no tls ULP on the socket; other -errno.
 */
int kst_ktls_get_info(int fd, int dir, struct kst_ktls_info *out);

/*
 * recvmsg() that reports the TLS record type (TLS_GET_RECORD_TYPE; 23 =
 * application data, also when no type arrives, i.e. not a kTLS RX socket).
 * The kernel never mixes record types in one call, and returns a non-data
 * record alone (read() gives EIO and splice() EINVAL for it; it stays
 * queued until read here). Returns bytes, 0 at TCP EOF (without
 * close_notify: truncation), or -errno (-EBADMSG: decrypt failure, sticky;
 * -EAGAIN with MSG_DONTWAIT).
 */
ssize_t kst_ktls_recv(int fd, void *buf, size_t len, int flags,
		      uint8_t *record_type);

/* What a record from kst_ktls_recv means. */
enum kst_ktls_rec {
	KST_KTLS_REC_DATA,	   /* application data (23) */
	KST_KTLS_REC_CLOSE_NOTIFY, /* alert close_notify (21, desc 0) */
	KST_KTLS_REC_ALERT,	   /* another alert (21) */
	KST_KTLS_REC_KEY_UPDATE,   /* handshake (22) KeyUpdate (24) */
	KST_KTLS_REC_HANDSHAKE,	   /* another handshake message (22) */
	KST_KTLS_REC_INVALID,	   /* truncated, or an unexpected type */
};

struct kst_ktls_record {
	enum kst_ktls_rec kind;
	uint8_t alert_level, alert_desc; /* alerts */
	uint8_t hs_type;		 /* handshake records: first message */
	bool update_requested;		 /* KeyUpdate: peer asks us to rekey */
};

/* Classify one record (type and payload from kst_ktls_recv); pure. Returns
 * out->kind (out may be NULL). */
enum kst_ktls_rec kst_ktls_record_classify(uint8_t record_type, const void *buf,
					   size_t len,
					   struct kst_ktls_record *out);

/*
 * Send one alert record through kernel TX (sendmsg, TLS_SET_RECORD_TYPE
 * 21): kst_ktls_send_alert(fd, 1, 0) is close_notify. Refuses with
 * -EOPNOTSUPP when TX is not in the kernel: on a plain socket the two bytes
 * would go out unencrypted. 0 or -errno.
 */
int kst_ktls_send_alert(int fd, uint8_t level, uint8_t desc);

/*
 * TLS_RX_EXPECT_NO_PAD (TLS 1.3 RX only, kernel 6.0+): decrypt straight
 * into the reader's buffer, assuming the peer does not pad records (OpenSSL
 * doesn't). A padded or non-data record costs one extra decrypt
 * (TlsDecryptRetry). Off by default; 0 or -errno (-EINVAL when TLS 1.3 RX
 * is not installed).
 */
int kst_ktls_set_rx_no_pad(int fd, bool on);

#endif
