/* SPDX-License-Identifier: MIT */
/*
 * Whether this kernel can run TLS records at all, and its global kTLS
 * counters. The probe attaches the "tls" ULP to a throwaway loopback TCP
 * connection and installs a dummy AES-128-GCM TX key on it, which proves
 * both the tls module and its AEAD can be loaded (ULP "tls" alone is not
 * proof: with the AEAD missing, TLS_TX fails). The answer is cached for the
 * life of the process. /proc/net/tls_stat exists only while the tls module
 * is loaded; its parser is pure and takes the file's text.
 */
#ifndef KST_KTLS_PROBE_H
#define KST_KTLS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * true when kTLS is usable. The first call runs the probe (thread-safe);
 * later calls return the cached answer. If reason is not NULL it gets a
 * static human-readable sentence either way (e.g. "kernel has no tls ULP
 * (TCP_ULP \"tls\": No such file or directory)"). The probe itself counts
 * once in TlsTxSw.
 */
bool kst_ktls_probe(const char **reason);
/*
 * The probe without the cache: 0 when kTLS is usable, else -errno of the
 * step that failed (-ENOENT: no tls module). reason gets a sentence.
 */
int kst_ktls_probe_run(char *reason, size_t reason_len);

/*
 * true when the kernel can rekey a TLS 1.3 kTLS direction (Linux 6.14+),
 * asked of the kernel, not read from its version: on a probe connection
 * with a TLS 1.3 TX key installed, a second TLS_TX key is accepted (older
 * kernels say EBUSY). The first call runs the probe (thread-safe), later
 * ones return the cached answer; reason as for kst_ktls_probe. The probe
 * counts once in TlsTxSw and, where it succeeds, in TlsTxRekeyOk.
 */
bool kst_ktls_rekey_probe(const char **reason);
/* The rekey probe without the cache: 0 when the kernel rekeys, else the
 * -errno of the step that failed (-EBUSY: kTLS without rekey). */
int kst_ktls_rekey_probe_run(char *reason, size_t reason_len);

/* /proc/net/tls_stat; counters a kernel does not print stay 0. */
struct kst_tls_stat {
	uint64_t curr_tx_sw;	      /* TlsCurrTxSw: open sockets, SW TX */
	uint64_t curr_rx_sw;	      /* TlsCurrRxSw */
	uint64_t curr_tx_device;      /* TlsCurrTxDevice: open, NIC TX */
	uint64_t curr_rx_device;      /* TlsCurrRxDevice */
	uint64_t tx_sw;		      /* TlsTxSw: installs since boot */
	uint64_t rx_sw;		      /* TlsRxSw */
	uint64_t tx_device;	      /* TlsTxDevice */
	uint64_t rx_device;	      /* TlsRxDevice */
	uint64_t decrypt_error;	      /* TlsDecryptError */
	uint64_t rx_device_resync;    /* TlsRxDeviceResync */
	uint64_t decrypt_retry;	      /* TlsDecryptRetry (6.0+) */
	uint64_t rx_no_pad_violation; /* TlsRxNoPadViolation (6.0+) */
	/* TLS 1.3 rekey (6.14+); has_rekey says the kernel prints them */
	uint64_t rx_rekey_ok;	    /* TlsRxRekeyOk */
	uint64_t rx_rekey_error;    /* TlsRxRekeyError */
	uint64_t tx_rekey_ok;	    /* TlsTxRekeyOk */
	uint64_t tx_rekey_error;    /* TlsTxRekeyError */
	uint64_t rx_rekey_received; /* TlsRxRekeyReceived */
	bool has_rekey;
};

/*
 * Parse the text of /proc/net/tls_stat ("Name<blanks>value" lines). Unknown
 * names are ignored (newer kernels add counters). 0, or -EINVAL when a
 * known counter has no valid decimal value or no known counter is present
 * at all (empty or garbage text). out is zeroed first.
 */
int kst_ktls_tls_stat_parse(const char *text, struct kst_tls_stat *out);
/* Read and parse /proc/net/tls_stat: 0, -ENOENT (no tls module loaded), or
 * another -errno / -EINVAL. */
int kst_ktls_tls_stat_read(struct kst_tls_stat *out);

#endif
