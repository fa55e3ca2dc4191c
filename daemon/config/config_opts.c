// SPDX-License-Identifier: MIT
/*
 * The option table: every option of the configuration file, defined once.
 *
 * Each row of kst_config_options[] is one option: section, name, type,
 * textual default, textual bounds, the accepted choices, where its value
 * (and the line that set it) lives in the section's struct, flags, and
 * its documentation. The parser (config.c) reads values into the rows'
 * fields and applies the defaults by parsing the default text; the `-T`
 * dump and the README and kstapled.conf(5) tables (config_doc.c) walk the
 * same rows. Adding an option is adding a row here (and its field in
 * config.h); a unit test checks every row's default against its bounds.
 */
#include "daemon/config/config_opts.h"

#include <stdio.h>

#include "daemon/base/util.h"

const char *const kst_config_section_names[SEC__MAX] = {
	[SEC_GLOBAL] = "global",
	[SEC_OCSP] = "ocsp",
	[SEC_LISTENER] = "listener:NAME",
	[SEC_CERT] = "cert:NAME",
};

static const char *const ch_ktls[] = {"auto", "off", "require", NULL};
static const char *const ch_policy[] = {"lenient", "strict", "must-staple",
					NULL};
static const char *const ch_proxy[] = {"off", "v1", "v2", NULL};
static const char *const ch_level[] = {"crit", "err",	"warn", "notice",
				       "info", "debug", NULL};
static const char *const ch_tristate[] = {"off", "on", NULL};

#define G(f)  offsetof(struct kst_global_conf, f)
#define O(f)  offsetof(struct kst_ocsp_conf, f)
#define L(f)  offsetof(struct kst_listener_conf, f)
#define CC(f) offsetof(struct kst_cert_conf, f)

