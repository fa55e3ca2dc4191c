// SPDX-License-Identifier: MIT
/*
 * `kstapled status` reads the pinned maps while the daemon rewrites them:
 * every certificate present for the whole read is listed, exactly once.
 * The maps here are made and pinned by the test (same layout as the
 * daemon's), one thread rewrites entries in a loop, as the flush does,
 * and the reader lists them again and again. A rewritten entry moves to
 * the head of its hash bucket, so what a listing can lose is an entry
 * that shares a bucket: the map is made with a zero hash seed and the
 * keys are chosen in pairs that share one (the kernel's jhash2), to make
 * that happen on every run rather than by luck. Needs bpf() and bpffs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpf/kstapled.h"
#include "daemon/metrics/status.h"
#include "tests/lib/testutil.h"

#define NCERTS 1024 /* 512 pairs, each pair in one bucket */

static int certs_fd = -1, global_fd = -1;
static char pin_dir[128];
static atomic_bool stop_writer;
static atomic_ulong writes;
/* the writer rewrites the first HOT entries only: each often enough that
 * some rewrite lands between two steps of a listing */
#define HOT 128

static uint32_t rol32(uint32_t w, unsigned s)
{
	return (w << s) | (w >> (32 - s));
}

/* The kernel's jhash2 (include/linux/jhash.h) with initval 0: what a hash
 * map made with BPF_F_ZERO_SEED hashes a 32-byte key with. */
static uint32_t jhash2_zero(const uint32_t *k, uint32_t len)
{
	uint32_t a, b, c;

	a = b = c = 0xdeadbeef + (len << 2);
	while (len > 3) {
		a += k[0];
		b += k[1];
		c += k[2];
		a -= c;
		a ^= rol32(c, 4);
		c += b;
		b -= a;
		b ^= rol32(a, 6);
		a += c;
		c -= b;
		c ^= rol32(b, 8);
		b += a;
		a -= c;
		a ^= rol32(c, 16);
		c += b;
		b -= a;
		b ^= rol32(a, 19);
		a += c;
		c -= b;
		c ^= rol32(b, 4);
		b += a;
		len -= 3;
		k += 3;
	}
	switch (len) {
	case 3:
		c += k[2];
		/* fallthrough */
	case 2:
		b += k[1];
		/* fallthrough */
	case 1:
		a += k[0];
		c ^= b;
		c -= rol32(b, 14);
		a ^= c;
		a -= rol32(c, 11);
		b ^= a;
		b -= rol32(a, 25);
		c ^= b;
		c -= rol32(b, 16);
		a ^= c;
		a -= rol32(c, 4);
		b ^= a;
		b -= rol32(a, 14);
		c ^= b;
		c -= rol32(b, 24);
	}
	return c;
}

static uint32_t bucket_of(const struct kst_cert_key *k)
{
	uint32_t w[8];
	uint32_t nb = 1;

	while (nb < KST_BPF_CERTS_MAX)
		nb <<= 1;
	memcpy(w, k->sha256, sizeof(w));
	return jhash2_zero(w, 8) & (nb - 1);
}

static struct kst_cert_key keys[NCERTS];

/* Pairs of keys: keys[2j+1] lands in keys[2j]'s bucket. */
static void make_keys(void)
{
	for (unsigned j = 0; j < NCERTS / 2; j++) {
		struct kst_cert_key *a = &keys[2 * j], *b = &keys[2 * j + 1];
		uint32_t want, n = 0;

		memset(a, 0, sizeof(*a));
		memcpy(a->sha256, &j, sizeof(j));
		a->sha256[31] = 0xa;
		want = bucket_of(a);
		do {
			memset(b, 0, sizeof(*b));
			memcpy(b->sha256, &j, sizeof(j));
			memcpy(b->sha256 + 8, &n, sizeof(n));
			b->sha256[31] = 0xb;
			n++;
		} while (bucket_of(b) != want);
	}
}

static void cert_key(struct kst_cert_key *k, unsigned i)
{
	*k = keys[i];
}

static int pin(int fd, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return bpf_obj_pin(fd, path);
}

