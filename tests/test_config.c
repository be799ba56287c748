/*
 * Copyright (c) 2026 The herod authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * Service-file parser (common/config.c).
 *
 * tests/config/valid/DIR: each directory is a service set that must load.
 * tests/config/invalid/DIR: each directory must fail to load with exactly
 * the error lines of DIR/expected (the same files serve as golden tests
 * for "herod -n -c DIR").
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#ifndef nitems
#define nitems(_a)	(sizeof((_a)) / sizeof((_a)[0]))
#endif

static const char *
testdata(void)
{
	const char	*d;

	if ((d = getenv("TESTDATA")) == NULL)
		d = "tests";
	return d;
}

static int
dir_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Subdirectories of path, sorted; returns the count. */
static size_t
subdirs(const char *path, char ***out)
{
	DIR		*d;
	struct dirent	*de;
	char		**v = NULL;
	size_t		 n = 0;

	d = opendir(path);
	ck_assert_msg(d != NULL, "%s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		v = reallocarray(v, n + 1, sizeof(*v));
		ck_assert_ptr_nonnull(v);
		v[n] = strdup(de->d_name);
		ck_assert_ptr_nonnull(v[n]);
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), dir_cmp);
	*out = v;
	return n;
}

static void
free_names(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char *
slurp(const char *path)
{
	FILE	*f;
	char	*buf;
	long	 len;

	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, len + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, len, f), (size_t)len);
	fclose(f);
	return buf;
}

static struct service_conf *
parse(const char *name, const char *text, struct config_errors *errs)
{
	char	 fname[128];

	snprintf(fname, sizeof(fname), "%s.json", name);
	return config_parse_service(fname, name, text, strlen(text), errs);
}

/* Parse text that must be valid. */
static struct service_conf *
parse_ok(const char *name, const char *text)
{
	struct config_errors	 errs;
	struct service_conf	*sc;

	memset(&errs, 0, sizeof(errs));
	sc = parse(name, text, &errs);
	ck_assert_msg(sc != NULL, "unexpected error: %s",
	    errs.n > 0 ? errs.msg[0] : "?");
	ck_assert_uint_eq(errs.n, 0);
	return sc;
}

/* Parse text that must fail with exactly one error, msg. */
static void
parse_fails(const char *name, const char *text, const char *msg)
{
	struct config_errors	 errs;
	struct service_conf	*sc;

	memset(&errs, 0, sizeof(errs));
	sc = parse(name, text, &errs);
	ck_assert_ptr_null(sc);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0], msg);
	config_errors_clear(&errs);
}

START_TEST(test_valid_sets)
{
	struct service_conf_list	 list;
	struct config_errors		 errs;
	struct service_conf		*sc, *prev;
	char				 base[PATH_MAX / 2], dir[PATH_MAX];
	char				**v;
	size_t				 n, i, nsvc;

	snprintf(base, sizeof(base), "%s/config/valid", testdata());
	n = subdirs(base, &v);
	ck_assert_uint_ge(n, 3);
	for (i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", base, v[i]);
		memset(&errs, 0, sizeof(errs));
		ck_assert_msg(config_load_dir(dir, &list, &errs) == 0,
		    "%s: %s", v[i], errs.n > 0 ? errs.msg[0] : "?");
		ck_assert_uint_eq(errs.n, 0);
		nsvc = 0;
		prev = NULL;
		TAILQ_FOREACH(sc, &list, entry) {
			if (prev != NULL)
				ck_assert_int_lt(strcmp(prev->name,
				    sc->name), 0);
			ck_assert_ptr_nonnull(sc->text);
			ck_assert_ptr_nonnull(sc->path);
			ck_assert_uint_ge(sc->nactions, 1);
			prev = sc;
			nsvc++;
		}
		ck_assert_uint_ge(nsvc, 1);
		service_conf_list_free(&list);
	}
	free_names(v, n);
}
END_TEST

