// SPDX-License-Identifier: MIT
/* A generation from a few lines of configuration; see genfix.h. */
#include "tests/lib/genfix.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/base/diag.h"
#include "daemon/config/config.h"
#include "daemon/tls/tls.h"
#include "ktls/ktls.h"

struct kst_gen *kst_genfix_gen(struct kst_genfix *f, const char *sections,
			       const struct kst_gen *prev)
{
	struct kst_gen_env env = {.reg = &f->reg,
				  .nworkers = 1,
				  .prev = prev,
				  .open_sockets = false,
				  .ktls_available = f->ktls_available};
	struct kst_config *conf;
	struct kst_gen *g = NULL;
	struct kst_diag d;
	FILE *fp = fopen(f->path, "w");

	cr_assert_not_null(fp);
	fprintf(fp,
		"[global]\nstate-dir = %s\nbpf-pin-dir =\nallow-root = on\n"
		"ktls = %s\n[ocsp]\nfetch = off\n%s",
		f->dir, f->ktls, sections);
	fclose(fp);
	kst_diag_init(&d);
	conf = kst_config_parse(f->path, &d);
	cr_assert_not_null(conf, "configuration parses: %s",
			   d.n ? d.msgs[0].text : "");
	cr_assert_eq(kst_gen_build(conf, &env, &d, &g), 0, "generation builds");
	kst_diag_free(&d);
	return g;
}

void kst_genfix_build(struct kst_genfix *f, const char *ktls,
		      bool ktls_available, const char *sections)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/kst-genfix.XXXXXX");
	cr_assert_not_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/k.conf", f->dir);
	f->ktls = ktls;
	f->ktls_available = ktls_available;
	kst_tls_init();
	kst_ktls_init();
	kst_registry_init(&f->reg, 1);
	f->gen = kst_genfix_gen(f, sections, NULL);
}

void kst_genfix_free(struct kst_genfix *f)
{
	kst_gen_destroy(f->gen, &f->reg);
	f->gen = NULL;
	unlink(f->path);
	rmdir(f->dir);
}
