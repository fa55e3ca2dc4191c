// SPDX-License-Identifier: MIT
/*
 * The counting allocator and the sweep runner of the allocation-failure
 * sweep; see af.h for what is counted and how a scenario runs. main() is
 * here: `allocfail [SCENARIO...]` sweeps the named scenarios (all by
 * default) and prints, per scenario, the allocation sites reached, the
 * failures injected and what went wrong (crashes, leaks, fd leaks, wrong
 * outcomes), each failing N with the call stack of the failed allocation.
 *
 * Environment: ALLOCFAIL_FULL=1 fails every site (no stride, no time
 * budget); ALLOCFAIL_MAX_RUNS (default 400) bounds the children per
 * scenario otherwise: the first ALLOCFAIL_FIRST (default 150) and the
 * last ALLOCFAIL_LAST (default 30) sites are all failed, then every
 * stride-th in between, starting at ALLOCFAIL_OFFSET (default 0: vary it
 * to cover other sites on another run); ALLOCFAIL_BUDGET (seconds per
 * scenario, default 40; 0: none) stops a scenario early, saying so.
 * ALLOCFAIL_N=n runs only failure n (with its call stack), verbosely.
 * ALLOCFAIL_COLD=1 skips the warm-up runs (see af_prepare): OpenSSL's
 * first algorithm fetches are then swept too (there, OpenSSL 3.0 makes
 * an SSL_CTX without the algorithm whose fetch failed, and says nothing).
 */
#include "tests/allocfail/af.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "daemon/base/log.h"
#include "daemon/tls/tls.h"

/* ------------------------------------------------------------ counting */

static atomic_long af_n; /* allocations counted since af_begin */
static long af_fail_at;	 /* 0: fail none */
static atomic_bool af_armed;
static atomic_bool af_hit;
static bool af_trace; /* print the stack of the failed one */
static atomic_uint af_warned;

void __sanitizer_print_stack_trace(void) __attribute__((weak));
static void af_note_site(void);

/* True when this allocation must fail. */
static bool af_tick(void)
{
	long n;

	if (!atomic_load_explicit(&af_armed, memory_order_relaxed))
		return false;
	n = atomic_fetch_add(&af_n, 1) + 1;
	if (n != af_fail_at)
		return false;
	atomic_store(&af_hit, true);
	af_note_site();
	if (af_trace) {
		fprintf(stderr, "allocfail: failing allocation %ld here:\n", n);
		if (__sanitizer_print_stack_trace != NULL) {
			__sanitizer_print_stack_trace();
		} else {
			void *pcs[48];
			int k = backtrace(pcs, 48);

			backtrace_symbols_fd(pcs, k, 2);
		}
	}
	errno = ENOMEM;
	return true;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_reallocarray(void *p, size_t k, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **r, const char *fmt, va_list ap);
FILE *__real_fopen(const char *path, const char *mode);
FILE *__real_open_memstream(char **buf, size_t *len);
void *__real_nl_socket_alloc(void);
void *__real_nlmsg_alloc(void);
void __real_kst_vlog(int level, const char *fmt, va_list ap);
void __real_kst_log_ssl(int level, const char *fmt, ...);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_reallocarray(void *p, size_t k, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_asprintf(char **r, const char *fmt, ...);
int __wrap_vasprintf(char **r, const char *fmt, va_list ap);
FILE *__wrap_fopen(const char *path, const char *mode);
FILE *__wrap_open_memstream(char **buf, size_t *len);
void *__wrap_nl_socket_alloc(void);
void *__wrap_nlmsg_alloc(void);
void __wrap_kst_log(int level, const char *fmt, ...);
void __wrap_kst_vlog(int level, const char *fmt, va_list ap);
void __wrap_kst_log_ssl(int level, const char *fmt, ...);

void *__wrap_malloc(size_t n)
{
	return af_tick() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
	return af_tick() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	return af_tick() ? NULL : __real_realloc(p, n);
}

void *__wrap_reallocarray(void *p, size_t k, size_t n)
{
	return af_tick() ? NULL : __real_reallocarray(p, k, n);
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
	return af_tick() ? NULL : __real_aligned_alloc(a, n);
}

char *__wrap_strdup(const char *s)
{
	return af_tick() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return af_tick() ? NULL : __real_strndup(s, n);
}

int __wrap_vasprintf(char **r, const char *fmt, va_list ap)
{
	if (af_tick())
		return -1;
	return __real_vasprintf(r, fmt, ap);
}

int __wrap_asprintf(char **r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (af_tick())
		return -1;
	va_start(ap, fmt);
	n = __real_vasprintf(r, fmt, ap);
	va_end(ap);
	return n;
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
	return af_tick() ? NULL : __real_fopen(path, mode);
}

FILE *__wrap_open_memstream(char **buf, size_t *len)
{
	return af_tick() ? NULL : __real_open_memstream(buf, len);
}

void *__wrap_nl_socket_alloc(void)
{
	return af_tick() ? NULL : __real_nl_socket_alloc();
}

void *__wrap_nlmsg_alloc(void)
{
	return af_tick() ? NULL : __real_nlmsg_alloc();
}

static void *af_crypto_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return af_tick() ? NULL : __real_malloc(n);
}

static void *af_crypto_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return af_tick() ? NULL : __real_realloc(p, n);
}

