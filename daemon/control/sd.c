// SPDX-License-Identifier: MIT
/* systemd integration; see sd.h. */
#include "daemon/control/sd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "daemon/base/log.h"

static void sd_send(const char *state)
{
	int rc = sd_notify(0, state);

	if (rc < 0)
		kst_debug("sd_notify: %s", strerror(-rc));
}

void kst_sd_ready(const char *status)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "READY=1\nSTATUS=%s", status);
	sd_send(buf);
}

void kst_sd_status(const char *status)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "STATUS=%s", status);
	sd_send(buf);
}

void kst_sd_reloading(void)
{
	struct timespec ts;
	char buf[128];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
			 (unsigned long long)ts.tv_nsec / 1000ULL);
	sd_send(buf);
}

void kst_sd_stopping(void)
{
	sd_send("STOPPING=1\nSTATUS=draining connections");
}

void kst_sd_watchdog(void)
{
	sd_send("WATCHDOG=1");
}

uint64_t kst_sd_watchdog_usec(void)
{
	uint64_t usec = 0;

	return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

static void sd_names_free(char **names)
{
	for (int i = 0; names != NULL && names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

int kst_sd_listen_fds(struct kst_passed_fd **out, size_t *n)
{
	char **names = NULL;
	struct kst_passed_fd *p = NULL;
	int count = sd_listen_fds_with_names(1, &names);

	*out = NULL;
	*n = 0;
	if (count > 0)
		p = calloc((size_t)count, sizeof(*p));
	if (count > 0 && p == NULL)
		count = -ENOMEM;
	for (int i = 0; p != NULL && i < count; i++) {
		socklen_t len = sizeof(p[i].addr.ss);

		p[i].fd = SD_LISTEN_FDS_START + i;
		getsockname(p[i].fd, (struct sockaddr *)&p[i].addr.ss, &len);
		p[i].addr.len = len;
		kst_addr_format((struct sockaddr *)&p[i].addr.ss,
				p[i].addr.text, sizeof(p[i].addr.text));
		if (names && names[i] && strcmp(names[i], "unknown") != 0)
			snprintf(p[i].name, sizeof(p[i].name), "%s", names[i]);
	}
	sd_names_free(names);
	if (count <= 0)
		return count;
	*out = p;
	*n = (size_t)count;
	return 0;
}
