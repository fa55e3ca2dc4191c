/* SPDX-License-Identifier: MIT */
/*
 * What the sweep's scenarios share: the configuration files, the staples
 * minted for them (once per sweep, in the parent), building a generation
 * outside the counted region, checking that a generation is whole, and a
 * TLS client in the same thread that proves a listener serves (with its
 * staple). The client's own allocations are never counted.
 */
#ifndef KST_AF_FIXTURE_H
#define KST_AF_FIXTURE_H

#include <stdbool.h>
#include <time.h>

#include "daemon/datapath/gen.h"
#include "daemon/ocsp/certstate.h"

/* Writes the fixture (idempotent): conf "a.conf" (listener a: ec + rsa,
 * staple files), "b.conf" (the reload target: listener a: ec, listener
 * b: other), staples for ec and rsa. backend_port goes in every config;
 * fetch_url, when not NULL, turns fetching on for ec with that URL. */
int af_fixture(unsigned short backend_port, const char *fetch_url);
/* The DER OCSP responses minted for ec: older (this_update now - 2 h)
 * and newer (now - 1 h); OPENSSL_malloc'd, kept for the sweep. */
extern unsigned char *af_der_old, *af_der_new;
extern size_t af_der_old_len, af_der_new_len;
extern time_t af_t0; /* when the fixture was made */

/* Parse and build (not counted); NULL on failure (af_fail says why). */
struct kst_gen *af_gen_build(const char *conf_name, struct kst_registry *reg,
			     const struct kst_gen *prev, bool open_sockets);
/* Every certificate loaded, every listener with contexts (and sockets
 * when open_sockets); false with af_fail otherwise. */
bool af_gen_whole(const struct kst_gen *g, bool open_sockets);
/* One handshake with listener l of g over a socketpair, asking for a
 * staple; 0 (stapled says whether one came) or -1 with af_fail. */
int af_handshake(struct kst_gen *g, size_t l, bool *stapled);

#endif