static void af_crypto_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

/* Log lines: counted by severity, then written as the daemon writes. */
void __wrap_kst_vlog(int level, const char *fmt, va_list ap)
{
	if (level <= KST_LOG_WARN && atomic_load(&af_armed))
		atomic_fetch_add(&af_warned, 1);
	__real_kst_vlog(level, fmt, ap);
}

void __wrap_kst_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	__wrap_kst_vlog(level, fmt, ap);
	va_end(ap);
}

void __wrap_kst_log_ssl(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level <= KST_LOG_WARN && atomic_load(&af_armed))
		atomic_fetch_add(&af_warned, 1);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	__real_kst_log_ssl(level, "%s", line);
}

/* The count runs on across several armed regions of one run. */
static bool af_started;

void af_begin(void)
{
	if (!af_started) {
		atomic_store(&af_n, 0);
		atomic_store(&af_hit, false);
		atomic_store(&af_warned, 0);
		af_started = true;
	}
	atomic_store(&af_armed, true);
}

void af_end(void)
{
	atomic_store(&af_armed, false);
}

void af_pause(void)
{
	atomic_store(&af_armed, false);
}

void af_resume(void)
{
	atomic_store(&af_armed, true);
}

bool af_injected(void)
{
	return atomic_load(&af_hit);
}

long af_count(void)
{
	return atomic_load(&af_n);
}

unsigned af_logged(void)
{
	return atomic_load(&af_warned);
}

/* --------------------------------------------------------- the runner */

/* What a child tells the parent, in shared memory. */
struct af_result {
	long count;
	int injected;
	int in_fetch;	/* the failed allocation was in an OpenSSL fetch */
	int in_ctx_new; /* ... in SSL_CTX_new_ex (see af_note_site) */
	unsigned fds_leaked;
	char why[512];
};

static struct af_result *af_res;

/*
 * OpenSSL 3.0 leaks a few bytes of its own when an allocation fails while
 * it builds its algorithm cache (EVP_*_fetch and the property parser
 * under it); nothing the daemon can free. Such a failure is marked here
 * and a leak that follows is judged in af_ossl_leak().
 *
 * OpenSSL 3.0's SSL_CTX_new_ex also disables, silently, an algorithm
 * whose set-up fails (a signature algorithm whose EVP_PKEY_CTX cannot be
 * allocated, ssl_setup_sig_algs) and returns a context that works
 * without it; a handshake that needed it then fails. Marked too: such a
 * wrong outcome is OpenSSL's, told and counted, not failed.
 */
static void af_note_site(void)
{
	void *pcs[64];
	int k = backtrace(pcs, 64);

	for (int i = 0; i < k && af_res != NULL; i++) {
		Dl_info info;
		const char *s;
		size_t n;

		if (dladdr(pcs[i], &info) == 0 || info.dli_sname == NULL)
			continue;
		s = info.dli_sname;
		n = strlen(s);
		if (strcmp(s, "SSL_CTX_new_ex") == 0)
			af_res->in_ctx_new = 1;
		if (strncmp(s, "EVP_", 4) == 0 && n > 6 &&
		    strcmp(s + n - 6, "_fetch") == 0) {
			af_res->in_fetch = 1;
			return;
		}
	}
}

