// SPDX-License-Identifier: MIT
/*
 * kst-load: the benchmark's TLS load generator. Parses the command line,
 * runs one mode (load_modes.c) while sampling the servers under test
 * (load_proc.c), and prints exactly one JSON line with the results on
 * stdout; progress and errors go to stderr. `kst-load ports N` prints N
 * free loopback TCP ports, for the orchestrator's configs.
 *
 * Exit status: 0 when the run happened (its JSON says how well it went),
 * 1 when it could not run (bad target, setup failure), 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/load.h"
#include "daemon/base/util.h"

static int load_parse(int argc, char **argv, struct kst_load_opts *o);
static int load_parse_target(const char *s, struct kst_load_opts *o);
static int load_read_staple(const char *path, struct kst_load_opts *o);
static int load_ports(int argc, char **argv);
static void load_usage(FILE *f);

enum {
	OPT_SNI = 256,
	OPT_TLS,
	OPT_KEY,
	OPT_CIPHER,
	OPT_GROUPS,
	OPT_NO_STATUS,
	OPT_EXPECT_STAPLE,
	OPT_SERVER_SID,
	OPT_AUX_PID,
	OPT_TIMEOUT,
	OPT_LABEL,
	OPT_RATE,
	OPT_DURATION,
	OPT_MAX_INFLIGHT,
	OPT_PATH,
	OPT_DOWN,
	OPT_UP,
	OPT_CONNS,
	OPT_PARALLEL,
	OPT_HOLD,
	OPT_SETTLE,
	OPT_BACKEND_PORT,
	OPT_READY_FILE,
};

static const struct option load_longopts[] = {
	{"connect", required_argument, NULL, 'c'},
	{"sni", required_argument, NULL, OPT_SNI},
	{"tls", required_argument, NULL, OPT_TLS},
	{"key", required_argument, NULL, OPT_KEY},
	{"cipher", required_argument, NULL, OPT_CIPHER},
	{"groups", required_argument, NULL, OPT_GROUPS},
	{"no-status", no_argument, NULL, OPT_NO_STATUS},
	{"expect-staple", required_argument, NULL, OPT_EXPECT_STAPLE},
	{"server-sid", required_argument, NULL, OPT_SERVER_SID},
	{"aux-pid", required_argument, NULL, OPT_AUX_PID},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"label", required_argument, NULL, OPT_LABEL},
	{"rate", required_argument, NULL, OPT_RATE},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT},
	{"path", required_argument, NULL, OPT_PATH},
	{"down", required_argument, NULL, OPT_DOWN},
	{"up", required_argument, NULL, OPT_UP},
	{"conns", required_argument, NULL, OPT_CONNS},
	{"parallel", required_argument, NULL, OPT_PARALLEL},
	{"hold", required_argument, NULL, OPT_HOLD},
	{"settle", required_argument, NULL, OPT_SETTLE},
	{"backend-port", required_argument, NULL, OPT_BACKEND_PORT},
	{"ready-file", required_argument, NULL, OPT_READY_FILE},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static void load_usage(FILE *f)
{
	fputs("usage: kst-load rate|bulk|idle -c HOST:PORT [options]\n"
	      "       kst-load ports N\n"
	      "common:  --sni NAME (localhost)  --tls 1.2|1.3 (1.3)\n"
	      "         --key ecdsa|rsa (ecdsa)  --cipher NAME  --groups LIST "
	      "(X25519:P-256)\n"
	      "         --no-status  --expect-staple DER (repeatable)\n"
	      "         --server-sid SID  --aux-pid PID (repeatable)\n"
	      "         --timeout SECS (10)  --label TEXT\n"
	      "rate:    --rate R (100)  --duration SECS (5)  --max-inflight N "
	      "(1000)  --path P (/)\n"
	      "bulk:    --down BYTES | --up BYTES   (suffix K, M, G: binary)\n"
	      "idle:    --conns K (1000)  --parallel P (100)  --hold SECS (1)\n"
	      "         --settle SECS (0.5)  --backend-port PORT  "
	      "--ready-file FILE\n",
	      f);
}

static int load_parse_bytes(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'G':
		v <<= 10; /* fall through */
	case 'M':
		v <<= 10; /* fall through */
	case 'K':
		v <<= 10;
		end++;
		break;
	}
	if (*end || v == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

static int load_parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end || *out < 0 ? -EINVAL : 0;
}

static int load_parse_target(const char *s, struct kst_load_opts *o)
{
	char host[128];
	const char *colon = strrchr(s, ':');
	struct sockaddr_in *in4 = (struct sockaddr_in *)&o->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&o->addr;
	size_t hlen;
	int port;

	if (!colon || (hlen = (size_t)(colon - s)) >= sizeof(host))
		return -EINVAL;
	port = atoi(colon + 1);
	if (port <= 0 || port > 65535)
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		o->addrlen = sizeof(*in6);
		return inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1
			       ? 0
			       : -EINVAL;
	}
	in4->sin_family = AF_INET;
	in4->sin_port = htons((uint16_t)port);
	o->addrlen = sizeof(*in4);
	return inet_pton(AF_INET, host, &in4->sin_addr) == 1 ? 0 : -EINVAL;
}

