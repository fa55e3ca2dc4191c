// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the parser of a client's TLS 1.3 KeyUpdate as the kernel
 * hands it over after decrypting a handshake record on a kTLS RX socket
 * (kst_ktls_key_update_parse, and kst_ktls_record_classify around it,
 * ktls/ktls.c). The input's first byte is the record type the kernel
 * reports (TLS_GET_RECORD_TYPE), the rest the record's plaintext. The
 * invariants: the parser and the classifier agree, a KeyUpdate is exactly
 * the five bytes 24 0 0 1 {0,1}, and nothing is read past the record.
 */
#include "fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "ktls/ktls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int kst_fuzz_init(void)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a heap copy of exactly the record: ASan sees any overread */
	size_t len = size > 0 ? size - 1 : 0;
	unsigned char *rec = malloc(len ? len : 1);
	struct kst_ktls_record r;
	bool req = false;
	uint8_t type = size > 0 ? data[0] : 0;
	int ret;

	if (rec == NULL)
		abort();
	memcpy(rec, data + (size > 0), len);
	ret = kst_ktls_key_update_parse(rec, len, &req);
	kst_ktls_record_classify(type, rec, len, &r);
	if (ret == 0 &&
	    (len != 5 || rec[0] != 24 || rec[4] > 1 || req != (rec[4] == 1)))
		kst_fuzz_fail("accepted a KeyUpdate that is none");
	if (type == 22 && (r.kind == KST_KTLS_REC_KEY_UPDATE) != (ret == 0))
		kst_fuzz_fail("classifier and parser disagree");
	if (r.kind == KST_KTLS_REC_KEY_UPDATE && r.update_requested != req)
		kst_fuzz_fail("update_requested differs");
	free(rec);
	return 0;
}

void kst_fuzz_seeds(const char *dir)
{
	static const struct {
		const char *name;
		unsigned char b[8];
		size_t n;
	} seeds[] = {
		{"key-update", {22, 24, 0, 0, 1, 0}, 6},
		{"key-update-requested", {22, 24, 0, 0, 1, 1}, 6},
		{"key-update-bad", {22, 24, 0, 0, 1, 2}, 6},
		{"key-update-twice", {22, 24, 0, 0, 1, 0, 24, 0}, 8},
		{"new-session-ticket", {22, 4, 0, 0, 2, 0, 0}, 7},
		{"close-notify", {21, 1, 0}, 3},
		{"data", {23, 'h', 'i'}, 3},
	};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		kst_fuzz_seed_put(dir, seeds[i].name, seeds[i].b, seeds[i].n);
}