enum {
	AF_EXIT_OK = 0,
	AF_EXIT_OUTCOME = 3,
	AF_EXIT_FDLEAK = 4,
	AF_EXIT_LEAK = 5,
	AF_EXIT_SANITIZER = 66, /* ASan/UBSan report (see options below) */
};

/* ASan/LSan defaults for the sweep; the environment still overrides. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=1:exitcode=66:abort_on_error=0:"
	       "allocator_may_return_null=1:print_summary=1";
}
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "print_stacktrace=1:halt_on_error=1:exitcode=66";
}

int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

void af_fail(const char *fmt, ...)
{
	va_list ap;
	size_t off;

	if (af_res == NULL)
		return;
	off = strlen(af_res->why);
	if (off > 0 && off + 3 < sizeof(af_res->why)) {
		memcpy(af_res->why + off, "; ", 3);
		off += 2;
	}
	va_start(ap, fmt);
	vsnprintf(af_res->why + off, sizeof(af_res->why) - off, fmt, ap);
	va_end(ap);
}

/* Open descriptors as "fd -> target", sorted by fd. */
#define AF_MAXFD 512
struct af_fds {
	unsigned n;
	int fd[AF_MAXFD];
	char target[AF_MAXFD][64];
};

static void af_fds_snap(struct af_fds *s)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int self = d ? dirfd(d) : -1;

	s->n = 0;
	while (d != NULL && (e = readdir(d)) != NULL && s->n < AF_MAXFD) {
		char link[64];
		int fd;
		ssize_t k;

		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		if (fd == self)
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		k = readlink(link, s->target[s->n], sizeof(s->target[0]) - 1);
		s->target[s->n][k > 0 ? k : 0] = '\0';
		s->fd[s->n++] = fd;
	}
	if (d != NULL)
		closedir(d);
}

/* Descriptors open now that were not before (by number and target). */
static unsigned af_fds_new(const struct af_fds *before,
			   const struct af_fds *after)
{
	unsigned leaked = 0;

	for (unsigned i = 0; i < after->n; i++) {
		bool seen = false;

		for (unsigned j = 0; j < before->n && !seen; j++)
			seen = before->fd[j] == after->fd[i] &&
			       strcmp(before->target[j], after->target[i]) == 0;
		if (!seen) {
			af_fail("fd %d (%s) left open", after->fd[i],
				after->target[i]);
			leaked++;
		}
	}
	return leaked;
}

static struct af_fds af_before, af_after;

/* Every child starts with an empty state-dir (no earlier child's fetched
 * staple or revocation record). */
static void af_clean_state(void)
{
	DIR *d = opendir(af_path("state"));
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d != NULL)
		closedir(d);
}

static void af_child(const struct af_scenario *sc, long n, bool trace,
		     int logfd)
{
	int rc;

	if (logfd >= 0) {
		dup2(logfd, 1);
		dup2(logfd, 2);
		close(logfd);
	}
	af_fail_at = n;
	af_trace = trace;
	af_started = false;
	af_clean_state();
	if (trace)
		kst_log_set_level(KST_LOG_DEBUG);
	af_fds_snap(&af_before);
	rc = sc->run();
	af_end();
	af_res->count = af_count();
	af_res->injected = af_injected();
	af_fds_snap(&af_after);
	af_res->fds_leaked = af_fds_new(&af_before, &af_after);
	fflush(NULL);
	if (__lsan_do_recoverable_leak_check != NULL &&
	    __lsan_do_recoverable_leak_check() != 0)
		_exit(AF_EXIT_LEAK);
	if (af_res->fds_leaked > 0)
		_exit(AF_EXIT_FDLEAK);
	_exit(rc == 0 ? AF_EXIT_OK : AF_EXIT_OUTCOME);
}

enum af_verdict {
	AF_OK,
	AF_CRASH,
	AF_LEAK,
	AF_FDLEAK,
	AF_OUTCOME,
	AF_HANG,
};

static const char *const af_verdict_names[] = {
	[AF_OK] = "ok",
	[AF_CRASH] = "crash",
	[AF_LEAK] = "leak",
	[AF_FDLEAK] = "fd leak",
	[AF_OUTCOME] = "wrong outcome",
	[AF_HANG] = "hang",
};

#define AF_CHILD_TIMEOUT_S 30

