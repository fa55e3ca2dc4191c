// SPDX-License-Identifier: MIT
/* The edge under test, for criterion tests; see edge.h. */
#include "tests/lib/edge.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "tests/lib/testutil.h"
#include "tests/lib/toolproc.h"

void kst_edge_pins(struct kst_edge *e, const char *tag)
{
	snprintf(e->pins, sizeof(e->pins), "/sys/fs/bpf/kst-%s-%d", tag,
		 (int)getpid());
}

void kst_edge_backend(struct kst_edge *e, const char *mode, bool proxy)
{
	if (e->b.pid > 0)
		return;
	cr_assert_eq(kst_h_backend_start(&e->b, mode, proxy), 0,
		     "backend %s did not start", mode);
}

/* The [global] line naming the pin directory, unless c names its own. */
static const char *edge_pins_line(const struct kst_edge *e,
				  const struct kst_edge_conf *c, char *buf,
				  size_t len)
{
	if (e->pins[0] == '\0' ||
	    (c->global != NULL && strstr(c->global, "bpf-pin-dir") != NULL))
		return "";
	snprintf(buf, len, "bpf-pin-dir = %s\n", e->pins);
	return buf;
}

void kst_edge_start(struct kst_edge *e, const struct kst_edge_conf *c)
{
	char pins[160], *certs = NULL, *text = NULL;
	const char *ec = "", *rsa = "";

	kst_edge_backend(e, "echo", false);
	if (c->web_certs) {
		ec = kst_h_leaf("localhost-ecdsa");
		rsa = kst_h_leaf("localhost-rsa");
		cr_assert(ec != NULL && rsa != NULL, "test PKI leaves");
	}
	cr_assert(asprintf(&certs, "%s%s%s%s%s%s",
			   c->web_certs ? "cert = " : "", ec,
			   c->web_certs ? "\ncert = " : "", rsa,
			   c->web_certs ? "\n" : "",
			   c->listener ? c->listener : "") > 0);
	e->port = kst_h_free_port();
	cr_assert(asprintf(&text,
			   "[global]\n%s%s%s%s"
			   "[listener:web]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\n%s%s",
			   edge_pins_line(e, c, pins, sizeof(pins)),
			   c->global ? c->global : "",
			   c->ocsp ? "[ocsp]\n" : "", c->ocsp ? c->ocsp : "",
			   e->port, e->b.port, certs,
			   c->sections ? c->sections : "") > 0);
	free(certs);
	cr_assert_eq(kst_h_daemon_start(&e->d, text), 0,
		     "kstapled did not start (its log is above)");
	free(text);
	snprintf(e->addr, sizeof(e->addr), "127.0.0.1:%d", e->port);
}

void kst_edge_stop(struct kst_edge *e)
{
	char left[512];

	if (e->d.pid > 0)
		cr_expect_eq(kst_h_daemon_stop(&e->d), 0,
			     "kstapled's exit status");
	kst_h_backend_stop(&e->b);
	if (e->pins[0] != '\0') {
		char *argv[] = {"rm", "-rf", "--", e->pins, NULL};

		kst_h_run(argv, NULL, 0, NULL, 10000);
	}
	cr_expect_eq(kst_h_pins_of(getpid(), left, sizeof(left)), 0,
		     "pin directories left in bpffs: %s", left);
}

int kst_edge_ocspd_start(struct kst_h_ocspd *o, const char *mode)
{
	kst_test_require(kst_tool_built("kst-ocspd"),
			 "kst-ocspd is not built in $KST_BUILD/tools "
			 "(make all)");
	cr_assert_eq(kst_h_ocspd_start(o, NULL, mode, 0), 0,
		     "kst-ocspd did not start (%s)", o->out);
	return o->port;
}

static int edge_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 10};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static bool edge_staple_own(SSL *ssl, X509 *leaf, X509 *ca, bool *stapled)
{
	const unsigned char *der;
	long len = SSL_get_tlsext_status_ocsp_resp(ssl, &der);
	OCSP_RESPONSE *resp =
		len > 0 ? d2i_OCSP_RESPONSE(NULL, &der, len) : NULL;
	OCSP_BASICRESP *bs = resp ? OCSP_response_get1_basic(resp) : NULL;
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, leaf, ca);
	int status = -1;
	bool ok = bs != NULL && id != NULL &&
		  OCSP_resp_find_status(bs, id, &status, NULL, NULL, NULL,
					NULL) == 1 &&
		  status == V_OCSP_CERTSTATUS_GOOD;

	*stapled = len > 0;
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return ok;
}

void kst_edge_probe(SSL_CTX *client, X509 *ca, int port, const char *name,
		    struct kst_edge_served *out)
{
	int fd = edge_connect(port);
	SSL *ssl = SSL_new(client);
	BIGNUM *bn;
	char *hex;
	X509 *leaf;

	memset(out, 0, sizeof(*out));
	cr_assert_not_null(ssl);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, name);
	SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);
	cr_assert_eq(SSL_connect(ssl), 1, "%s: handshake failed", name);
	leaf = SSL_get1_peer_certificate(ssl);
	cr_assert_not_null(leaf);
	X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName,
				  out->cn, (int)sizeof(out->cn));
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
	hex = bn ? BN_bn2hex(bn) : NULL;
	cr_assert_not_null(hex);
	snprintf(out->serial, sizeof(out->serial), "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
	out->staple_own = edge_staple_own(ssl, leaf, ca, &out->stapled);
	X509_free(leaf);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
}
