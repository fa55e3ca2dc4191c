// SPDX-License-Identifier: MIT
/*
 * Session tickets for a fleet (`ticket-keys`), as clients see them: two
 * kstapled processes (two hosts' worth) share one key file, and a ticket
 * one issued resumes on the other, for TLS 1.2 and 1.3 (openssl s_client
 * -sess_out / -sess_in; gnutls-cli -r). Rotation, a dropped key, a bad
 * file, a restart and the ticket lifetime, each checked by whether the
 * client's next handshake is "Reused" or "New", and by the key name a
 * ticket carries (its first 16 bytes, which `openssl sess_id -text`
 * shows) against the first 16 bytes of each key.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "daemon/base/diag.h"
#include "daemon/tls/ticket.h"
#include "tests/lib/harness.h"
#include "tests/lib/testutil.h"

struct srv {
	pid_t pid;
	int port;
	char conf[512], log[512], state[512];
};

static struct kst_h_backend be;
static struct srv s1, s2;
static char keys[512];

/* A new key line from `kstapled ticket-key new` (the tool under test). */
static void key_new(char *out, size_t len)
{
	char *argv[] = {(char *)kst_h_kstapled(), "ticket-key", "new", NULL};
	char *o = NULL;

	cr_assert_eq(kst_h_run(argv, NULL, 0, &o, 10000), 0, "%s", o);
	cr_assert_eq(strlen(o), 109, "one base64 line of 80 bytes: %s", o);
	snprintf(out, len, "%.108s", o);
	free(o);
}

/* The key file, replaced the way an operator's tool would (rename). */
static void keys_write(const char *text, int mode)
{
	char tmp[600];

	snprintf(tmp, sizeof(tmp), "%s.tmp", keys);
	cr_assert_eq(kst_h_write(tmp, text, mode), 0);
	cr_assert_eq(chmod(tmp, (mode_t)mode), 0);
	cr_assert_eq(rename(tmp, keys), 0);
}

/* hex of a key line's first 16 bytes: the name its tickets carry */
static void key_name_hex(const char *line, char *hex)
{
	unsigned char raw[84];

	cr_assert_eq(EVP_DecodeBlock(raw, (const unsigned char *)line,
				     (int)strlen(line)),
		     81); /* 80, and the padding's zero */
	for (int i = 0; i < 16; i++)
		sprintf(hex + 2 * i, "%02x", raw[i]);
}

/* "sha256:..." as the daemon logs the key that encrypts */
static void key_fp(const char *line, char *fp, size_t len)
{
	struct kst_diag d;
	struct kst_ticket_keys *ks;

	kst_diag_init(&d);
	ks = kst_ticket_keys_parse("k", line, strlen(line), &d);
	cr_assert_not_null(ks);
	kst_ticket_key_fingerprint(&ks->k[0], fp, len);
	kst_ticket_keys_put(ks);
	kst_diag_free(&d);
}

static void srv_start(struct srv *s, const char *name, int port,
		      const char *extra)
{
	char *text = NULL;
	char *argv[] = {(char *)kst_h_kstapled(), "-c", s->conf, NULL};
	int started;

	s->port = port;
	snprintf(s->conf, sizeof(s->conf), "%s.conf", kst_h_path(name));
	snprintf(s->log, sizeof(s->log), "%s.log", kst_h_path(name));
	snprintf(s->state, sizeof(s->state), "%s.state", kst_h_path(name));
	mkdir(s->state, 0700);
	cr_assert(asprintf(&text,
			   "[global]\nstate-dir = %s\n%s\n"
			   "allow-root = on\nlog-level = debug\nworkers = 2\n"
			   "ticket-keys = %s\n%s\n[ocsp]\nfetch = off\n"
			   "[listener:web]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\ncert = %s\n",
			   s->state,
			   extra && strstr(extra, "bpf-pin-dir")
				   ? ""
				   : "bpf-pin-dir =",
			   keys, extra ? extra : "", port, be.port,
			   kst_h_leaf("localhost-ecdsa")) > 0);
	cr_assert_eq(kst_h_write(s->conf, text, 0644), 0);
	free(text);
	started = kst_h_count(s->log, "started: ");
	s->pid = kst_h_spawn(argv, s->log);
	cr_assert_gt(s->pid, 0);
	for (int i = 0; i < 500 && kst_h_count(s->log, "started: ") == started;
	     i++) {
		cr_assert(kst_h_alive(s->pid), "%s", kst_h_read(s->log));
		usleep(20000);
	}
	cr_assert_gt(kst_h_count(s->log, "started: "), started, "%s",
		     kst_h_read(s->log));
}

