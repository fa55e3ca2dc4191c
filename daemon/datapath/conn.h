/* SPDX-License-Identifier: MIT */
/*
 * A client connection, as a state machine driven by its worker:
 *
 *   HANDSHAKE  -> TLS handshake with the client (handshake-timeout)
 *   CONNECTING -> connecting to the backend (connect-timeout); the client
 *                 is not read meanwhile, its data waits in the kernel
 *   RELAY      -> plaintext both ways (idle-timeout): relay.c
 *   LINGER     -> we said goodbye (close_notify, FIN) while the client may
 *                 still be sending; closing now would answer its data with
 *                 a RST, which can destroy our close_notify before it is
 *                 read. Wait (bounded) for its FIN, discarding input.
 *   CLOSED     -> resources released; freed at the end of the loop
 *                 iteration, since later events of the same epoll batch may
 *                 still name it
 *
 * Each direction closes on its own: the client's close_notify (or EOF)
 * becomes shutdown(SHUT_WR) towards the backend once everything before it
 * is delivered; the backend's EOF becomes close_notify towards the client.
 * When both are done, the connection closes. Any error costs this
 * connection only.
 */
#ifndef KST_CONN_H
#define KST_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "daemon/datapath/worker.h"

/* Relay buffer: one allocation of KST_BUF_BYTES from the worker's pool. */
#define KST_BUF_BYTES (64 * 1024)
struct kst_buf {
	uint32_t head, tail;
	unsigned char data[];
};
#define KST_BUF_CAP (KST_BUF_BYTES - sizeof(struct kst_buf))
/* The per-wakeup budget of a busy connection: bytes one pump relays
 * (both directions together) before it yields and is queued to run again
 * on the next turn of the loop, after the accepts and handshakes that
 * came meanwhile. 256 KiB is about a third of a millisecond of AES-GCM
 * and copying in the userspace relay; 4 MiB (64 rounds of a full buffer)
 * kept new handshakes on the same worker waiting tens of milliseconds
 * behind one download (issue 18). KST_RELAY_ROUNDS bounds the rounds of
 * a pump that move little each. */
#define KST_RELAY_BUDGET (256 * 1024)
#define KST_RELAY_ROUNDS 64

enum kst_conn_state {
	KST_CONN_HANDSHAKE,
	KST_CONN_CONNECTING,
	KST_CONN_RELAY,
	KST_CONN_LINGER, /* said goodbye, waiting for the client's FIN */
	KST_CONN_CLOSED,
};

/* flags */
#define KST_C_RD       0x0001u /* client socket readable (as far as known) */
#define KST_C_WR       0x0002u
#define KST_B_RD       0x0004u
#define KST_B_WR       0x0008u
#define KST_UP_EOF     0x0010u	/* client finished sending */
#define KST_UP_SHUT    0x0020u	/* ... and the backend was told */
#define KST_DOWN_EOF   0x0040u	/* backend finished sending */
#define KST_DOWN_SHUT  0x0080u	/* ... and close_notify went to the client */
#define KST_UP_WANTS_W 0x0100u	/* SSL_read needs the client writable */
#define KST_DN_WANTS_R 0x0200u	/* SSL_write needs the client readable */
#define KST_TRUNCATED  0x0400u	/* client EOF without close_notify */
#define KST_AGAIN      0x0800u	/* on the worker's run-again list */
#define KST_KEYUPDATE  0x1000u	/* the client sent a TLS 1.3 KeyUpdate */
#define KST_GOODBYE    0x2000u	/* end with a lingering close */
#define KST_IN_HS      0x4000u	/* on a handshake queue of the worker */
#define KST_HS_HELLO   0x8000u	/* ... the one after the ClientHello */
#define KST_DN_FLUSH   0x10000u /* close_notify waits for TCP room (kTLS) */
#define KST_KU_SEND    0x20000u /* our KeyUpdate waits to go out (kTLS) */
#define KST_KU_ASK     0x40000u /* ... with update_requested */
#define KST_KU_ASKED   0x80000u /* we asked for the client's KeyUpdate */

enum kst_relay_path {
	KST_PATH_USERSPACE,
	KST_PATH_KTLS_TX,   /* kernel encrypts; reads go through OpenSSL */
	KST_PATH_KTLS_BOTH, /* kernel both ways; splice both ways */
};