static int load_read_staple(const char *path, struct kst_load_opts *o)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	long size;
	FILE *f;

	if (o->nstaples >= KST_LOAD_MAX_STAPLES)
		return -E2BIG;
	f = fopen(path, "rbe");
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size)))
		len = fread(buf, 1, (size_t)size, f);
	fclose(f);
	if (!buf || len == 0) {
		free(buf);
		return -EINVAL;
	}
	o->staple[o->nstaples] = buf;
	o->staple_len[o->nstaples++] = len;
	return 0;
}

static void load_defaults(struct kst_load_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->sni = "localhost";
	o->tls_version = TLS1_3_VERSION;
	o->key = KST_LOAD_KEY_ECDSA;
	o->groups = "X25519:P-256";
	o->status = true;
	o->timeout_s = 10;
	o->label = "";
	o->rate = 100;
	o->duration_s = 5;
	o->max_inflight = 1000;
	o->path = "/";
	o->conns = 1000;
	o->parallel = 100;
	o->hold_s = 1;
	o->settle_s = 0.5;
}

static int load_mode(const char *s, enum kst_load_mode *mode)
{
	if (strcmp(s, "rate") == 0)
		*mode = KST_LOAD_RATE;
	else if (strcmp(s, "bulk") == 0)
		*mode = KST_LOAD_BULK;
	else if (strcmp(s, "idle") == 0)
		*mode = KST_LOAD_IDLE;
	else
		return -EINVAL;
	return 0;
}

/* Numeric options: each defined once, with its type and bounds. */
enum load_num_kind { LOAD_DOUBLE, LOAD_UNSIGNED, LOAD_INT };

#define LOAD_NUM(o, k, f, lo, hi)                               \
	{                                                       \
		o, k, offsetof(struct kst_load_opts, f), lo, hi \
	}

static const struct load_num_opt {
	int opt;
	enum load_num_kind kind;
	size_t off;
	double min, max;
} load_num_opts[] = {
	LOAD_NUM(OPT_TIMEOUT, LOAD_DOUBLE, timeout_s, 0.001, 3600),
	LOAD_NUM(OPT_RATE, LOAD_DOUBLE, rate, 0.001, 1e6),
	LOAD_NUM(OPT_DURATION, LOAD_DOUBLE, duration_s, 0.001, 3600),
	LOAD_NUM(OPT_MAX_INFLIGHT, LOAD_UNSIGNED, max_inflight, 1, 1e6),
	LOAD_NUM(OPT_CONNS, LOAD_UNSIGNED, conns, 1, 1e6),
	LOAD_NUM(OPT_PARALLEL, LOAD_UNSIGNED, parallel, 1, 1e6),
	LOAD_NUM(OPT_HOLD, LOAD_DOUBLE, hold_s, 0, 86400),
	LOAD_NUM(OPT_SETTLE, LOAD_DOUBLE, settle_s, 0, 60),
	LOAD_NUM(OPT_BACKEND_PORT, LOAD_INT, backend_port, 1, 65535),
};

static int load_num_option(int opt, const char *arg, struct kst_load_opts *o)
{
	const struct load_num_opt *t = load_num_opts;
	char *field;
	double d;

	for (; t < load_num_opts + KST_ARRAY_SIZE(load_num_opts); t++) {
		if (t->opt != opt)
			continue;
		if (load_parse_double(arg, &d) < 0 || d < t->min || d > t->max)
			return -EINVAL;
		field = (char *)o + t->off;
		if (t->kind == LOAD_DOUBLE)
			*(double *)(void *)field = d;
		else if (t->kind == LOAD_UNSIGNED)
			*(unsigned *)(void *)field = (unsigned)d;
		else
			*(int *)(void *)field = (int)d;
		return 0;
	}
	return -EINVAL;
}

/* 0 for a, 1 for b, -EINVAL for anything else. */
static int load_choice(const char *arg, const char *a, const char *b)
{
	if (strcmp(arg, a) == 0)
		return 0;
	return strcmp(arg, b) == 0 ? 1 : -EINVAL;
}