START_TEST(test_invalid_sets)
{
	struct service_conf_list	 list;
	struct config_errors		 errs;
	char				 base[PATH_MAX / 2], dir[PATH_MAX];
	char				 path[PATH_MAX + 16];
	char				**v, *want, *line, *save;
	size_t				 n, i, k;

	snprintf(base, sizeof(base), "%s/config/invalid", testdata());
	n = subdirs(base, &v);
	ck_assert_uint_ge(n, 25);
	for (i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", base, v[i]);
		snprintf(path, sizeof(path), "%s/expected", dir);
		want = slurp(path);
		memset(&errs, 0, sizeof(errs));
		ck_assert_msg(config_load_dir(dir, &list, &errs) == -1,
		    "%s: loaded", v[i]);
		ck_assert(TAILQ_EMPTY(&list));
		k = 0;
		for (line = strtok_r(want, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			ck_assert_msg(k < errs.n, "%s: missing error \"%s\"",
			    v[i], line);
			ck_assert_msg(strcmp(errs.msg[k], line) == 0,
			    "%s: got \"%s\", want \"%s\"", v[i],
			    errs.msg[k], line);
			k++;
		}
		ck_assert_msg(k == errs.n, "%s: unexpected error \"%s\"",
		    v[i], k < errs.n ? errs.msg[k] : "");
		ck_assert_msg(k > 0, "%s: empty expected file", v[i]);
		ck_assert_uint_eq(errs.dropped, 0);
		config_errors_clear(&errs);
		free(want);
	}
	free_names(v, n);
}
END_TEST

START_TEST(test_spec_example)
{
	struct service_conf_list	 list;
	struct config_errors		 errs;
	struct service_conf		*sc;
	struct action_conf		*a;
	struct probe_conf		*p;
	char				 dir[PATH_MAX];
	size_t				 i;
	int				 nofile = 0, core = 0;

	memset(&errs, 0, sizeof(errs));
	snprintf(dir, sizeof(dir), "%s/config/valid/spec-example",
	    testdata());
	ck_assert_int_eq(config_load_dir(dir, &list, &errs), 0);
	ck_assert_ptr_null(service_conf_find(&list, "nope"));
	ck_assert_ptr_nonnull(service_conf_find(&list, "db"));
	sc = service_conf_find(&list, "web");
	ck_assert_ptr_nonnull(sc);
	ck_assert_str_eq(sc->name, "web");
	ck_assert_str_eq(sc->description, "demo web app");
	ck_assert_int_eq(sc->autostart, 1);
	ck_assert_uint_eq(sc->after.n, 1);
	ck_assert_str_eq(sc->after.v[0], "db");
	ck_assert_ptr_null(sc->after.v[1]);
	ck_assert_uint_eq(sc->logs_max_bytes, 4194304);
	ck_assert_uint_eq(sc->logs_keep_restarts, 5);
	ck_assert_ptr_nonnull(strstr(sc->path, "spec-example/web.json"));
	ck_assert_uint_eq(sc->textlen, strlen(sc->text));
	ck_assert_ptr_nonnull(strstr(sc->text, "// start when herod"));

	ck_assert_uint_eq(sc->nactions, 2);
	a = action_conf_find(sc, "migrate");
	ck_assert_ptr_eq(a, &sc->actions[0]);
	ck_assert_int_eq(a->kind, KIND_ONESHOT);
	ck_assert_int_eq(a->ready_mode, READY_NONE);
	ck_assert_int_eq(a->ready_mode_set, 0);
	ck_assert_uint_eq(a->exec.n, 1);

	a = action_conf_find(sc, "server");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_null(action_conf_find(sc, "nope"));
	ck_assert_int_eq(a->kind, KIND_PROCESS);
	ck_assert_uint_eq(a->after.n, 1);
	ck_assert_str_eq(a->after.v[0], "migrate");
	ck_assert_uint_eq(a->exec.n, 3);
	ck_assert_str_eq(a->exec.v[0], "/srv/web/bin/server");
	ck_assert_str_eq(a->exec.v[2], "8080");
	ck_assert_ptr_null(a->exec.v[3]);
	ck_assert_str_eq(a->user, "www-data");
	ck_assert_str_eq(a->group, "www-data");
	ck_assert_str_eq(a->workdir, "/srv/web");
	ck_assert_uint_eq(a->nenv, 1);
	ck_assert_str_eq(a->env[0].key, "PORT");
	ck_assert_str_eq(a->env[0].val, "8080");
	ck_assert_int_eq(a->umask, 022);
	ck_assert_uint_eq(a->nrlimits, 2);
	for (i = 0; i < a->nrlimits; i++) {
		if (a->rlimits[i].resource == RLIMIT_NOFILE) {
			ck_assert_uint_eq(a->rlimits[i].value, 65536);
			nofile = 1;
		} else if (a->rlimits[i].resource == RLIMIT_CORE) {
			ck_assert_uint_eq(a->rlimits[i].value, 0);
			core = 1;
		}
	}
	ck_assert(nofile && core);
	ck_assert_int_eq(a->restart_policy, RESTART_ALWAYS);
	ck_assert_uint_eq(a->restart_delay_ms, 100);
	ck_assert_uint_eq(a->restart_max_delay_ms, 30000);
	ck_assert_uint_eq(a->restart_max, 0);
	ck_assert_uint_eq(a->restart_window_s, 60);
	ck_assert_int_eq(a->stop_signal, SIGTERM);
	ck_assert_uint_eq(a->stop_timeout_ms, 10000);
	ck_assert_int_eq(a->singleton, 1);
	ck_assert_str_eq(a->pidfile, "/run/web.pid");
	ck_assert_int_eq(a->kill_others, 0);
	ck_assert_uint_eq(a->sockets.n, 1);
	ck_assert_str_eq(a->sockets.v[0], "$HERO_SOCKET_DIR/rpc.sock");
	ck_assert_uint_eq(a->ntcp_ports, 1);
	ck_assert_uint_eq(a->tcp_ports[0], 8080);
	ck_assert_int_eq(a->ready_mode, READY_NOTIFY);
	ck_assert_int_eq(a->ready_mode_set, 1);
	ck_assert_uint_eq(a->ready_timeout_ms, 30000);
	ck_assert_int_eq(a->ready_fd, 3);
	ck_assert_uint_eq(a->watchdog_ms, 0);

	ck_assert_uint_eq(sc->nprobes, 1);
	p = probe_conf_find(sc, "health");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(probe_conf_find(sc, "nope"));
	ck_assert_int_eq(p->kind, PROBE_HTTP);
	ck_assert_str_eq(p->target, "unix:$HERO_SOCKET_DIR/rpc.sock");
	ck_assert_str_eq(p->path, "/health");
	ck_assert_int_eq(p->expect_lo, 200);
	ck_assert_int_eq(p->expect_hi, 399);
	ck_assert_uint_eq(p->interval_ms, 5000);
	ck_assert_uint_eq(p->timeout_ms, 1000);
	ck_assert_uint_eq(p->grace_ms, 10000);
	ck_assert_uint_eq(p->failure_threshold, 3);
	ck_assert_uint_eq(p->success_threshold, 1);
	ck_assert_int_eq(p->on_failure, ONFAIL_RESTART);
	ck_assert_uint_eq(p->actions.n, 1);
	ck_assert_str_eq(p->actions.v[0], "server");

	sc = service_conf_find(&list, "db");
	ck_assert_int_eq(sc->actions[0].stop_signal, SIGINT);
	ck_assert_int_eq(sc->actions[0].ready_mode, READY_PROBE);
	service_conf_list_free(&list);
}
END_TEST

START_TEST(test_defaults)
{
	struct service_conf	*sc;
	struct action_conf	*a;

	sc = parse_ok("min", "{\"name\":\"min\",\"actions\":"
	    "[{\"name\":\"a\",\"exec\":[\"true\"]}]}");
	ck_assert_ptr_null(sc->description);
	ck_assert_int_eq(sc->autostart, 1);
	ck_assert_uint_eq(sc->after.n, 0);
	ck_assert_uint_eq(sc->nprobes, 0);
	ck_assert_uint_eq(sc->logs_max_bytes, 4 * 1024 * 1024);
	ck_assert_uint_eq(sc->logs_keep_restarts, 5);
	ck_assert_str_eq(sc->path, "min.json");
	a = &sc->actions[0];
	ck_assert_int_eq(a->kind, KIND_PROCESS);
	ck_assert_str_eq(a->exec.v[0], "true");
	ck_assert_ptr_null(a->user);
	ck_assert_ptr_null(a->group);
	ck_assert_ptr_null(a->workdir);
	ck_assert_uint_eq(a->nenv, 0);
	ck_assert_int_eq(a->umask, -1);
	ck_assert_uint_eq(a->nrlimits, 0);
	ck_assert_uint_eq(a->after.n, 0);
	ck_assert_int_eq(a->restart_policy, RESTART_ON_FAILURE);
	ck_assert_uint_eq(a->restart_delay_ms, 100);
	ck_assert_uint_eq(a->restart_max_delay_ms, 30000);
	ck_assert_uint_eq(a->restart_max, 0);
	ck_assert_uint_eq(a->restart_window_s, 60);
	ck_assert_int_eq(a->stop_signal, SIGTERM);
	ck_assert_uint_eq(a->stop_timeout_ms, 10000);
	ck_assert_int_eq(a->singleton, 0);
	ck_assert_ptr_null(a->pidfile);
	ck_assert_int_eq(a->kill_others, 0);
	ck_assert_uint_eq(a->sockets.n, 0);
	ck_assert_uint_eq(a->ntcp_ports, 0);
	ck_assert_int_eq(a->ready_mode, READY_NONE);
	ck_assert_int_eq(a->ready_mode_set, 0);
	ck_assert_uint_eq(a->ready_timeout_ms, 30000);
	ck_assert_int_eq(a->ready_fd, 3);
	ck_assert_uint_eq(a->watchdog_ms, 0);
	service_conf_free(sc);

	/* a larger delay_ms alone raises the cap with it */
	sc = parse_ok("d", "{\"name\":\"d\",\"actions\":[{\"name\":\"a\","
	    "\"exec\":[\"true\"],\"restart\":{\"delay_ms\":60000}}]}");
	ck_assert_uint_eq(sc->actions[0].restart_delay_ms, 60000);
	ck_assert_uint_eq(sc->actions[0].restart_max_delay_ms, 60000);
	service_conf_free(sc);
}
END_TEST

START_TEST(test_ready_default)
{
	struct service_conf	*sc;

	/* probes cover every process action unless "actions" says */
	sc = parse_ok("p", "{\"name\":\"p\",\"actions\":["
	    "{\"name\":\"a\",\"exec\":[\"x\"]},"
	    "{\"name\":\"b\",\"exec\":[\"x\"]},"
	    "{\"name\":\"o\",\"kind\":\"oneshot\",\"exec\":[\"x\"]}],"
	    "\"probes\":[{\"name\":\"t\",\"kind\":\"tcp\","
	    "\"target\":\"127.0.0.1:1\"}]}");
	ck_assert_int_eq(sc->actions[0].ready_mode, READY_PROBE);
	ck_assert_int_eq(sc->actions[1].ready_mode, READY_PROBE);
	ck_assert_int_eq(sc->actions[2].ready_mode, READY_NONE);
	ck_assert_int_eq(sc->actions[0].ready_mode_set, 0);
	service_conf_free(sc);

	sc = parse_ok("p", "{\"name\":\"p\",\"actions\":["
	    "{\"name\":\"a\",\"exec\":[\"x\"]},"
	    "{\"name\":\"b\",\"exec\":[\"x\"]}],"
	    "\"probes\":[{\"name\":\"t\",\"kind\":\"tcp\","
	    "\"target\":\"127.0.0.1:1\",\"actions\":[\"b\"]}]}");
	ck_assert_int_eq(sc->actions[0].ready_mode, READY_NONE);
	ck_assert_int_eq(sc->actions[1].ready_mode, READY_PROBE);
	service_conf_free(sc);
}
END_TEST

START_TEST(test_probe_defaults)
{
	struct service_conf	*sc;
	struct probe_conf	*p;

	sc = parse_ok("p", "{\"name\":\"p\",\"actions\":["
	    "{\"name\":\"a\",\"exec\":[\"x\"]}],\"probes\":["
	    "{\"name\":\"h\",\"kind\":\"http\",\"target\":\"[::1]:80\"},"
	    "{\"name\":\"j\",\"kind\":\"jsonrpc\",\"target\":\"h:1\"},"
	    "{\"name\":\"k\",\"kind\":\"jsonrpc\",\"target\":\"h:1\","
	    "\"transport\":\"http\"},"
	    "{\"name\":\"e\",\"kind\":\"exec\",\"exec\":[\"/bin/check\"]}]}");
	p = probe_conf_find(sc, "h");
	ck_assert_str_eq(p->path, "/");
	ck_assert_str_eq(p->target, "[::1]:80");
	ck_assert_int_eq(p->expect_lo, 200);
	ck_assert_int_eq(p->expect_hi, 399);
	ck_assert_ptr_null(p->method);
	ck_assert_uint_eq(p->interval_ms, 5000);
	ck_assert_uint_eq(p->timeout_ms, 1000);
	ck_assert_uint_eq(p->grace_ms, 0);
	ck_assert_uint_eq(p->failure_threshold, 3);
	ck_assert_uint_eq(p->success_threshold, 1);
	ck_assert_int_eq(p->on_failure, ONFAIL_RESTART);
	ck_assert_uint_eq(p->actions.n, 0);
	p = probe_conf_find(sc, "j");
	ck_assert_str_eq(p->method, "rpc.ping");
	ck_assert_int_eq(p->transport, TRANSPORT_LINE);
	ck_assert_ptr_null(p->path);
	p = probe_conf_find(sc, "k");
	ck_assert_int_eq(p->transport, TRANSPORT_HTTP);
	ck_assert_str_eq(p->path, "/rpc");
	p = probe_conf_find(sc, "e");
	ck_assert_int_eq(p->kind, PROBE_EXEC);
	ck_assert_ptr_null(p->target);
	ck_assert_str_eq(p->exec.v[0], "/bin/check");
	service_conf_free(sc);
}
END_TEST

START_TEST(test_rlimits)
{
	struct service_conf	*sc;
	struct action_conf	*a;

	sc = parse_ok("r", "{\"name\":\"r\",\"actions\":[{\"name\":\"a\","
	    "\"exec\":[\"x\"],\"rlimits\":{\"nofile\":\"infinity\","
	    "\"as\":18446744073709551614,\"nice\":40,\"rtprio\":99}}]}");
	a = &sc->actions[0];
	ck_assert_uint_eq(a->nrlimits, 4);
	ck_assert_int_eq(a->rlimits[0].resource, RLIMIT_NOFILE);
	ck_assert(a->rlimits[0].value == RLIM_INFINITY);
	ck_assert_int_eq(a->rlimits[1].resource, RLIMIT_AS);
	ck_assert(a->rlimits[1].value == UINT64_MAX - 1);
	ck_assert_int_eq(a->rlimits[2].resource, RLIMIT_NICE);
	ck_assert_uint_eq(a->rlimits[2].value, 40);
	ck_assert_int_eq(a->rlimits[3].resource, RLIMIT_RTPRIO);
	service_conf_free(sc);
}
END_TEST

START_TEST(test_parse_errors)
{
	parse_fails("web", "{\"name\":\"web\",\n\n  \"actions\": x}",
	    "web.json: line 3, column 14: lexical error: invalid char in "
	    "json text.");
	parse_fails("web", "", "web.json: empty file");
	parse_fails("web", "null", "web.json: expected a JSON object at the "
	    "top level");
	parse_fails("web", "{\"name\":\"web\"}",
	    "web.json: actions: missing (required)");
	parse_fails("web", "{\"actions\":[{\"name\":\"a\",\"exec\":[\"x\"]}]}",
	    "web.json: name: missing (required)");
	/* no expected name: any valid name is accepted */
	{
		struct config_errors	 errs;
		struct service_conf	*sc;
		const char		*t = "{\"name\":\"other\","
		    "\"actions\":"
		    "[{\"name\":\"a\",\"exec\":[\"x\"]}]}";

		memset(&errs, 0, sizeof(errs));
		sc = config_parse_service("x.json", NULL, t, strlen(t), &errs);
		ck_assert_ptr_nonnull(sc);
		ck_assert_str_eq(sc->name, "other");
		service_conf_free(sc);
	}
	parse_fails("web", "{\"name\":\"web\",\"actions\":[{\"name\":\"a\","
	    "\"exec\":[\"x\"],\"tcp_ports\":[80.0]}]}",
	    "web.json: actions[0].tcp_ports[0]: expected an integer");
	parse_fails("web", "{\"name\":\"web\",\"actions\":[{\"name\":\"a\","
	    "\"exec\":[\"x\"],\"env\":{\"A\\nB\":\"x\"}}]}",
	    "web.json: actions[0].env.A\\x0aB: invalid environment variable "
	    "name");
}
END_TEST

START_TEST(test_error_cap)
{
	struct config_errors	 errs;
	struct service_conf	*sc;
	char			*t;
	size_t			 i, o = 0;

	t = malloc(64 * 1024);
	ck_assert_ptr_nonnull(t);
	o += snprintf(t + o, 64 * 1024 - o, "{\"name\":\"web\"");
	for (i = 0; i < 100; i++)
		o += snprintf(t + o, 64 * 1024 - o, ",\"k%zu\":1", i);
	o += snprintf(t + o, 64 * 1024 - o, ",\"actions\":[{\"name\":\"a\","
	    "\"exec\":[\"x\"]}]}");
	memset(&errs, 0, sizeof(errs));
	sc = config_parse_service("web.json", "web", t, o, &errs);
	ck_assert_ptr_null(sc);
	ck_assert_uint_eq(errs.n, CONFIG_MAX_ERRORS);
	ck_assert_uint_eq(errs.dropped, 100 - CONFIG_MAX_ERRORS);
	ck_assert_str_eq(errs.msg[0], "web.json: k0: unknown key");
	config_errors_clear(&errs);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_uint_eq(errs.dropped, 0);
	free(t);
}
END_TEST

START_TEST(test_load_dir_files)
{
	struct service_conf_list	 list;
	struct config_errors		 errs;
	char				 dir[] = "/tmp/test_config.XXXXXX";
	char				 path[PATH_MAX];
	char				 want[PATH_MAX + 64];
	const char			*ok = "{\"name\":\"ok\",\"actions\":"
	    "[{\"name\":\"a\",\"exec\":[\"x\"]}]}";
	FILE				*f;
	size_t				 i;

	ck_assert_ptr_nonnull(mkdtemp(dir));

	/* an empty directory is a valid, empty set */
	memset(&errs, 0, sizeof(errs));
	ck_assert_int_eq(config_load_dir(dir, &list, &errs), 0);
	ck_assert(TAILQ_EMPTY(&list));

	snprintf(path, sizeof(path), "%s/ok.json", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(ok, f);
	fclose(f);
	ck_assert_int_eq(config_load_dir(dir, &list, &errs), 0);
	ck_assert_ptr_nonnull(service_conf_find(&list, "ok"));
	service_conf_list_free(&list);

	/* a file over the size cap */
	snprintf(path, sizeof(path), "%s/big.json", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (i = 0; i < CONFIG_MAX_FILE + 1; i++)
		fputc(' ', f);
	fclose(f);
	ck_assert_int_eq(config_load_dir(dir, &list, &errs), -1);
	ck_assert(TAILQ_EMPTY(&list));
	ck_assert_uint_eq(errs.n, 1);
	snprintf(want, sizeof(want), "big.json: file too large (%d bytes, "
	    "at most %d)", CONFIG_MAX_FILE + 1, CONFIG_MAX_FILE);
	ck_assert_str_eq(errs.msg[0], want);
	config_errors_clear(&errs);
	unlink(path);

	/* the same through config_parse_service */
	ck_assert_ptr_null(config_parse_service("ok.json", "ok", ok,
	    CONFIG_MAX_FILE + 1, &errs));
	ck_assert_uint_eq(errs.n, 1);
	config_errors_clear(&errs);

	snprintf(path, sizeof(path), "%s/ok.json", dir);
	unlink(path);
	ck_assert_int_eq(rmdir(dir), 0);

	/* a missing directory */
	ck_assert_int_eq(config_load_dir(dir, &list, &errs), -1);
	ck_assert_uint_eq(errs.n, 1);
	snprintf(want, sizeof(want), "%s: %s", dir, strerror(ENOENT));
	ck_assert_str_eq(errs.msg[0], want);
	config_errors_clear(&errs);
}
END_TEST

START_TEST(test_check_set)
{
	struct service_conf_list	 list;
	struct config_errors		 errs;
	struct service_conf		*a, *b;

	TAILQ_INIT(&list);
	memset(&errs, 0, sizeof(errs));
	a = parse_ok("a", "{\"name\":\"a\",\"after\":[\"b\"],\"actions\":"
	    "[{\"name\":\"m\",\"exec\":[\"x\"]}]}");
	b = parse_ok("b", "{\"name\":\"b\",\"actions\":"
	    "[{\"name\":\"m\",\"exec\":[\"x\"]}]}");
	TAILQ_INSERT_TAIL(&list, a, entry);
	ck_assert_int_eq(config_check_set(&list, &errs), -1);
	ck_assert_str_eq(errs.msg[0],
	    "a.json: after[0]: unknown service \"b\"");
	config_errors_clear(&errs);
	TAILQ_INSERT_TAIL(&list, b, entry);
	ck_assert_int_eq(config_check_set(&list, &errs), 0);
	ck_assert_uint_eq(errs.n, 0);
	service_conf_list_free(&list);
	ck_assert(TAILQ_EMPTY(&list));
}
END_TEST

/* Not TAILQ_INSERT_TAIL(list, f(), entry): it evaluates f() twice. */
static void
add(struct service_conf_list *list, struct service_conf *sc)
{
	TAILQ_INSERT_TAIL(list, sc, entry);
}

/* A service with one action "m" declaring ports and sockets (JSON). */
static struct service_conf *
claimer(const char *name, const char *ports, const char *sockets)
{
	char	 t[1024];

	snprintf(t, sizeof(t), "{\"name\":\"%s\",\"actions\":[{\"name\":"
	    "\"m\",\"exec\":[\"x\"],\"tcp_ports\":[%s],\"sockets\":[%s]}]}",
	    name, ports, sockets);
	return parse_ok(name, t);
}

START_TEST(test_claims_sockets)
{
	struct service_conf_list	 list;
	struct config_errors		 errs;

	TAILQ_INIT(&list);
	memset(&errs, 0, sizeof(errs));
	/* the same text in two services expands to two paths */
	add(&list, claimer("c", "", "\"$HERO_SOCKET_DIR/rpc.sock\""));
	add(&list, claimer("a", "",
	    "\"$HERO_SOCKET_DIR/rpc.sock\",\"/tmp/${HERO_ACTION}.sock\""));
	ck_assert_int_eq(config_check_set(&list, &errs), 0);
	ck_assert_uint_eq(errs.n, 0);
	/* a literal path equal to a's expanded one, and a plain one */
	add(&list, claimer("b", "",
	    "\"/tmp/b.sock\",\"/run/herod/sockets/a/rpc.sock\""));
	add(&list, claimer("d", "", "\"/tmp/m.sock\",\"/tmp/b.sock\""));
	ck_assert_int_eq(config_check_set(&list, &errs), -1);
	ck_assert_uint_eq(errs.n, 3);
	ck_assert_str_eq(errs.msg[0],
	    "b.json: actions[0].sockets[1]: also declared by a/m");
	ck_assert_str_eq(errs.msg[1],
	    "d.json: actions[0].sockets[0]: also declared by a/m");
	ck_assert_str_eq(errs.msg[2],
	    "d.json: actions[0].sockets[1]: also declared by b/m");
	config_errors_clear(&errs);
	service_conf_list_free(&list);
}
END_TEST

START_TEST(test_claims_ports)
{
	struct service_conf_list	 list;
	struct config_errors		 errs;

	TAILQ_INIT(&list);
	memset(&errs, 0, sizeof(errs));
	add(&list, claimer("a", "8080,8081", ""));
	add(&list, claimer("b", "9090", ""));
	ck_assert_int_eq(config_check_set(&list, &errs), 0);
	ck_assert_uint_eq(errs.n, 0);
	/* the first port in c's order that a also declares */
	add(&list, claimer("c", "7000,8081,8080", "\"/tmp/c.sock\""));
	add(&list, claimer("d", "9090,8080", "\"/tmp/c.sock\""));
	ck_assert_int_eq(config_check_set(&list, &errs), -1);
	ck_assert_uint_eq(errs.n, 5);
	ck_assert_str_eq(errs.msg[0],
	    "c.json: actions[0].tcp_ports: port 8081 is also declared by a/m");
	ck_assert_str_eq(errs.msg[1],
	    "d.json: actions[0].tcp_ports: port 8080 is also declared by a/m");
	ck_assert_str_eq(errs.msg[2],
	    "d.json: actions[0].tcp_ports: port 9090 is also declared by b/m");
	ck_assert_str_eq(errs.msg[3],
	    "d.json: actions[0].tcp_ports: port 8080 is also declared by c/m");
	ck_assert_str_eq(errs.msg[4],
	    "d.json: actions[0].sockets[0]: also declared by c/m");
	config_errors_clear(&errs);
	service_conf_list_free(&list);
}
END_TEST

START_TEST(test_claims_many)
{
	struct service_conf_list	 list;
	struct config_errors		 errs;
	char				 name[16], ports[16], socks[128];
	int				 i;

	TAILQ_INIT(&list);
	memset(&errs, 0, sizeof(errs));
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "s%04d", i);
		snprintf(ports, sizeof(ports), "%d", 10000 + i);
		snprintf(socks, sizeof(socks), "\"$HERO_SOCKET_DIR/s.sock\","
		    "\"/tmp/%d.sock\"", i);
		add(&list, claimer(name, ports, socks));
	}
	ck_assert_int_eq(config_check_set(&list, &errs), 0);
	ck_assert_uint_eq(errs.n, 0);
	add(&list, claimer("t", "20000,11999",
	    "\"/run/herod/sockets/s0007/s.sock\""));
	ck_assert_int_eq(config_check_set(&list, &errs), -1);
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msg[0],
	    "t.json: actions[0].sockets[0]: also declared by s0007/m");
	ck_assert_str_eq(errs.msg[1], "t.json: actions[0].tcp_ports: "
	    "port 11999 is also declared by s1999/m");
	config_errors_clear(&errs);
	service_conf_list_free(&list);
}
END_TEST