static void srv_stop(struct srv *s)
{
	if (s->pid > 0)
		cr_expect_eq(kst_h_stop(s->pid, SIGTERM, 20000), 0);
	s->pid = 0;
}

/* Two hosts sharing a key file with one key (its line in first), each
 * with its own extra [global] lines. */
static void fleet(char *first, size_t len, const char *extra1,
		  const char *extra2)
{
	char text[256];

	snprintf(keys, sizeof(keys), "%s", kst_h_path("tickets.keys"));
	key_new(first, len);
	snprintf(text, sizeof(text), "%s\n", first);
	keys_write(text, 0600);
	cr_assert_eq(kst_h_backend_start(&be, "echo", false), 0);
	srv_start(&s1, "host1", kst_h_free_port(), extra1);
	srv_start(&s2, "host2", kst_h_free_port(), extra2);
}

static void fleet_stop(void)
{
	srv_stop(&s1);
	srv_stop(&s2);
	kst_h_backend_stop(&be);
}

/*
 * One s_client handshake with host s over TLS tls ("1.2", "1.3"),
 * offering the session in sess_in (NULL: none) and saving what it gets to
 * sess_out. With wait, stdin stays open until a ticket was saved
 * (bounded), so a TLS 1.3 ticket, which comes after the handshake, is not
 * missed (a TLS 1.3 resumption gets one only when its ticket is renewed).
 * true when the handshake resumed.
 */
static bool handshake_w(const struct srv *s, const char *tls,
			const char *sess_in, const char *sess_out, bool wait)
{
	char cmd[2048], in[600] = "";
	char *out = NULL;
	bool reused;
	int rc;

	unlink(sess_out);
	if (sess_in != NULL)
		snprintf(in, sizeof(in), "-sess_in '%s'", sess_in);
	/* TLS 1.2: a ticket comes within the handshake (or none, when a
	 * resumption keeps the one it had) */
	snprintf(cmd, sizeof(cmd),
		 "(i=0; while [ ! -s '%s' ] && [ $i -lt %d ]; do sleep 0.05; "
		 "i=$((i+1)); done; sleep 0.2) | openssl s_client -connect "
		 "127.0.0.1:%d -tls%s %s -sess_out '%s' 2>&1",
		 sess_out, strcmp(tls, "1.2") == 0 || !wait ? 0 : 100, s->port,
		 strcmp(tls, "1.2") == 0 ? "1_2" : "1_3", in, sess_out);
	rc = kst_h_sh(cmd, &out, 30000);
	cr_assert_eq(rc, 0, "%s\n%s", cmd, out);
	reused = strstr(out, "Reused, TLSv") != NULL;
	cr_assert(reused || strstr(out, "New, TLSv") != NULL, "%s", out);
	free(out);
	return reused;
}

static bool handshake(const struct srv *s, const char *tls, const char *sess_in,
		      const char *sess_out)
{
	return handshake_w(s, tls, sess_in, sess_out, sess_in == NULL);
}

/* The key name (hex) of the ticket saved in sess. */
static void ticket_name_hex(const char *sess, char *hex)
{
	char cmd[700], *out = NULL, *p;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "openssl sess_id -in '%s' -text -noout",
		 sess);
	cr_assert_eq(kst_h_sh(cmd, &out, 10000), 0, "%s", out);
	p = strstr(out, "TLS session ticket:");
	cr_assert_not_null(p, "a ticket in %s:\n%s", sess, out);
	p = strstr(p, "0000 - ");
	cr_assert_not_null(p, "%s", out);
	for (p += 7; *p && n < 32; p++)
		if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
			hex[n++] = *p;
		else if (*p != ' ' && *p != '-')
			break;
	hex[n] = '\0';
	cr_assert_eq(n, 32, "%s", out);
	free(out);
}