/* One option; -EINVAL names a bad value, the caller prints usage. */
static int load_option(int opt, const char *arg, struct kst_load_opts *o)
{
	int v;

	switch (opt) {
	case 'c':
		o->target = arg;
		return load_parse_target(arg, o);
	case OPT_SNI:
		o->sni = arg;
		return 0;
	case OPT_TLS:
		if ((v = load_choice(arg, "1.2", "1.3")) < 0)
			return v;
		o->tls_version = v ? TLS1_3_VERSION : TLS1_2_VERSION;
		return 0;
	case OPT_KEY:
		if ((v = load_choice(arg, "ecdsa", "rsa")) < 0)
			return v;
		o->key = v ? KST_LOAD_KEY_RSA : KST_LOAD_KEY_ECDSA;
		return 0;
	case OPT_CIPHER:
		o->cipher = arg;
		return 0;
	case OPT_GROUPS:
		o->groups = arg;
		return 0;
	case OPT_NO_STATUS:
		o->status = false;
		return 0;
	case OPT_EXPECT_STAPLE:
		return load_read_staple(arg, o);
	case OPT_SERVER_SID:
		o->server_sid = (pid_t)atoi(arg);
		return o->server_sid > 0 ? 0 : -EINVAL;
	case OPT_AUX_PID:
		if (o->naux >= KST_LOAD_MAX_AUX || atoi(arg) <= 0)
			return -EINVAL;
		o->aux_pid[o->naux++] = (pid_t)atoi(arg);
		return 0;
	case OPT_LABEL:
		o->label = arg;
		return 0;
	case OPT_PATH:
		o->path = arg;
		return 0;
	case OPT_READY_FILE:
		o->ready_file = arg;
		return 0;
	default:
		return load_num_option(opt, arg, o);
	}
}

static int load_parse(int argc, char **argv, struct kst_load_opts *o)
{
	int opt;

	load_defaults(o);
	if (argc < 2 || load_mode(argv[1], &o->mode) < 0)
		return -EINVAL;
	optind = 2;
	while ((opt = getopt_long(argc, argv, "c:h", load_longopts, NULL)) !=
	       -1) {
		if (opt == 'h' || opt == '?')
			return -EINVAL;
		if (opt == OPT_DOWN || opt == OPT_UP) {
			o->dir = opt == OPT_UP ? KST_LOAD_UP : KST_LOAD_DOWN;
			if (load_parse_bytes(optarg, &o->bytes) < 0)
				return -EINVAL;
			continue;
		}
		if (load_option(opt, optarg, o) < 0) {
			fprintf(stderr, "kst-load: bad value '%s'\n", optarg);
			return -EINVAL;
		}
	}
	if (optind != argc || !o->target)
		return -EINVAL;
	if (o->mode == KST_LOAD_BULK && o->bytes == 0)
		return -EINVAL;
	return 0;
}

/* N distinct free ports: all bound at once, then released. */
static int load_ports(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fds[64], n, i, ret = 0;

	n = argc == 3 ? atoi(argv[2]) : 0;
	if (n < 1 || n > 64) {
		load_usage(stderr);
		return 2;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sa.sin_port = 0;
		if (fds[i] < 0 ||
		    bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(fds[i], (struct sockaddr *)&sa, &len) < 0) {
			perror("kst-load: ports");
			ret = 1;
			n = i + 1;
			break;
		}
		printf("%s%u", i ? " " : "", ntohs(sa.sin_port));
	}
	printf("\n");
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return ret;
}

static void load_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void load_on_signal(int sig)
{
	(void)sig;
	kst_load_stop = 1;
}

static void load_signals(void)
{
	struct sigaction sa = {.sa_handler = load_on_signal};

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static int load_run(struct kst_load_engine *e, struct kst_load_usage *u)
{
	const struct kst_load_opts *o = e->o;
	int ret;

	kst_load_usage_begin(o, u);
	if (o->mode == KST_LOAD_RATE)
		ret = kst_load_run_rate(e);
	else if (o->mode == KST_LOAD_BULK)
		ret = kst_load_run_bulk(e);
	else
		ret = kst_load_run_idle(e);
	kst_load_usage_end(o, u);
	return ret;
}

int main(int argc, char **argv)
{
	struct kst_load_opts o;
	struct kst_load_result res = {0};
	struct kst_load_engine e;
	struct kst_load_usage u = {0};
	int ret, i;

	if (argc >= 2 && strcmp(argv[1], "ports") == 0)
		return load_ports(argc, argv);
	if (load_parse(argc, argv, &o) < 0) {
		load_usage(stderr);
		return 2;
	}
	load_raise_nofile();
	load_signals();
	if (kst_load_engine_init(&e, &o, &res) < 0) {
		fprintf(stderr, "kst-load: %s\n", res.first_error);
		return 1;
	}
	res.backend_conns = -1;
	ret = load_run(&e, &u);
	kst_load_engine_fini(&e);
	if (ret < 0)
		fprintf(stderr, "kst-load: poll: %s\n", strerror(-ret));
	kst_load_print(stdout, &o, &res, &u);
	for (i = 0; i < o.nstaples; i++)
		free(o.staple[i]);
	kst_load_lat_free(&res.hs);
	kst_load_lat_free(&res.total);
	kst_load_lat_free(&res.lag);
	return ret < 0 ? 1 : 0;
}
