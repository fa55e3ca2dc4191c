/* SPDX-License-Identifier: MIT */
/*
 * The edge under test, for criterion tests: kstapled on a loopback port in
 * front of a kst-backend, with its own BPF pin directory when the test
 * reads the maps; and the kst-ocspd responder a test needs. One copy of
 * what test files used to write each for themselves (start, stop,
 * ocspd_start). Failures are criterion assertions, so this file is for
 * tests only: tools link tests/lib too and must not use it.
 *
 * A test suite that starts an edge stops it in its .fini as well
 * (kst_edge_stop is idempotent), so a test that fails half-way leaves no
 * daemon and no pin directory; kst_edge_stop fails the test if a pin
 * directory of this test is still in bpffs after it (tests/lib/harness.h).
 */
#ifndef KST_EDGE_H
#define KST_EDGE_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "tests/lib/harness.h"

struct kst_edge {
	struct kst_h_daemon d;
	struct kst_h_backend b;
	int port;	/* the listener's, on 127.0.0.1 */
	char addr[64];	/* "127.0.0.1:PORT" */
	char pins[128]; /* bpf-pin-dir; "" for none (the harness's default) */
};

/* What goes into the configuration, in this order (NULL: nothing). */
struct kst_edge_conf {
	const char *global; /* [global] lines; a bpf-pin-dir here wins */
	const char *ocsp;   /* [ocsp] lines, or NULL for no section */
	bool web_certs;	    /* localhost ECDSA and RSA leaves on the listener */
	const char *listener; /* more [listener:web] lines */
	const char *sections; /* after the listener: [cert:NAME] and others */
};

/* Pins under /sys/fs/bpf/kst-TAG-PID from now on (the daemon makes it). */
void kst_edge_pins(struct kst_edge *e, const char *tag);
/* Start the backend in mode (proxy: it expects a PROXY header), unless
 * one runs already; kst_edge_start starts an "echo" one otherwise. */
void kst_edge_backend(struct kst_edge *e, const char *mode, bool proxy);
/*
 * Start kstapled on a new free port with [listener:web] relaying to the
 * backend, configured as c says; asserts it started (its log is printed
 * otherwise) and sets port and addr.
 */
void kst_edge_start(struct kst_edge *e, const struct kst_edge_conf *c);
/*
 * Stop the daemon (expecting exit status 0) and the backend, remove the
 * pin directory, and expect no pin directory of this test process left in
 * bpffs. Does nothing more for what is stopped already.
 */
void kst_edge_stop(struct kst_edge *e);

/* Start kst-ocspd on the test PKI in mode (one-day responses); skips the
 * test when the tool is not built, asserts it started; its port. */
int kst_edge_ocspd_start(struct kst_h_ocspd *o, const char *mode);

/*
 * What a handshake for SNI name on 127.0.0.1:port got: the served leaf's
 * CN and serial (hex), and whether a staple came and is a good response
 * for that very leaf (issuer ca). The client context asks for a staple.
 * Fails the test if the handshake fails.
 */
struct kst_edge_served {
	char cn[256];
	char serial[80];
	bool stapled;	 /* a staple came */
	bool staple_own; /* ... and it says good for this leaf */
};
void kst_edge_probe(SSL_CTX *client, X509 *ca, int port, const char *name,
		    struct kst_edge_served *out);

#endif
