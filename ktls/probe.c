// SPDX-License-Identifier: MIT
/*
 * Kernel kTLS support probe and /proc/net/tls_stat (see probe.h). The probe
 * runs once per process: it needs an established TCP connection (the tls
 * ULP refuses listening and unconnected sockets), so it makes one on
 * loopback, attaches the ULP to one end and installs a dummy TX key there.
 * Nothing is ever sent on it.
 */
#include "ktls/probe.h"

#include "ktls/crypto_info.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/tls1.h>

#define KTLS_STAT_PATH "/proc/net/tls_stat"

static int probe_pair(int *client, int *server);
static int probe_tls_tx(int fd, unsigned char fill);
static void probe_once(void);
static void rekey_probe_once(void);
static int tls_stat_line(const char *line, size_t len,
			 struct kst_tls_stat *out);

static pthread_once_t probe_once_ctl = PTHREAD_ONCE_INIT;
static int probe_result;
static char probe_reason[160];
static pthread_once_t rekey_once_ctl = PTHREAD_ONCE_INIT;
static int rekey_result;
static char rekey_reason[160];

/* One established loopback TCP connection; 0 or -errno. */
static int probe_pair(int *client, int *server)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int c = -1, s = -1, err = 0;

	if (l < 0)
		return -errno;
	if (bind(l, (struct sockaddr *)&a, alen) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		goto error;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, alen) < 0)
		goto error;
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		goto error;
	close(l);
	*client = c;
	*server = s;
	return 0;
error:
	err = -errno;
	if (c >= 0)
		close(c);
	close(l);
	return err;
}

/* A dummy AES-128-GCM TLS 1.3 TX key (every byte fill): proves the AEAD
 * loads. */
static int probe_tls_tx(int fd, unsigned char fill)
{
	const struct kst_ktls_suite *s =
		kst_ktls_suite_find(TLS1_3_VERSION, 0x1301);
	unsigned char key[KST_KTLS_MAX_KEY_LEN];
	unsigned char iv[KST_KTLS_IV_LEN];
	union kst_ktls_crypto_info ci;
	socklen_t len = 0;
	int err;

	memset(key, fill, sizeof(key));
	memset(iv, fill, sizeof(iv));
	err = kst_ktls_crypto_info_build(s, key, iv, 0, &ci, &len);

	if (err == 0 && setsockopt(fd, SOL_TLS, TLS_TX, &ci, len) < 0)
		err = -errno;
	OPENSSL_cleanse(&ci, sizeof(ci));
	return err;
}

/*
 * A loopback pair whose client side has the tls ULP and a TLS 1.3
 * aes-gcm-128 TX key: 0 (*c, *s open) or -errno with the reason and
 * nothing open. Both probes start here.
 */
static int probe_attach(int *c, int *s, char *reason, size_t reason_len)
{
	int err = probe_pair(c, s);

	if (err != 0) {
		snprintf(reason, reason_len,
			 "no loopback TCP connection to probe with: %s",
			 strerror(-err));
		return err;
	}
	if (setsockopt(*c, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) < 0) {
		err = -errno;
		snprintf(reason, reason_len,
			 "kernel has no tls ULP (TCP_ULP \"tls\": %s)",
			 strerror(-err));
	} else if ((err = probe_tls_tx(*c, 0)) != 0) {
		snprintf(reason, reason_len,
			 "tls ULP attached but the kernel refused an "
			 "aes-gcm-128 TX key (TLS_TX: %s)",
			 strerror(-err));
	}
	if (err != 0) {
		close(*c);
		close(*s);
	}
	return err;
}

int kst_ktls_probe_run(char *reason, size_t reason_len)
{
	char scratch[8];
	int c = -1, s = -1;
	int err;

	if (reason == NULL || reason_len == 0) {
		reason = scratch;
		reason_len = sizeof(scratch);
	}
	err = probe_attach(&c, &s, reason, reason_len);
	if (err != 0)
		return err;
	snprintf(reason, reason_len,
		 "kTLS available (tls ULP and aes-gcm-128 TX key accepted)");
	close(c);
	close(s);
	return 0;
}

static void probe_once(void)
{
	probe_result = kst_ktls_probe_run(probe_reason, sizeof(probe_reason));
}

bool kst_ktls_probe(const char **reason)
{
	pthread_once(&probe_once_ctl, probe_once);
	if (reason != NULL)
		*reason = probe_reason;
	return probe_result == 0;
}

