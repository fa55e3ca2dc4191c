// SPDX-License-Identifier: MIT
/*
 * kst_nic against the running kernel, each test in a network namespace of
 * its own: criterion runs every test in a forked process, the test calls
 * unshare(CLONE_NEWNET), so the namespace (and every device made in it)
 * disappears with that process whatever happens: cleanup needs no code
 * that could be skipped. Devices are made with ip(8), run by PID and
 * waited for; a device type the kernel lacks skips its case with a reason
 * (this host has no dummy device, CONFIG_DUMMY).
 *
 * No virtual device can offload TLS (see reference/ktls-vm.md), so every
 * device here must read "off [fixed]", exactly as ethtool -k says, and an
 * enable request must be refused without changing anything.
 *
 * Time bounds live in the loops themselves, not in criterion's .timeout:
 * with two such tests running at once, criterion 2.4.1's runner leaks 48
 * bytes, which fails the ASan build.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/base/util.h"
#include "ktls/nic.h"
#include "tests/lib/testutil.h"

extern char **environ;

/* Root (or the capabilities) and a fresh namespace, or a skip. */
static void enter_netns(void)
{
	kst_test_require(geteuid() == 0,
			 "needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to make "
			 "a network namespace and devices");
	kst_test_require(unshare(CLONE_NEWNET) == 0,
			 "unshare(CLONE_NEWNET): %s", strerror(errno));
}

static struct kst_nic *open_or_skip(void)
{
	struct kst_nic *n = NULL;
	int err = kst_nic_open(&n);

	kst_test_require(err != -ENOENT,
			 "kernel has no ethtool netlink family (< 5.6 or "
			 "CONFIG_ETHTOOL_NETLINK off)");
	cr_assert_eq(err, 0, "kst_nic_open: %s", strerror(-err));
	return n;
}

/* Runs argv quietly; its exit status, or -1 when it could not run. */
static int run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

#define IP(...) run((char *const[]){"ip", __VA_ARGS__, NULL})

static bool has_dev(const struct kst_nic_info *l, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i].ifname, name))
			return true;
	return false;
}

/* ethtool -k's three TLS lines joined as kst_nic_format writes them. */
static bool ethtool_line(const char *dev, char *out, size_t len)
{
	char cmd[64], line[128];
	size_t used;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ethtool -k %s 2>/dev/null", dev);
	p = popen(cmd, "r");
	if (!p)
		return false;
	used = (size_t)snprintf(out, len, "%s:", dev);
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, "tls-hw-", 7) && used < len) {
			line[strcspn(line, "\n")] = '\0';
			/* "tls-hw-x: off [fixed]" -> " tls-hw-x off [fixed]" */
			*strchr(line, ':') = '\0';
			used += (size_t)snprintf(
				out + used, len - used, "%s %s%s",
				used > strlen(dev) + 1 ? "," : "", line,
				line + strlen(line) + 1);
		}
	return pclose(p) == 0 && strstr(out, "tls-hw-record");
}

static void expect_no_offload(const struct kst_nic_info *ni)
{
	for (int f = 0; f < KST_NIC_NFEAT; f++) {
		const struct kst_nic_feature *x = kst_nic_get0_feature(ni, f);

		cr_expect(!x->available && !x->active && x->fixed, "%s: %s",
			  ni->ifname, kst_nic_feat_name(f));
	}
	cr_expect(!kst_nic_any_tls(ni), "%s", ni->ifname);
}

/* Each virtual device type, how to make it, the names it leaves. */
struct devtype {
	const char *type, *config;
	const char *const argv[12];
	const char *names[2];
};

static const struct devtype devtypes[] = {
	{"veth",
	 "CONFIG_VETH",
	 {"ip", "link", "add", "kv0", "type", "veth", "peer", "name", "kv1"},
	 {"kv0", "kv1"}},
	{"dummy",
	 "CONFIG_DUMMY",
	 {"ip", "link", "add", "kd0", "type", "dummy"},
	 {"kd0"}},
	{"ifb",
	 "CONFIG_IFB",
	 {"ip", "link", "add", "ki0", "type", "ifb"},
	 {"ki0"}},
	{"bridge",
	 "CONFIG_BRIDGE",
	 {"ip", "link", "add", "kb0", "type", "bridge"},
	 {"kb0"}},
	{"vxlan",
	 "CONFIG_VXLAN",
	 {"ip", "link", "add", "kx0", "type", "vxlan", "id", "7", "dstport",
	  "4789"},
	 {"kx0"}},
	{"tun",
	 "CONFIG_TUN",
	 {"ip", "tuntap", "add", "mode", "tun", "name", "kt0"},
	 {"kt0"}},
};

