/* SPDX-License-Identifier: MIT */
/*
 * Configuration: the INI file of DESIGN.md parsed into a struct kst_config.
 *
 * Every option is defined once, in the table in config_opts.c (section,
 * name, type, default, bounds, documentation); the parser (config.c), the
 * defaults, the documentation tables (README, kstapled.conf(5)) and the
 * dump of the effective configuration (`kstapled -T`, config_doc.c) are
 * all generated from it.
 *
 * Parsing checks syntax and bounds only and never touches the files the
 * configuration names; loading them (certificates, keys, staples) is the
 * generation's job (gen.c), which reports its errors against the same
 * FILE:LINE through struct kst_diag.
 */
#ifndef KST_CONFIG_H
#define KST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "daemon/base/diag.h"
#include "daemon/base/parse.h"

enum kst_ktls_mode {
	KST_KTLS_MODE_AUTO = 0,
	KST_KTLS_MODE_OFF,
	KST_KTLS_MODE_REQUIRE,
	KST_KTLS_MODE_INHERIT = -1, /* listener: use [global] */
};

enum kst_policy {
	KST_POLICY_LENIENT = 0,
	KST_POLICY_STRICT,
	KST_POLICY_MUST_STAPLE,
	KST_POLICY_INHERIT = -1, /* cert: use [ocsp] */
};

enum kst_proxy_proto {
	KST_PROXY_OFF = 0,
	KST_PROXY_V1,
	KST_PROXY_V2,
};

struct kst_global_conf {
	unsigned workers; /* 0 = auto: online CPUs */
	char *state_dir;
	int state_dir_line; /* where state-dir is set; 0: the default */
	char *bpf_pin_dir;  /* "" = no BPF export */
	int ktls;	    /* enum kst_ktls_mode */
	char *user, *group;
	int user_line, group_line; /* where set (for -t); 0: not set */
	bool allow_root;
	int log_level;
	int64_t handshake_timeout_ms;
	int64_t idle_timeout_ms;
	int64_t connect_timeout_ms;
	int64_t drain_timeout_ms;
	unsigned max_connections;
	unsigned max_handshakes; /* 0 = auto: max_connections / 4 */
	unsigned backlog;
	unsigned keyupdate_limit; /* client KeyUpdates per kTLS conn/min */
	char *nic_offload;	  /* interfaces to switch TLS offload on for */
	char *ticket_keys;    /* session-ticket key file; "": OpenSSL's own */
	int ticket_keys_line; /* where set; 0: not set */
	int64_t ticket_lifetime_ms; /* with ticket_keys: oldest ticket used */
	bool cert_dir_watch;	    /* a changed cert-dir reloads (certdir.h) */
};

struct kst_ocsp_conf {
	bool fetch;
	int policy; /* enum kst_policy */
	int64_t max_response_size;
	int64_t skew_ms;
	int64_t max_age_ms;
	unsigned refresh_at_pct;
	int64_t refresh_margin_ms;
	int64_t retry_min_ms, retry_max_ms;
	int64_t connect_timeout_ms, response_timeout_ms;
	int64_t startup_wait_ms;
	char *http_proxy;
	bool nonce;
	unsigned fetch_concurrency;
};

struct kst_cert_conf {
	char *name; /* [cert:NAME], or the PEM path of an inline `cert =` */
	char *pem, *key, *staple_file;
	bool stapling;
	int policy; /* enum kst_policy, or KST_POLICY_INHERIT */
	int fetch;  /* -1 inherit, 0 off, 1 on */
	char **ocsp_urls;
	size_t n_ocsp_urls;
	bool inline_cert; /* defined by a listener's `cert = /path` line */
	int line, pem_line, key_line, staple_line;
};

/* A listener's reference to a cert, with the line that made it. */
struct kst_cert_ref {
	size_t cert; /* index in kst_config.certs */
	int line;
};

/* A listener's `cert-dir = PATH` line: the *.pem files found in PATH
 * when the file was parsed are the listener's certs[first, first + n)
 * (daemon/config/certdir.h). */
struct kst_cert_dir {
	char *path; /* resolved like every path */
	int line;
	size_t first, n;
};

