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
	const char *ktls;
	bool ktls_available;
	struct kst_registry reg;
	struct kst_gen *gen;
};

/* ktls: the [global] ktls value; ktls_available: whether the start-up
 * probe found kTLS; sections: the [cert:...] and [listener:...] text. */
void kst_genfix_build(struct kst_genfix *f, const char *ktls,
		      bool ktls_available, const char *sections);
/* Another generation of the same fixture from other sections, built on
 * prev as a reload builds on the generation it replaces (NULL: as at
 * start). The caller frees it (kst_gen_destroy with &f->reg) before
 * kst_genfix_free. */
struct kst_gen *kst_genfix_gen(struct kst_genfix *f, const char *sections,
			       const struct kst_gen *prev);
void kst_genfix_free(struct kst_genfix *f);

#endif
