/* SPDX-License-Identifier: MIT */
/*
 * kst-load: the benchmark's TLS load generator (bench/). One process, one
 * thread, one epoll loop, every socket non-blocking. Three modes share one
 * connection state machine (load_conn.c): `rate` starts full handshakes on
 * an open-loop schedule, `bulk` moves N bytes over one connection, `idle`
 * opens K connections and holds them. load_proc.c samples the servers'
 * CPU time and RSS from /proc around a run; load_stats.c turns latencies
 * into percentiles; kst-load.c parses options and prints one JSON line.
 *
 * Every run is bounded: a deadline per connection, a grace period after
 * the schedule, a cap on connections in flight.
 */
#ifndef KST_BENCH_LOAD_H
#define KST_BENCH_LOAD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

enum kst_load_mode {
	KST_LOAD_RATE,
	KST_LOAD_BULK,
	KST_LOAD_IDLE,
};

enum kst_load_key {
	KST_LOAD_KEY_ECDSA,
	KST_LOAD_KEY_RSA,
};

enum kst_load_dir {
	KST_LOAD_DOWN,
	KST_LOAD_UP,
};

/* Why a connection failed; the JSON counts each reason. */
enum kst_load_fail {
	KST_LOAD_OK,
	KST_LOAD_F_CONNECT,
	KST_LOAD_F_HANDSHAKE,
	KST_LOAD_F_IO,
	KST_LOAD_F_TIMEOUT,
	KST_LOAD_F_HTTP,
	KST_LOAD_F_KEYTYPE,
	KST_LOAD_F_NOTSTARTED,
	KST_LOAD_F_MAX,
};

#define KST_LOAD_MAX_STAPLES 8
#define KST_LOAD_MAX_AUX     8

struct kst_load_opts {
	enum kst_load_mode mode;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *target;
	const char *sni;
	int tls_version; /* TLS1_2_VERSION or TLS1_3_VERSION */
	enum kst_load_key key;
	const char *cipher; /* NULL: AES-128-GCM of the version and key */
	const char *groups;
	bool status;
	unsigned char *staple[KST_LOAD_MAX_STAPLES];
	size_t staple_len[KST_LOAD_MAX_STAPLES];
	int nstaples;
	pid_t server_sid; /* 0: no server measurement */
	pid_t aux_pid[KST_LOAD_MAX_AUX];
	int naux;
	int backend_port; /* idle: count the server's backend connections */
	double timeout_s;
	const char *label;
	/* rate */
	double rate;
	double duration_s;
	unsigned max_inflight;
	const char *path;
	/* bulk */
	enum kst_load_dir dir;
	uint64_t bytes;
	/* idle */
	unsigned conns;
	unsigned parallel;
	double hold_s;
	double settle_s;
	const char *ready_file;
};

/* A growable array of latencies in nanoseconds. */
struct kst_load_lat {
	uint64_t *ns;
	size_t n;
	size_t cap;
};

struct kst_load_result {
	uint64_t scheduled;
	uint64_t started;
	uint64_t completed;
	uint64_t failed[KST_LOAD_F_MAX];
	uint64_t stapled;
	uint64_t staple_mismatch;
	uint64_t tickets;
	uint64_t session_ids;
	uint64_t closed_by_server; /* idle: while held */
	uint64_t bytes;		   /* bulk: payload moved */
	uint64_t t_first_ns;	   /* first scheduled start */
	uint64_t t_last_done_ns;   /* last completion */
	uint64_t data_ns;	   /* bulk: first payload byte to last */
	uint64_t rss_kb_before;	   /* idle: servers' VmRSS sum */
	uint64_t rss_kb_after;
	int backend_conns;	   /* idle: server->backend; -1 unknown */
	struct kst_load_lat hs;	   /* scheduled start -> handshake done */
	struct kst_load_lat total; /* scheduled start -> response read */
	struct kst_load_lat lag;   /* scheduled start -> connect() call */
	char version[16];
	char cipher[64];
	char group[32];
	char sigalg[32]; /* the server's signature type (RSA-PSS, ...) */
	char first_error[160];
};