START_TEST(test_service_tree)
{
	struct service_conf_tree	 t;
	struct service_conf		*sc, *prev, *v[300];
	char				 name[16], big[100];
	size_t				 i, n;

	RB_INIT(&t);
	ck_assert_ptr_null(service_conf_lookup(&t, "s0"));
	ck_assert_ptr_null(service_conf_remove(&t, "s0"));
	for (i = 0; i < nitems(v); i++) {
		/* not in name order */
		snprintf(name, sizeof(name), "s%zu", (i * 7) % nitems(v));
		v[(i * 7) % nitems(v)] = sc = claimer(name, "", "");
		ck_assert_ptr_null(service_conf_insert(&t, sc));
	}
	for (i = 0; i < nitems(v); i++) {
		snprintf(name, sizeof(name), "s%zu", i);
		ck_assert_ptr_eq(service_conf_lookup(&t, name), v[i]);
	}
	ck_assert_ptr_null(service_conf_lookup(&t, "s300"));
	ck_assert_ptr_null(service_conf_lookup(&t, "s"));
	ck_assert_ptr_null(service_conf_lookup(&t, ""));
	memset(big, 's', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_ptr_null(service_conf_lookup(&t, big));

	/* a new definition replaces the old one */
	sc = claimer("s42", "4242", "");
	ck_assert_ptr_eq(service_conf_insert(&t, sc), v[42]);
	service_conf_free(v[42]);
	v[42] = sc;
	ck_assert_ptr_eq(service_conf_lookup(&t, "s42"), sc);
	ck_assert_uint_eq(sc->actions[0].ntcp_ports, 1);

	/* remove every other one */
	for (i = 0; i < nitems(v); i += 2) {
		snprintf(name, sizeof(name), "s%zu", i);
		ck_assert_ptr_eq(service_conf_remove(&t, name), v[i]);
		ck_assert_ptr_null(service_conf_remove(&t, name));
		service_conf_free(v[i]);
		v[i] = NULL;
	}
	for (i = 0; i < nitems(v); i++) {
		snprintf(name, sizeof(name), "s%zu", i);
		ck_assert_ptr_eq(service_conf_lookup(&t, name), v[i]);
	}
	/* in name order */
	n = 0;
	prev = NULL;
	RB_FOREACH(sc, service_conf_tree, &t) {
		if (prev != NULL)
			ck_assert_int_lt(strcmp(prev->name, sc->name), 0);
		prev = sc;
		n++;
	}
	ck_assert_uint_eq(n, nitems(v) / 2);
	service_conf_tree_free(&t);
	ck_assert(RB_EMPTY(&t));
	ck_assert_ptr_null(service_conf_lookup(&t, "s1"));
}
END_TEST

START_TEST(test_valid_name)
{
	char	 s[80];

	memset(s, 'a', sizeof(s));
	s[64] = '\0';
	ck_assert_int_eq(config_valid_name(s), 1);
	s[64] = 'a';
	s[65] = '\0';
	ck_assert_int_eq(config_valid_name(s), 0);
	ck_assert_int_eq(config_valid_name("a"), 1);
	ck_assert_int_eq(config_valid_name("0"), 1);
	ck_assert_int_eq(config_valid_name("web-1.2_x"), 1);
	ck_assert_int_eq(config_valid_name("9lives"), 1);
	ck_assert_int_eq(config_valid_name(""), 0);
	ck_assert_int_eq(config_valid_name(NULL), 0);
	ck_assert_int_eq(config_valid_name("Web"), 0);
	ck_assert_int_eq(config_valid_name("wEb"), 0);
	ck_assert_int_eq(config_valid_name("-web"), 0);
	ck_assert_int_eq(config_valid_name(".web"), 0);
	ck_assert_int_eq(config_valid_name("_web"), 0);
	ck_assert_int_eq(config_valid_name("web/x"), 0);
	ck_assert_int_eq(config_valid_name("we b"), 0);
	ck_assert_int_eq(config_valid_name("web\n"), 0);
	ck_assert_int_eq(config_valid_name("w\xc3\xa9"), 0);
}
END_TEST

static void
expand_is(const char *in, const char *want)
{
	char	*s;

	s = config_expand(in, "/run/herod/sockets/web", "web", "server");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, want);
	free(s);
}