const struct kst_option kst_config_options[] = {
	/* [global] */
	{SEC_GLOBAL, "workers", OT_UINT, "auto", "1", "256", NULL, G(workers),
	 0, OPT_AUTO,
	 "Worker threads, each with its own epoll loop and "
	 "SO_REUSEPORT sockets; `auto` is one per online CPU. "
	 "Changing it needs a restart."},
	{SEC_GLOBAL, "state-dir", OT_PATH, "/var/lib/kstapled", NULL, NULL,
	 NULL, G(state_dir), G(state_dir_line), 0,
	 "Directory where fetched OCSP responses persist across restarts."},
	{SEC_GLOBAL, "bpf-pin-dir", OT_PATH, "/sys/fs/bpf/kstapled", NULL, NULL,
	 NULL, G(bpf_pin_dir), 0, OPT_EMPTY,
	 "bpffs directory where the metrics maps are pinned; empty: no BPF "
	 "export."},
	{SEC_GLOBAL, "ktls", OT_ENUM, "auto", NULL, NULL, ch_ktls, G(ktls), 0,
	 0,
	 "Kernel TLS: `auto` uses it where kernel, version and cipher allow; "
	 "`off` never; `require` refuses connections that cannot use it."},
	{SEC_GLOBAL, "user", OT_STRING, "", NULL, NULL, NULL, G(user),
	 G(user_line), OPT_EMPTY,
	 "User to switch to after setup (binding, loading keys, "
	 "pinning maps); empty: no switch."},
	{SEC_GLOBAL, "group", OT_STRING, "", NULL, NULL, NULL, G(group),
	 G(group_line), OPT_EMPTY,
	 "Group to switch to; empty: the user's primary group."},
	{SEC_GLOBAL, "allow-root", OT_BOOL, "off", NULL, NULL, NULL,
	 G(allow_root), 0, 0,
	 "Keep running as root when no `user` is set (otherwise kstapled "
	 "refuses to serve as root)."},
	{SEC_GLOBAL, "log-level", OT_ENUM, "info", NULL, NULL, ch_level,
	 G(log_level), 0, OPT_LOGLEVEL, "Least severe level logged."},
	{SEC_GLOBAL, "handshake-timeout", OT_DURATION, "10s", "100ms", "5m",
	 NULL, G(handshake_timeout_ms), 0, 0,
	 "Time a client has from accept to a finished TLS handshake."},
	{SEC_GLOBAL, "idle-timeout", OT_DURATION, "5m", "1s", "7d", NULL,
	 G(idle_timeout_ms), 0, 0,
	 "A relayed connection with no traffic either way for this long is "
	 "closed."},
	{SEC_GLOBAL, "connect-timeout", OT_DURATION, "5s", "100ms", "5m", NULL,
	 G(connect_timeout_ms), 0, 0,
	 "Time allowed to connect to the backend."},
	{SEC_GLOBAL, "drain-timeout", OT_DURATION, "30s", "0s", "1h", NULL,
	 G(drain_timeout_ms), 0, 0,
	 "On SIGTERM, how long open connections may finish before they are "
	 "closed."},
	{SEC_GLOBAL, "max-connections", OT_UINT, "10000", "1", "1000000", NULL,
	 G(max_connections), 0, 0,
	 "Client connections served at once; past it, accepting pauses."},
	{SEC_GLOBAL, "max-handshakes", OT_UINT, "auto", "1", "1000000", NULL,
	 G(max_handshakes), 0, OPT_AUTO,
	 "Client connections in the TLS handshake at once (part of "
	 "max-connections, shared out among workers); past it, a new "
	 "connection closes the oldest handshake that has not sent a "
	 "ClientHello (or stalled 2 s after it), else waits in the backlog, "
	 "so clients that never finish a handshake cannot hold every slot. "
	 "`auto` is a quarter of max-connections."},
	{SEC_GLOBAL, "backlog", OT_UINT, "511", "1", "65535", NULL, G(backlog),
	 0, 0, "listen(2) backlog of each socket."},
	{SEC_GLOBAL, "keyupdate-limit", OT_UINT, "32", "1", "100000", NULL,
	 G(keyupdate_limit), 0, 0,
	 "TLS 1.3 KeyUpdates a client may send on one kTLS connection per "
	 "minute where the kernel rekeys (Linux 6.14+); the next one closes "
	 "the connection cleanly."},
	{SEC_GLOBAL, "nic-offload", OT_STRING, "", NULL, NULL, NULL,
	 G(nic_offload), 0, OPT_EMPTY,
	 "Comma-separated interfaces on which to switch tls-hw-tx-offload and "
	 "tls-hw-rx-offload on at start."},
	{SEC_GLOBAL, "ticket-keys", OT_PATH, "", NULL, NULL, NULL,
	 G(ticket_keys), G(ticket_keys_line), OPT_EMPTY,
	 "Session-ticket key file shared by a fleet: one base64 line of 80 "
	 "random bytes per key, newest first (the first encrypts new "
	 "tickets, all decrypt; `kstapled ticket-key new` makes a line). "
	 "Watched and reread without a reload; a bad file is refused and "
	 "the keys in use stay. Private: owned by root or the service user, "
	 "no group or other bits. Empty: each process makes its own keys."},
	{SEC_GLOBAL, "ticket-lifetime", OT_DURATION, "4h", "1s", "7d", NULL,
	 G(ticket_lifetime_ms), 0, 0,
	 "With ticket-keys: how long a session ticket resumes; an older "
	 "ticket gets a full handshake even while its key is listed."},
	{SEC_GLOBAL, "cert-dir-watch", OT_BOOL, "off", NULL, NULL, NULL,
	 G(cert_dir_watch), 0, 0,
	 "Reload by itself (as on SIGHUP) about a second after a `*.pem` "
	 "file in a listener's `cert-dir` was written, added or removed "
	 "(inotify); off: only SIGHUP does."},

	/* [ocsp] */
	{SEC_OCSP, "fetch", OT_BOOL, "on", NULL, NULL, NULL, O(fetch), 0, 0,
	 "Fetch OCSP responses from each certificate's responder."},
	{SEC_OCSP, "policy", OT_ENUM, "lenient", NULL, NULL, ch_policy,
	 O(policy), 0, 0,
	 "Default staple policy: `lenient` serves without a staple; `strict` "
	 "stops serving a cert whose staple expired or was revoked; "
	 "`must-staple` never serves a cert without a valid staple."},
	{SEC_OCSP, "max-response-size", OT_SIZE, "64k", "1k", "1m", NULL,
	 O(max_response_size), 0, 0, "Largest OCSP response accepted."},
	{SEC_OCSP, "skew", OT_DURATION, "5m", "0s", "1h", NULL, O(skew_ms), 0,
	 0,
	 "How far in the future a response's thisUpdate may lie (clock "
	 "skew). nextUpdate gets no such allowance."},
	{SEC_OCSP, "max-age", OT_DURATION, "1d", "1m", "30d", NULL,
	 O(max_age_ms), 0, 0,
	 "How long a response without nextUpdate is used after its "
	 "thisUpdate."},
	{SEC_OCSP, "refresh-at", OT_PERCENT, "50", "10", "90", NULL,
	 O(refresh_at_pct), 0, 0,
	 "Refresh once this share (percent) of a response's validity has "
	 "passed (jittered)."},
	{SEC_OCSP, "refresh-margin", OT_DURATION, "5m", "0s", "1d", NULL,
	 O(refresh_margin_ms), 0, 0,
	 "Refresh never later than nextUpdate minus this margin."},
	{SEC_OCSP, "retry-min", OT_DURATION, "1m", "1s", "1h", NULL,
	 O(retry_min_ms), 0, 0, "First retry delay after a failed fetch."},
	{SEC_OCSP, "retry-max", OT_DURATION, "1h", "1s", "1d", NULL,
	 O(retry_max_ms), 0, 0, "Cap of the exponential retry delay."},
	{SEC_OCSP, "connect-timeout", OT_DURATION, "5s", "100ms", "2m", NULL,
	 O(connect_timeout_ms), 0, 0,
	 "Time allowed to connect to a responder."},
	{SEC_OCSP, "response-timeout", OT_DURATION, "10s", "100ms", "5m", NULL,
	 O(response_timeout_ms), 0, 0,
	 "Time allowed for a whole OCSP exchange with a responder."},
	{SEC_OCSP, "startup-wait", OT_DURATION, "10s", "0s", "5m", NULL,
	 O(startup_wait_ms), 0, 0,
	 "At start, how long listeners wait for certs without a valid staple "
	 "to be fetched."},
	{SEC_OCSP, "http-proxy", OT_STRING, "", NULL, NULL, NULL, O(http_proxy),
	 0, OPT_EMPTY,
	 "Plain HTTP proxy for responder requests (http://host:port)."},
	{SEC_OCSP, "nonce", OT_BOOL, "off", NULL, NULL, NULL, O(nonce), 0, 0,
	 "Send a nonce in OCSP requests (most responders ignore it)."},
	{SEC_OCSP, "fetch-concurrency", OT_UINT, "8", "1", "256", NULL,
	 O(fetch_concurrency), 0, 0,
	 "Certificates fetched at the same time (read at start: a "
	 "reload keeps the running pool and says so)."},

	/* [listener:NAME] */
	{SEC_LISTENER, "bind", OT_BIND, NULL, NULL, NULL, NULL, 0, 0,
	 OPT_REPEAT | OPT_REQUIRED,
	 "Address to listen on (`0.0.0.0:443`, `[::]:443`, `127.0.0.1:8443`); "
	 "repeatable."},
	{SEC_LISTENER, "backend", OT_BACKEND, NULL, NULL, NULL, NULL, 0, 0,
	 OPT_REQUIRED, "Where plaintext goes: `host:port` or `unix:/path`."},
	{SEC_LISTENER, "proxy-protocol", OT_ENUM, "off", NULL, NULL, ch_proxy,
	 L(proxy), 0, 0,
	 "PROXY protocol header sent to the backend: `off`, `v1`, or `v2` "
	 "(with ALPN, SNI, TLS version and cipher TLVs)."},
	{SEC_LISTENER, "cert", OT_CERT, NULL, NULL, NULL, NULL, 0, 0,
	 OPT_REPEAT,
	 "A PEM file (leaf, chain, then key) or the name of a [cert:NAME] "
	 "section; repeatable. A listener needs at least one `cert` or "
	 "`cert-dir`. SNI selects among them; the first is the default."},
	{SEC_LISTENER, "cert-dir", OT_CERTDIR, NULL, NULL, NULL, NULL, 0, 0,
	 OPT_REPEAT,
	 "A directory whose `*.pem` regular files (links followed; "
	 "dotfiles, other names and subdirectories ignored) are added, in "
	 "sorted name order, as if each were a `cert = FILE` line here; "
	 "each PEM holds its own key. Listed again on every reload; "
	 "repeatable. An empty directory is a warning."},
	{SEC_LISTENER, "key", OT_KEY, NULL, NULL, NULL, NULL, 0, 0, OPT_REPEAT,
	 "Private key file of the `cert =` line just above it, when the PEM "
	 "holds no key."},
	{SEC_LISTENER, "tls-min-version", OT_TLSVER, "1.2", NULL, NULL, NULL,
	 L(tls_min_version), 0, 0, "Lowest TLS version accepted: 1.2 or 1.3."},
	{SEC_LISTENER, "ciphers", OT_STRING,
	 "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	 "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	 "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
	 NULL, NULL, NULL, L(ciphers), L(ciphers_line), 0,
	 "TLS 1.2 cipher list (OpenSSL syntax)."},
	{SEC_LISTENER, "ciphersuites", OT_STRING,
	 "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
	 "TLS_CHACHA20_POLY1305_SHA256",
	 NULL, NULL, NULL, L(ciphersuites), L(ciphersuites_line), 0,
	 "TLS 1.3 cipher suites."},
	{SEC_LISTENER, "groups", OT_STRING, "X25519:P-256:P-384", NULL, NULL,
	 NULL, L(groups), L(groups_line), 0,
	 "Key exchange groups, in preference order."},
	{SEC_LISTENER, "alpn", OT_ALPN, "", NULL, NULL, NULL, 0, 0, OPT_EMPTY,
	 "ALPN protocols offered, comma-separated, in preference order "
	 "(`h2,http/1.1`); empty: none."},
	{SEC_LISTENER, "ktls", OT_ENUM, NULL, NULL, NULL, ch_ktls, L(ktls), 0,
	 OPT_INHERIT, "Overrides [global] ktls for this listener."},
	{SEC_LISTENER, "session-tickets", OT_UINT, "2", "0", "16", NULL,
	 L(session_tickets), 0, 0,
	 "TLS 1.3 session tickets sent after a full handshake; 0 also turns "
	 "TLS 1.2 tickets off."},
	{SEC_LISTENER, "ticket-keys", OT_PATH, NULL, NULL, NULL, NULL,
	 L(ticket_keys), L(ticket_keys_line), OPT_EMPTY,
	 "Overrides [global] ticket-keys for this listener; empty: this "
	 "listener's tickets use the process's own keys."},

	/* [cert:NAME] */
	{SEC_CERT, "pem", OT_PATH, NULL, NULL, NULL, NULL, CC(pem),
	 CC(pem_line), OPT_REQUIRED,
	 "The certificate PEM: leaf first, then its chain, then "
	 "the private key unless `key` names it."},
	{SEC_CERT, "key", OT_PATH, NULL, NULL, NULL, NULL, CC(key),
	 CC(key_line), 0,
	 "Private key file, when not in the PEM. Must be a regular file "
	 "owned by root or the service user and not readable by group or "
	 "others (a symbolic link is followed; its target is checked)."},
	{SEC_CERT, "staple-file", OT_PATH, NULL, NULL, NULL, NULL,
	 CC(staple_file), CC(staple_line), 0,
	 "Operator-provided DER OCSP response; default `<pem>.ocsp`."},
	{SEC_CERT, "stapling", OT_BOOL, "on", NULL, NULL, NULL, CC(stapling), 0,
	 0, "Staple OCSP responses for this certificate."},
	{SEC_CERT, "policy", OT_ENUM, NULL, NULL, NULL, ch_policy, CC(policy),
	 0, OPT_INHERIT,
	 "Overrides [ocsp] policy. A certificate with the TLS "
	 "Feature status_request extension is always "
	 "`must-staple`."},
	{SEC_CERT, "fetch", OT_ENUM, NULL, NULL, NULL, ch_tristate, CC(fetch),
	 0, OPT_INHERIT, "Overrides [ocsp] fetch for this certificate."},
	{SEC_CERT, "ocsp-url", OT_URL, NULL, NULL, NULL, NULL, 0, 0, OPT_REPEAT,
	 "Responder URL used instead of the certificate's own; repeatable "
	 "(tried in order)."},
};

