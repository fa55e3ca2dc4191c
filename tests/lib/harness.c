// SPDX-License-Identifier: MIT
/* The integration test harness; see harness.h. */
#include "tests/lib/harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/base/util.h"
#include "tests/lib/testutil.h"

#define H_MAX_PROCS 64

static char h_dir[256];
static pid_t h_procs[H_MAX_PROCS];
static size_t h_nprocs;
static pid_t h_owner;

static void h_pins_sweep(void);

static long long h_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void h_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* At exit: every process still running is killed, the directory removed
 * (kept when KST_TEST_KEEP=1, for debugging). */
static void h_cleanup(void)
{
	char cmd[300];

	if (getpid() != h_owner)
		return;
	for (size_t i = 0; i < h_nprocs; i++) {
		if (h_procs[i] > 0 && kill(h_procs[i], 0) == 0) {
			kill(h_procs[i], SIGKILL);
			waitpid(h_procs[i], NULL, 0);
		}
	}
	kst_h_pins_remove(getpid()); /* the daemons are gone: no new pins */
	if (h_dir[0] && getenv("KST_TEST_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h_dir);
		if (system(cmd) != 0)
			(void)0;
	}
}

const char *kst_h_dir(void)
{
	if (h_dir[0] == '\0') {
		snprintf(h_dir, sizeof(h_dir), "/tmp/kst-it-XXXXXX");
		if (mkdtemp(h_dir) == NULL) {
			perror("mkdtemp");
			abort();
		}
		chmod(h_dir, 0755);
		h_owner = getpid();
		atexit(h_cleanup);
		h_pins_sweep();
	}
	return h_dir;
}

/* Sixteen rotating static buffers per function, so that several of its
 * results can be live at once (in one argv, say). */
struct h_ring {
	char buf[16][512];
	unsigned next;
};

static const char *h_join(struct h_ring *r, const char *dir, const char *name)
{
	char *b = r->buf[r->next++ % 16];
	int n = snprintf(b, sizeof(r->buf[0]), "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= sizeof(r->buf[0]))
		abort(); /* a test path of 512 bytes or more: fix the test */
	return b;
}

const char *kst_h_path(const char *name)
{
	static struct h_ring r;

	return h_join(&r, kst_h_dir(), name);
}

const char *kst_h_pki(const char *name)
{
	static struct h_ring r;

	return h_join(&r, kst_test_pki(), name);
}

const char *kst_h_leaf(const char *leaf)
{
	char src[300], dst[300];
	const char *p;

	snprintf(src, sizeof(src), "%s.pem", leaf);
	snprintf(dst, sizeof(dst), "%s.pem", leaf);
	p = kst_h_path(dst);
	if (kst_h_copy(kst_h_pki(src), p, 0600) < 0)
		return NULL;
	return p;
}

/* Bind 127.0.0.1:port (0: the kernel picks); the port bound, or -1. */
static int h_bind_port(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), got = -1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		got = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return got;
}

/* The first port of net.ipv4.ip_local_port_range (32768 by default). */
static int h_ephemeral_low(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	int lo = 32768;

	if (f != NULL) {
		if (fscanf(f, "%d", &lo) != 1)
			lo = 32768;
		fclose(f);
	}
	return lo;
}

/* A port the kernel itself hands out (bind to port 0, the source port of
 * a connection) could be given to anyone between this call and the
 * caller's bind: the daemon then failed to start now and then. Below the
 * ephemeral range only another explicit choice can take it. */
int kst_h_free_port(void)
{
	const int base = 10000;
	int lo = h_ephemeral_low();

	for (int i = 0; lo > base + 1000 && i < 64; i++) {
		unsigned r = 0;
		int port;

		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			break;
		port = base + (int)(r % (unsigned)(lo - base));
		if (h_bind_port(port) == port)
			return port;
	}
	return h_bind_port(0);
}

int kst_h_write_bytes(const char *path, const void *buf, size_t len, int mode)
{
	/* atomic, so a watcher never reads half a file */
	return kst_write_atomic(path, buf, len, (unsigned)mode);
}

int kst_h_write(const char *path, const char *text, int mode)
{
	return kst_h_write_bytes(path, text, strlen(text), mode);
}

int kst_h_copy(const char *from, const char *to, int mode)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc = kst_test_read_file(from, &buf, &len);

	if (rc == 0)
		rc = kst_h_write_bytes(to, buf, len, mode);
	free(buf);
	return rc;
}