START_TEST(test_expand)
{
	char	*big, *s;

	expand_is("", "");
	expand_is("plain", "plain");
	expand_is("$HERO_SOCKET_DIR/rpc.sock",
	    "/run/herod/sockets/web/rpc.sock");
	expand_is("${HERO_SOCKET_DIR}/rpc.sock",
	    "/run/herod/sockets/web/rpc.sock");
	expand_is("$HERO_SERVICE.$HERO_ACTION", "web.server");
	expand_is("${HERO_SERVICE}x${HERO_ACTION}", "webxserver");
	expand_is("$HERO_SERVICEX", "$HERO_SERVICEX");
	expand_is("$HOME/$PATH", "$HOME/$PATH");
	expand_is("${HOME}", "${HOME}");
	expand_is("${HERO_SERVICE", "${HERO_SERVICE");
	expand_is("$", "$");
	expand_is("a$$b$", "a$$b$");
	expand_is("$$HERO_SERVICE", "$web");
	expand_is("100$", "100$");

	/* NULL values are left unexpanded */
	s = config_expand("$HERO_SERVICE/$HERO_ACTION", NULL, "web", NULL);
	ck_assert_str_eq(s, "web/$HERO_ACTION");
	free(s);

	big = malloc(5000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 4095);
	big[4095] = '\0';
	s = config_expand(big, "/d", "w", "a");
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(strlen(s), 4095);
	free(s);
	memset(big, 'x', 4096);
	big[4096] = '\0';
	errno = 0;
	ck_assert_ptr_null(config_expand(big, "/d", "w", "a"));
	ck_assert_int_eq(errno, ENAMETOOLONG);
	/* growth by expansion counts too */
	memset(big, 'x', 4090);
	strlcpy(big + 4090, "$HERO_SERVICE", 5000 - 4090);
	errno = 0;
	ck_assert_ptr_null(config_expand(big, "/d", "longname", "a"));
	ck_assert_int_eq(errno, ENAMETOOLONG);
	free(big);
}
END_TEST

