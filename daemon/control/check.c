// SPDX-License-Identifier: MIT
/*
 * `kstapled -t`: everything start-up would check, without serving. The
 * configuration is parsed, every certificate, chain and key loaded, every
 * TLS context built, and every staple file run through the ingest path as
 * of now; errors are printed as FILE:LINE: message and make the exit
 * status 1. What would not stop the daemon but deserves attention (a bad
 * staple file, a Must-Staple certificate without a valid staple) is a
 * warning. [global] user and group must exist; as root, the files a
 * reload reads as that user (certificates, keys, staples) are opened as
 * that user, and one it cannot read is a warning (start reads as root).
 * A bpf-pin-dir off bpffs is a warning (the daemon serves without metrics).
 * Sockets are not opened: the running daemon may hold them; a bind address
 * another kstapled serves is a warning (start would refuse it, a reload of
 * that daemon would not).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <limits.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "daemon/control/control.h"
#include "daemon/datapath/gen.h"
#include "daemon/datapath/lsock.h"
#include "daemon/base/log.h"
#include "daemon/control/nicctl.h"
#include "daemon/control/privs.h"
#include "daemon/control/staplefile.h"
#include "daemon/tls/ticket.h"
#include "daemon/tls/tls.h"

static int check_line(const struct kst_cert *c)
{
	return c->conf->staple_line ? c->conf->staple_line
	       : c->conf->pem_line  ? c->conf->pem_line
				    : c->conf->line;
}

/* Ingest one staple source; 1 if it gives a valid staple now. */
static int check_staple(struct kst_cert *c, const char *path,
			enum kst_staple_source src,
			const struct kst_config *conf, struct kst_diag *d,
			char *why, size_t whylen)
{
	struct kst_ocsp_params p;
	struct kst_ocsp_verdict v;
	unsigned char *der = NULL;
	size_t len = 0;
	int err;

	kst_staple_params(conf, &p);
	err = kst_staplefile_read(path, p.max_size, &der, &len);
	if (err == KST_STAPLEFILE_E_NOTREG) {
		/* the daemon refuses it whatever it holds: not what was meant
		 */
		kst_diag_error(d, conf->path, check_line(c),
			       "cert %s: %s %s: %s", c->name,
			       src == KST_STAPLE_SRC_FILE ? "staple file"
							  : "state file",
			       path, kst_staplefile_strerror(err));
		snprintf(why, whylen, "%s: %s", path,
			 kst_staplefile_strerror(err));
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

	if (kst_staplefile_revocation_path(conf, c, path, sizeof(path)) < 0 ||
	    kst_staplefile_revocation_read(path, kst_now(), &r, &why) ==
		    -ENOENT)
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
		if (kst_staplefile_state_path(g->conf, c, path, sizeof(path)) ==
		    0)
			ok |= check_staple(c, path, KST_STAPLE_SRC_FETCHED,
					   g->conf, d, why, sizeof(why));
		if (ok || c->policy != KST_POLICY_MUST_STAPLE)
			continue;
		kst_diag_warn(
			d, g->conf->path, check_line(c),
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
	rc = kst_staplefile_check_state_dir(gc->state_dir, &pv, why,
					    sizeof(why));
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

/*
 * bpf-pin-dir on a bpf filesystem (it, or its parent when start-up would
 * create it): elsewhere the daemon serves without metrics, so a warning.
 */
static void check_pin_dir(const struct kst_config *conf, struct kst_diag *d)
{
	const char *dir = conf->global.bpf_pin_dir;
	char parent[PATH_MAX];
	const char *on = dir;
	struct statfs st;

	if (dir == NULL || dir[0] == '\0')
		return;
	if (statfs(dir, &st) != 0 && errno == ENOENT) {
		snprintf(parent, sizeof(parent), "%s", dir);
		on = dirname(parent);
		if (statfs(on, &st) != 0) {
			kst_diag_warn(d, conf->path, 0,
				      "bpf-pin-dir %s: no %s (%s): kstapled "
				      "would serve without metrics",
				      dir, on, strerror(errno));
			return;
		}
	} else if (statfs(dir, &st) != 0) {
		kst_diag_warn(d, conf->path, 0,
			      "bpf-pin-dir %s: %s: kstapled would serve "
			      "without metrics",
			      dir, strerror(errno));
		return;
	}
	if (st.f_type != BPF_FS_MAGIC)
		kst_diag_warn(d, conf->path, 0,
			      "bpf-pin-dir %s: %s is not on a bpf filesystem "
			      "(mount -t bpf bpf /sys/fs/bpf): kstapled would "
			      "serve without metrics",
			      dir, on);
}

/* [global] user and group exist (start would refuse them). */
static bool check_user(const struct kst_config *conf, struct kst_privs *pv,
		       struct kst_diag *d)
{
	const struct kst_global_conf *gc = &conf->global;
	char why[300];

	if (kst_privs_resolve(gc, pv, why, sizeof(why)) == 0)
		return true;
	/* kst_privs_resolve names the user first, then the group */
	kst_diag_error(d, conf->path,
		       strncmp(why, "group", 5) == 0 ? gc->group_line
						     : gc->user_line,
		       "%s: kstapled could not switch to it", why);
	return false;
}

static int check_open_probe(void *arg)
{
	int fd = open(arg, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/*
 * A file start-up reads as root but a reload reads as the service user:
 * a root-owned 0600 key passes start, then the first SIGHUP fails (the
 * reload is refused, the old configuration keeps serving). The check
 * opens it in a child switched to that user (what a reload does:
 * directories on the way, ACLs, everything).
 */
static void check_readable(const struct kst_config *conf,
			   const struct kst_privs *pv, const char *who,
			   int line, const char *what, const char *path,
			   bool fatal, struct kst_diag *d)
{
	struct stat st;
	char owner[120] = "", msg[1500];

	if (path == NULL || path[0] == '\0' || stat(path, &st) != 0)
		return; /* missing: the build (or the staple check) says so */
	if (kst_privs_works_without_caps(pv, check_open_probe, (void *)path))
		return;
	{
		struct passwd *pw = getpwuid(st.st_uid);
		struct group *gr = getgrgid(st.st_gid);

		snprintf(owner, sizeof(owner), "owner %s:%s, mode %04o",
			 pw ? pw->pw_name : "?", gr ? gr->gr_name : "?",
			 (unsigned)(st.st_mode & 07777));
	}
	snprintf(msg, sizeof(msg),
		 "%s: %s %s is not readable by user %s (%s): start reads "
		 "it as root, but a reload (SIGHUP) reads it as %s and would "
		 "%s; fix: chown %s '%s' (and let %s through its directories)",
		 who, what, path, pv->user, owner, pv->user,
		 fatal ? "fail" : "skip it", pv->user, path, pv->user);
	/* a warning: start works, and a setup that never reloads has run
	 * like this so far; the reload is what fails (and keeps the old
	 * configuration serving) */
	kst_diag_warn(d, conf->path, line, "%s", msg);
}

static void check_files(const struct kst_config *conf,
			const struct kst_privs *pv, struct kst_diag *d)
{
	/* only root can check for another user; without one, whoever runs
	 * -t reads what the daemon would */
	if (!pv->drop || geteuid() != 0 || pv->uid == 0)
		return;
	for (size_t i = 0; i < conf->n_certs; i++) {
		const struct kst_cert_conf *cc = &conf->certs[i];
		int line = cc->pem_line ? cc->pem_line : cc->line;
		char *staple = NULL, who[300];

		snprintf(who, sizeof(who), "cert %s", cc->name);
		check_readable(conf, pv, who, line, "certificate file", cc->pem,
			       true, d);
		if (cc->key != NULL)
			check_readable(conf, pv, who,
				       cc->key_line ? cc->key_line : line,
				       "key file", cc->key, true, d);
		if (!cc->stapling)
			continue;
		if (cc->staple_file == NULL &&
		    asprintf(&staple, "%s.ocsp", cc->pem) < 0)
			staple = NULL;
		check_readable(
			conf, pv, who, cc->staple_line ? cc->staple_line : line,
			"staple file",
			cc->staple_file ? cc->staple_file : staple, false, d);
		free(staple);
	}
	/* ticket keys: a change is reread as the user (no reload at all) */
	check_readable(conf, pv, "[global]", conf->global.ticket_keys_line,
		       "ticket-keys file", conf->global.ticket_keys, true, d);
	for (size_t i = 0; i < conf->n_listeners; i++) {
		const struct kst_listener_conf *lc = &conf->listeners[i];
		char who[300];

		snprintf(who, sizeof(who), "listener %s", lc->name);
		/* a reload lists each cert-dir again, as the user */
		for (size_t j = 0; j < lc->n_cert_dirs; j++)
			check_readable(conf, pv, who, lc->cert_dirs[j].line,
				       "cert-dir", lc->cert_dirs[j].path, true,
				       d);
		if (lc->ticket_keys == NULL)
			continue;
		check_readable(conf, pv, who, lc->ticket_keys_line,
			       "ticket-keys file", lc->ticket_keys, true, d);
	}
}

/* A bind address another kstapled serves now: start would refuse it (a
 * reload of that daemon would not); the lock itself is not taken. Under
 * systemd's ExecReload, $MAINPID is the daemon about to reload: its own
 * addresses are no news. */
static void check_binds(const struct kst_config *conf, struct kst_diag *d)
{
	const char *mainpid = getenv("MAINPID");
	int self = mainpid != NULL ? atoi(mainpid) : 0;

	for (size_t i = 0; i < conf->n_listeners; i++) {
		const struct kst_listener_conf *lc = &conf->listeners[i];

		for (size_t j = 0; j < lc->n_binds; j++) {
			int pid = kst_lsock_holder(&lc->binds[j]);

			if (pid == 0 || (self > 0 && pid == self))
				continue;
			if (pid > 0)
				kst_diag_warn(d, conf->path, lc->binds[j].line,
					      "listener %s: bind %s: kstapled "
					      "(pid %d) serves this address "
					      "now: a second daemon would be "
					      "refused (reload that one: kill "
					      "-HUP %d)",
					      lc->name, lc->binds[j].text, pid,
					      pid);
			else
				kst_diag_warn(
					d, conf->path, lc->binds[j].line,
					"listener %s: bind %s: another "
					"kstapled serves this address now",
					lc->name, lc->binds[j].text);
		}
	}
}

int kst_check_run(const struct kst_run_opts *o)
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
	if (conf != NULL) {
		struct kst_privs pv;

		if (check_user(conf, &pv, &d)) {
			check_state_dir(conf, &d);
			check_files(conf, &pv, &d);
		}
		check_pin_dir(conf, &d);
		check_binds(conf, &d);
	}
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

		if (o->dump) {
			kst_config_dump(g->conf, stdout);
			kst_ticket_dump(stdout); /* fingerprints, never keys */
		}
		fflush(stdout);
		kst_nicctl_check(g->conf, report);
		fprintf(report, "configuration OK\n");
	}
	rc = d.errors ? 1 : 0;
	kst_gen_destroy(g, &reg);
	kst_diag_free(&d);
	return rc;
}