ParameterizedTestParameters(nic_netns, virtual_devices_report_tls_off_and_fixed)
{
	static size_t idx[KST_ARRAY_SIZE(devtypes)];

	for (size_t i = 0; i < KST_ARRAY_SIZE(idx); i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, KST_ARRAY_SIZE(idx));
}

ParameterizedTest(size_t *i, nic_netns,
		  virtual_devices_report_tls_off_and_fixed)
{
	const struct devtype *d = &devtypes[*i];
	struct kst_nic_info *all = NULL, ni;
	size_t count = 0;
	struct kst_nic *n;

	enter_netns();
	kst_test_require(run((char *const *)d->argv) == 0,
			 "kernel cannot make a %s device (%s)", d->type,
			 d->config);
	n = open_or_skip();
	cr_assert_eq(kst_nic_query_all(n, &all, &count), 0);
	cr_expect(has_dev(all, count, "lo"));
	for (size_t k = 0; k < count; k++)
		expect_no_offload(&all[k]);
	for (size_t k = 0; k < 2 && d->names[k]; k++) {
		char mine[256], theirs[256];

		cr_expect(has_dev(all, count, d->names[k]), "%s listed",
			  d->names[k]);
		cr_assert_eq(kst_nic_query(n, d->names[k], &ni), 0);
		cr_expect_eq(ni.ifindex, (int)if_nametoindex(d->names[k]));
		expect_no_offload(&ni);
		cr_assert_eq(kst_nic_format(&ni, mine, sizeof(mine)), 0);
		if (ethtool_line(d->names[k], theirs, sizeof(theirs)))
			cr_expect_str_eq(mine, theirs, "same as ethtool -k");
		else
			cr_log_warn("no ethtool(8): not cross-checked");
	}
	free(all);
	kst_nic_close(n);
}

Test(nic_netns, lists_exactly_the_devices_of_its_namespace)
{
	struct kst_nic_info *all = NULL;
	size_t count = 0;
	struct kst_nic *n;

	enter_netns();
	n = open_or_skip();
	cr_assert_eq(kst_nic_query_all(n, &all, &count), 0);
	cr_assert_eq(count, 1, "a new namespace has only lo");
	cr_expect_str_eq(all[0].ifname, "lo");
	cr_expect_eq(all[0].ifindex, 1);
	free(all);
	cr_assert_eq(
		IP("link", "add", "kv0", "type", "veth", "peer", "name", "kv1"),
		0);
	cr_assert_eq(kst_nic_query_all(n, &all, &count), 0);
	cr_expect_eq(count, 3);
	cr_expect(has_dev(all, count, "kv0") && has_dev(all, count, "kv1"));
	free(all);
	kst_nic_close(n);
}

Test(nic_netns, device_that_comes_and_goes_between_queries)
{
	struct kst_nic_info *all = NULL, ni;
	size_t count = 0;
	struct kst_nic *n;

	enter_netns();
	n = open_or_skip();
	cr_assert_eq(kst_nic_query(n, "kv0", &ni), -ENODEV);
	cr_assert_eq(
		IP("link", "add", "kv0", "type", "veth", "peer", "name", "kv1"),
		0);
	cr_assert_eq(kst_nic_query(n, "kv0", &ni), 0, "appeared");
	cr_assert_eq(IP("link", "del", "kv0"), 0);
	cr_expect_eq(kst_nic_query(n, "kv0", &ni), -ENODEV, "vanished");
	cr_expect_eq(kst_nic_query(n, "kv1", &ni), -ENODEV, "peer too");
	cr_expect_eq(kst_nic_enable(n, "kv0", true, true, &ni), -ENODEV);
	cr_assert_eq(kst_nic_query_all(n, &all, &count), 0);
	cr_expect_eq(count, 1);
	cr_expect(!has_dev(all, count, "kv0"));
	free(all);
	/* Names no device can have are not errors of the transport. */
	cr_expect_eq(kst_nic_query(n, "a-name-far-too-long-for-linux", &ni),
		     -ENODEV);
	cr_expect_eq(kst_nic_query(n, "", &ni), -EINVAL);
	kst_nic_close(n);
}

