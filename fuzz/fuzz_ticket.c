// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the session-ticket key file parser (daemon/tls/ticket.c). The
 * input is the file. Asserted: a refused file has at least one error,
 * each at a line the file has; an accepted one has 1..16 keys with
 * distinct names, at increasing lines, and reads back the same when its
 * keys are written out again (OpenSSL's base64 encoder, one per line);
 * a key set may always replace itself; no message quotes a key line.
 */
#include "fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "daemon/base/diag.h"
#include "daemon/tls/ticket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_ticket_lines(const uint8_t *data, size_t size)
{
	int n = size > 0 ? 1 : 0;

	for (size_t i = 0; i + 1 < size; i++)
		n += data[i] == '\n';
	return n;
}

/* The keys written back as a file, parsed again: the same keys. */
static void fuzz_ticket_roundtrip(const struct kst_ticket_keys *ks)
{
	static char text[KST_TICKET_MAX_KEYS * 112];
	struct kst_ticket_keys *again;
	struct kst_diag d;
	size_t o = 0;

	for (size_t i = 0; i < ks->n; i++) {
		unsigned char raw[KST_TICKET_KEY_LEN];

		memcpy(raw, ks->k[i].name, KST_TICKET_NAME_LEN);
		memcpy(raw + 16, ks->k[i].aes, KST_TICKET_AES_LEN);
		memcpy(raw + 48, ks->k[i].hmac, KST_TICKET_HMAC_LEN);
		o += (size_t)EVP_EncodeBlock((unsigned char *)text + o, raw,
					     sizeof(raw));
		text[o++] = '\n';
	}
	kst_diag_init(&d);
	again = kst_ticket_keys_parse("again", text, o, &d);
	if (again == NULL || again->n != ks->n)
		kst_fuzz_fail("%zu keys written back do not read back", ks->n);
	for (size_t i = 0; i < ks->n; i++)
		if (memcmp(again->k[i].name, ks->k[i].name, 16) != 0 ||
		    memcmp(again->k[i].aes, ks->k[i].aes, 32) != 0 ||
		    memcmp(again->k[i].hmac, ks->k[i].hmac, 32) != 0)
			kst_fuzz_fail("key %zu differs when read back", i);
	kst_ticket_keys_put(again);
	kst_diag_free(&d);
}

static void fuzz_ticket_accepted(const struct kst_ticket_keys *ks, int lines)
{
	char why[256];
	bool first;

	if (ks->n < 1 || ks->n > KST_TICKET_MAX_KEYS)
		kst_fuzz_fail("%zu keys accepted", ks->n);
	for (size_t i = 0; i < ks->n; i++) {
		if (ks->k[i].line < 1 || ks->k[i].line > lines ||
		    (i > 0 && ks->k[i].line <= ks->k[i - 1].line))
			kst_fuzz_fail("key %zu at line %d of %d", i,
				      ks->k[i].line, lines);
		if (kst_ticket_keys_find(ks, ks->k[i].name, &first) !=
			    &ks->k[i] ||
		    first != (i == 0))
			kst_fuzz_fail("key %zu is not found by its name", i);
	}
	if (kst_ticket_keys_rotation_ok(ks, ks, why, sizeof(why)) != 0)
		kst_fuzz_fail("a key set may not replace itself");
	fuzz_ticket_roundtrip(ks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int lines = fuzz_ticket_lines(data, size);
	struct kst_ticket_keys *ks;
	struct kst_diag d;

	kst_diag_init(&d);
	ks = kst_ticket_keys_parse("fuzz", data, size, &d);
	if (ks == NULL) {
		if (d.errors == 0)
			kst_fuzz_fail("refused without an error");
		for (size_t i = 0; i < d.n; i++) {
			if (d.msgs[i].line < 0 || d.msgs[i].line > lines)
				kst_fuzz_fail("error at line %d of %d: %s",
					      d.msgs[i].line, lines,
					      d.msgs[i].text);
			if (strlen(d.msgs[i].text) > 200)
				kst_fuzz_fail("a message quotes input: %s",
					      d.msgs[i].text);
		}
	} else {
		if (d.errors != 0)
			kst_fuzz_fail("accepted with %zu errors", d.errors);
		fuzz_ticket_accepted(ks, lines);
		kst_ticket_keys_put(ks);
	}
	kst_diag_free(&d);
	return 0;
}

int kst_fuzz_init(void)
{
	return 0;
}

/* n keys, each 80 bytes of seed + i, optionally with comments and CRLF */
static void fuzz_ticket_seed(const char *dir, const char *name, size_t n,
			     size_t keylen, bool decorate)
{
	struct kst_fuzz_out o = {.n = 0};
	unsigned char raw[96];
	char line[160];

	if (decorate)
		kst_fuzz_put(&o, "# kstapled ticket keys\n\n", 24);
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < sizeof(raw); i++)
			raw[i] = (unsigned char)(k * 37 + i * 11 + 5);
		EVP_EncodeBlock((unsigned char *)line, raw, (int)keylen);
		kst_fuzz_put(&o, line, strlen(line));
		kst_fuzz_put(&o, decorate ? " \r\n" : "\n", decorate ? 3 : 1);
	}
	kst_fuzz_seed_put(dir, name, o.buf, o.n);
}

void kst_fuzz_seeds(const char *dir)
{
	fuzz_ticket_seed(dir, "one", 1, 80, false);
	fuzz_ticket_seed(dir, "two-commented-crlf", 2, 80, true);
	fuzz_ticket_seed(dir, "max", KST_TICKET_MAX_KEYS, 80, false);
	fuzz_ticket_seed(dir, "too-many", KST_TICKET_MAX_KEYS + 1, 80, false);
	fuzz_ticket_seed(dir, "nginx-48", 1, 48, false);
	fuzz_ticket_seed(dir, "short-79", 1, 79, false);
	kst_fuzz_seed_put(dir, "not-base64", "this is not base64!\n", 20);
}
