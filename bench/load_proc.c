// SPDX-License-Identifier: MIT
/*
 * What the servers spent, read from /proc around a run. A server under
 * test is one session (the orchestrator starts it with setsid), so "all
 * its processes" is every process whose session id is the server's; this
 * also finds workers it forks. CPU is utime+stime of /proc/PID/stat, which
 * for a process covers all its threads; memory is VmRSS of
 * /proc/PID/status, counted once per process. The load generator's own
 * CPU comes from CLOCK_PROCESS_CPUTIME_ID. The server's system time (stime)
 * is also kept apart, to split its CPU between userspace and the kernel. The
 * machine's busy time (all CPUs, /proc/stat) is sampled too: what neither the
 * server, the client nor the backend used was spent by something else on the
 * machine, and a run that shared its CPUs with a foreign load is not a
 * measurement.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/load.h"

struct load_proc_stat {
	pid_t session;
	uint64_t cpu_ticks;
	uint64_t sys_ticks;
};

/* CPU of a session: all of it, and the kernel's part */
struct load_cpu {
	uint64_t ns, sys_ns;
};

static int load_proc_read_stat(pid_t pid, struct load_proc_stat *st);
static struct load_cpu load_session_cpu(pid_t sid, unsigned *nprocs);
static uint64_t load_pid_cpu_ns(pid_t pid);
static uint64_t load_ticks_to_ns(uint64_t ticks);
static uint64_t load_self_cpu_ns(void);
static uint64_t load_machine_busy_ns(unsigned *ncpus);

static int load_proc_read_stat(pid_t pid, struct load_proc_stat *st)
{
	char path[64], buf[1024];
	unsigned long utime = 0, stime = 0;
	int session = 0;
	const char *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: skip past it */
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &session, &utime, &stime) != 3)
		return -1;
	st->session = session;
	st->cpu_ticks = (uint64_t)utime + stime;
	st->sys_ticks = stime;
	return 0;
}

static uint64_t load_ticks_to_ns(uint64_t ticks)
{
	long hz = sysconf(_SC_CLK_TCK);

	return ticks * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
}

/* Calls fn for every process of session sid. */
static unsigned load_for_session(pid_t sid, void (*fn)(pid_t, void *),
				 void *arg)
{
	struct load_proc_stat st;
	struct dirent *de;
	unsigned n = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid_t pid = (pid_t)atoi(de->d_name);

		if (load_proc_read_stat(pid, &st) == 0 && st.session == sid) {
			fn(pid, arg);
			n++;
		}
	}
	closedir(d);
	return n;
}

static void load_add_cpu(pid_t pid, void *arg)
{
	struct load_cpu *cpu = arg;
	struct load_proc_stat st;

	if (load_proc_read_stat(pid, &st) < 0)
		return;
	cpu->ns += load_ticks_to_ns(st.cpu_ticks);
	cpu->sys_ns += load_ticks_to_ns(st.sys_ticks);
}

static struct load_cpu load_session_cpu(pid_t sid, unsigned *nprocs)
{
	struct load_cpu cpu = {0, 0};

	*nprocs = load_for_session(sid, load_add_cpu, &cpu);
	return cpu;
}

static uint64_t load_pid_cpu_ns(pid_t pid)
{
	struct load_proc_stat st;

	if (load_proc_read_stat(pid, &st) < 0)
		return 0;
	return load_ticks_to_ns(st.cpu_ticks);
}

static uint64_t load_self_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Non-idle time of all CPUs: user nice system idle iowait irq softirq steal */
static uint64_t load_machine_busy_ns(unsigned *ncpus)
{
	unsigned long long v[8] = {0};
	char line[256];
	unsigned n = 0;
	uint64_t busy = 0;
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "cpu ", 4) == 0 &&
		    sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7]) == 8)
			busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
		else if (strncmp(line, "cpu", 3) == 0 &&
			 isdigit((unsigned char)line[3]))
			n++;
	}
	fclose(f);
	*ncpus = n;
	return load_ticks_to_ns(busy);
}

static uint64_t load_aux_cpu_ns(const struct kst_load_opts *o)
{
	uint64_t ns = 0;
	int i;

	for (i = 0; i < o->naux; i++)
		ns += load_pid_cpu_ns(o->aux_pid[i]);
	return ns;
}

void kst_load_usage_begin(const struct kst_load_opts *o,
			  struct kst_load_usage *u)
{
	memset(u, 0, sizeof(*u));
	if (o->server_sid > 0) {
		struct load_cpu cpu =
			load_session_cpu(o->server_sid, &u->server_procs);

		u->server_cpu_ns = cpu.ns;
		u->server_sys_ns = cpu.sys_ns;
	}
	u->aux_cpu_ns = load_aux_cpu_ns(o);
	u->self_cpu_ns = load_self_cpu_ns();
	u->machine_busy_ns = load_machine_busy_ns(&u->ncpus);
	u->wall_ns = kst_load_now_ns();
}

void kst_load_usage_end(const struct kst_load_opts *o, struct kst_load_usage *u)
{
	unsigned nprocs = 0;
	struct load_cpu server = {0, 0};

	if (o->server_sid > 0)
		server = load_session_cpu(o->server_sid, &nprocs);
	u->server_cpu_ns =
		server.ns > u->server_cpu_ns ? server.ns - u->server_cpu_ns : 0;
	u->server_sys_ns = server.sys_ns > u->server_sys_ns
				   ? server.sys_ns - u->server_sys_ns
				   : 0;
	if (nprocs > u->server_procs)
		u->server_procs = nprocs;
	u->aux_cpu_ns = load_aux_cpu_ns(o) - u->aux_cpu_ns;
	u->self_cpu_ns = load_self_cpu_ns() - u->self_cpu_ns;
	u->machine_busy_ns =
		load_machine_busy_ns(&u->ncpus) - u->machine_busy_ns;
	u->wall_ns = kst_load_now_ns() - u->wall_ns;
}

static void load_add_rss(pid_t pid, void *arg)
{
	char path[64], line[256];
	unsigned long kb;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lu kB", &kb) == 1) {
			*(uint64_t *)arg += kb;
			break;
		}
	fclose(f);
}

uint64_t kst_load_session_rss_kb(pid_t sid)
{
	uint64_t kb = 0;

	if (sid > 0)
		load_for_session(sid, load_add_rss, &kb);
	return kb;
}

static int load_count_tcp(const char *path, int port)
{
	char line[512];
	unsigned rport, st;
	int n = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%*x %*[0-9A-Fa-f]:%x %x",
			   &rport, &st) == 2 &&
		    st == 1 && rport == (unsigned)port)
			n++;
	fclose(f);
	return n;
}

int kst_load_count_established_to(int port)
{
	return load_count_tcp("/proc/net/tcp", port) +
	       load_count_tcp("/proc/net/tcp6", port);
}