char *kst_h_read(const char *path)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	char *s;

	if (kst_test_read_file(path, &buf, &len) < 0)
		return NULL;
	s = realloc(buf, len + 1);
	if (s == NULL) {
		free(buf);
		return NULL;
	}
	s[len] = '\0';
	return s;
}

const char *kst_h_tool(const char *name)
{
	char tools[480];

	static struct h_ring r;

	snprintf(tools, sizeof(tools), "%s/tools", kst_test_builddir());
	return h_join(&r, tools, name);
}

const char *kst_h_kstapled(void)
{
	static char b[512]; /* its own: argv arrays keep it long */

	snprintf(b, sizeof(b), "%s/kstapled", kst_test_builddir());
	return b;
}

/* ------------------------------------------------------------ procs */

static void h_child_fds(int in, int out)
{
	int null = open("/dev/null", O_RDWR);

	dup2(in >= 0 ? in : null, 0);
	dup2(out >= 0 ? out : null, 1);
	dup2(out >= 0 ? out : null, 2);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
}

pid_t kst_h_spawn(char *const argv[], const char *log)
{
	int out = -1;
	pid_t pid;

	kst_h_dir();
	if (log != NULL) {
		out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			   0644);
		if (out < 0)
			return -errno;
	}
	pid = fork();
	if (pid < 0) {
		if (out >= 0)
			close(out);
		return -errno;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_DFL);
		h_child_fds(-1, out);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (out >= 0)
		close(out);
	if (h_nprocs < H_MAX_PROCS)
		h_procs[h_nprocs++] = pid;
	return pid;
}

static int h_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

static void h_forget(pid_t pid)
{
	for (size_t i = 0; i < h_nprocs; i++)
		if (h_procs[i] == pid)
			h_procs[i] = 0;
}

int kst_h_wait(pid_t pid, int ms)
{
	long long end = h_ms() + ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			h_forget(pid);
			return h_status(st);
		}
		if (r < 0)
			return -errno;
		if (h_ms() >= end)
			return -ETIMEDOUT;
		h_sleep_ms(10);
	}
}

int kst_h_stop(pid_t pid, int sig, int ms)
{
	int rc;

	if (pid <= 0)
		return -1;
	kill(pid, sig);
	rc = kst_h_wait(pid, ms);
	if (rc == -ETIMEDOUT) {
		fprintf(stderr,
			"harness: pid %d ignored signal %d for %d ms; "
			"killing it\n",
			(int)pid, sig, ms);
		kill(pid, SIGKILL);
		rc = kst_h_wait(pid, 5000);
		return rc < 0 ? rc : -ETIMEDOUT;
	}
	return rc;
}

