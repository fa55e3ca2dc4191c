// SPDX-License-Identifier: MIT
/* Running programs from tests; see toolproc.h. */
#include "tests/lib/toolproc.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/util.h"
#include "tests/lib/testutil.h"

char *kst_tool_path(const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/tools/%s", kst_test_builddir(), name) < 0)
		return NULL;
	return p;
}

bool kst_tool_built(const char *name)
{
	char *p = kst_tool_path(name);
	bool ok = p != NULL && access(p, X_OK) == 0;

	free(p);
	return ok;
}

static void toolproc_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* In the child: never returns. */
static void toolproc_exec(char *const argv[], int in_fd, int out_fd)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
	    dup2(out_fd, STDERR_FILENO) < 0)
		_exit(127);
	execvp(argv[0], argv);
	dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int toolproc_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -ECHILD;
}

/* Find the ready line in the log; true when found. */
static bool toolproc_ready(struct kst_tool *t, const char *prefix)
{
	char *log = kst_tool_log(t), *line;
	size_t pl = strlen(prefix);
	bool found = false;

	for (line = log; line != NULL && *line; line = strchr(line, '\n')) {
		char *eol;

		if (*line == '\n')
			line++;
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

static int toolproc_wait_ready(struct kst_tool *t, const char *prefix,
			       int timeout_ms)
{
	uint64_t end = kst_mono_ms() + (uint64_t)timeout_ms;
	int status;

	while (!toolproc_ready(t, prefix)) {
		if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
			t->status = status;
			t->pid = 0;
			return -ECHILD;
		}
		if (kst_mono_ms() >= end) {
			kst_tool_stop(t, 1000);
			return -ETIMEDOUT;
		}
		toolproc_sleep_ms(10);
	}
	return 0;
}

int kst_tool_start(struct kst_tool *t, char *const argv[],
		   const char *ready_prefix, int timeout_ms)
{
	int log_fd, null_fd;

	memset(t, 0, sizeof(*t));
	snprintf(t->log, sizeof(t->log), "%s/kst-tool-XXXXXX.log",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	log_fd = mkostemps(t->log, 4, O_CLOEXEC);
	if (log_fd < 0)
		return -errno;
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	t->pid = null_fd < 0 ? -1 : fork();
	if (t->pid == 0)
		toolproc_exec(argv, null_fd, log_fd);
	close(log_fd);
	if (null_fd >= 0)
		close(null_fd);
	if (t->pid < 0) {
		t->pid = 0;
		return -errno;
	}
	if (ready_prefix == NULL)
		return 0;
	return toolproc_wait_ready(t, ready_prefix, timeout_ms);
}

int kst_tool_signal(struct kst_tool *t, int sig)
{
	if (t->pid <= 0)
		return -ESRCH;
	return kill(t->pid, sig) < 0 ? -errno : 0;
}

int kst_tool_wait(struct kst_tool *t, int timeout_ms)
{
	uint64_t end = kst_mono_ms() + (uint64_t)timeout_ms;
	int status;

	if (t->pid <= 0)
		return toolproc_exit_code(t->status);
	for (;;) {
		pid_t r = waitpid(t->pid, &status, WNOHANG);

		if (r == t->pid) {
			t->status = status;
			t->pid = 0;
			return toolproc_exit_code(status);
		}
		if (r < 0)
			return -errno;
		if (kst_mono_ms() >= end)
			return -ETIMEDOUT;
		toolproc_sleep_ms(5);
	}
}

int kst_tool_stop(struct kst_tool *t, int timeout_ms)
{
	int r;

	if (t->pid <= 0)
		return toolproc_exit_code(t->status);
	kill(t->pid, SIGTERM);
	r = kst_tool_wait(t, timeout_ms);
	if (r != -ETIMEDOUT)
		return r;
	kill(t->pid, SIGKILL);
	return kst_tool_wait(t, 5000);
}

char *kst_tool_log(const struct kst_tool *t)
{
	unsigned char *buf = NULL;
	size_t len = 0;

	if (kst_test_read_file(t->log, &buf, &len) < 0)
		return NULL;
	buf[len] = '\0';
	return (char *)buf;
}

void kst_tool_release(struct kst_tool *t)
{
	if (t->pid > 0)
		kst_tool_stop(t, 2000);
	if (t->log[0] != '\0')
		unlink(t->log);
	t->log[0] = '\0';
}

/* Feed input and collect output until EOF or the deadline. */
static int toolproc_pump(int in_fd, const char *input, size_t input_len,
			 int out_fd, char **out, uint64_t end)
{
	size_t len = 0, cap = 0, off = 0;
	char *buf = NULL;

	for (;;) {
		struct pollfd p[2] = {{out_fd, POLLIN, 0}, {in_fd, POLLOUT, 0}};
		int left = (int)(end > kst_mono_ms() ? end - kst_mono_ms() : 0);
		ssize_t r;

		if (in_fd >= 0 && off == input_len) {
			close(in_fd);
			in_fd = -1;
		}
		p[1].fd = in_fd;
		if (left == 0 || poll(p, 2, left) <= 0)
			break;
		if (p[1].revents) {
			r = write(in_fd, input + off, input_len - off);
			off = r > 0 ? off + (size_t)r : input_len;
		}
		if (!p[0].revents)
			continue;
		if (len + 4097 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 8192);

			if (nb == NULL)
				break;
			buf = nb;
		}
		r = read(out_fd, buf + len, cap - len - 1);
		if (r <= 0) {
			end = 0; /* EOF: done */
			break;
		}
		len += (size_t)r;
	}
	if (in_fd >= 0)
		close(in_fd);
	if (buf != NULL)
		buf[len] = '\0';
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	return end == 0 ? 0 : -ETIMEDOUT;
}

int kst_tool_run(char *const argv[], const void *input, size_t input_len,
		 int timeout_ms, char **out)
{
	struct kst_tool t = {0};
	int in[2], o[2], r;

	if (out != NULL)
		*out = NULL;
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(o, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	signal(SIGPIPE, SIG_IGN);
	t.pid = fork();
	if (t.pid == 0)
		toolproc_exec(argv, in[0], o[1]);
	close(in[0]);
	close(o[1]);
	r = toolproc_pump(in[1], input, input ? input_len : 0, o[0], out,
			  kst_mono_ms() + (uint64_t)timeout_ms);
	close(o[0]);
	if (t.pid < 0)
		return -errno;
	if (r == -ETIMEDOUT) {
		kill(t.pid, SIGKILL);
		kst_tool_wait(&t, 5000);
		return -ETIMEDOUT;
	}
	return kst_tool_wait(&t, timeout_ms);
}

int kst_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0;

	if (fd < 0)
		return 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}
