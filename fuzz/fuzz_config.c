// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the configuration text (daemon/config/config.c) and its `-T`
 * dump (daemon/config/config_doc.c). The input is a configuration file, any
 * bytes (NUL included); it is parsed from memory as kstapled parses a file.
 * When it parses, `kstapled -T` must print a configuration that reads back as
 * the same configuration: parse -> dump -> parse -> dump gives the same dump
 * twice, and the dump itself parses without an error.
 *
 * Host names in bind/backend addresses would be resolved at every input
 * (a DNS query per execution, answers that change): getaddrinfo() is
 * wrapped here to numeric hosts only, so a name is refused the same way
 * every time, by both parses.
 */
#include "fuzz/fuzz.h"

#include <dlfcn.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config/config.h"
#include "daemon/base/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CONFIG_PATH "/etc/kstapled/kstapled.conf"

typedef int (*fuzz_gai_fn)(const char *, const char *, const struct addrinfo *,
			   struct addrinfo **);
static fuzz_gai_fn fuzz_real_gai;

int getaddrinfo(const char *node, const char *service,
		const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo h = {0};

	if (hints != NULL)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	if (fuzz_real_gai == NULL)
		return EAI_FAIL;
	return fuzz_real_gai(node, service, &h, res);
}

int kst_fuzz_init(void)
{
	fuzz_real_gai = (fuzz_gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
	return fuzz_real_gai != NULL ? 0 : -1;
}

static void fuzz_config_report(const char *what, const struct kst_diag *d,
			       const char *dump1, const char *dump2)
{
	fprintf(stderr, "kst-fuzz: %s\n", what);
	kst_diag_print(d, stderr);
	fprintf(stderr, "---- first dump\n%s---- second dump\n%s----\n",
		dump1 ? dump1 : "(none)\n", dump2 ? dump2 : "(none)\n");
	kst_fuzz_fail("-T round trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exactly size bytes on the heap: ASan sees a read past the end */
	unsigned char *text = malloc(size ? size : 1);
	struct kst_config *c1 = NULL, *c2 = NULL;
	char *d1 = NULL, *d2 = NULL;
	struct kst_diag diag;
	size_t n1 = 0, n2 = 0, warnings;

	if (text == NULL)
		abort();
	memcpy(text, data, size);
	kst_diag_init(&diag);
	c1 = kst_config_parse_buf(FUZZ_CONFIG_PATH, text, size, &diag);
	free(text);
	if (c1 == NULL)
		goto out;
	d1 = kst_config_dump_string(c1, &n1);
	if (d1 == NULL)
		abort();
	/* a warning about what the file names (an empty cert-dir) comes
	 * back with the dump; one more would be the dump's own */
	warnings = diag.warnings;
	kst_diag_free(&diag);
	kst_diag_init(&diag);
	c2 = kst_config_parse_buf(FUZZ_CONFIG_PATH, d1, n1, &diag);
	if (c2 == NULL)
		fuzz_config_report("the -T dump does not parse", &diag, d1,
				   NULL);
	if (diag.errors > 0 || diag.warnings > warnings)
		fuzz_config_report("the -T dump parses with diagnostics", &diag,
				   d1, NULL);
	d2 = kst_config_dump_string(c2, &n2);
	if (d2 == NULL)
		abort();
	if (n1 != n2 || memcmp(d1, d2, n1) != 0)
		fuzz_config_report("the -T dump reads back as another "
				   "configuration",
				   &diag, d1, d2);
out:
	free(d2);
	free(d1);
	kst_config_free(c2);
	kst_config_free(c1);
	kst_diag_free(&diag);
	return 0;
}

void kst_fuzz_seeds(const char *dir)
{
	static const struct {
		const char *name, *text;
	} seeds[] = {
		{"minimal",
		 "[listener:web]\nbind = 127.0.0.1:8443\n"
		 "backend = 127.0.0.1:8080\ncert = /etc/kstapled/a.pem\n"},
		{"cert-sections",
		 "[cert:full]\npem = /etc/k/full.pem\nkey = /etc/k/full.key\n"
		 "staple-file = /var/k/full.der\nstapling = off\n"
		 "policy = strict\nfetch = off\nocsp-url = http://a.example/\n"
		 "ocsp-url = http://b.example:8080/ocsp\n"
		 "[cert:bare]\npem = /etc/k/bare.pem\n"
		 "[listener:web]\nbind = 127.0.0.1:8443\n"
		 "backend = 127.0.0.1:8080\ncert = full\ncert = bare\n"},
		{"global-ocsp",
		 "# every [global] and [ocsp] option\n[global]\nworkers = 3\n"
		 "state-dir = state\nbpf-pin-dir =\nktls = off\n"
		 "user = nobody\ngroup = nogroup\nallow-root = on\n"
		 "log-level = debug\nhandshake-timeout = 1500ms\n"
		 "idle-timeout = 2h\nconnect-timeout = 100ms\n"
		 "drain-timeout = 0s\nmax-connections = 77\nbacklog = 65535\n"
		 "nic-offload = eth0,eth1\n"
		 "[ocsp]\nfetch = off\npolicy = must-staple\n"
		 "max-response-size = 1m\nskew = 0s\nmax-age = 30d\n"
		 "refresh-at = 90%\nrefresh-margin = 1d\nretry-min = 1s\n"
		 "retry-max = 1d\nconnect-timeout = 2m\n"
		 "response-timeout = 250ms\nstartup-wait = 0s\n"
		 "http-proxy = http://proxy.example:3128\nnonce = on\n"
		 "fetch-concurrency = 256\n"
		 "[listener:web]\nbind = 127.0.0.1:8443\n"
		 "backend = 127.0.0.1:8080\ncert = /etc/kstapled/a.pem\n"},
		{"listeners",
		 "[cert:named]\npem = /etc/k/n.pem\n"
		 "[listener:a]\nbind = 127.0.0.1:1\nbind = [::1]:1\n"
		 "bind = [::]:2\nbackend = unix:/run/app.sock\n"
		 "proxy-protocol = v1\ncert = /etc/k/a.pem\n"
		 "key = /etc/k/a.key\ncert = named\ncert = rel/b.pem\n"
		 "tls-min-version = 1.3\n"
		 "ciphers = ECDHE-ECDSA-AES128-GCM-SHA256\n"
		 "ciphersuites = TLS_AES_256_GCM_SHA384\ngroups = P-384\n"
		 "alpn = h2, http/1.1\nktls = require\nsession-tickets = 0\n"
		 "[listener:b]\nbind = 127.0.0.2:3\nbackend = [::1]:4\n"
		 "proxy-protocol = v2\ncert = /etc/k/a.pem\n"
		 "key = /etc/k/a.key\n"},
		{"cert-dir",
		 "[listener:web]\nbind = 127.0.0.1:8443\n"
		 "backend = 127.0.0.1:8080\ncert = /etc/kstapled/a.pem\n"
		 "cert-dir = /\ncert = /etc/kstapled/b.pem\n"
		 "key = /etc/kstapled/b.key\n"},
		{"cert-dir-missing",
		 "[listener:web]\nbind = 127.0.0.1:8443\n"
		 "backend = 127.0.0.1:8080\ncert-dir = certs.d/\n"
		 "key = k.pem\n"},
		{"quoted",
		 "[global]\nuser = \"  spaced user  \"\n"
		 "group = \"\"quoted\"\"\n"
		 "[cert:\"q\"]\npem = \" /etc/k/lead.pem\"\n"
		 "[listener:web]\nbind = *:8443\nbackend = 127.0.0.1:8080\n"
		 "cert = \"\"q\"\"\n"},
	};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		kst_fuzz_seed_put(dir, seeds[i].name, seeds[i].text,
				  strlen(seeds[i].text));
}
