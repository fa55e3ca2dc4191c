/* SPDX-License-Identifier: MIT */
/*
 * A generation: everything one configuration serves with, built completely
 * before it is used (certificates and keys loaded, TLS contexts made,
 * sockets opened), so a bad configuration is refused before anything
 * changes. A reload builds a new generation and publishes it; connections
 * keep the generation they started with.
 *
 * References and threads: See doc/threads.md. Dropping a reference
 * never frees: only the control thread destroys a generation nobody uses
 * (kst_gen_unused).
 */
#ifndef KST_GEN_H
#define KST_GEN_H

#include <stdatomic.h>
#include <stdbool.h>

#include "daemon/tls/cert.h"
#include "daemon/config/config.h"
#include "daemon/datapath/lsock.h"
#include "daemon/ocsp/certstate.h"
#include "daemon/tls/tls.h"

struct kst_listener {
	const struct kst_listener_conf *conf;
	struct kst_tls_listener tls;
	struct kst_lsock **socks; /* [conf->n_binds]; NULL entries when -t */
	int ktls_mode;		  /* enum kst_ktls_mode */
	/* [nworkers] counter blocks of the name (daemon/metrics/lstats.h);
	 * NULL: not counted per listener */
	struct kst_hs_counters *hs;
};

struct kst_gen {
	atomic_uint refs;
	unsigned id;
	struct kst_config *conf;
	bool owns_conf;		 /* false until the build succeeded */
	struct kst_cert **certs; /* [n_certs] */
	size_t n_certs;
	size_t n_reused; /* certificates shared with the previous one */
	struct kst_listener *listeners;
	size_t n_listeners;
	bool socks_released; /* control thread: kst_gen_release_sockets ran */
	/* start, or the OCSP settings changed: every staple file is read
	 * again, also those of reused certificates */
	bool staples_recheck;
	/* staplefile.c's, built lazily; freed with the generation */
	struct kst_staplefile_index *staple_index;
	void (*staple_index_free)(struct kst_staplefile_index *x);
	/* kst_staplefile_expire: no walk before expire_next unless a slot
	 * changed (kst_certstate_epoch) */
	time_t expire_next;
	unsigned long expire_epoch;
	bool expire_walked;
};

/* A socket systemd passed (socket activation). */
struct kst_passed_fd {
	int fd;
	struct kst_addr addr;
	char name[64]; /* FileDescriptorName=, or "" */
	bool used;
};

struct kst_gen_env {
	struct kst_registry *reg;
	unsigned nworkers;
	const struct kst_gen *prev; /* sockets to keep, or NULL */
	bool open_sockets;	    /* false for `-t` */
	bool ktls_available;	    /* this kernel can do kTLS */
	struct kst_passed_fd *passed;
	size_t n_passed;
};

/*
 * Builds a generation from conf (which it takes over on success). On
 * failure every problem is in diag and nothing is changed.
 */
int kst_gen_build(struct kst_config *conf, const struct kst_gen_env *env,
		  struct kst_diag *diag, struct kst_gen **out);
/* A generation replaced by a reload serves no new connection: drop its
 * references to listening sockets now, so a socket no longer configured
 * closes as soon as the workers let go of it (not when the generation's
 * last connection ends; meanwhile the kernel would queue clients nobody
 * accepts). */
void kst_gen_release_sockets(struct kst_gen *g);
/*
 * One worker's references to every listening socket of g: taken by the
 * control thread before it tells a worker about g (they travel with the
 * message), adopted by the worker that switches to g, dropped by one that
 * skips it. So a worker never takes a reference of its own on a socket the
 * control thread may be releasing at that moment.
 */
void kst_gen_socks_get(struct kst_gen *g);
void kst_gen_socks_put(struct kst_gen *g);
void kst_gen_get(struct kst_gen *g);
void kst_gen_put(struct kst_gen *g);
bool kst_gen_unused(struct kst_gen *g);
/* Control thread only, when unused (or never published). */
void kst_gen_destroy(struct kst_gen *g, struct kst_registry *reg);

#endif
