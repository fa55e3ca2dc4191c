/* SPDX-License-Identifier: MIT */
/*
 * Running programs from tests: the kst-* tools in $KST_BUILD/tools, and
 * real peers (openssl s_server, haproxy). A started program writes stdout
 * and stderr to a log file, so it can never block on a full pipe, and
 * kst_tool_start returns once a line starting with a given prefix
 * ("ready ", "ACCEPT") appears in it. Every wait is bounded; programs get
 * SIGKILL if the test process dies (PR_SET_PDEATHSIG), and are otherwise
 * stopped by PID with kst_tool_stop.
 */
#ifndef KST_TOOLPROC_H
#define KST_TOOLPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct kst_tool {
	pid_t pid;	 /* 0 once stopped */
	char log[256];	 /* its stdout and stderr */
	char ready[256]; /* the ready line after the prefix, no newline */
	int port;	 /* the ready line's first number, or 0 */
	int status;	 /* exit code once it has exited (as kst_tool_stop) */
};

/* "$KST_BUILD/tools/NAME" (malloc'd), or NULL. */
char *kst_tool_path(const char *name);
/* The tool was built (is executable). */
bool kst_tool_built(const char *name);

/*
 * Start argv (argv[0] is a path, or a name searched in PATH). Waits up to
 * timeout_ms for a log line starting with ready_prefix (NULL: do not wait).
 * 0, -ETIMEDOUT (the program was killed), -ECHILD (it exited first), or
 * -errno. The log file stays until kst_tool_release.
 */
int kst_tool_start(struct kst_tool *t, char *const argv[],
		   const char *ready_prefix, int timeout_ms);

/* SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the exit code
 * (0..255), 128 + signal if it was killed by one, or -errno. */
int kst_tool_stop(struct kst_tool *t, int timeout_ms);

/* Send sig to the tool (it keeps running or not; see kst_tool_wait). */
int kst_tool_signal(struct kst_tool *t, int sig);

/* Wait up to timeout_ms for it to exit; exit code as kst_tool_stop, or
 * -ETIMEDOUT. */
int kst_tool_wait(struct kst_tool *t, int timeout_ms);

/* The log so far, malloc'd and NUL-terminated (NULL on error). */
char *kst_tool_log(const struct kst_tool *t);

/* Stop it if running and remove the log file. */
void kst_tool_release(struct kst_tool *t);

/*
 * Run argv to completion with stdin from input (may be NULL), capturing
 * stdout and stderr together into *out (malloc'd, NUL-terminated; may be
 * NULL). Returns the exit code as kst_tool_stop, or -ETIMEDOUT after
 * killing it at timeout_ms.
 */
int kst_tool_run(char *const argv[], const void *input, size_t input_len,
		 int timeout_ms, char **out);

/* A TCP port on 127.0.0.1 that was free a moment ago (for programs that
 * cannot bind port 0 and report it), or 0. */
int kst_free_port(void);

#endif
