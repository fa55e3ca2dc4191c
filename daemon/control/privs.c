// SPDX-License-Identifier: MIT
/* Dropping root after setup; see privs.h. */
#include "daemon/control/privs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/base/log.h"

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

/* O_NOFOLLOW|O_DIRECTORY on a link gives ELOOP or ENOTDIR (a link to a
 * directory is not one itself): tell the two apart for the message. */
static bool privs_is_link(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/*
 * chown(2) would follow a symbolic link: state-dir pointing at /etc (by
 * mistake, or planted by whoever can write its parent) would hand /etc to
 * the service user. The directory is opened without following a link
 * and the descriptor is what changes owner; a link is refused (-ELOOP),
 * and the caller warns and goes on without persisting.
 */
int kst_privs_state_dir(const char *dir, const struct kst_privs *p)
{
	int fd, rc = 0;
	bool made = mkdir(dir, 0750) == 0;

	if (!made && errno != EEXIST)
		return -errno;
	if (!p->drop && !made)
		return 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR && privs_is_link(dir) ? -ELOOP : -errno;
	/* made here: exactly 0750 whatever the umask */
	if (made && fchmod(fd, 0750) < 0)
		rc = -errno;
	if (rc == 0 && p->drop && fchown(fd, p->uid, p->gid) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int privs_switch(const struct kst_privs *p)
{
	if (setgroups(1, &p->gid) < 0 ||
	    setresgid(p->gid, p->gid, p->gid) < 0 ||
	    setresuid(p->uid, p->uid, p->uid) < 0)
		return -errno;
	return 0;
}

static bool privs_have(cap_value_t v)
{
	cap_t c = cap_get_proc();
	cap_flag_value_t on = CAP_CLEAR;

	if (c != NULL)
		cap_get_flag(c, v, CAP_EFFECTIVE, &on);
	cap_free(c);
	return on == CAP_SET;
}

/*
 * Empties the bounding set but for caps[0..n): an exec (none is planned)
 * could never bring a capability back. Needs CAP_SETPCAP, so it runs
 * while still root. A service manager that withheld CAP_SETPCAP has
 * already bounded the set itself (the unit's CapabilityBoundingSet=):
 * then it is left as it is, and no_new_privs still stops any gain.
 */
static int privs_drop_bounding(const cap_value_t *caps, int n)
{
	if (!privs_have(CAP_SETPCAP)) {
		kst_info("capability bounding set left as the service "
			 "manager set it (no CAP_SETPCAP to reduce it)");
		return 0;
	}
	for (cap_value_t v = 0; v < (cap_value_t)cap_max_bits(); v++) {
		bool keep = false;

		for (int i = 0; i < n; i++)
			keep |= caps[i] == v;
		if (keep || !CAP_IS_SUPPORTED(v) || cap_get_bound(v) != 1)
			continue;
		if (cap_drop_bound(v) < 0)
			return -errno;
	}
	return 0;
}

int kst_privs_drop(const struct kst_privs *p, const cap_value_t *caps, int n)
{
	cap_t c = NULL;
	int rc = 0;

	/* nothing this process runs may gain privileges (setuid binaries,
	 * file capabilities), with or without a user to switch to */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (!p->drop)
		return 0;
	rc = privs_drop_bounding(caps, n);
	if (rc < 0)
		return rc;
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