START_TEST(test_signals)
{
	ck_assert_int_eq(config_signal_byname("TERM"), SIGTERM);
	ck_assert_int_eq(config_signal_byname("SIGTERM"), SIGTERM);
	ck_assert_int_eq(config_signal_byname("sigterm"), SIGTERM);
	ck_assert_int_eq(config_signal_byname("KILL"), SIGKILL);
	ck_assert_int_eq(config_signal_byname("HUP"), SIGHUP);
	ck_assert_int_eq(config_signal_byname("SIGUSR1"), SIGUSR1);
	ck_assert_int_eq(config_signal_byname("INT"), SIGINT);
	ck_assert_int_eq(config_signal_byname("QUIT"), SIGQUIT);
	ck_assert_int_eq(config_signal_byname("WINCH"), SIGWINCH);
	ck_assert_int_eq(config_signal_byname("IOT"), SIGABRT);
	ck_assert_int_eq(config_signal_byname("15"), 15);
	ck_assert_int_eq(config_signal_byname("9"), 9);
	ck_assert_int_eq(config_signal_byname("RTMIN"), SIGRTMIN);
	ck_assert_int_eq(config_signal_byname("SIGRTMIN+2"), SIGRTMIN + 2);
	ck_assert_int_eq(config_signal_byname("RTMAX-1"), SIGRTMAX - 1);
	ck_assert_int_eq(config_signal_byname("RTMAX"), SIGRTMAX);
	ck_assert_int_eq(config_signal_byname("RTMIN-1"), -1);
	ck_assert_int_eq(config_signal_byname("0"), -1);
	ck_assert_int_eq(config_signal_byname("-15"), -1);
	ck_assert_int_eq(config_signal_byname("65"), -1);
	ck_assert_int_eq(config_signal_byname("15x"), -1);
	ck_assert_int_eq(config_signal_byname("SIG"), -1);
	ck_assert_int_eq(config_signal_byname("FOO"), -1);
	ck_assert_int_eq(config_signal_byname(""), -1);
	ck_assert_int_eq(config_signal_byname(NULL), -1);

	ck_assert_str_eq(config_signal_name(SIGTERM), "TERM");
	ck_assert_str_eq(config_signal_name(SIGKILL), "KILL");
	ck_assert_str_eq(config_signal_name(SIGABRT), "ABRT");
	ck_assert_str_eq(config_signal_name(SIGCHLD), "CHLD");
	ck_assert_str_eq(config_signal_name(SIGRTMIN), "RTMIN");
	ck_assert_str_eq(config_signal_name(SIGRTMIN + 3), "RTMIN+3");
	ck_assert_int_eq(config_signal_byname(config_signal_name(
	    SIGRTMIN + 3)), SIGRTMIN + 3);
	ck_assert_str_eq(config_signal_name(0), "0");
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(config_ready_mode_name(READY_NONE), "none");
	ck_assert_str_eq(config_ready_mode_name(READY_FILE), "file");
	ck_assert_str_eq(config_ready_mode_name(READY_NOTIFY), "notify");
	ck_assert_str_eq(config_ready_mode_name(READY_FD), "fd");
	ck_assert_str_eq(config_ready_mode_name(READY_PROBE), "probe");
	ck_assert_str_eq(config_kind_name(KIND_PROCESS), "process");
	ck_assert_str_eq(config_kind_name(KIND_ONESHOT), "oneshot");
}
END_TEST

