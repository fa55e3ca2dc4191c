// SPDX-License-Identifier: MIT
/* Entry point: command line dispatch (placeholder until the core lands). */
#include <stdio.h>

#include "daemon/log.h"

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	kst_log_init();
	fprintf(stderr, "usage: kstapled [-t] -c FILE\n");
	return 2;
}