/* One child; the verdict, with the child's status in *detail. */
static enum af_verdict af_run_one(const struct af_scenario *sc, long n,
				  bool trace, bool quiet, char *detail,
				  size_t dlen)
{
	const char *logpath = af_path("child.log");
	int logfd = quiet ? open(logpath,
				 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
			  : -1;
	time_t start = time(NULL);
	pid_t pid;
	int st = 0;

	memset(af_res, 0, sizeof(*af_res));
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(detail, dlen, "fork: %s", strerror(errno));
		return AF_CRASH;
	}
	if (pid == 0)
		af_child(sc, n, trace, logfd);
	if (logfd >= 0)
		close(logfd);
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		if (time(NULL) - start > AF_CHILD_TIMEOUT_S) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			snprintf(detail, dlen, "no end after %d s",
				 AF_CHILD_TIMEOUT_S);
			return AF_HANG;
		}
		usleep(1000);
	}
	detail[0] = '\0';
	if (WIFSIGNALED(st)) {
		snprintf(detail, dlen, "signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
		return AF_CRASH;
	}
	switch (WEXITSTATUS(st)) {
	case AF_EXIT_OK:
		return AF_OK;
	case AF_EXIT_OUTCOME:
		snprintf(detail, dlen, "%s", af_res->why);
		return AF_OUTCOME;
	case AF_EXIT_FDLEAK:
		snprintf(detail, dlen, "%s", af_res->why);
		return AF_FDLEAK;
	case AF_EXIT_LEAK:
		snprintf(detail, dlen, "LeakSanitizer report");
		return AF_LEAK;
	default:
		snprintf(detail, dlen, "exit %d (sanitizer report)",
			 WEXITSTATUS(st));
		return AF_CRASH;
	}
}

static void af_show_log(unsigned max_lines)
{
	FILE *f = __real_fopen(af_path("child.log"), "r");
	char line[1024];
	unsigned n = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL &&
	       n++ < max_lines)
		fprintf(stderr, "    | %s", line);
	if (f != NULL)
		fclose(f);
}

/* Every leak in the child's report allocated by OpenSSL itself (through
 * the CRYPTO_set_mem_functions hooks), none by the project's code. */
static bool af_leaks_all_openssl(void)
{
	FILE *f = __real_fopen(af_path("child.log"), "r");
	char line[1024];
	bool expect = false, ok = true;
	unsigned leaks = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, " leak of ") != NULL) {
			expect = true;
			leaks++;
		} else if (expect && strstr(line, "    #1 ") != NULL) {
			expect = false;
			if (strstr(line, " in af_crypto_") == NULL)
				ok = false;
		}
	}
	if (f != NULL)
		fclose(f);
	return ok && leaks > 0;
}

static long af_env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? strtol(v, NULL, 10) : def;
}

struct af_stats {
	long sites, injected, runs, ossl, ossl_ctx;
	unsigned bad[AF_HANG + 1];
	bool cut_short;
};

/* The Ns to fail: all of 1..sites, or the first ones then a stride. */
/*
 * The Ns to fail, in order: all when they fit (or ALLOCFAIL_FULL), else
 * the first ones (parsing, set-up), the last ones (the commit step: a
 * staple taken, a generation published, a connection closed), then a
 * stride through the middle, so a time budget cuts only the middle.
 */
static long af_plan(long sites, bool full, long **out)
{
	long first = af_env_long("ALLOCFAIL_FIRST", 150);
	long last = af_env_long("ALLOCFAIL_LAST", 30);
	long max = af_env_long("ALLOCFAIL_MAX_RUNS", 400);
	long off = af_env_long("ALLOCFAIL_OFFSET", 0);
	long *ns = calloc((size_t)sites + 1, sizeof(*ns));
	long k = 0, stride, mid;

	*out = ns;
	if (ns == NULL)
		return 0;
	if (first + last > sites)
		first = sites - (last = 0);
	if (full || sites <= max) {
		for (long n = 1; n <= sites; n++)
			ns[k++] = n;
		return k;
	}
	for (long n = 1; n <= first; n++)
		ns[k++] = n;
	for (long n = sites - last + 1; n <= sites; n++)
		ns[k++] = n;
	mid = sites - last - first;
	if (max - first - last <= 0)
		return k; /* no room left for the middle */
	stride = (mid + (max - first - last) - 1) / (max - first - last);
	if (stride < 1)
		stride = 1;
	for (long n = first + 1 + (off < 0 ? 0 : off) % stride;
	     n <= sites - last; n += stride)
		ns[k++] = n;
	return k;
}