bool kst_h_alive(pid_t pid)
{
	return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

/* Feed in, collect out, until the child exits or the deadline. */
static int h_pump(pid_t pid, int win, int rout, const void *in, size_t inlen,
		  char **out, int ms)
{
	long long end = h_ms() + ms;
	size_t off = 0, len = 0, cap = 4096;
	char *buf = malloc(cap);
	int rc;

	while (buf != NULL) {
		struct pollfd p[2] = {{rout, POLLIN, 0}, {win, POLLOUT, 0}};
		int left = (int)(end - h_ms());
		ssize_t n;

		if (left <= 0)
			break;
		if (poll(p, win >= 0 ? 2 : 1, left) <= 0)
			continue;
		if (win >= 0 && (p[1].revents & (POLLOUT | POLLERR))) {
			n = write(win, (const char *)in + off, inlen - off);
			off += n > 0 ? (size_t)n : 0;
			if (n < 0 || off == inlen) {
				close(win);
				win = -1;
			}
		}
		if (!(p[0].revents & (POLLIN | POLLHUP)))
			continue;
		if (len + 1024 > cap) {
			char *b = realloc(buf, cap *= 2);

			if (b == NULL)
				break;
			buf = b;
		}
		n = read(rout, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (win >= 0)
		close(win);
	if (buf != NULL)
		buf[len] = '\0';
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	/* output ended: the child exits on its own, or at the deadline */
	rc = kst_h_wait(pid, h_ms() < end ? (int)(end - h_ms()) : 0);
	if (rc != -ETIMEDOUT)
		return rc;
	kst_h_stop(pid, SIGKILL, 5000);
	return -ETIMEDOUT;
}

int kst_h_run(char *const argv[], const void *in, size_t inlen, char **out,
	      int ms)
{
	int pin[2], pout[2], rc;
	pid_t pid;

	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_DFL);
		h_child_fds(pin[0], pout[1]);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	if (pid < 0) {
		close(pin[1]);
		close(pout[0]);
		return -errno;
	}
	if (in == NULL || inlen == 0) {
		close(pin[1]);
		pin[1] = -1;
	}
	/* the child exits on its own; the stop is a bounded reap */
	rc = h_pump(pid, pin[1], pout[0], in, inlen, out, ms);
	close(pout[0]);
	return rc;
}

int kst_h_sh(const char *cmd, char **out, int ms)
{
	char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};

	return kst_h_run(argv, NULL, 0, out, ms);
}

int kst_h_client(char **out, int ms, ...)
{
	char *argv[64];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)kst_h_tool("kst-client");
	va_start(ap, ms);
	while (argc < 63 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	return kst_h_run(argv, NULL, 0, out, ms);
}

const char *kst_h_kv(const char *text, const char *key)
{
	static char bufs[8][256];
	static unsigned next;
	size_t kl = strlen(key);
	const char *p = text;

	while (p != NULL && *p) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			char *b = bufs[next++ % 8];
			size_t n = strcspn(p + kl + 1, "\n");

			snprintf(b, 256, "%.*s", (int)n, p + kl + 1);
			return b;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return NULL;
}

double kst_h_cpu_seconds(pid_t pid)
{
	char path[64], *text, *p;
	unsigned long long ut = 0, st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	text = kst_h_read(path);
	p = text ? strrchr(text, ')') : NULL;
	/* fields after the command: state is 3rd, utime 14th, stime 15th */
	if (p == NULL ||
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		   &st) != 2) {
		free(text);
		return -1;
	}
	free(text);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int kst_h_private_netns(void)
{
	struct ifreq ifr = {0};
	int fd, rc = 0;

	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		rc = -errno;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (rc == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* ------------------------------------------------------------ bpffs pins */

#define H_BPFFS	       "/sys/fs/bpf"
#define H_PINS_STALE_S 60

/*
 * Whether name is a test's pin directory, "kst" then TAG then PID, each
 * after a '-' or '_', with the segment before PID not all digits (so that
 * bench/certs.sh's kst-certs-PID-RANDOM is none); PID in *pid.
 */
static bool h_pins_name(const char *name, pid_t *pid)
{
	const char *end = name + strlen(name), *p = end, *seg;

	if (strncmp(name, "kst", 3) != 0 || (name[3] != '-' && name[3] != '_'))
		return false;
	while (p > name && isdigit((unsigned char)p[-1]))
		p--;
	if (p == end || end - p > 9 || p - name < 6 ||
	    (p[-1] != '-' && p[-1] != '_'))
		return false;
	for (seg = p - 1; seg > name + 4 && seg[-1] != '-' && seg[-1] != '_';)
		seg--;
	while (seg < p - 1 && isdigit((unsigned char)*seg))
		seg++;
	if (seg == p - 1)
		return false; /* empty or all digits */
	*pid = (pid_t)atol(p);
	return *pid > 0;
}

/* Calls fn for each test pin directory in bpffs; a missing bpffs has
 * none. */
static void h_pins_each(void (*fn)(const char *path, pid_t pid, void *arg),
			void *arg)
{
	DIR *dir = opendir(H_BPFFS);
	struct dirent *de;
	char path[300];
	pid_t pid;

	while (dir != NULL && (de = readdir(dir)) != NULL) {
		if (!h_pins_name(de->d_name, &pid))
			continue;
		snprintf(path, sizeof(path), "%s/%s", H_BPFFS, de->d_name);
		fn(path, pid, arg);
	}
	if (dir != NULL)
		closedir(dir);
}

static void h_rm_rf(const char *path)
{
	char *argv[] = {"rm", "-rf", "--", (char *)path, NULL};

	kst_h_run(argv, NULL, 0, NULL, 10000);
}

struct h_pins_of {
	pid_t pid;
	int n;
	char *names;
	size_t len;
};

static void h_pins_of_one(const char *path, pid_t pid, void *arg)
{
	struct h_pins_of *o = arg;
	size_t used = o->names ? strlen(o->names) : 0;

	if (pid != o->pid)
		return;
	o->n++;
	if (o->names != NULL && used < o->len)
		snprintf(o->names + used, o->len - used, "%s%s",
			 used ? ", " : "", path);
}

int kst_h_pins_of(pid_t pid, char *names, size_t len)
{
	struct h_pins_of o = {pid, 0, names, len};

	if (names != NULL && len > 0)
		names[0] = '\0';
	h_pins_each(h_pins_of_one, &o);
	return o.n;
}

static void h_pins_remove_one(const char *path, pid_t pid, void *arg)
{
	if (pid == *(const pid_t *)arg)
		h_rm_rf(path);
}

void kst_h_pins_remove(pid_t pid)
{
	h_pins_each(h_pins_remove_one, &pid);
}

/* Those of a test process that is gone and did not remove them (killed
 * at a criterion timeout: no atexit); not touched for a minute, so a
 * process that just started is never mistaken for one. */
static void h_pins_sweep_one(const char *path, pid_t pid, void *arg)
{
	struct stat st;

	(void)arg;
	if (kill(pid, 0) == 0 || errno != ESRCH || stat(path, &st) < 0 ||
	    st.st_mtime > time(NULL) - H_PINS_STALE_S)
		return;
	fprintf(stderr, "harness: removing %s, left by pid %d\n", path,
		(int)pid);
	h_rm_rf(path);
}

static void h_pins_sweep(void)
{
	h_pins_each(h_pins_sweep_one, NULL);
}

char *kst_h_status_json(const char *pins)
{
	char *argv[] = {(char *)kst_h_kstapled(),
			"status",
			"--json",
			"--pin-dir",
			(char *)pins,
			NULL};
	char *out = NULL;

	h_sleep_ms(1300);
	kst_h_run(argv, NULL, 0, &out, 10000);
	return out;
}

char *kst_h_json_get(const char *json, const char *cert, const char *key)
{
	char pat[160];
	const char *p = json;

	if (json == NULL)
		return NULL;
	if (cert != NULL) {
		snprintf(pat, sizeof(pat), "\"name\":\"%s\"", cert);
		p = strstr(json, pat);
		if (p == NULL)
			return NULL;
		/* back to the start of this object */
		while (p > json && *p != '{')
			p--;
	}
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(p, pat);
	if (p == NULL)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	p += *p == '"';
	return strndup(p, strcspn(p, "\",}\n"));
}

/* ----------------------------------------------------------- waiting */

int kst_h_wait_port(const char *host, int port, int ms)
{
	long long end = h_ms() + ms;
	struct sockaddr_storage ss = {0};
	socklen_t len;

	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *s6 = (void *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, host, &s6->sin6_addr);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (void *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, host, &s4->sin_addr);
		len = sizeof(*s4);
	}
	while (h_ms() < end) {
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok = fd >= 0 &&
			 connect(fd, (struct sockaddr *)&ss, len) == 0;

		if (fd >= 0)
			close(fd);
		if (ok)
			return 0;
		h_sleep_ms(20);
	}
	return -ETIMEDOUT;
}

int kst_h_count(const char *path, const char *needle)
{
	char *text = kst_h_read(path), *p;
	int n = 0;

	for (p = text; p != NULL && (p = strstr(p, needle)) != NULL;
	     p += strlen(needle))
		n++;
	free(text);
	return n;
}

int kst_h_wait_log(const char *path, const char *needle, int ms)
{
	long long end = h_ms() + ms;

	do {
		if (kst_h_count(path, needle) > 0)
			return 0;
		h_sleep_ms(20);
	} while (h_ms() < end);
	return -ETIMEDOUT;
}

/* ------------------------------------------------------------ daemon */

int kst_h_daemon_start(struct kst_h_daemon *d, const char *conf_text)
{
	char *text = NULL, *log;
	char *argv[] = {(char *)kst_h_kstapled(), "-c", d->conf, NULL};
	const char *port;
	int started;

	memset(d, 0, sizeof(*d));
	snprintf(d->conf, sizeof(d->conf), "%s", kst_h_path("kstapled.conf"));
	snprintf(d->log, sizeof(d->log), "%s", kst_h_path("kstapled.log"));
	mkdir(kst_h_path("state"), 0700);
	if (asprintf(
		    &text,
		    "[global]\nstate-dir = %s\nbpf-pin-dir =\nallow-root = on\n"
		    "log-level = debug\nworkers = 2\n%s",
		    kst_h_path("state"), conf_text) < 0)
		return -1;
	kst_h_write(d->conf, text, 0644);
	free(text);
	port = strstr(conf_text, "bind = 127.0.0.1:");
	d->port = port ? atoi(port + strlen("bind = 127.0.0.1:")) : 0;
	started = kst_h_count(d->log, "started: "); /* a restart */
	d->pid = kst_h_spawn(argv, d->log);
	if (d->pid < 0)
		return -1;
	for (int i = 0; i < 500; i++) {
		if (kst_h_count(d->log, "started: ") > started)
			return 0;
		if (!kst_h_alive(d->pid))
			break;
		h_sleep_ms(20);
	}
	log = kst_h_read(d->log);
	fprintf(stderr, "harness: kstapled did not start:\n%s\n",
		log ? log : "");
	free(log);
	return -1;
}

int kst_h_daemon_stop(struct kst_h_daemon *d)
{
	int rc = kst_h_stop(d->pid, SIGTERM, 20000);

	d->pid = 0;
	return rc;
}

int kst_h_daemon_reload(struct kst_h_daemon *d)
{
	int ok = kst_h_count(d->log, "reloaded: ");
	int bad = kst_h_count(d->log, "reload failed");

	kill(d->pid, SIGHUP);
	for (int i = 0; i < 500; i++) {
		if (kst_h_count(d->log, "reloaded: ") > ok)
			return 0;
		if (kst_h_count(d->log, "reload failed") > bad)
			return -1;
		h_sleep_ms(20);
	}
	return -ETIMEDOUT;
}

/* ----------------------------------------------------------- backend */

/*
 * The port a test tool listening on 127.0.0.1:0 announced with a
 * "ready <port>" line in log, within 10 s; -1 if pid died or never said.
 */
static int h_wait_ready_port(pid_t pid, const char *log)
{
	if (pid < 0)
		return -1;
	for (int i = 0; i < 500; i++) {
		char *text = kst_h_read(log);
		char *p = text ? strstr(text, "ready ") : NULL;

		if (p != NULL && strchr(p, '\n') != NULL) {
			int port = atoi(p + 6);

			free(text);
			return port > 0 ? port : -1;
		}
		free(text);
		if (!kst_h_alive(pid))
			return -1;
		h_sleep_ms(20);
	}
	return -1;
}

int kst_h_backend_start(struct kst_h_backend *b, const char *mode, bool proxy)
{
	static unsigned started;
	char m[64], n[32] = "", *argv[12], name[64];
	const char *colon = strchr(mode, ':');
	int argc = 0;

	memset(b, 0, sizeof(*b));
	/* a log of its own: its "ready <port>" line is the one read */
	snprintf(name, sizeof(name), "backend%s-%u.log", proxy ? "-proxy" : "",
		 started++);
	snprintf(b->log, sizeof(b->log), "%s", kst_h_path(name));
	snprintf(b->record, sizeof(b->record), "%s",
		 kst_h_path("proxy-headers.jsonl"));
	snprintf(m, sizeof(m), "%.*s", colon ? (int)(colon - mode) : 63, mode);
	argv[argc++] = (char *)kst_h_tool("kst-backend");
	argv[argc++] = "-m";
	argv[argc++] = m;
	argv[argc++] = "-l";
	argv[argc++] = "127.0.0.1:0";
	if (colon != NULL) {
		snprintf(n, sizeof(n), "%s", colon + 1);
		argv[argc++] = "-n";
		argv[argc++] = n;
	}
	if (proxy) {
		argv[argc++] = "-p";
		argv[argc++] = "--record";
		argv[argc++] = b->record;
	}
	argv[argc] = NULL;
	b->pid = kst_h_spawn(argv, b->log);
	b->port = h_wait_ready_port(b->pid, b->log);
	return b->port > 0 ? 0 : -1;
}

void kst_h_backend_stop(struct kst_h_backend *b)
{
	if (b->pid > 0)
		kst_h_stop(b->pid, SIGTERM, 5000);
	b->pid = 0;
}

char *kst_h_conf_web(int port, int backend_port, const char *extra)
{
	char *text = NULL;
	const char *ec = kst_h_leaf("localhost-ecdsa");
	const char *rsa = kst_h_leaf("localhost-rsa");

	if (asprintf(&text,
		     "[listener:web]\nbind = 127.0.0.1:%d\n"
		     "backend = 127.0.0.1:%d\ncert = %s\ncert = %s\n%s",
		     port, backend_port, ec ? ec : "?", rsa ? rsa : "?",
		     extra ? extra : "") < 0)
		return NULL;
	return text;
}

/* ------------------------------------------------------ OCSP responder */

int kst_h_ocspd_start(struct kst_h_ocspd *o, const char *pki_dir,
		      const char *mode, int ndays)
{
	static int n;
	char idx[512], ca[512], key[512], days[16], tag[32];
	char rogue[512], rkey[512], other[512];
	char *argv[28];
	const char *dir = pki_dir ? pki_dir : kst_test_pki();
	int argc = 0;

	memset(o, 0, sizeof(*o));
	snprintf(tag, sizeof(tag), "ocspd%d", n++);
	snprintf(o->mode, sizeof(o->mode), "%s.mode", kst_h_path(tag));
	snprintf(o->log, sizeof(o->log), "%s.requests", kst_h_path(tag));
	snprintf(o->out, sizeof(o->out), "%s.log", kst_h_path(tag));
	kst_h_ocspd_mode(o, mode ? mode : "ok");
	snprintf(idx, sizeof(idx), "%s/index.txt", dir);
	snprintf(ca, sizeof(ca), "%s/int.crt", dir);
	snprintf(key, sizeof(key), "%s/int.key", dir);
	/* for the wrong-key and other-cert modes */
	snprintf(rogue, sizeof(rogue), "%s/rogue-ca.crt", dir);
	snprintf(rkey, sizeof(rkey), "%s/rogue-ca.key", dir);
	snprintf(other, sizeof(other), "%s/other-ecdsa.crt", dir);
	snprintf(days, sizeof(days), "%d", ndays > 0 ? ndays : 1);
	argv[argc++] = (char *)kst_h_tool("kst-ocspd");
	argv[argc++] = "-l";
	argv[argc++] = "127.0.0.1:0";
	argv[argc++] = "--index";
	argv[argc++] = idx;
	argv[argc++] = "--ca";
	argv[argc++] = ca;
	argv[argc++] = "--rsigner";
	argv[argc++] = ca;
	argv[argc++] = "--rkey";
	argv[argc++] = key;
	argv[argc++] = "--ndays";
	argv[argc++] = days;
	argv[argc++] = "--mode-file";
	argv[argc++] = o->mode;
	argv[argc++] = "--log";
	argv[argc++] = o->log;
	argv[argc++] = "--rogue-signer";
	argv[argc++] = rogue;
	argv[argc++] = "--rogue-key";
	argv[argc++] = rkey;
	argv[argc++] = "--other-cert";
	argv[argc++] = other;
	argv[argc] = NULL;
	o->pid = kst_h_spawn(argv, o->out);
	o->port = h_wait_ready_port(o->pid, o->out);
	if (o->port < 0)
		return -1;
	snprintf(o->url, sizeof(o->url), "http://127.0.0.1:%d/", o->port);
	return 0;
}

void kst_h_ocspd_mode(struct kst_h_ocspd *o, const char *mode)
{
	kst_h_write(o->mode, mode, 0644);
}

int kst_h_ocspd_requests(struct kst_h_ocspd *o)
{
	char *text = kst_h_read(o->log);
	int n = 0;

	for (char *p = text; p != NULL && *p; p++)
		n += *p == '\n';
	free(text);
	return n;
}

void kst_h_ocspd_stop(struct kst_h_ocspd *o)
{
	if (o->pid > 0)
		kst_h_stop(o->pid, SIGTERM, 5000);
	o->pid = 0;
}