START_TEST(test_nul_in_comment)
{
	struct config_errors	 errs;
	static const char	 text[] = "{\"name\":\"w\", /* a\0b */ "
	    "\"actions\":[{\"name\":\"m\",\"exec\":[\"/bin/x\"]}]}";

	memset(&errs, 0, sizeof(errs));
	ck_assert_ptr_null(config_parse_service("w.json", "w", text,
	    sizeof(text) - 1, &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0],
	    "w.json: line 1, column 18: NUL byte in the file");
	config_errors_clear(&errs);
}
END_TEST

START_TEST(test_canon)
{
	struct service_conf	*a, *b, *c, *d;
	char			 what[128];
	char			*x;

	a = parse_ok("w", "{\"name\":\"w\",\"description\":\"one\","
	    "\"actions\":[{\"name\":\"m\",\"exec\":[\"/bin/x\"]}]}");
	b = parse_ok("w", "/* c */ {\"actions\" : [ {\"exec\":[\"/bin/x\"],"
	    "\"name\":\"m\"} ],\n \"description\":\"two\", \"name\":\"w\"}");
	c = parse_ok("w", "{\"name\":\"w\",\"actions\":[{\"name\":\"m\","
	    "\"exec\":[\"/bin/y\"]}],\"autostart\":false}");
	d = parse_ok("w", "{\"name\":\"w\",\"actions\":[{\"name\":\"m\","
	    "\"exec\":[\"/bin/x\"],\"restart\":{\"delay_ms\":100}}]}");
	ck_assert(config_same_effect(a, b));
	ck_assert(!config_same_effect(a, c));
	/* an explicit default is still an edit of the file */
	ck_assert(!config_same_effect(a, d));
	config_changed_keys(a, c, what, sizeof(what));
	ck_assert_str_eq(what, "description, actions, autostart");
	config_changed_keys(a, b, what, sizeof(what));
	ck_assert_str_eq(what, "description");
	x = config_canon("{\"b\":1.50,\"a\":[true,null,\"s\"]}", 31);
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(x, "{\"a\":[true,null,\"s\"],\"b\":1.5}");
	free(x);
	ck_assert_ptr_null(config_canon("{\"a\":", 5));
	service_conf_free(a);
	service_conf_free(b);
	service_conf_free(c);
	service_conf_free(d);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("config");
	tc = tcase_create("config");
	tcase_add_test(tc, test_valid_sets);
	tcase_add_test(tc, test_invalid_sets);
	tcase_add_test(tc, test_spec_example);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_ready_default);
	tcase_add_test(tc, test_probe_defaults);
	tcase_add_test(tc, test_rlimits);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_error_cap);
	tcase_add_test(tc, test_load_dir_files);
	tcase_add_test(tc, test_check_set);
	tcase_add_test(tc, test_claims_sockets);
	tcase_add_test(tc, test_claims_ports);
	tcase_add_test(tc, test_claims_many);
	tcase_add_test(tc, test_service_tree);
	tcase_add_test(tc, test_valid_name);
	tcase_add_test(tc, test_expand);
	tcase_add_test(tc, test_signals);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_canon);
	tcase_add_test(tc, test_nul_in_comment);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
