// SPDX-License-Identifier: MIT
/* Dropping root after setup; see privs.h. */
#include "daemon/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int kst_privs_resolve(const struct kst_global_conf *g, struct kst_privs *p,
		      char *why, size_t len)
{
	struct passwd *pw;
	struct group *gr;

	memset(p, 0, sizeof(*p));
	if (g->user == NULL || g->user[0] == '\0')
		return 0;
	pw = getpwnam(g->user);
	if (pw == NULL) {
		snprintf(why, len, "user '%s' does not exist", g->user);
		return -ENOENT;
	}
	p->drop = true;
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	snprintf(p->user, sizeof(p->user), "%s", g->user);
	if (g->group != NULL && g->group[0] != '\0') {
		gr = getgrnam(g->group);
		if (gr == NULL) {
			snprintf(why, len, "group '%s' does not exist",
				 g->group);
			return -ENOENT;
		}
		p->gid = gr->gr_gid;
	}
	return 0;
}

int kst_privs_state_dir(const char *dir, const struct kst_privs *p)
{
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	if (p->drop && chown(dir, p->uid, p->gid) < 0)
		return -errno;
	return 0;
}

static int privs_switch(const struct kst_privs *p)
{
	if (setgroups(1, &p->gid) < 0 || setresgid(p->gid, p->gid, p->gid) < 0 ||
	    setresuid(p->uid, p->uid, p->uid) < 0)
		return -errno;
	return 0;
}

int kst_privs_drop(const struct kst_privs *p, const cap_value_t *caps, int n)
{
	cap_t c = NULL;
	int rc = 0;

	if (!p->drop)
		return 0;
	if (n > 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -errno;
	rc = privs_switch(p);
	if (rc < 0)
		return rc;
	c = cap_init();
	if (c == NULL)
		return -ENOMEM;
	if (n > 0 && (cap_set_flag(c, CAP_PERMITTED, n, caps, CAP_SET) < 0 ||
		      cap_set_flag(c, CAP_EFFECTIVE, n, caps, CAP_SET) < 0))
		rc = -EINVAL;
	if (rc == 0 && cap_set_proc(c) < 0)
		rc = -errno;
	cap_free(c);
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	cap_reset_ambient();
	if (rc == 0 && (setuid(0) == 0 || geteuid() == 0))
		rc = -EPERM; /* root must not be regainable */
	return rc;
}

bool kst_privs_works_without_caps(const struct kst_privs *p,
				  int (*probe)(void *), void *arg)
{
	pid_t pid = fork();
	int st = 0;

	if (pid < 0)
		return false;
	if (pid == 0) {
		cap_t none = cap_init();

		if (privs_switch(p) < 0 || none == NULL ||
		    cap_set_proc(none) < 0)
			_exit(2);
		_exit(probe(arg) == 0 ? 0 : 1);
	}
	if (waitpid(pid, &st, 0) < 0)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

void kst_privs_describe(char *buf, size_t len)
{
	cap_t c = cap_get_proc();
	char *text = c ? cap_to_text(c, NULL) : NULL;

	snprintf(buf, len, "%s", text && strcmp(text, "=") ? text : "none");
	cap_free(text);
	cap_free(c);
}