/* Both hosts reread the file: each logs the key it encrypts with now. */
static void wait_reread(const char *first_line)
{
	char fp[64], needle[128];

	key_fp(first_line, fp, sizeof(fp));
	snprintf(needle, sizeof(needle), "new tickets under %s", fp);
	cr_assert_eq(kst_h_wait_log(s1.log, needle, 10000), 0,
		     "host1 reread the key file");
	cr_assert_eq(kst_h_wait_log(s2.log, needle, 10000), 0,
		     "host2 reread the key file");
}

static const char *const versions[] = {"1.2", "1.3"};

Test(tickets, a_ticket_from_one_host_resumes_on_the_other, .timeout = 120)
{
	char a[128], name[40], tname[40];
	char t[600], u[600];

	snprintf(t, sizeof(t), "%s", kst_h_path("t.pem"));
	snprintf(u, sizeof(u), "%s", kst_h_path("u.pem"));

	fleet(a, sizeof(a), NULL, NULL);
	key_name_hex(a, name);
	for (size_t i = 0; i < 2; i++) {
		cr_expect_not(handshake(&s1, versions[i], NULL, t));
		ticket_name_hex(t, tname);
		cr_expect_str_eq(tname, name,
				 "TLS %s: issued under the file's "
				 "key",
				 versions[i]);
		cr_expect(handshake(&s2, versions[i], t, u),
			  "TLS %s: host1's ticket resumes on host2",
			  versions[i]);
		cr_expect(handshake(&s1, versions[i], t, u),
			  "TLS %s: and on the host that issued it",
			  versions[i]);
	}
	fleet_stop();
}

Test(tickets, gnutls_cli_resumes_with_the_shared_keys, .timeout = 120)
{
	char a[128], port[16];

	kst_test_require(system("command -v gnutls-cli >/dev/null 2>&1") == 0,
			 "gnutls-cli is not installed (gnutls-bin)");
	fleet(a, sizeof(a), NULL, NULL);
	snprintf(port, sizeof(port), "%d", s2.port);
	for (size_t i = 0; i < 2; i++) {
		char prio[64], *out = NULL;
		char *argv[] = {
			"gnutls-cli", "--insecure", "-r", "--waitresumption",
			"--priority", prio,	    "-p", port,
			"127.0.0.1",  NULL};

		snprintf(prio, sizeof(prio), "NORMAL:-VERS-ALL:+VERS-TLS%s",
			 versions[i]);
		kst_h_run(argv, "", 0, &out, 30000);
		cr_expect(strstr(out, "This is a resumed session") != NULL,
			  "TLS %s:\n%s", versions[i], out);
		free(out);
	}
	fleet_stop();
}

Test(tickets, rotation_keeps_old_tickets_and_issues_under_the_new_key,
     .timeout = 120)
{
	char a[128], b[128], text[300], na[40], nb[40], tname[40];
	char t[2][600], u[600];

	snprintf(t[0], sizeof(t[0]), "%s", kst_h_path("t12.pem"));
	snprintf(t[1], sizeof(t[1]), "%s", kst_h_path("t13.pem"));
	snprintf(u, sizeof(u), "%s", kst_h_path("u.pem"));

	fleet(a, sizeof(a), NULL, NULL);
	key_name_hex(a, na);
	for (size_t i = 0; i < 2; i++)
		cr_assert_not(handshake(&s1, versions[i], NULL, t[i]));
	key_new(b, sizeof(b));
	key_name_hex(b, nb);
	snprintf(text, sizeof(text), "# new key on top\n%s\n%s\n", b, a);
	keys_write(text, 0600);
	wait_reread(b);
	for (size_t i = 0; i < 2; i++) {
		ticket_name_hex(t[i], tname);
		cr_assert_str_eq(tname, na);
		cr_expect(handshake_w(&s2, versions[i], t[i], u, true),
			  "TLS %s: a ticket under the old key resumes",
			  versions[i]);
		/* (a TLS 1.2 client keeps no ticket renewed in a resumption:
		 * s_client saves none to look at) */
		if (strcmp(versions[i], "1.3") == 0) {
			ticket_name_hex(u, tname);
			cr_expect_str_eq(tname, nb,
					 "TLS 1.3: the next ticket is under "
					 "the new key");
		}
		cr_expect_not(handshake(&s1, versions[i], NULL, u));
		ticket_name_hex(u, tname);
		cr_expect_str_eq(tname, nb, "TLS %s: new tickets, new key",
				 versions[i]);
	}
	fleet_stop();
}