/* Checks one dump: lo there, names set, ifindexes unique and ascending. */
static void expect_consistent(const struct kst_nic_info *all, size_t count)
{
	cr_assert(has_dev(all, count, "lo"));
	for (size_t k = 0; k < count; k++) {
		cr_assert(all[k].ifname[0] && all[k].ifindex > 0);
		cr_assert(k == 0 || all[k].ifindex > all[k - 1].ifindex,
			  "dump out of order or duplicated at %zu", k);
	}
}

Test(nic_netns, list_stays_consistent_while_devices_come_and_go)
{
	char *const churn[] = {
		"sh", "-c",
		"for i in $(seq 1 25); do ip link add kc$i type veth peer name "
		"kp$i; ip link del kc$((i - 1)) 2>/dev/null; done; "
		"ip link del kc25",
		NULL};
	bool running = true;
	size_t dumps = 0;
	struct kst_nic *n;
	uint64_t end;
	pid_t pid;
	int st = 0;

	enter_netns();
	n = open_or_skip();
	cr_assert_eq(posix_spawnp(&pid, "sh", NULL, NULL, churn, environ), 0);
	/* Bounded in count and in time; the churn normally ends first. */
	end = kst_mono_ms() + 20000;
	while (running && dumps < 1000000 && kst_mono_ms() < end) {
		struct kst_nic_info *all = NULL;
		size_t count = 0;
		pid_t r;

		cr_assert_eq(kst_nic_query_all(n, &all, &count), 0, "dump %zu",
			     dumps);
		expect_consistent(all, count);
		free(all);
		dumps++;
		r = waitpid(pid, &st, WNOHANG);
		cr_assert(r >= 0 || errno == EINTR, "waitpid: %s",
			  strerror(errno));
		running = r != pid;
	}
	if (running) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		cr_assert_fail("device churn did not end in 20 s");
	}
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "churn failed");
	cr_log_info("%zu consistent dumps during 25 veth adds/deletes", dumps);
	cr_expect_gt(dumps, 0);
	kst_nic_close(n);
}

Test(nic_netns, enable_is_refused_and_changes_nothing)
{
	struct kst_nic_info before, after;
	struct kst_nic *n;

	enter_netns();
	cr_assert_eq(
		IP("link", "add", "kv0", "type", "veth", "peer", "name", "kv1"),
		0);
	n = open_or_skip();
	cr_assert_eq(kst_nic_query(n, "kv0", &before), 0);
	cr_expect_eq(kst_nic_enable(n, "kv0", true, true, &after), -EOPNOTSUPP);
	cr_expect_eq(memcmp(&before, &after, sizeof(before)), 0,
		     "features unchanged by a refused request");
	expect_no_offload(&after);
	/* Nothing asked: a plain re-read, and nothing refused. */
	cr_expect_eq(kst_nic_enable(n, "lo", false, false, &after), 0);
	cr_expect_str_eq(after.ifname, "lo");
	kst_nic_close(n);
}

static void drop_net_admin(void)
{
	cap_t caps = cap_get_proc();
	cap_value_t na = CAP_NET_ADMIN;

	cr_assert_not_null(caps);
	cr_assert_eq(cap_set_flag(caps, CAP_EFFECTIVE, 1, &na, CAP_CLEAR), 0);
	cr_assert_eq(cap_set_proc(caps), 0);
	cap_free(caps);
}

Test(nic_netns, reads_without_cap_net_admin_but_may_not_enable)
{
	struct kst_nic_info *all = NULL, ni;
	size_t count = 0;
	struct kst_nic *n;

	enter_netns();
	cr_assert_eq(
		IP("link", "add", "kv0", "type", "veth", "peer", "name", "kv1"),
		0);
	drop_net_admin();
	n = open_or_skip();
	cr_expect_eq(kst_nic_query(n, "kv0", &ni), 0);
	cr_expect_eq(kst_nic_query_all(n, &all, &count), 0);
	cr_expect_eq(count, 3);
	cr_expect_eq(kst_nic_enable(n, "kv0", true, false, &ni), -EPERM);
	free(all);
	kst_nic_close(n);
}