/* CPU and memory of the processes under test, sampled around a run. */
struct kst_load_usage {
	uint64_t server_cpu_ns;
	uint64_t server_sys_ns; /* the kernel's part of server_cpu_ns */
	uint64_t aux_cpu_ns;
	uint64_t self_cpu_ns;
	uint64_t wall_ns;
	uint64_t machine_busy_ns; /* all CPUs, from /proc/stat */
	unsigned server_procs;
	unsigned ncpus;
};

struct kst_load_conn;

/* The shared engine: one SSL_CTX, one epoll set, the active list. */
struct kst_load_engine {
	const struct kst_load_opts *o;
	struct kst_load_result *res;
	SSL_CTX *ctx;
	int epfd;
	struct kst_load_conn *active;
	unsigned nactive;
	unsigned char *iobuf;
	size_t iobuf_len;
	char request[256];
	size_t request_len;
};

enum kst_load_state {
	KST_LOAD_CONNECTING,
	KST_LOAD_HANDSHAKE,
	KST_LOAD_SEND,
	KST_LOAD_UPLOAD,
	KST_LOAD_RECV_HEAD,
	KST_LOAD_RECV_BODY,
	KST_LOAD_IDLE_HELD,
	KST_LOAD_DONE,
};

struct kst_load_conn {
	struct kst_load_conn *next, *prev;
	int fd;
	SSL *ssl;
	enum kst_load_state state;
	enum kst_load_fail fail;
	uint32_t events;
	uint64_t sched_ns;
	uint64_t hs_ns;
	uint64_t done_ns;
	uint64_t deadline_ns;
	size_t req_off;
	uint64_t up_left;
	uint64_t body_left;
	uint64_t body_got;
	bool body_to_eof;
	int http_status;
	unsigned tickets;
	char head[2048];
	size_t head_len;
	char body_start[64];
	size_t body_start_len;
};

/* time */
uint64_t kst_load_now_ns(void);

/* load_conn.c */
int kst_load_engine_init(struct kst_load_engine *e,
			 const struct kst_load_opts *o,
			 struct kst_load_result *res);
void kst_load_engine_fini(struct kst_load_engine *e);
/* Starts a connection scheduled at sched_ns; NULL and errno on failure
 * (the failure is also counted). */
struct kst_load_conn *kst_load_conn_start(struct kst_load_engine *e,
					  uint64_t sched_ns);
/* Runs the state machine on readiness; may finish the connection. */
void kst_load_conn_drive(struct kst_load_engine *e, struct kst_load_conn *c);
/* Ends a connection: counts fail (if not OK), closes, frees. */
void kst_load_conn_finish(struct kst_load_engine *e, struct kst_load_conn *c,
			  enum kst_load_fail fail);
/* Fails every active connection whose deadline is before now. */
void kst_load_engine_sweep(struct kst_load_engine *e, uint64_t now);
/* One epoll round, waiting at most timeout_ns; 0 or -errno. */
int kst_load_engine_poll(struct kst_load_engine *e, uint64_t timeout_ns);
const char *kst_load_fail_name(enum kst_load_fail f);

/* load_proc.c */
void kst_load_usage_begin(const struct kst_load_opts *o,
			  struct kst_load_usage *u);
void kst_load_usage_end(const struct kst_load_opts *o,
			struct kst_load_usage *u);
/* Sum of VmRSS (KiB) of the processes in the session; 0 when none. */
uint64_t kst_load_session_rss_kb(pid_t sid);
/* Established TCP connections whose remote port is port (this netns). */
int kst_load_count_established_to(int port);

/* load_stats.c */
int kst_load_lat_add(struct kst_load_lat *l, uint64_t ns);
/* Percentile p (0..100) in milliseconds; sorts in place; 0 when empty. */
double kst_load_lat_pct_ms(struct kst_load_lat *l, double p);
void kst_load_lat_free(struct kst_load_lat *l);
/* JSON string literal of s (quotes included) into f. */
void kst_load_json_str(FILE *f, const char *s);

/* load_modes.c; kst_load_stop is set by SIGUSR1/SIGTERM/SIGINT */
extern volatile sig_atomic_t kst_load_stop;
int kst_load_run_rate(struct kst_load_engine *e);
int kst_load_run_bulk(struct kst_load_engine *e);
int kst_load_run_idle(struct kst_load_engine *e);

/* load_print.c: the one JSON line */
void kst_load_print(FILE *f, const struct kst_load_opts *o,
		    struct kst_load_result *res,
		    const struct kst_load_usage *u);

#endif
