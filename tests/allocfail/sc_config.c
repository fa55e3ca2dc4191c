// SPDX-License-Identifier: MIT
/*
 * Sweep scenario "config": configuration load as start-up does it, from
 * the file to a whole generation (certificates, keys, TLS contexts, the
 * listening socket), after one unfailed load (OpenSSL's caches warm; see
 * ALLOCFAIL_COLD in af.c). Each failure must end in a generation that serves,
 * or a refusal that says why (a diagnostic or a logged line), with
 * everything freed and closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/diag.h"
#include "daemon/datapath/gen.h"
#include "tests/allocfail/af.h"
#include "tests/allocfail/fixture.h"

static int config_prepare(void)
{
	return af_fixture(9, NULL);
}

/* `kstapled -T` of conf, malloc'd (not counted). */
static char *config_dump(const struct kst_config *conf)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	kst_config_dump(conf, f);
	fclose(f);
	return text;
}

/* The configuration loaded under failures is the one in the file: no
 * line dropped silently. */
static int config_same(const struct kst_config *conf)
{
	struct kst_diag diag;
	struct kst_config *ref;
	char *a, *b;
	int rc = 0;

	kst_diag_init(&diag);
	ref = kst_config_parse(af_path("a.conf"), &diag);
	a = config_dump(conf);
	b = ref ? config_dump(ref) : NULL;
	if (a == NULL || b == NULL || strcmp(a, b) != 0) {
		af_fail("the configuration loaded differs from the file's");
		rc = -1;
	}
	free(a);
	free(b);
	kst_config_free(ref);
	kst_diag_free(&diag);
	return rc;
}

static int config_run(void)
{
	struct kst_gen_env env = {.nworkers = 1, .open_sockets = true};
	struct kst_registry reg;
	struct kst_config *conf;
	struct kst_gen *g = NULL;
	struct kst_diag diag;
	bool stapled;
	int rc = -1, ok = 0;

	kst_registry_init(&reg, 1);
	env.reg = &reg;
	kst_diag_init(&diag);
	af_begin();
	conf = kst_config_parse(af_path("a.conf"), &diag);
	if (conf != NULL)
		rc = kst_gen_build(conf, &env, &diag, &g);
	kst_diag_log(&diag);
	af_end();
	if (rc == 0) {
		if (!af_gen_whole(g, true) || config_same(g->conf) < 0 ||
		    af_handshake(g, 0, &stapled) < 0)
			ok = -1;
	} else {
		if (diag.errors == 0 && af_logged() == 0) {
			af_fail("refused without a reason");
			ok = -1;
		}
		kst_config_free(conf);
	}
	kst_gen_destroy(g, &reg);
	kst_diag_free(&diag);
	if (reg.count != 0) {
		af_fail("%zu certificate states left in the registry",
			reg.count);
		ok = -1;
	}
	return ok;
}

const struct af_scenario af_sc_config = {
	.name = "config",
	.what = "configuration load (parse, certs, TLS, socket)",
	.prepare = config_prepare,
	.warm = true,
	.run = config_run,
};