/*
 * Prepare, then (for a warm scenario) run it once here, nothing failing:
 * OpenSSL's one-time work (algorithm fetches, caches) is then done, as in
 * a daemon that has served a while, and the children sweep the path
 * itself. The run's count is discarded (each child starts from zero).
 */
static int af_prepare(const struct af_scenario *sc)
{
	int saved, devnull, rc;

	if (sc->prepare != NULL && sc->prepare() < 0)
		return -1;
	if (!sc->warm || af_env_long("ALLOCFAIL_COLD", 0) != 0)
		return 0;
	af_fail_at = 0;
	af_started = false;
	af_clean_state();
	fflush(NULL);
	saved = dup(2);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (devnull >= 0)
		dup2(devnull, 2); /* its log lines say nothing new */
	rc = sc->run();
	fflush(NULL);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	if (devnull >= 0)
		close(devnull);
	if (rc < 0) {
		fprintf(stderr, "allocfail: %s: the warm-up run failed: %s\n",
			sc->name, af_res->why);
		return -1;
	}
	memset(af_res, 0, sizeof(*af_res));
	af_clean_state();
	return 0;
}

static bool af_sweep(const struct af_scenario *sc, struct af_stats *s)
{
	bool full = af_env_long("ALLOCFAIL_FULL", 0) != 0;
	long budget = af_env_long("ALLOCFAIL_BUDGET", 40);
	unsigned shown = 0;
	time_t start = time(NULL);
	char detail[600];
	enum af_verdict v;
	long *plan = NULL, nplan;

	memset(s, 0, sizeof(*s));
	if (af_prepare(sc) < 0) {
		fprintf(stderr, "allocfail: %s: cannot prepare\n", sc->name);
		s->bad[AF_OUTCOME]++;
		return false;
	}
	/* the run without a failure: it must serve, and it counts */
	v = af_run_one(sc, 0, false, true, detail, sizeof(detail));
	s->sites = af_res->count;
	if (v != AF_OK) {
		fprintf(stderr,
			"allocfail: %s: fails without any injected "
			"failure: %s: %s\n",
			sc->name, af_verdict_names[v], detail);
		af_show_log(80);
		s->bad[v]++;
		return false;
	}
	nplan = af_plan(s->sites, full, &plan);
	for (long i = 0; i < nplan; i++) {
		long n = plan[i];

		if (!full && budget > 0 && time(NULL) - start > budget) {
			s->cut_short = true;
			break;
		}
		v = af_run_one(sc, n, false, true, detail, sizeof(detail));
		s->runs++;
		if (af_res->injected)
			s->injected++;
		if (v == AF_LEAK && af_res->in_fetch &&
		    af_leaks_all_openssl()) {
			/* OpenSSL's own (see af_note_site): told, not failed */
			if (s->ossl++ == 0)
				fprintf(stderr,
					"allocfail: %s: N=%ld: leak inside "
					"OpenSSL after a failed allocation in "
					"an algorithm fetch (not the daemon's; "
					"not counted as a failure)\n",
					sc->name, n);
			continue;
		}
		if (v == AF_OUTCOME && af_res->in_ctx_new) {
			if (s->ossl_ctx++ == 0)
				fprintf(stderr,
					"allocfail: %s: N=%ld: %s, after a "
					"failed allocation inside "
					"SSL_CTX_new_ex, which disabled an "
					"algorithm and succeeded (OpenSSL's; "
					"not counted as a failure)\n",
					sc->name, n, detail);
			continue;
		}
		if (v == AF_OK)
			continue;
		s->bad[v]++;
		if (shown++ >= 5)
			continue;
		fprintf(stderr, "allocfail: %s: N=%ld: %s: %s\n", sc->name, n,
			af_verdict_names[v], detail);
		/* again, with the stack of the failed allocation */
		af_run_one(sc, n, true, true, detail, sizeof(detail));
		af_show_log(120);
	}
	free(plan);
	for (unsigned i = AF_CRASH; i <= AF_HANG; i++)
		if (s->bad[i] > 0)
			return false;
	return true;
}

/* ------------------------------------------------------------ fixture */