Test(tickets, dropping_a_key_makes_its_tickets_do_a_full_handshake,
     .timeout = 120)
{
	char a[128], b[128], text[300];
	char t[2][600], u[600];

	snprintf(t[0], sizeof(t[0]), "%s", kst_h_path("t12.pem"));
	snprintf(t[1], sizeof(t[1]), "%s", kst_h_path("t13.pem"));
	snprintf(u, sizeof(u), "%s", kst_h_path("u.pem"));

	fleet(a, sizeof(a), NULL, NULL);
	for (size_t i = 0; i < 2; i++)
		cr_assert_not(handshake(&s1, versions[i], NULL, t[i]));
	key_new(b, sizeof(b));
	snprintf(text, sizeof(text), "%s\n%s\n", b, a);
	keys_write(text, 0600);
	wait_reread(b);
	for (size_t i = 0; i < 2; i++)
		cr_assert(handshake(&s2, versions[i], t[i], u),
			  "TLS %s: resumes while its key is listed",
			  versions[i]);
	snprintf(text, sizeof(text), "%s\n", b);
	keys_write(text, 0600);
	/* the same first key: wait for the second "under" line */
	for (int i = 0; i < 200 && (kst_h_count(s1.log, "1 key, new") == 0 ||
				    kst_h_count(s2.log, "1 key, new") == 0);
	     i++)
		usleep(50000);
	cr_assert_gt(kst_h_count(s1.log, "1 key, new tickets"), 0);
	cr_assert_gt(kst_h_count(s2.log, "1 key, new tickets"), 0);
	for (size_t i = 0; i < 2; i++) {
		cr_expect_not(handshake(&s2, versions[i], t[i], u),
			      "TLS %s: the dropped key's ticket is refused",
			      versions[i]);
		cr_expect_not(handshake(&s1, versions[i], t[i], u),
			      "TLS %s: on both hosts", versions[i]);
	}
	fleet_stop();
}

Test(tickets, a_bad_file_is_refused_and_the_keys_in_use_stay, .timeout = 120)
{
	char a[128], c[128], text[4096], na[40], tname[40];
	char t[600], u[600];

	snprintf(t, sizeof(t), "%s", kst_h_path("t.pem"));
	snprintf(u, sizeof(u), "%s", kst_h_path("u.pem"));
	int refused = 0;
	struct {
		const char *what, *where;
		int mode;
	} bad[] = {
		{"not base64", ":2: not a base64 key line", 0600},
		{"48 bytes", ":1: a key is 80 bytes", 0600},
		{"group-readable", "accessible by group or others", 0640},
		{"17 keys", ":17: more than 16 keys", 0600},
		{"another single key",
		 "the key that encrypts tickets now is "
		 "not listed",
		 0600},
	};

	fleet(a, sizeof(a), NULL, NULL);
	key_name_hex(a, na);
	cr_assert_not(handshake(&s1, "1.3", NULL, t));
	key_new(c, sizeof(c));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char needle[800];
		int n;

		if (i == 0)
			snprintf(text, sizeof(text), "%s\n%s\n", a,
				 "this is not!base64");
		else if (i == 1)
			snprintf(text, sizeof(text), "%.64s\n", a);
		else if (i == 2)
			snprintf(text, sizeof(text), "%s\n", a);
		else if (i == 3) {
			text[0] = '\0';
			for (int k = 0; k < 17; k++) {
				char x[128];

				key_new(x, sizeof(x));
				strcat(text, k == 16 ? a : x);
				strcat(text, "\n");
			}
		} else
			snprintf(text, sizeof(text), "%s\n", c);
		keys_write(text, bad[i].mode);
		snprintf(needle, sizeof(needle), "%s%s", keys, bad[i].where);
		if (bad[i].where[0] != ':')
			snprintf(needle, sizeof(needle), "%s", bad[i].where);
		cr_expect_eq(kst_h_wait_log(s2.log, needle, 10000), 0,
			     "%s: refused naming the file: %s", bad[i].what,
			     needle);
		for (int k = 0; k < 200; k++) {
			if (kst_h_count(s2.log, "the keys in use stay") >
			    refused)
				break;
			usleep(50000);
		}
		/* refused when it appeared (the inotify event and the
		 * per-second stat may both see the new file under load),
		 * and not again while it stays as it is */
		cr_expect_gt(kst_h_count(s2.log, "the keys in use stay"),
			     refused, "%s", bad[i].what);
		usleep(1500000); /* past the next per-second stat */
		n = kst_h_count(s2.log, "the keys in use stay");
		usleep(1500000);
		cr_expect_eq(kst_h_count(s2.log, "the keys in use stay"), n,
			     "%s: refused again, unchanged", bad[i].what);
		refused = n;
		cr_expect(handshake(&s2, "1.3", t, u),
			  "%s: the ticket still resumes", bad[i].what);
		cr_expect_not(handshake(&s2, "1.3", NULL, u));
		ticket_name_hex(u, tname);
		cr_expect_str_eq(tname, na,
				 "%s: still issued under the key "
				 "in use",
				 bad[i].what);
	}
	/* a reload takes the last file (a valid one; only the rotation rule
	 * refused it) */
	kill(s2.pid, SIGHUP);
	cr_assert_eq(kst_h_wait_log(s2.log, "reloaded: ", 20000), 0);
	cr_expect_not(handshake(&s2, "1.3", NULL, u));
	key_name_hex(c, na);
	ticket_name_hex(u, tname);
	cr_expect_str_eq(tname, na,
			 "after a reload, tickets under the new "
			 "key");
	cr_expect_eq(kst_h_count(s2.log, a), 0, "no key in the log");
	cr_expect_eq(kst_h_count(s2.log, c), 0, "no key in the log");
	fleet_stop();
}