int kst_ktls_rekey_probe_run(char *reason, size_t reason_len)
{
	char scratch[8];
	int c = -1, s = -1;
	int err;

	if (reason == NULL || reason_len == 0) {
		reason = scratch;
		reason_len = sizeof(scratch);
	}
	err = probe_attach(&c, &s, reason, reason_len);
	if (err != 0)
		return err;
	if ((err = probe_tls_tx(c, 1)) != 0) {
		/* 6.1 .. 6.13: a direction takes one key, EBUSY after */
		snprintf(reason, reason_len,
			 "the kernel cannot rekey kTLS (a second TLS 1.3 "
			 "TLS_TX key: %s)",
			 strerror(-err));
	} else {
		snprintf(reason, reason_len,
			 "the kernel rekeys kTLS (a second TLS 1.3 TLS_TX key "
			 "accepted)");
	}
	close(c);
	close(s);
	return err;
}

static void rekey_probe_once(void)
{
	rekey_result =
		kst_ktls_rekey_probe_run(rekey_reason, sizeof(rekey_reason));
}

bool kst_ktls_rekey_probe(const char **reason)
{
	pthread_once(&rekey_once_ctl, rekey_probe_once);
	if (reason != NULL)
		*reason = rekey_reason;
	return rekey_result == 0;
}

#define TLS_STAT(n, f)                              \
	{                                           \
		n, offsetof(struct kst_tls_stat, f) \
	}

static const struct {
	const char *name;
	size_t off;
} kst_tls_stat_fields[] = {
	TLS_STAT("TlsCurrTxSw", curr_tx_sw),
	TLS_STAT("TlsCurrRxSw", curr_rx_sw),
	TLS_STAT("TlsCurrTxDevice", curr_tx_device),
	TLS_STAT("TlsCurrRxDevice", curr_rx_device),
	TLS_STAT("TlsTxSw", tx_sw),
	TLS_STAT("TlsRxSw", rx_sw),
	TLS_STAT("TlsTxDevice", tx_device),
	TLS_STAT("TlsRxDevice", rx_device),
	TLS_STAT("TlsDecryptError", decrypt_error),
	TLS_STAT("TlsRxDeviceResync", rx_device_resync),
	TLS_STAT("TlsDecryptRetry", decrypt_retry),
	TLS_STAT("TlsRxNoPadViolation", rx_no_pad_violation),
	TLS_STAT("TlsRxRekeyOk", rx_rekey_ok),
	TLS_STAT("TlsRxRekeyError", rx_rekey_error),
	TLS_STAT("TlsTxRekeyOk", tx_rekey_ok),
	TLS_STAT("TlsTxRekeyError", tx_rekey_error),
	TLS_STAT("TlsRxRekeyReceived", rx_rekey_received),
};

/* One "Name value" line; 1 known, 0 unknown or blank, -EINVAL. */
static int tls_stat_line(const char *line, size_t len, struct kst_tls_stat *out)
{
	size_t n = 0;
	char num[24];
	char *end = NULL;
	unsigned long long value;

	while (n < len && line[n] != ' ' && line[n] != '\t')
		n++;
	for (size_t i = 0;
	     i < sizeof(kst_tls_stat_fields) / sizeof(kst_tls_stat_fields[0]);
	     i++) {
		const char *name = kst_tls_stat_fields[i].name;
		size_t v = n;

		if (strlen(name) != n || memcmp(name, line, n) != 0)
			continue;
		while (v < len && (line[v] == ' ' || line[v] == '\t'))
			v++;
		if (v == n || len - v == 0 || len - v >= sizeof(num) ||
		    line[v] < '0' || line[v] > '9')
			return -EINVAL;
		memcpy(num, line + v, len - v);
		num[len - v] = '\0';
		errno = 0;
		value = strtoull(num, &end, 10);
		if (errno != 0 || *end != '\0')
			return -EINVAL;
		*(uint64_t *)((char *)out + kst_tls_stat_fields[i].off) = value;
		if (kst_tls_stat_fields[i].off >=
		    offsetof(struct kst_tls_stat, rx_rekey_ok))
			out->has_rekey = true;
		return 1;
	}
	return 0;
}

int kst_ktls_tls_stat_parse(const char *text, struct kst_tls_stat *out)
{
	int known = 0;

	if (out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return -EINVAL;
	while (*text != '\0') {
		size_t len = strcspn(text, "\n");
		size_t end = len;
		int r;

		while (end > 0 &&
		       (text[end - 1] == ' ' || text[end - 1] == '\t' ||
			text[end - 1] == '\r'))
			end--;
		r = tls_stat_line(text, end, out);
		if (r < 0) {
			memset(out, 0, sizeof(*out));
			return r;
		}
		known += r;
		text += len + (text[len] == '\n');
	}
	return known > 0 ? 0 : -EINVAL;
}

int kst_ktls_tls_stat_read(struct kst_tls_stat *out)
{
	char buf[4096];
	size_t have = 0;
	int fd = open(KTLS_STAT_PATH, O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	while (have < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	if (err != 0)
		return err;
	buf[have] = '\0';
	return kst_ktls_tls_stat_parse(buf, out);
}