struct kst_listener_conf {
	char *name;
	int line;
	struct kst_addr *binds;
	size_t n_binds;
	struct kst_addr backend; /* AF_INET, AF_INET6 or AF_UNIX */
	bool has_backend;
	int proxy;	     /* enum kst_proxy_proto */
	int tls_min_version; /* 0x0303 or 0x0304 */
	char *ciphers, *ciphersuites, *groups;
	unsigned char *alpn_wire; /* ALPN protocol list in wire format */
	size_t alpn_len;
	char *alpn_text;
	int ktls; /* enum kst_ktls_mode, or KST_KTLS_MODE_INHERIT */
	unsigned session_tickets;
	char *ticket_keys;    /* NULL: [global]'s; "": OpenSSL's own keys */
	int ticket_keys_line; /* where set; 0: not set here */
	struct kst_cert_ref *certs;
	size_t n_certs;
	size_t certs_cap;   /* allocated (the parser's, for growing) */
	int last_cert_line; /* for a positional `key =` */
	struct kst_cert_dir *cert_dirs; /* in file order */
	size_t n_cert_dirs;
	int ciphers_line, ciphersuites_line, groups_line; /* 0 = default */
};

struct kst_config {
	char *path;
	struct kst_global_conf global;
	struct kst_ocsp_conf ocsp;
	struct kst_listener_conf *listeners;
	size_t n_listeners;
	struct kst_cert_conf *certs;
	size_t n_certs;
	size_t certs_cap; /* allocated (the parser's, for growing) */
};

/*
 * Parses FILE. Returns NULL when any error was found (each recorded in
 * diag as FILE:LINE: message); errno is EINVAL then, or the open error.
 */
struct kst_config *kst_config_parse(const char *path, struct kst_diag *diag);
/*
 * For `-t`: like kst_config_parse, but returns what could be parsed even
 * when errors were found (NULL only if the file cannot be read), so every
 * file the configuration names can still be checked. Never serve from it.
 */
struct kst_config *kst_config_parse_all(const char *path,
					struct kst_diag *diag);
/* Parses text as if read from path (tests). */
struct kst_config *kst_config_parse_string(const char *path, const char *text,
					   struct kst_diag *diag);
/* Parses len bytes of buf as if read from path; a NUL byte is an error
 * (FILE:LINE), as in a file. With kst_config_dump_string, the pair a
 * round-trip test or fuzz target needs. */
struct kst_config *kst_config_parse_buf(const char *path, const void *buf,
					size_t len, struct kst_diag *diag);
void kst_config_free(struct kst_config *conf);

/* Effective values after inheritance. */
int kst_config_cert_policy(const struct kst_config *conf,
			   const struct kst_cert_conf *cc);
bool kst_config_cert_fetch(const struct kst_config *conf,
			   const struct kst_cert_conf *cc);
int kst_config_listener_ktls(const struct kst_config *conf,
			     const struct kst_listener_conf *lc);
/* The listener's session-ticket key file ("" for none) and the config
 * line that names it (0: not named). */
const char *kst_config_listener_ticket_keys(const struct kst_config *conf,
					    const struct kst_listener_conf *lc,
					    int *line);

/* `kstapled -T`: the effective configuration, every option with its value. */
void kst_config_dump(const struct kst_config *conf, FILE *out);
/* The same dump in a malloc'd NUL-terminated string (*len its length);
 * NULL with errno ENOMEM. */
char *kst_config_dump_string(const struct kst_config *conf, size_t *len);

enum kst_config_doc_format {
	KST_CONFIG_DOC_MARKDOWN,
	KST_CONFIG_DOC_MAN,
};
/* The documentation table of every option, from the option table. */
void kst_config_doc(enum kst_config_doc_format fmt, FILE *out);

/* Option table introspection, for tests. */
struct kst_option;
size_t kst_config_option_count(void);
const struct kst_option *kst_config_option(size_t i);
const char *kst_option_section(const struct kst_option *o);
const char *kst_option_name(const struct kst_option *o);
/* textual min/max/default as documented; NULL when the type has none */
const char *kst_option_default(const struct kst_option *o);
const char *kst_option_min(const struct kst_option *o);
const char *kst_option_max(const struct kst_option *o);
const char *kst_option_doc(const struct kst_option *o);
const char *kst_option_type_name(const struct kst_option *o);
bool kst_option_repeatable(const struct kst_option *o);
bool kst_option_inherits(const struct kst_option *o);
bool kst_option_required(const struct kst_option *o);
/* "auto, off, require" for a choice, "" otherwise */
void kst_option_choices(const struct kst_option *o, char *buf, size_t len);
/* A string or path option with no value and no default (a [cert:NAME]
 * without key or staple-file): the dump leaves it out. */
bool kst_option_is_unset(const struct kst_option *o, const void *obj);
/* The value of a string or path option (NULL for other types or unset):
 * whole, where kst_option_format would cut it to its buffer. */
const char *kst_option_string(const struct kst_option *o, const void *obj);
/* A scalar option's value in obj (the section's struct) as text, in the
 * syntax the file takes; -EINVAL for list-valued options. */
int kst_option_format(const struct kst_option *o, const void *obj, char *buf,
		      size_t len);

#endif