Test(tickets, a_restart_keeps_resuming, .timeout = 120)
{
	char a[128];
	char t[600], u[600];

	snprintf(t, sizeof(t), "%s", kst_h_path("t.pem"));
	snprintf(u, sizeof(u), "%s", kst_h_path("u.pem"));

	fleet(a, sizeof(a), NULL, NULL);
	for (size_t i = 0; i < 2; i++) {
		cr_assert_not(handshake(&s1, versions[i], NULL, t));
		srv_stop(&s1);
		srv_start(&s1, "host1", s1.port, NULL);
		cr_expect(handshake(&s1, versions[i], t, u),
			  "TLS %s: resumes after a restart", versions[i]);
	}
	fleet_stop();
}

Test(tickets, a_ticket_older_than_the_lifetime_is_refused, .timeout = 120)
{
	char a[128];
	char t[2][600], u[600];

	snprintf(t[0], sizeof(t[0]), "%s", kst_h_path("t12.pem"));
	snprintf(t[1], sizeof(t[1]), "%s", kst_h_path("t13.pem"));
	snprintf(u, sizeof(u), "%s", kst_h_path("u.pem"));

	/* host1 issues tickets for 4 h; host2 takes them for 4 s (long
	 * enough to resume once on a loaded machine): past that, the key is
	 * still listed but host2 refuses them, host1 not */
	fleet(a, sizeof(a), NULL, "ticket-lifetime = 4s");
	for (size_t i = 0; i < 2; i++)
		cr_assert_not(handshake(&s1, versions[i], NULL, t[i]));
	cr_expect(handshake(&s2, "1.3", t[1], u),
		  "TLS 1.3: a young ticket resumes");
	sleep(5);
	for (size_t i = 0; i < 2; i++) {
		cr_expect_not(handshake(&s2, versions[i], t[i], u),
			      "TLS %s: an old ticket does a full handshake",
			      versions[i]);
		cr_expect(handshake(&s1, versions[i], t[i], u),
			  "TLS %s: where the lifetime is longer it resumes",
			  versions[i]);
	}
	fleet_stop();
}

