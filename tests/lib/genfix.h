/* SPDX-License-Identifier: MIT */
/*
 * A generation built by the daemon's own code (kst_config_parse,
 * kst_gen_build; no sockets) from a few lines of configuration, for unit
 * tests that hand its listeners' contexts to OpenSSL directly: the
 * [global] and [ocsp] sections every such test needs (a temporary
 * state-dir, no BPF export, fetch off) and the caller's sections after
 * them. Fails the test (criterion) when the configuration or the
 * generation does not build.
 */
#ifndef KST_TEST_GENFIX_H
#define KST_TEST_GENFIX_H

#include <stdbool.h>

#include "daemon/datapath/gen.h"
#include "daemon/ocsp/certstate.h"

struct kst_genfix {
	char dir[32];
	char path[64];
	struct kst_registry reg;
	struct kst_gen *gen;
};

/* ktls: the [global] ktls value; ktls_available: whether the start-up
 * probe found kTLS; sections: the [cert:...] and [listener:...] text. */
void kst_genfix_build(struct kst_genfix *f, const char *ktls,
		      bool ktls_available, const char *sections);
void kst_genfix_free(struct kst_genfix *f);

#endif
