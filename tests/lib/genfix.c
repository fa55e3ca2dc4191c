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

void kst_genfix_build(struct kst_genfix *f, const char *ktls,
		      bool ktls_available, const char *sections)
{
	struct kst_gen_env env = {.nworkers = 1,
				  .open_sockets = false,
				  .ktls_available = ktls_available};
	struct kst_config *conf;
	struct kst_diag d;
	FILE *fp;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/kst-genfix.XXXXXX");
	cr_assert_not_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/k.conf", f->dir);
	fp = fopen(f->path, "w");
	cr_assert_not_null(fp);
	fprintf(fp,
		"[global]\nstate-dir = %s\nbpf-pin-dir =\nallow-root = on\n"
		"ktls = %s\n[ocsp]\nfetch = off\n%s",
		f->dir, ktls, sections);
	fclose(fp);
	kst_tls_init();
	kst_ktls_init();
	kst_registry_init(&f->reg, 1);
	env.reg = &f->reg;
	kst_diag_init(&d);
	conf = kst_config_parse(f->path, &d);
	cr_assert_not_null(conf, "configuration parses");
	cr_assert_eq(kst_gen_build(conf, &env, &d, &f->gen), 0,
		     "generation builds");
	kst_diag_free(&d);
}

void kst_genfix_free(struct kst_genfix *f)
{
	kst_gen_destroy(f->gen, &f->reg);
	f->gen = NULL;
	unlink(f->path);
	rmdir(f->dir);
}