struct kst_ktls_keys;

struct kst_conn {
	struct kst_ev cev, bev;
	uint8_t state;
	uint8_t path;
	uint32_t flags;
	int cfd, bfd;
	SSL *ssl;
	struct kst_worker *w;
	struct kst_gen *gen;
	struct kst_listener *l;
	struct kst_tls_sess ts;
	struct kst_timer timer;
	uint64_t last_active;
	struct kst_buf *up, *down;	 /* client->backend, backend->client */
	struct kst_pipe *pup, *pdn;	 /* the same, through the kernel */
	uint64_t up_records, dn_records; /* kTLS record estimate */
	struct kst_ktls_keys
		*keys;	       /* TLS 1.3 secrets where the kernel rekeys */
	uint64_t ku_window_ms; /* start of the KeyUpdate minute */
	uint32_t ku_count;     /* client KeyUpdates in it */
	struct kst_conn *next_closed;
	struct kst_conn *next_again, **again_pprev; /* w->again, KST_AGAIN */
	struct kst_conn *hs_prev, *hs_next; /* w->hs_idle/busy, KST_IN_HS */
	uint64_t hs_since;		    /* accepted, or ClientHello */
	/* for the debug line at close: when accepted, bytes relayed each
	 * way (client->backend, backend->client), the SNI asked for */
	uint64_t born_ms, bytes_up, bytes_dn;
	char sni[64];
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} peer;
	char peerstr[48];
};

/* worker -> conn */
/* Before an accept: room for one more handshake (max-handshakes), made by
 * closing an idle handshake if need be; false: not now, leave new
 * connections in the backlog for a moment. */
bool kst_conn_hs_room(struct kst_worker *w, const struct kst_wls *wls);
void kst_conn_accept(struct kst_worker *w, struct kst_wls *wls, int fd,
		     const struct sockaddr *sa, socklen_t salen);
void kst_conn_event(struct kst_worker *w, struct kst_ev *ev, uint32_t events);
void kst_conn_timeout(struct kst_worker *w, struct kst_timer *t);
/* Close now (drain deadline, stop). */
void kst_conn_abort(struct kst_conn *c, const char *why);
void kst_conn_free_closed(struct kst_worker *w);
/* Pump the connections that stopped early to let others run. */
void kst_conn_run_again(struct kst_worker *w);
/* Queue c to be pumped again without an event (once; a closed connection
 * is never queued, and closing one takes it off the list). */
void kst_conn_again(struct kst_conn *c);

/* This worker's counters of the certificate served, NULL before one is
 * chosen (daemon/ocsp/certstate.h: allocated at the first count). */
struct kst_conn_counters *kst_conn_cert_counters(struct kst_conn *c);

/* Send close_notify the way this connection's TX works (best effort). */
void kst_conn_close_notify(struct kst_conn *c);
/* A TLS 1.3 KeyUpdate arrived on a kTLS connection: count it and say
 * goodbye cleanly (our TX keys still work); the caller closes. */
void kst_conn_keyupdate_close(struct kst_conn *c);
/* A client KeyUpdate arrived with RX in the kernel. Where the kernel
 * rekeys (c->keys): install the client's next key, and when it asks for
 * ours queue our KeyUpdate (KST_KU_SEND); true: go on reading. Else, or
 * past keyupdate-limit per minute (the answer to our own request does not
 * count), or when the rekey fails: counted,
 * goodbye as kst_conn_keyupdate_close; false: the caller closes. */
bool kst_conn_keyupdate(struct kst_conn *c, bool update_requested);
/* Our queued KeyUpdate (KST_KU_SEND), then our next TX key, before more
 * data goes out. 0: done or nothing queued; -EAGAIN: not yet (TCP full);
 * other -errno: the connection cannot go on (logged). */
int kst_conn_keyupdate_send(struct kst_conn *c);
/* Goodbye without closing on the client yet (see LINGER): close_notify
 * if not sent, FIN, then wait for the client's FIN, at most 2 s. */
void kst_conn_linger(struct kst_conn *c);
void kst_conn_linger_event(struct kst_conn *c, uint32_t events);

/* conn <-> relay: relay.h; relay <-> splice (kTLS): splice.h */

#endif