Test(tickets, check_reads_the_key_file_and_dump_shows_only_fingerprints,
     .timeout = 60)
{
	char a[128], fp[64], *out = NULL;
	char *check[] = {(char *)kst_h_kstapled(), "-t", "-c", s1.conf, NULL};
	char *dump[] = {(char *)kst_h_kstapled(), "-T", "-c", s1.conf, NULL};

	fleet(a, sizeof(a), NULL, NULL);
	key_fp(a, fp, sizeof(fp));
	cr_expect_eq(kst_h_run(dump, NULL, 0, &out, 20000), 0, "%s", out);
	cr_expect_not_null(strstr(out, fp), "the key's fingerprint: %s", out);
	cr_expect_null(strstr(out, a), "never the key: %s", out);
	free(out);
	keys_write("AAAA\n", 0600);
	cr_expect_eq(kst_h_run(check, NULL, 0, &out, 20000), 1, "%s", out);
	cr_expect_not_null(strstr(out, ":1: a key is 80 bytes"), "%s", out);
	cr_expect_not_null(strstr(out, "host1.conf:7:"),
			   "and the line naming the file: %s", out);
	free(out);
	fleet_stop();
}

/* The file is reread as the service user: -t says when it cannot be. */
Test(tickets, check_warns_when_the_service_user_cannot_reread_the_file,
     .timeout = 60)
{
	char a[128], b[128], text[300], conf[600], *out = NULL, *c = NULL;
	char *check[] = {(char *)kst_h_kstapled(), "-t", "-c", conf, NULL};

	kst_test_require(geteuid() == 0, "needs root to check as another user");
	snprintf(keys, sizeof(keys), "%s", kst_h_path("root.keys"));
	key_new(a, sizeof(a));
	key_new(b, sizeof(b));
	snprintf(text, sizeof(text), "%s\n%s\n", a, b);
	keys_write(text, 0600);
	cr_assert_eq(chown(keys, 0, 0), 0);
	snprintf(conf, sizeof(conf), "%s", kst_h_path("nobody.conf"));
	cr_assert(
		asprintf(&c,
			 "[global]\nuser = nobody\nbpf-pin-dir =\n"
			 "state-dir = %s\nticket-keys = %s\n[ocsp]\n"
			 "fetch = off\n[listener:web]\nbind = 127.0.0.1:8443\n"
			 "backend = 127.0.0.1:8080\ncert = %s\n",
			 kst_h_path("nobody-state"), keys,
			 kst_h_leaf("localhost-ecdsa")) > 0);
	cr_assert_eq(kst_h_write(conf, c, 0644), 0);
	free(c);
	kst_h_run(check, NULL, 0, &out, 20000);
	cr_expect_not_null(strstr(out, "nobody.conf:5: warning: [global]: "
				       "ticket-keys file"),
			   "FILE:LINE of the ticket-keys line: %s", out);
	cr_expect_not_null(strstr(out, "is not readable by user nobody"), "%s",
			   out);
	free(out);
	/* owned by the service user: nothing to say */
	cr_assert_eq(chown(keys, 65534, 0), 0);
	kst_h_run(check, NULL, 0, &out, 20000);
	cr_expect_null(strstr(out, "ticket-keys file"), "%s", out);
	free(out);
}

/* A counter of the one certificate in `kstapled status --json` output. */
static long long status_num(const char *json, const char *key)
{
	char *v = kst_h_json_get(json, NULL, key);
	long long n;

	cr_assert_not_null(v, "%s in status --json:\n%s", key, json);
	n = strtoll(v, NULL, 10);
	free(v);
	return n;
}

/* A process-wide counter (the "global" object) of `status --json`. */
static long long status_global_num(const char *json, const char *key)
{
	const char *g = json ? strstr(json, "\"global\":{") : NULL;

	cr_assert_not_null(g, "no global object in status --json:\n%s", json);
	return status_num(g, key);
}

/* Whether `kstapled status --prometheus -` printed the line. */
static bool prom_has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

