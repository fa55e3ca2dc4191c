// SPDX-License-Identifier: MIT
/*
 * `kstapled -t`: everything start-up would check, without serving. The
 * configuration is parsed, every certificate, chain and key loaded, every
 * TLS context built, and every staple file run through the ingest path as
 * of now; errors are printed as FILE:LINE: message and make the exit
 * status 1. What would not stop the daemon but deserves attention (a bad
 * staple file, a Must-Staple certificate without a valid staple) is a
 * warning. Sockets are not opened: the running daemon may hold them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/control.h"
#include "daemon/gen.h"
#include "daemon/log.h"
#include "daemon/nicctl.h"
#include "daemon/privs.h"
#include "daemon/stapling.h"
#include "daemon/tls.h"

static int check_line(const struct kst_cert *c)
{
	return c->conf->staple_line   ? c->conf->staple_line
	       : c->conf->pem_line    ? c->conf->pem_line
				      : c->conf->line;
}

/* Ingest one staple source; 1 if it gives a valid staple now. */
static int check_staple(struct kst_cert *c, const char *path,
			enum kst_staple_source src, const struct kst_config *conf,
			struct kst_diag *d, char *why, size_t whylen)
{
	struct kst_ocsp_params p;
	struct kst_ocsp_verdict v;
	unsigned char *der = NULL;
	size_t len = 0;
	int err;

	kst_stapling_params(conf, &p);
	err = kst_stapling_read(path, p.max_size, &der, &len);
	if (err == KST_STAPLING_E_NOTREG) {
		/* the daemon refuses it whatever it holds: not what was meant */
		kst_diag_error(d, conf->path, check_line(c),
			       "cert %s: %s %s: %s", c->name,
			       src == KST_STAPLE_SRC_FILE ? "staple file"
							  : "state file",
			       path, kst_stapling_strerror(err));
		snprintf(why, whylen, "%s: %s", path,
			 kst_stapling_strerror(err));
		return 0;
	}
	if (err < 0) {
		if (src == KST_STAPLE_SRC_FILE)
			snprintf(why, whylen, "no staple file %s", path);
		return 0;
	}
	kst_certstate_ingest(c->state, der, len, src, kst_now(), &p, &v);
	free(der);
	if (v.err == KST_OCSP_OK)
		return 1;
	snprintf(why, whylen, "%s: %s", kst_ocsp_err_name(v.err), v.detail);
	kst_diag_warn(d, conf->path, check_line(c),
		      "cert %s: staple %s rejected (%s)", c->name, path, why);
	return 0;
}

/* A revocation record in state-dir: held, so the staples below see it. */
static void check_revocation(struct kst_cert *c, const struct kst_config *conf,
			     struct kst_diag *d)
{
	struct kst_ocsp_revocation r;
	const char *why;
	char path[4096];

	if (kst_stapling_revocation_path(conf, c, path, sizeof(path)) < 0 ||
	    kst_stapling_revocation_read(path, kst_now(), &r, &why) == -ENOENT)
		return;
	kst_certstate_hold_revocation(c->state, &r, path);
	kst_diag_warn(d, conf->path, check_line(c),
		      "cert %s is held revoked by %s%s%s: no staple from "
		      "before it will be served",
		      c->name, path, why ? ": " : "", why ? why : "");
}

static void check_staples(struct kst_gen *g, struct kst_diag *d)
{
	char path[4096], why[300];

	for (size_t i = 0; i < g->n_certs; i++) {
		struct kst_cert *c = g->certs[i];
		int ok = 0;

		if (c == NULL || !c->stapling)
			continue;
		why[0] = '\0';
		check_revocation(c, g->conf, d);
		ok |= check_staple(c, c->staple_path, KST_STAPLE_SRC_FILE,
				   g->conf, d, why, sizeof(why));
		if (kst_stapling_state_path(g->conf, c, path, sizeof(path)) == 0)
			ok |= check_staple(c, path, KST_STAPLE_SRC_FETCHED,
					   g->conf, d, why, sizeof(why));
		if (ok || c->policy != KST_POLICY_MUST_STAPLE)
			continue;
		kst_diag_warn(d, g->conf->path, check_line(c),
			      "cert %s is %s but has no valid staple now (%s)%s",
			      c->name,
			      c->must_staple ? "Must-Staple (RFC 7633)"
					     : "under the must-staple policy",
			      why[0] ? why : "none",
			      c->fetch && c->n_ocsp_urls
				      ? "; it will be fetched at start"
				      : "; it will not be served");
	}
}

/* The state-dir as start-up will use it (created, given to the user). */
static void check_state_dir(const struct kst_config *conf, struct kst_diag *d)
{
	const struct kst_global_conf *gc = &conf->global;
	struct kst_privs pv;
	char why[300];
	int rc;

	if (kst_privs_resolve(gc, &pv, why, sizeof(why)) < 0)
		return; /* the build reported the user already */
	rc = kst_stapling_check_state_dir(gc->state_dir, &pv, why, sizeof(why));
	if (rc == 0)
		return;
	if (rc > 0)
		kst_diag_warn(d, conf->path, gc->state_dir_line,
			      "state-dir %s%s %s", gc->state_dir,
			      gc->state_dir_line ? "" : " (the default)", why);
	else
		kst_diag_error(d, conf->path, gc->state_dir_line,
			       "state-dir %s%s %s: fetched staples would not "
			       "persist across a restart",
			       gc->state_dir,
			       gc->state_dir_line ? "" : " (the default)", why);
}

int kst_control_check(const struct kst_run_opts *o)
{
	struct kst_gen_env env = {.nworkers = 1, .open_sockets = false};
	struct kst_registry reg;
	struct kst_config *conf;
	struct kst_gen *g = NULL;
	struct kst_diag d;
	int level = kst_log_get_level(), rc;

	kst_diag_init(&d);
	kst_registry_init(&reg, 1);
	env.reg = &reg;
	kst_tls_init();
	/* verdicts go to the report, not the log */
	kst_log_set_level(KST_LOG_CRIT - 1);
	/* every file is checked even when the syntax had errors */
	conf = kst_config_parse_all(o->config_path, &d);
	if (conf != NULL && kst_gen_build(conf, &env, &d, &g) < 0) {
		kst_config_free(conf);
		conf = NULL;
	}
	if (g != NULL)
		check_staples(g, &d);
	if (conf != NULL)
		check_state_dir(conf, &d);
	/* what start-up would refuse, when started like this */
	if (conf != NULL && geteuid() == 0 &&
	    (conf->global.user == NULL || conf->global.user[0] == '\0') &&
	    !conf->global.allow_root)
		kst_diag_error(&d, conf->path, 0,
			       "no [global] user: kstapled refuses to serve as "
			       "root (set user = ..., or allow-root = on)");
	kst_log_set_level(level);
	kst_diag_print(&d, stderr);
	if (d.errors == 0) {
		/* with -T, stdout is the configuration alone, so that
		 * `kstapled -T > file` reads back; the report goes to stderr */
		FILE *report = o->dump ? stderr : stdout;

		if (o->dump)
			kst_config_dump(g->conf, stdout);
		fflush(stdout);
		kst_nicctl_check(g->conf, report);
		fprintf(report, "configuration OK\n");
	}
	rc = d.errors ? 1 : 0;
	kst_gen_destroy(g, &reg);
	kst_diag_free(&d);
	return rc;
}