_Static_assert(KST_ARRAY_SIZE(kst_config_options) <= KST_CONFIG_MAX_OPTIONS,
	       "raise KST_CONFIG_MAX_OPTIONS");

/* -------------------------------------------------- table accessors */

size_t kst_config_option_count(void)
{
	return KST_ARRAY_SIZE(kst_config_options);
}

const struct kst_option *kst_config_option(size_t i)
{
	return i < KST_ARRAY_SIZE(kst_config_options) ? &kst_config_options[i]
						      : NULL;
}

const char *kst_option_section(const struct kst_option *o)
{
	return kst_config_section_names[o->sec];
}

const char *kst_option_name(const struct kst_option *o)
{
	return o->name;
}

const char *kst_option_default(const struct kst_option *o)
{
	return o->def;
}

const char *kst_option_min(const struct kst_option *o)
{
	return o->min;
}

const char *kst_option_max(const struct kst_option *o)
{
	return o->max;
}

const char *kst_option_doc(const struct kst_option *o)
{
	return o->doc;
}

bool kst_option_repeatable(const struct kst_option *o)
{
	return (o->flags & OPT_REPEAT) != 0;
}

bool kst_option_required(const struct kst_option *o)
{
	return (o->flags & OPT_REQUIRED) != 0;
}

bool kst_option_inherits(const struct kst_option *o)
{
	return (o->flags & OPT_INHERIT) != 0;
}

const char *kst_option_type_name(const struct kst_option *o)
{
	static const char *const names[] = {
		[OT_UINT] = "number",	 [OT_DURATION] = "duration",
		[OT_SIZE] = "size",	 [OT_PERCENT] = "percent",
		[OT_BOOL] = "on/off",	 [OT_ENUM] = "choice",
		[OT_STRING] = "string",	 [OT_PATH] = "path",
		[OT_TLSVER] = "version", [OT_ALPN] = "list",
		[OT_BIND] = "address",	 [OT_BACKEND] = "address",
		[OT_CERT] = "path|name", [OT_KEY] = "path",
		[OT_URL] = "URL",	 [OT_CERTDIR] = "path",
	};

	return names[o->type];
}

void kst_option_choices(const struct kst_option *o, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	if (o->choices == NULL)
		return;
	for (int i = 0; o->choices[i] != NULL && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
				      o->choices[i]);
}