Test(tickets, status_counts_resumed_handshakes_and_refused_tickets,
     .timeout = 120)
{
	char a[128], b[128], text[300], pins[128], extra[200], cmd[200];
	char *json;
	char t[2][600], u[600];

	kst_test_require(access("/sys/fs/bpf", W_OK) == 0 && geteuid() == 0,
			 "needs root and bpffs at /sys/fs/bpf for the maps");
	snprintf(pins, sizeof(pins), "/sys/fs/bpf/kst-tickets-%d", getpid());
	snprintf(extra, sizeof(extra), "bpf-pin-dir = %s", pins);
	snprintf(t[0], sizeof(t[0]), "%s", kst_h_path("t12.pem"));
	snprintf(t[1], sizeof(t[1]), "%s", kst_h_path("t13.pem"));
	snprintf(u, sizeof(u), "%s", kst_h_path("u.pem"));
	fleet(a, sizeof(a), extra, NULL);
	/* 2 full handshakes: 1 + 2 (session-tickets) tickets */
	for (size_t i = 0; i < 2; i++)
		cr_assert_not(handshake(&s1, versions[i], NULL, t[i]));
	/* 2 resumed (no ticket renewed: the key is the first) */
	for (size_t i = 0; i < 2; i++)
		cr_assert(handshake(&s1, versions[i], t[i], u));
	/* the key dropped: 2 refused, 2 full handshakes, 3 tickets */
	key_new(b, sizeof(b));
	snprintf(text, sizeof(text), "%s\n%s\n", b, a);
	keys_write(text, 0600);
	wait_reread(b);
	snprintf(text, sizeof(text), "%s\n", b);
	keys_write(text, 0600);
	cr_assert_eq(kst_h_wait_log(s1.log, "1 key, new tickets", 10000), 0);
	for (size_t i = 0; i < 2; i++)
		cr_assert_not(handshake(&s1, versions[i], t[i], u));
	json = kst_h_status_json(pins);
	cr_expect_eq(status_num(json, "handshakes"), 6);
	cr_expect_eq(status_num(json, "hs_resumed"), 2);
	cr_expect_eq(status_num(json, "tickets_issued"), 6);
	cr_expect_eq(status_num(json, "tickets_refused_unknown"), 2);
	cr_expect_eq(status_num(json, "tickets_refused_expired"), 0);
	/* the same, process-wide */
	cr_expect_eq(status_global_num(json, "handshakes"), 6);
	cr_expect_eq(status_global_num(json, "hs_resumed"), 2);
	cr_expect_eq(status_global_num(json, "tickets_issued"), 6);
	cr_expect_eq(status_global_num(json, "tickets_refused_unknown"), 2);
	cr_expect_eq(status_global_num(json, "tickets_refused_expired"), 0);
	free(json);
	{
		char *argv[] = {
			(char *)kst_h_kstapled(), "status", "--pin-dir", pins,
			"--prometheus",		  "-",	    NULL};
		static const char *const want[] = {
			"kstapled_handshakes_total 6",
			"kstapled_handshakes_resumed_total 2",
			"kstapled_session_tickets_issued_total 6",
			"kstapled_session_tickets_refused_total"
			"{reason=\"unknown\"} 2",
			"kstapled_session_tickets_refused_total"
			"{reason=\"expired\"} 0",
		};
		char *prom = NULL;

		kst_h_run(argv, NULL, 0, &prom, 10000);
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			cr_expect(prom_has_line(prom, want[i]),
				  "no '%s' in status --prometheus:\n%s",
				  want[i], prom);
		free(prom);
	}
	fleet_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pins);
	kst_h_sh(cmd, NULL, 5000);
}

/* A counter of listener name in `kstapled status --json` output. */
static long long status_listener_num(const char *json, const char *name,
				     const char *key)
{
	const char *l = json ? strstr(json, "\"listeners\":[") : NULL;
	char *v;
	long long n;

	cr_assert_not_null(l, "no listeners array in status --json:\n%s", json);
	v = kst_h_json_get(l, name, key);
	cr_assert_not_null(v, "%s of listener %s in status --json:\n%s", key,
			   name, json);
	n = strtoll(v, NULL, 10);
	free(v);
	return n;
}

