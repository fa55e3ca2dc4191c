// SPDX-License-Identifier: MIT
/*
 * Running programs from tests; see toolproc.h. A thin layer over the
 * harness's process primitives: a log file per program and the wait for
 * its ready line.
 */
#include "tests/lib/toolproc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/base/util.h"
#include "tests/lib/harness.h"

char *kst_tool_path(const char *name)
{
	return strdup(kst_h_tool(name));
}

bool kst_tool_built(const char *name)
{
	return access(kst_h_tool(name), X_OK) == 0;
}

/* Find the ready line in the log; true when found. */
static bool toolproc_ready(struct kst_tool *t, const char *prefix)
{
	char *log = kst_tool_log(t), *line, *eol;
	size_t pl = strlen(prefix);
	bool found = false;

	for (line = log; line != NULL; line = eol + 1) {
		eol = strchr(line, '\n');
		if (eol == NULL)
			break; /* wait for the whole line */
		if (strncmp(line, prefix, pl) == 0) {
			snprintf(t->ready, sizeof(t->ready), "%.*s",
				 (int)(eol - line - (long)pl), line + pl);
			t->port = atoi(t->ready);
			if (t->port == 0 && strrchr(t->ready, ':') != NULL)
				t->port = atoi(strrchr(t->ready, ':') + 1);
			found = true;
			break;
		}
	}
	free(log);
	return found;
}

/* A finished child's exit code is kept so stop/wait can report it again. */
static int toolproc_done(struct kst_tool *t, int rc)
{
	if (rc != -ETIMEDOUT) {
		t->status = rc;
		t->pid = 0;
	}
	return rc;
}

int kst_tool_start(struct kst_tool *t, char *const argv[],
		   const char *ready_prefix, int timeout_ms)
{
	uint64_t end = kst_mono_ms() + (uint64_t)timeout_ms;
	int fd;

	memset(t, 0, sizeof(*t));
	snprintf(t->log, sizeof(t->log), "%s/kst-tool-XXXXXX.log",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkostemps(t->log, 4, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	t->pid = kst_h_spawn(argv, t->log);
	if (t->pid < 0) {
		int err = t->pid;

		t->pid = 0;
		return err;
	}
	while (ready_prefix != NULL && !toolproc_ready(t, ready_prefix)) {
		if (kst_tool_wait(t, 0) != -ETIMEDOUT)
			return -ECHILD;
		if (kst_mono_ms() >= end) {
			kst_tool_stop(t, 1000);
			return -ETIMEDOUT;
		}
		nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
	}
	return 0;
}

int kst_tool_signal(struct kst_tool *t, int sig)
{
	if (t->pid <= 0)
		return -ESRCH;
	return kill(t->pid, sig) < 0 ? -errno : 0;
}

int kst_tool_wait(struct kst_tool *t, int timeout_ms)
{
	if (t->pid <= 0)
		return t->status;
	return toolproc_done(t, kst_h_wait(t->pid, timeout_ms));
}

int kst_tool_stop(struct kst_tool *t, int timeout_ms)
{
	int rc;

	if (t->pid <= 0)
		return t->status;
	kill(t->pid, SIGTERM);
	rc = kst_tool_wait(t, timeout_ms);
	if (rc != -ETIMEDOUT)
		return rc;
	kill(t->pid, SIGKILL);
	return kst_tool_wait(t, 5000);
}

char *kst_tool_log(const struct kst_tool *t)
{
	return kst_h_read(t->log);
}

void kst_tool_release(struct kst_tool *t)
{
	if (t->pid > 0)
		kst_tool_stop(t, 2000);
	if (t->log[0] != '\0')
		unlink(t->log);
	t->log[0] = '\0';
}

int kst_tool_run(char *const argv[], const void *input, size_t input_len,
		 int timeout_ms, char **out)
{
	signal(SIGPIPE, SIG_IGN);
	return kst_h_run(argv, input, input ? input_len : 0, out, timeout_ms);
}

int kst_free_port(void)
{
	int port = kst_h_free_port();

	return port > 0 ? port : 0;
}