static void setup_maps(void)
{
	struct kst_global_val g = {0};
	struct kst_cert_val v = {0};
	struct kst_cert_key k;
	__u32 zero = 0;

	LIBBPF_OPTS(bpf_map_create_opts, zero_seed,
		    .map_flags = BPF_F_ZERO_SEED);

	kst_test_require(geteuid() == 0, "needs root for bpf()");
	make_keys();
	certs_fd = bpf_map_create(
		BPF_MAP_TYPE_HASH, "kst_certs_v2", sizeof(struct kst_cert_key),
		sizeof(struct kst_cert_val), KST_BPF_CERTS_MAX, &zero_seed);
	kst_test_require(certs_fd >= 0, "bpf_map_create: %s", strerror(errno));
	global_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "kst_global_v2",
				   sizeof(__u32), sizeof(struct kst_global_val),
				   1, NULL);
	cr_assert(global_fd >= 0);
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/kst-test-read-%d",
		 (int)getpid());
	kst_test_require(mkdir(pin_dir, 0700) == 0,
			 "no bpffs at /sys/fs/bpf: %s", strerror(errno));
	cr_assert_eq(pin(certs_fd, "kst_certs_v2"), 0, "%s", strerror(errno));
	cr_assert_eq(pin(global_fd, "kst_global_v2"), 0);
	g.pid = (__u32)getpid();
	cr_assert_eq(bpf_map_update_elem(global_fd, &zero, &g, BPF_ANY), 0);
	for (unsigned i = 0; i < NCERTS; i++) {
		cert_key(&k, i);
		snprintf(v.name, sizeof(v.name), "cert-%u", i);
		cr_assert_eq(bpf_map_update_elem(certs_fd, &k, &v, BPF_ANY), 0);
	}
}

static void teardown_maps(void)
{
	char path[256];

	if (pin_dir[0] != '\0') {
		snprintf(path, sizeof(path), "%s/kst_certs_v2", pin_dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/kst_global_v2", pin_dir);
		unlink(path);
		rmdir(pin_dir);
	}
	if (certs_fd >= 0)
		close(certs_fd);
	if (global_fd >= 0)
		close(global_fd);
}

/* What the flush does: rewrite entries that exist (BPF_ANY). */
static void *writer(void *arg)
{
	struct kst_cert_val v = {0};
	struct kst_cert_key k;
	unsigned i = 0;

	(void)arg;
	while (!atomic_load(&stop_writer)) {
		cert_key(&k, i);
		snprintf(v.name, sizeof(v.name), "cert-%u", i);
		v.handshakes++;
		bpf_map_update_elem(certs_fd, &k, &v, BPF_ANY);
		i = (i + 1) % HOT; /* a few pairs, often */
		atomic_fetch_add(&writes, 1);
	}
	return NULL;
}

Test(status_read, lists_every_certificate_once_while_the_daemon_rewrites,
     .init = setup_maps, .fini = teardown_maps, .timeout = 120)
{
	static unsigned char seen[NCERTS];
	pthread_t t;
	unsigned short_reads = 0;

	cr_assert_eq(pthread_create(&t, NULL, writer, NULL), 0);
	for (int r = 0; r < 1000; r++) {
		struct kst_status_cert *certs = NULL;
		struct kst_global_val g;
		char why[256];
		size_t n = 0;
		int err = kst_status_read(pin_dir, &certs, &n, &g, why,
					  sizeof(why));

		cr_expect_eq(err, 0, "%s", why);
		if (n != NCERTS)
			short_reads++;
		memset(seen, 0, sizeof(seen));
		for (size_t i = 0; i < n; i++) {
			unsigned idx = 0;

			cr_assert_eq(sscanf(certs[i].val.name, "cert-%u", &idx),
				     1);
			cr_assert(idx < NCERTS);
			cr_expect_eq(seen[idx]++, 0, "listed twice: %s",
				     certs[i].val.name);
		}
		free(certs);
	}
	atomic_store(&stop_writer, true);
	pthread_join(t, NULL);
	cr_assert_gt(atomic_load(&writes), 1000, "the writer ran");
	cr_expect_eq(short_reads, 0, "%u of 1000 listings were incomplete",
		     short_reads);
}
