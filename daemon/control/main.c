// SPDX-License-Identifier: MIT
/*
 * Command line: `kstapled -c FILE` serves in the foreground (systemd
 * supervises; there is no daemonising), `-t` checks, `-T` checks and
 * dumps the effective configuration, `status` reads the pinned maps, and
 * `--options` prints the option table the documentation is made from.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "daemon/config/config.h"
#include "daemon/control/control.h"
#include "daemon/base/log.h"
#include "daemon/metrics/status.h"
#include "daemon/tls/ticket.h"

#ifndef KST_VERSION
#define KST_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kstapled -c FILE          serve (foreground)\n"
		"       kstapled -t -c FILE       check the configuration and "
		"every file it names\n"
		"       kstapled -T -c FILE       check, then print the "
		"effective configuration\n"
		"       kstapled status [--json] [--prometheus FILE] "
		"[--pin-dir DIR]\n"
		"       kstapled ticket-key new   print a new session-ticket "
		"key line\n"
		"       kstapled --options [markdown|man]\n"
		"       kstapled -V\n");
}

static int options_table(const char *fmt)
{
	if (fmt == NULL || strcmp(fmt, "markdown") == 0)
		kst_config_doc(KST_CONFIG_DOC_MARKDOWN, stdout);
	else if (strcmp(fmt, "man") == 0)
		kst_config_doc(KST_CONFIG_DOC_MAN, stdout);
	else {
		fprintf(stderr, "kstapled: --options takes markdown or man\n");
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 't'},
		{"dump", no_argument, NULL, 'T'},
		{"options", optional_argument, NULL, 'O'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct kst_run_opts o = {0};
	int c;

	kst_log_init();
	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return kst_status_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "ticket-key") == 0)
		return kst_ticket_main(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "c:tTVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config_path = optarg;
			break;
		case 't':
			o.check_only = true;
			break;
		case 'T':
			o.check_only = o.dump = true;
			break;
		case 'O':
			return options_table(optarg	     ? optarg
					     : optind < argc ? argv[optind]
							     : NULL);
		case 'V':
			printf("kstapled %s\n", KST_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (o.config_path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	return o.check_only ? kst_check_run(&o) : kst_control_run(&o);
}
