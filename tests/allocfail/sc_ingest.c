// SPDX-License-Identifier: MIT
/*
 * Sweep scenario "ingest": the staple files of a generation read and
 * ingested (the start-up and inotify path, kst_staplefile_scan). One
 * certificate already holds an older staple, the other none. Each
 * failure must leave the older staple in place (a failed ingest keeps the
 * previous staple), and a staple that was not taken must be logged.
 */
#include <openssl/ocsp.h>

#include "daemon/control/staplefile.h"
#include "tests/allocfail/af.h"
#include "tests/allocfail/fixture.h"

static int ingest_prepare(void)
{
	return af_fixture(9, NULL);
}

static int ingest_run(void)
{
	struct kst_registry reg;
	struct kst_ocsp_verdict v;
	struct kst_certstate *ec, *rsa;
	struct kst_gen *g;
	bool stapled;
	int ok = 0;

	kst_registry_init(&reg, 1);
	g = af_gen_build("a.conf", &reg, NULL, false);
	if (g == NULL)
		return -1;
	ec = g->certs[0]->state;
	rsa = g->certs[1]->state;
	kst_certstate_ingest(ec, af_der_old, af_der_old_len,
			     KST_STAPLE_SRC_FILE, af_t0, NULL, &v);
	if (ec->cur == NULL) {
		af_fail("fixture: the older staple was refused");
		ok = -1;
		goto out;
	}
	af_begin();
	kst_staplefile_scan(g, af_t0, true);
	af_end();
	if (ec->cur == NULL) {
		af_fail("cert ec lost its staple");
		ok = -1;
	} else if (ec->cur->this_update == af_t0 - 7200 && af_logged() == 0) {
		af_fail("cert ec: newer staple not taken, and nothing logged");
		ok = -1;
	}
	if (rsa->cur == NULL && af_logged() == 0) {
		af_fail("cert rsa: no staple, and nothing logged");
		ok = -1;
	}
	if (ok == 0 && (af_handshake(g, 0, &stapled) < 0 || !stapled)) {
		af_fail("listener a does not staple after the scan");
		ok = -1;
	}
out:
	kst_gen_destroy(g, &reg);
	if (reg.count != 0) {
		af_fail("%zu certificate states left in the registry",
			reg.count);
		ok = -1;
	}
	return ok;
}

const struct af_scenario af_sc_ingest = {
	.name = "ingest",
	.what = "staple ingest (operator and state-dir files)",
	.prepare = ingest_prepare,
	.warm = true,
	.run = ingest_run,
};