Test(tickets, status_counts_handshakes_and_tickets_per_listener, .timeout = 120)
{
	char a[128], pins[128], extra[1200], cmd[200];
	char t[2][600], u[600];
	struct srv api;
	char *json, *prom = NULL;
	char *argv[] = {(char *)kst_h_kstapled(), "status", "--pin-dir", pins,
			"--prometheus",		  "-",	    NULL};
	static const char *const want[] = {
		"kstapled_listener_handshakes_total{listener=\"api\"} 2",
		"kstapled_listener_handshakes_total{listener=\"web\"} 5",
		"kstapled_listener_handshakes_resumed_total{listener=\"api\"} "
		"0",
		"kstapled_listener_handshakes_resumed_total{listener=\"web\"} "
		"2",
		"kstapled_listener_tickets_issued_total{listener=\"api\"} 3",
		"kstapled_listener_tickets_issued_total{listener=\"web\"} 4",
		"kstapled_handshakes_total 7",
		"kstapled_handshakes_resumed_total 2",
		"kstapled_session_tickets_issued_total 7",
	};

	kst_test_require(access("/sys/fs/bpf", W_OK) == 0 && geteuid() == 0,
			 "needs root and bpffs at /sys/fs/bpf for the maps");
	snprintf(pins, sizeof(pins), "/sys/fs/bpf/kst-tickets-l-%d", getpid());
	snprintf(t[0], sizeof(t[0]), "%s", kst_h_path("t12.pem"));
	snprintf(t[1], sizeof(t[1]), "%s", kst_h_path("t13.pem"));
	snprintf(u, sizeof(u), "%s", kst_h_path("u.pem"));
	api.port = kst_h_free_port();
	/* one host (fleet()'s first) with a second listener, "api" */
	snprintf(keys, sizeof(keys), "%s", kst_h_path("tickets.keys"));
	key_new(a, sizeof(a));
	snprintf(extra, sizeof(extra), "%s\n", a);
	keys_write(extra, 0600);
	cr_assert_eq(kst_h_backend_start(&be, "echo", false), 0);
	snprintf(extra, sizeof(extra),
		 "bpf-pin-dir = %s\n[listener:api]\nbind = 127.0.0.1:%d\n"
		 "backend = 127.0.0.1:%d\ncert = %s\n",
		 pins, api.port, be.port, kst_h_leaf("localhost-ecdsa"));
	srv_start(&s1, "host1", kst_h_free_port(), extra);
	/* web: 2 full handshakes (1 + 2 tickets), 2 resumed (no ticket) */
	for (size_t i = 0; i < 2; i++)
		cr_assert_not(handshake(&s1, versions[i], NULL, t[i]));
	for (size_t i = 0; i < 2; i++)
		cr_assert(handshake(&s1, versions[i], t[i], u));
	/* api: 2 full handshakes (1 + 2 tickets), none resumed */
	for (size_t i = 0; i < 2; i++)
		cr_assert_not(handshake(&api, versions[i], NULL, t[i]));
	json = kst_h_status_json(pins);
	cr_expect_eq(status_listener_num(json, "web", "handshakes"), 4);
	cr_expect_eq(status_listener_num(json, "web", "hs_resumed"), 2);
	cr_expect_eq(status_listener_num(json, "web", "tickets_issued"), 3);
	cr_expect_eq(status_listener_num(json, "api", "handshakes"), 2);
	cr_expect_eq(status_listener_num(json, "api", "hs_resumed"), 0);
	cr_expect_eq(status_listener_num(json, "api", "tickets_issued"), 3);
	cr_expect_eq(
		status_listener_num(json, "api", "tickets_refused_unknown"), 0);
	cr_expect_eq(status_global_num(json, "handshakes"), 6);
	cr_expect_eq(status_global_num(json, "hs_resumed"), 2);
	cr_expect_eq(status_global_num(json, "tickets_issued"), 6);
	free(json);
	/* a reload keeps the listener's counts: one more on web */
	kill(s1.pid, SIGHUP);
	cr_assert_eq(kst_h_wait_log(s1.log, "reloaded: generation", 10000), 0,
		     "%s", kst_h_read(s1.log));
	cr_assert_not(handshake(&s1, "1.2", NULL, t[0]));
	json = kst_h_status_json(pins);
	cr_expect_eq(status_listener_num(json, "web", "handshakes"), 5);
	cr_expect_eq(status_listener_num(json, "api", "handshakes"), 2);
	cr_expect_eq(status_global_num(json, "handshakes"), 7);
	free(json);
	kst_h_run(argv, NULL, 0, &prom, 10000);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect(prom_has_line(prom, want[i]),
			  "no '%s' in status --prometheus:\n%s", want[i], prom);
	free(prom);
	fleet_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pins);
	kst_h_sh(cmd, NULL, 5000);
}