static char af_tmp[256];

const char *af_dir(void)
{
	return af_tmp;
}

const char *af_pki(void)
{
	const char *p = getenv("KST_TEST_PKI");

	return p != NULL ? p : "build/pki";
}

const char *af_path(const char *name)
{
	static char ring[8][512];
	static unsigned next;
	char *b = ring[next++ % 8];

	snprintf(b, sizeof(ring[0]), "%s/%s", af_tmp, name);
	return b;
}

int af_write_file(const char *path, const char *text)
{
	FILE *f = __real_fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

int af_listen(unsigned short *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static const struct af_scenario *const af_all[] = {
	&af_sc_config, &af_sc_ingest, &af_sc_fetch, &af_sc_reload, &af_sc_conn,
};

static void af_rmtree(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", af_tmp);
	if (af_tmp[0] != '\0' && system(cmd) != 0)
		fprintf(stderr, "allocfail: could not remove %s\n", af_tmp);
}

int main(int argc, char **argv)
{
	unsigned passed = 0, failed = 0;
	long only = af_env_long("ALLOCFAIL_N", 0);

	/* before anything allocates through OpenSSL */
	if (!CRYPTO_set_mem_functions(af_crypto_malloc, af_crypto_realloc,
				      af_crypto_free)) {
		fprintf(stderr, "allocfail: CRYPTO_set_mem_functions refused: "
				"OpenSSL allocated already\n");
		return 1;
	}
	{
		void *pc[2]; /* loads libgcc's unwinder now, not in a child */

		backtrace(pc, 2);
	}
	if (__lsan_do_recoverable_leak_check == NULL)
		fprintf(stderr, "allocfail: not built with SAN=1: leaks are "
				"not checked\n");
	af_res = mmap(NULL, sizeof(*af_res), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	snprintf(af_tmp, sizeof(af_tmp), "%s/kst-allocfail.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (af_res == MAP_FAILED || mkdtemp(af_tmp) == NULL) {
		perror("allocfail: setup");
		return 1;
	}
	kst_log_init();
	if (kst_tls_init() < 0) { /* as the daemon, before configuration */
		fprintf(stderr, "allocfail: OpenSSL init failed\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN); /* as the daemon (control_setup) */
	for (size_t i = 0; i < sizeof(af_all) / sizeof(af_all[0]); i++) {
		const struct af_scenario *sc = af_all[i];
		time_t t0 = time(NULL);
		struct af_stats s;
		bool selected = argc < 2, ok;

		for (int a = 1; a < argc; a++)
			selected |= strcmp(argv[a], sc->name) == 0;
		if (!selected)
			continue;
		if (only > 0) {
			char detail[600];
			enum af_verdict v;

			if (af_prepare(sc) < 0)
				return 1;
			v = af_run_one(sc, only, true, false, detail,
				       sizeof(detail));
			printf("allocfail: %s: N=%ld: %s%s%s (%ld counted)\n",
			       sc->name, only, af_verdict_names[v],
			       detail[0] ? ": " : "", detail, af_res->count);
			if (sc->cleanup != NULL)
				sc->cleanup();
			continue;
		}
		ok = af_sweep(sc, &s);
		if (sc->cleanup != NULL)
			sc->cleanup();
		printf("allocfail: %-7s %-44s sites %5ld, failed %5ld%s, "
		       "crashes %u, leaks %u, fd leaks %u, wrong outcomes %u, "
		       "hangs %u (OpenSSL-internal leaks %ld, contexts "
		       "OpenSSL degraded %ld), %lds: %s\n",
		       sc->name, sc->what, s.sites, s.injected,
		       s.runs < s.sites ? " (sampled)" : "", s.bad[AF_CRASH],
		       s.bad[AF_LEAK], s.bad[AF_FDLEAK], s.bad[AF_OUTCOME],
		       s.bad[AF_HANG], s.ossl, s.ossl_ctx,
		       (long)(time(NULL) - t0),
		       ok ? (s.cut_short ? "PASS (time budget hit)" : "PASS")
			  : "FAIL");
		fflush(stdout);
		if (ok)
			passed++;
		else
			failed++;
	}
	af_rmtree();
	printf("allocfail: %u passed, %u failed\n", passed, failed);
	fflush(NULL);
	_exit(failed > 0 ? 1 : 0);
}
