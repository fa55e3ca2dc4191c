/* SPDX-License-Identifier: MIT */
/*
 * Session-ticket keys shared by a fleet (`ticket-keys = PATH`).
 *
 * The key file holds one key per line, newest first: the first key
 * encrypts new tickets, every key decrypts. A line is the base64 of 80
 * random bytes (HAProxy's format, so one file serves both):
 *   bytes  0..15  key name: sent in clear in each ticket, picks the key
 *   bytes 16..47  AES-256-CBC key: encrypts the ticket
 *   bytes 48..79  HMAC-SHA256 key: authenticates the ticket
 * Blank lines and `#` comments are allowed. `openssl rand -base64 80` or
 * `kstapled ticket-key new` makes a line.
 *
 * Two layers:
 *   ticket.c      pure: parsing a file's bytes into a key set, the rotation
 *                 rule, fingerprints; no I/O, no clock (tests, fuzz target).
 *   ticket_src.c  one source per key file: loading (owner and mode
 *                 checks), watching and rereading it, the OpenSSL ticket
 *                 callbacks every SSL_CTX gets (kst_ticket_ctx_init).
 *
 * Sharing with workers: a source's current key set is an immutable,
 * reference-counted object, swapped by the control thread and read by
 * workers through per-worker slots (See doc/threads.md). The last
 * reference wipes the keys (OPENSSL_cleanse).
 * Keys are never logged nor printed: only fingerprints (a SHA-256 prefix).
 */
#ifndef KST_TICKET_H
#define KST_TICKET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/ssl.h>

#include "daemon/config/config.h"
#include "daemon/base/diag.h"

#define KST_TICKET_NAME_LEN 16
#define KST_TICKET_AES_LEN  32
#define KST_TICKET_HMAC_LEN 32
#define KST_TICKET_KEY_LEN  80 /* name + AES + HMAC */
#define KST_TICKET_MAX_KEYS 16
/* hex characters of a key's fingerprint (SHA-256 of its 80 bytes) */
#define KST_TICKET_FP_HEX 16
/* a key file is at most this long */
#define KST_TICKET_MAX_FILE (64 * 1024)

struct kst_ticket_key {
	unsigned char name[KST_TICKET_NAME_LEN];
	unsigned char aes[KST_TICKET_AES_LEN];
	unsigned char hmac[KST_TICKET_HMAC_LEN];
	int line; /* in the file */
};

struct kst_ticket_keys {
	atomic_uint refs;
	size_t n; /* >= 1 */
	struct kst_ticket_key k[KST_TICKET_MAX_KEYS];
};

/*
 * Parses len bytes of a key file (path is only for messages). Every
 * problem goes into d as PATH:LINE: message; returns a key set with one
 * reference, or NULL (errno EINVAL, ENOMEM) with nothing allocated.
 */
struct kst_ticket_keys *kst_ticket_keys_parse(const char *path, const void *buf,
					      size_t len, struct kst_diag *d);
void kst_ticket_keys_get(struct kst_ticket_keys *ks);
/* Drops a reference; the last one wipes the keys and frees. NULL: no-op. */
void kst_ticket_keys_put(struct kst_ticket_keys *ks);
/* The key named name, or NULL; *first tells whether it encrypts. */
const struct kst_ticket_key *
kst_ticket_keys_find(const struct kst_ticket_keys *ks,
		     const unsigned char *name, bool *first);
/*
 * The rotation rule for a reread: a new file whose first key is another
 * one than the current first key must list at least two keys, the current
 * first among them, so that tickets issued a moment ago still resume.
 * 0 when next may replace cur (cur NULL: anything), else -EINVAL with why.
 */
int kst_ticket_keys_rotation_ok(const struct kst_ticket_keys *cur,
				const struct kst_ticket_keys *next, char *why,
				size_t len);
/* "sha256:0123456789abcdef": a prefix of the SHA-256 of the key's bytes. */
void kst_ticket_key_fingerprint(const struct kst_ticket_key *k, char *out,
				size_t len);
/* Strict base64 (RFC 4648, padding required, no whitespace) of n chars
 * into out (room for cap bytes): the byte count, or -EINVAL / -ENOSPC. */
int kst_ticket_base64_decode(const char *s, size_t n, unsigned char *out,
			     size_t cap);

/* ---------------------------------------------------- ticket_src.c */

/*
 * Gives ctx the ticket keys of listener lc: with a key file, the ticket
 * callbacks (TLS 1.2 tickets and TLS 1.3 PSK tickets), the lifetime, and
 * a reference to the file's source (dropped when ctx is freed); without,
 * only the counting callback (OpenSSL keeps its own keys, as before).
 * The file is read once per process and then watched; a bad file is an
 * error in d at its PATH:LINE (and the config line naming it).
 */
int kst_ticket_ctx_init(SSL_CTX *ctx, const struct kst_config *conf,
			const struct kst_listener_conf *lc, struct kst_diag *d);
/* Called by worker w at the end of each loop turn: drops the key sets a
 * swap replaced (one relaxed load when nothing changed). */
void kst_ticket_worker_sync(unsigned w);
/* Control thread: adds inotify watches on the key files' directories. */
void kst_ticket_watch(int inofd);
/* Control thread: rereads every key file that changed (stat); a bad one
 * is logged with PATH:LINE and the keys in use stay. */
void kst_ticket_rescan(void);
/* `-T`: a comment line per key file with each key's fingerprint. */
void kst_ticket_dump(FILE *out);
/* `kstapled ticket-key new`: the exit status. */
int kst_ticket_main(int argc, char **argv);

#endif
