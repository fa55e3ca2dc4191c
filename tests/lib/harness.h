/* SPDX-License-Identifier: MIT */
/*
 * The integration test harness: runs the real daemon, the project's tools
 * and real clients (openssl, curl, gnutls-cli) on loopback, with every wait
 * bounded and every process stopped by its PID. Tests get a private
 * directory, free ports, and helpers to start and stop processes and to
 * capture a command's output.
 *
 * Processes started through kst_h_spawn are remembered and killed at exit
 * (also when a criterion assertion aborts the test), so a failing test
 * never leaves a daemon behind.
 */
#ifndef KST_HARNESS_H
#define KST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A private directory for this test, removed at exit. */
const char *kst_h_dir(void);
/* Path under the test directory (static buffer rotation: 16 live at once;
 * likewise kst_h_pki and kst_h_tool). */
const char *kst_h_path(const char *name);
/* A loopback TCP port nobody is bound to right now, chosen at random
 * below the kernel's ephemeral range, so that no bind(:0) or outgoing
 * connection of another process can take it before the caller binds. */
int kst_h_free_port(void);
/* Write a file (mode); 0 or -errno. */
int kst_h_write(const char *path, const char *text, int mode);
int kst_h_write_bytes(const char *path, const void *buf, size_t len, int mode);
int kst_h_copy(const char *from, const char *to, int mode);
/* Whole file as a NUL-terminated string (malloc'd), or NULL. */
char *kst_h_read(const char *path);
/* The built tool/binary: "$KST_BUILD/tools/NAME" or "$KST_BUILD/kstapled". */
const char *kst_h_tool(const char *name);
const char *kst_h_kstapled(void);

/* Start argv (argv[0] a path, or a name looked up in PATH) with
 * stdout+stderr appended to log (NULL: /dev/null); pid or -errno. The
 * child gets SIGKILL if the test process dies. */
pid_t kst_h_spawn(char *const argv[], const char *log);
/* Send sig, wait up to ms for exit; then SIGKILL. Exit status (wait
 * status decoded: exit code, or 128+signal), or -1. */
int kst_h_stop(pid_t pid, int sig, int ms);
/* Wait up to ms for pid to exit on its own; -ETIMEDOUT if it did not. */
int kst_h_wait(pid_t pid, int ms);
bool kst_h_alive(pid_t pid);

/* Run argv to completion (stdin from in/inlen), capturing stdout and
 * stderr together in *out (malloc'd); exit status, or -ETIMEDOUT (killed
 * after ms). */
int kst_h_run(char *const argv[], const void *in, size_t inlen, char **out,
	      int ms);
/* Same, through /bin/sh -c. */
int kst_h_sh(const char *cmd, char **out, int ms);

/* Wait until something accepts on 127.0.0.1:port (or [::1]) within ms. */
int kst_h_wait_port(const char *host, int port, int ms);
/* Wait until file contains needle within ms; 0 or -ETIMEDOUT. */
int kst_h_wait_log(const char *path, const char *needle, int ms);
/* Number of times needle occurs in the file. */
int kst_h_count(const char *path, const char *needle);

/* Run kst-client with the given arguments (NULL-terminated); its output
 * in *out; exit status. */
int kst_h_client(char **out, int ms, ...);
/* The value of a "key=value" line in text (static buffer rotation), or
 * NULL. */
const char *kst_h_kv(const char *text, const char *key);
/* Seconds of CPU (user+system) a process used so far. */
double kst_h_cpu_seconds(pid_t pid);

/* Move this test process into a new network namespace with lo up, so
 * per-namespace counters (/proc/net/tls_stat) and ports are its own;
 * processes it starts afterwards share it. 0, or -errno (not root). */
int kst_h_private_netns(void);

/*
 * BPF pin directories of tests: /sys/fs/bpf/kst-TAG-PID (or kst_TAG_PID),
 * PID the test process's. The daemon leaves its pins when it stops, by
 * design (monitoring sees the last state), so tests remove theirs; the
 * harness removes what is left of this process's at exit (a failed
 * assertion, a skip), and on first use those of test processes that died
 * without exiting (a criterion timeout) more than a minute ago.
 */
/* How many are this pid's; their names in names (", "-separated). */
int kst_h_pins_of(pid_t pid, char *names, size_t len);
/* Remove this pid's (rm -rf each). */
void kst_h_pins_remove(pid_t pid);

/* `kstapled status --json --pin-dir pins`, after the daemon's next flush
 * (it writes the maps once a second); malloc'd, NULL on failure. */
char *kst_h_status_json(const char *pins);
/*
 * The value of "key" in the JSON object holding "name":"cert" (cert NULL:
 * the first "key" anywhere), as text without quotes; malloc'd, or NULL.
 * Reads `kstapled status --json` and `bpftool -j map dump` alike.
 */
char *kst_h_json_get(const char *json, const char *cert, const char *key);

/* ---- the daemon */
struct kst_h_daemon {
	pid_t pid;
	char conf[512];
	char log[512];
	int port; /* first listener's port */
};

/*
 * Writes the configuration (the text is appended to a [global] with a
 * private state-dir, no BPF, allow-root and debug logging unless the text
 * sets them) and starts `kstapled -c`; waits for "started" in the log.
 * 0, or -1 with the log printed to stderr.
 */
int kst_h_daemon_start(struct kst_h_daemon *d, const char *conf_text);
/* SIGTERM and wait; the exit status. */
int kst_h_daemon_stop(struct kst_h_daemon *d);
/* SIGHUP and wait for "reloaded" or "reload failed" (returns 0 / -1). */
int kst_h_daemon_reload(struct kst_h_daemon *d);

/* ---- the backend (kst-backend) */
struct kst_h_backend {
	pid_t pid;
	int port;
	char record[512]; /* --record file */
	char log[512];
};

/* mode: "echo", "sink", "http", "source:N"; proxy: expect a PROXY header. */
int kst_h_backend_start(struct kst_h_backend *b, const char *mode, bool proxy);
void kst_h_backend_stop(struct kst_h_backend *b);

/*
 * A [listener:web] on 127.0.0.1:port relaying to 127.0.0.1:backend_port,
 * with the ECDSA and RSA localhost certificates (copied into the test
 * directory) and extra lines appended; malloc'd.
 */
char *kst_h_conf_web(int port, int backend_port, const char *extra);

/* ---- the OCSP responder (kst-ocspd around `openssl ocsp`) */
struct kst_h_ocspd {
	pid_t pid;
	int port;
	char url[64];	/* http://127.0.0.1:PORT/ */
	char mode[512]; /* --mode-file: first word is the mode */
	char log[512];	/* one line per request */
	char out[512];	/* its stdout/stderr */
};

/* Start on a free port answering for pki_dir's index (NULL: the test
 * PKI), validity ndays (0: 1 day), in mode ("ok", "hang", ...). */
int kst_h_ocspd_start(struct kst_h_ocspd *o, const char *pki_dir,
		      const char *mode, int ndays);
void kst_h_ocspd_mode(struct kst_h_ocspd *o, const char *mode);
int kst_h_ocspd_requests(struct kst_h_ocspd *o);
void kst_h_ocspd_stop(struct kst_h_ocspd *o);

/* ---- the test PKI */
/* "$KST_TEST_PKI/<name>" (static buffer rotation as kst_h_path). */
const char *kst_h_pki(const char *name);
/* Copy a leaf's PEM into the test dir (mode 0600) and return its path, so
 * a test can put staple files beside it without touching the shared PKI. */
const char *kst_h_leaf(const char *leaf);

#endif
