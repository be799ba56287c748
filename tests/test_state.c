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
 * Unit tests of the parent's state machine (parent/svc.c): messages from
 * the workers are fed in directly; messages to them are captured by the
 * proc_send() stub below.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "parent.h"
#include "util.h"

struct herod_env	 herod_env;
struct parent		 pt;

/* captured messages to the workers */
struct sent {
	enum proc_id	 to;
	uint32_t	 type;
	char		 data[1024];
	size_t		 len;
};
static struct sent	 sent[4096];
static size_t		 nsent;

int
proc_send(enum proc_id id, uint32_t type, int fd, const void *data,
    size_t len)
{
	if (nsent < nitems(sent)) {
		sent[nsent].to = id;
		sent[nsent].type = type;
		sent[nsent].len = len > sizeof(sent[0].data) ?
		    sizeof(sent[0].data) : len;
		if (data != NULL)
			memcpy(sent[nsent].data, data, sent[nsent].len);
		nsent++;
	}
	return 0;
}
int proc_ready(enum proc_id id) { return 1; }
void proc_flush(enum proc_id id) { }
int proc_info(enum proc_id id, struct proc_info *pi) { return -1; }
static int		 nstop_all;	/* proc_stop_all() calls */

void proc_stop_all(void) { nstop_all++; }
void proc_push_service(struct service_conf *sc) { }
void proc_push_remove(const char *n) { }
void control_state_changed(struct svc *s) { }
void control_started(void) { }

static struct sent *
last_sent(uint32_t type)
{
	size_t	 i;

	for (i = nsent; i > 0; i--)
		if (sent[i - 1].type == type)
			return &sent[i - 1];
	return NULL;
}

static size_t
count_sent(uint32_t type)
{
	size_t	 i, n = 0;

	for (i = 0; i < nsent; i++)
		if (sent[i].type == type)
			n++;
	return n;
}

static struct svc *
load(const char *json)
{
	struct config_errors	 errs;
	struct service_conf	*sc;
	size_t			 i;

	memset(&errs, 0, sizeof(errs));
	sc = config_parse_service("t.json", NULL, json, strlen(json), &errs);
	ck_assert_msg(sc != NULL, "parse: %s", errs.n ? errs.msg[0] : "?");
	/*
	 * Mode none is running at M_SPAWNED here: the settle window is a
	 * timer, tested through real processes (test_status_truth.py).
	 */
	for (i = 0; i < sc->nactions; i++)
		if (!sc->actions[i].settle_set)
			sc->actions[i].settle_ms = 0;
	return svc_add(sc);
}

static void
setup(void)
{
	struct svc	*s;

	log_init(1, 0);
	while ((s = RB_MIN(svc_tree, &pt.svcs)) != NULL)
		svc_remove(s);
	if (pt.base == NULL)
		pt.base = event_base_new();
	RB_INIT(&pt.svcs);
	ck_assert_uint_eq(pt.nlive, 0);
	ck_assert_int_eq(svc_check(), 0);
	pt.next_job_id = pt.next_run_id = 1;
	pt.started = 1;
	pt.shutting_down = pt.keep_services = 0;
	nsent = 0;
	nstop_all = 0;
}

/* every test ends with the counters and the index matching a recount */
static void
teardown(void)
{
	ck_assert_int_eq(svc_check(), 0);
}

static void
spawned(struct act *a, pid_t pid)
{
	struct m_spawned	 m;

	memset(&m, 0, sizeof(m));
	act_ref(a, &m.ref);
	m.pid = m.pgid = pid;
	act_spawned(&m);
	ck_assert_int_eq(svc_check(), 0);
}

static void
exited(struct act *a, int wstatus)
{
	struct m_exited	 e;

	memset(&e, 0, sizeof(e));
	act_ref(a, &e.ref);
	e.pid = a->pid;
	e.wstatus = wstatus;
	e.known = 1;
	act_exited(&e);
	ck_assert_int_eq(svc_check(), 0);
}

static void
ready(struct act *a, int yes, uint32_t restart_count)
{
	struct m_ready	 r;

	memset(&r, 0, sizeof(r));
	act_ref(a, &r.ref);
	r.ref.restart_count = restart_count;
	r.ready = yes;
	strlcpy(r.reason, "ready file removed", sizeof(r.reason));
	act_ready(&r);
}

#define ONE(extra) "{\"name\":\"t\",\"actions\":[{\"name\":\"m\"," \
	"\"exec\":[\"/bin/true\"]" extra "}]}"

START_TEST(start_running)
{
	struct svc	*s = load(ONE(""));
	struct act	*a = &s->acts[0];

	svc_start(s);
	ck_assert_int_eq(a->state, AS_STARTING);
	ck_assert_int_eq(s->state, SS_STARTING);
	ck_assert_ptr_nonnull(last_sent(M_SPAWN));
	spawned(a, 100);
	ck_assert_int_eq(a->state, AS_RUNNING);
	ck_assert_int_eq(s->state, SS_RUNNING);
	ck_assert_uint_eq(a->job_id, 1);
}
END_TEST

START_TEST(crash_restarts_same_job)
{
	struct svc	*s = load(ONE(",\"restart\":{\"delay_ms\":0}"));
	struct act	*a = &s->acts[0];
	uint64_t	 job;

	svc_start(s);
	spawned(a, 100);
	job = a->job_id;
	exited(a, 1 << 8);
	ck_assert_int_eq(a->state, AS_STARTING);	/* respawned at once */
	ck_assert_uint_eq(a->restart_count, 1);
	ck_assert_uint_eq(a->job_id, job);
	ck_assert_int_eq(s->state, SS_DEGRADED);
	spawned(a, 101);
	ck_assert_int_eq(s->state, SS_RUNNING);
}
END_TEST

START_TEST(restart_limit)
{
	struct svc	*s = load(ONE(",\"restart\":{\"delay_ms\":0,"
	    "\"max_restarts\":2}"));
	struct act	*a = &s->acts[0];
	int		 i;

	svc_start(s);
	for (i = 0; i < 3; i++) {
		spawned(a, 100 + i);
		exited(a, 1 << 8);
	}
	ck_assert_int_eq(a->state, AS_FAILED);
	ck_assert_uint_eq(a->restart_count, 2);
	ck_assert_int_eq(s->state, SS_FAILED);
	ck_assert_ptr_nonnull(strstr(s->reason, "restart limit"));
	ck_assert_int_eq(s->intent, INTENT_FAILED);
}
END_TEST

START_TEST(backoff_doubles)
{
	struct svc	*s = load(ONE(",\"restart\":{\"delay_ms\":1000,"
	    "\"max_delay_ms\":3000}"));
	struct act	*a = &s->acts[0];
	unsigned	 d1, d2, d3, d4;

	svc_start(s);
	spawned(a, 100);
	exited(a, 1 << 8);
	ck_assert_int_eq(a->state, AS_BACKOFF);
	ck_assert_int_eq(sscanf(strstr(a->reason, "restart in"),
	    "restart in %u", &d1), 1);
	a->restart_count++;	/* as the backoff timer would */
	svc_start(s);		/* no-op while in backoff */
	ck_assert_int_eq(a->state, AS_BACKOFF);
	a->state = AS_STARTING;
	a->spawn_pending = 1;
	spawned(a, 101);
	exited(a, 1 << 8);
	sscanf(strstr(a->reason, "restart in"), "restart in %u", &d2);
	a->state = AS_STARTING, a->spawn_pending = 1;
	spawned(a, 102);
	exited(a, 1 << 8);
	sscanf(strstr(a->reason, "restart in"), "restart in %u", &d3);
	a->state = AS_STARTING, a->spawn_pending = 1;
	spawned(a, 103);
	exited(a, 1 << 8);
	sscanf(strstr(a->reason, "restart in"), "restart in %u", &d4);
	ck_assert(d1 >= 1000 && d1 <= 1250);
	ck_assert(d2 >= 2000 && d2 <= 2500);
	ck_assert(d3 >= 3000 && d3 <= 3750);	/* capped */
	ck_assert(d4 >= 3000 && d4 <= 3750);
}
END_TEST

START_TEST(policy_never_and_exit_zero)
{
	struct svc	*s = load(ONE(",\"restart\":{\"policy\":\"never\"}"));
	struct svc	*z;
	struct act	*a = &s->acts[0];

	svc_start(s);
	spawned(a, 100);
	exited(a, 2 << 8);
	ck_assert_int_eq(a->state, AS_FAILED);
	ck_assert_int_eq(s->state, SS_FAILED);
	ck_assert_ptr_nonnull(strstr(s->reason, "status 2"));

	z = load("{\"name\":\"z\",\"actions\":[{\"name\":\"m\","
	    "\"exec\":[\"/bin/true\"]}]}");
	svc_start(z);
	spawned(&z->acts[0], 200);
	exited(&z->acts[0], 0);
	ck_assert_int_eq(z->acts[0].state, AS_EXITED);
	ck_assert_int_eq(z->state, SS_STOPPED);
	ck_assert_str_eq(z->reason, "m exited with status 0");
}
END_TEST

START_TEST(exec_failure_fails_at_once)
{
	struct svc	*s = load(ONE(",\"restart\":{\"policy\":\"always\"}"));
	struct act	*a = &s->acts[0];
	struct m_failed	 f;

	svc_start(s);
	memset(&f, 0, sizeof(f));
	act_ref(a, &f.ref);
	f.error = ENOENT;
	strlcpy(f.reason, "exec failed: No such file or directory",
	    sizeof(f.reason));
	act_spawn_failed(&f);
	ck_assert_int_eq(a->state, AS_FAILED);
	ck_assert_uint_eq(a->restart_count, 0);
	ck_assert_ptr_nonnull(strstr(s->reason, "No such file"));
}
END_TEST

START_TEST(two_actions_degraded)
{
	struct svc	*s = load("{\"name\":\"p\",\"actions\":["
	    "{\"name\":\"a\",\"exec\":[\"/x\"],\"restart\":{\"delay_ms\":50}},"
	    "{\"name\":\"b\",\"exec\":[\"/x\"]}]}");

	svc_start(s);
	spawned(&s->acts[0], 100);
	ck_assert_int_eq(s->state, SS_STARTING);
	spawned(&s->acts[1], 101);
	ck_assert_int_eq(s->state, SS_RUNNING);
	exited(&s->acts[0], SIGKILL);
	ck_assert_int_eq(s->state, SS_DEGRADED);
	ck_assert_ptr_nonnull(strstr(s->reason, "a restarting"));
	ck_assert_int_eq(s->acts[1].state, AS_RUNNING);
	ck_assert_int_eq(s->acts[1].pid, 101);
}
END_TEST

START_TEST(readiness_file)
{
	struct svc	*s = load(ONE(",\"ready\":{\"mode\":\"file\"}"));
	struct act	*a = &s->acts[0];

	svc_start(s);
	spawned(a, 100);
	ck_assert_int_eq(a->state, AS_STARTING);
	ck_assert_ptr_nonnull(last_sent(M_WATCH));
	ready(a, 1, 7);			/* another instance: ignored */
	ck_assert_int_eq(a->state, AS_STARTING);
	ready(a, 1, 0);
	ck_assert_int_eq(a->state, AS_RUNNING);
	ck_assert_int_eq(s->state, SS_RUNNING);
	ready(a, 0, 0);
	ck_assert_int_eq(a->state, AS_UNHEALTHY);
	ck_assert_int_eq(s->state, SS_DEGRADED);
	ck_assert_ptr_nonnull(strstr(s->reason, "ready file removed"));
	ready(a, 1, 0);
	ck_assert_int_eq(s->state, SS_RUNNING);
}
END_TEST

static void
probe(struct svc *s, int ok)
{
	struct m_probe_result	 r;

	memset(&r, 0, sizeof(r));
	strlcpy(r.service, s->name, sizeof(r.service));
	strlcpy(r.probe, "h", sizeof(r.probe));
	r.ok = ok;
	strlcpy(r.error, "empty reply", sizeof(r.error));
	svc_probe_result(&r);
}

#define PROBED(onfail) "{\"name\":\"w\",\"actions\":[{\"name\":\"m\"," \
	"\"exec\":[\"/x\"]}],\"probes\":[{\"name\":\"h\",\"kind\":\"tcp\"," \
	"\"target\":\"127.0.0.1:1\",\"on_failure\":\"" onfail "\"}]}"

START_TEST(probe_ready_then_warn)
{
	struct svc	*s = load(PROBED("warn"));
	struct act	*a = &s->acts[0];

	svc_start(s);
	spawned(a, 100);
	ck_assert_int_eq(a->state, AS_STARTING);	/* mode probe */
	ck_assert_ptr_nonnull(last_sent(M_PROBES_ENABLE));
	probe(s, 1);
	ck_assert_int_eq(s->state, SS_RUNNING);
	probe(s, 0);
	probe(s, 0);
	ck_assert_int_eq(s->state, SS_RUNNING);
	probe(s, 0);
	ck_assert_int_eq(s->state, SS_DEGRADED);
	ck_assert_str_eq(s->reason, "probe h failed 3 times: empty reply");
	ck_assert_uint_eq(count_sent(M_STOP), 0);	/* warn: no restart */
	probe(s, 1);
	ck_assert_int_eq(s->state, SS_RUNNING);
}
END_TEST

START_TEST(probe_restart)
{
	struct svc	*s = load(PROBED("restart"));
	struct act	*a = &s->acts[0];
	struct m_exited	 e;

	svc_start(s);
	spawned(a, 100);
	probe(s, 1);
	probe(s, 0);
	probe(s, 0);
	probe(s, 0);
	ck_assert_uint_eq(count_sent(M_STOP), 1);
	ck_assert_int_eq(a->state, AS_STOPPING);
	ck_assert_int_eq(s->state, SS_DEGRADED);
	memset(&e, 0, sizeof(e));
	act_ref(a, &e.ref);
	e.pid = 100;
	e.wstatus = SIGTERM;
	e.known = 1;
	act_exited(&e);
	ck_assert_int_eq(a->state, AS_BACKOFF);
	ck_assert_ptr_nonnull(strstr(a->reason, "probe h failed"));
}
END_TEST

START_TEST(oneshot_then_process)
{
	struct svc	*s = load("{\"name\":\"o\",\"actions\":["
	    "{\"name\":\"mig\",\"kind\":\"oneshot\",\"exec\":[\"/x\"]},"
	    "{\"name\":\"srv\",\"after\":[\"mig\"],\"exec\":[\"/x\"]}]}");

	svc_start(s);
	ck_assert_int_eq(s->acts[1].state, AS_WAITING);
	ck_assert_uint_eq(count_sent(M_SPAWN), 1);
	spawned(&s->acts[0], 100);
	ck_assert_int_eq(s->acts[0].state, AS_STARTING);
	exited(&s->acts[0], 0);
	ck_assert_int_eq(s->acts[0].state, AS_EXITED);
	ck_assert_int_eq(s->acts[1].state, AS_STARTING);
	spawned(&s->acts[1], 101);
	ck_assert_int_eq(s->state, SS_RUNNING);
}
END_TEST

START_TEST(stop_then_stopped)
{
	struct svc	*s = load(ONE(""));
	struct act	*a = &s->acts[0];

	svc_start(s);
	spawned(a, 100);
	svc_stop(s);
	ck_assert_int_eq(a->state, AS_STOPPING);
	ck_assert_int_eq(s->state, SS_STOPPING);
	exited(a, SIGTERM);
	ck_assert_int_eq(a->state, AS_STOPPED);
	ck_assert_int_eq(s->state, SS_STOPPED);
	ck_assert_str_eq(s->reason, "");
}
END_TEST

/* services for the dependency tests: NAME, waiting for the list AFTER */
static struct svc *
load_dep(const char *name, const char *after)
{
	char	 json[512];

	snprintf(json, sizeof(json), "{\"name\":\"%s\",\"after\":[%s],"
	    "\"autostart\":false,\"actions\":[{\"name\":\"m\","
	    "\"exec\":[\"/x\"]}]}", name, after);
	return load(json);
}

/* services of the M_SPAWN (or M_STOP) messages sent since *from */
static void
sent_services(uint32_t type, size_t *from, char *buf, size_t len)
{
	const struct m_ref	*r;

	buf[0] = '\0';
	for (; *from < nsent; (*from)++) {
		if (sent[*from].type != type)
			continue;
		r = (const struct m_ref *)sent[*from].data;
		if (buf[0] != '\0')
			strlcat(buf, " ", len);
		strlcat(buf, r->service, len);
	}
}

START_TEST(after_chain_start_order)
{
	struct svc	*a, *b, *c, *d;
	char		 got[256];
	size_t		 mark = 0;

	c = load_dep("c", "\"b\"");
	b = load_dep("b", "\"a\"");
	a = load_dep("a", "");
	d = load_dep("d", "\"a\",\"c\"");
	svc_start(d);
	svc_start(c);
	svc_start(b);
	svc_start(a);
	sent_services(M_SPAWN, &mark, got, sizeof(got));
	ck_assert_str_eq(got, "a");
	ck_assert_int_eq(b->acts[0].state, AS_WAITING);
	ck_assert_str_eq(b->acts[0].reason, "waiting for a");
	ck_assert_str_eq(d->acts[0].reason, "waiting for a");
	ck_assert_ptr_eq(dep_find("a")->svc, a);
	ck_assert_uint_eq(dep_find("a")->nedges, 2);	/* b and d */
	spawned(&a->acts[0], 100);
	sent_services(M_SPAWN, &mark, got, sizeof(got));
	ck_assert_str_eq(got, "b");
	ck_assert_str_eq(d->acts[0].reason, "waiting for c");
	spawned(&b->acts[0], 101);
	sent_services(M_SPAWN, &mark, got, sizeof(got));
	ck_assert_str_eq(got, "c");
	spawned(&c->acts[0], 102);
	sent_services(M_SPAWN, &mark, got, sizeof(got));
	ck_assert_str_eq(got, "d");
	spawned(&d->acts[0], 103);
	ck_assert_int_eq(d->state, SS_RUNNING);
	ck_assert_uint_eq(pt.nlive, 4);
	/* a restart of a does not touch what already runs */
	exited(&a->acts[0], SIGKILL);
	ck_assert_int_eq(b->acts[0].state, AS_RUNNING);
	ck_assert_uint_eq(pt.nlive, 3);
}
END_TEST

/* Many dependents of one service: each starts once, when it runs. */
START_TEST(after_fan_out)
{
	struct svc	*root, *v[300];
	char		 name[16];
	size_t		 i;

	root = load_dep("root", "");
	for (i = 0; i < nitems(v); i++) {
		snprintf(name, sizeof(name), "d%03zu", i);
		v[i] = load_dep(name, "\"root\"");
		svc_start(v[i]);
	}
	ck_assert_uint_eq(count_sent(M_SPAWN), 0);
	ck_assert_uint_eq(dep_find("root")->nedges, nitems(v));
	svc_start(root);
	ck_assert_uint_eq(count_sent(M_SPAWN), 1);
	spawned(&root->acts[0], 100);
	ck_assert_uint_eq(count_sent(M_SPAWN), 1 + nitems(v));
	for (i = 0; i < nitems(v); i++)
		ck_assert_int_eq(v[i]->acts[0].state, AS_STARTING);
	ck_assert_uint_eq(pt.nlive, 1 + nitems(v));
}
END_TEST

/*
 * Shutdown: dependents first, then what they wait for; the live counter
 * reaches zero with the last exit, and only then are the workers told.
 */
START_TEST(shutdown_dependents_first)
{
	struct svc	*a, *b, *c, *d;
	char		 got[256];
	size_t		 mark;

	a = load_dep("a", "");
	b = load_dep("b", "\"a\"");
	c = load_dep("c", "\"a\"");
	d = load_dep("d", "\"b\"");
	svc_start(a);
	spawned(&a->acts[0], 100);
	svc_start(b);
	spawned(&b->acts[0], 101);
	svc_start(c);
	spawned(&c->acts[0], 102);
	svc_start(d);			/* spawn pending when shutdown starts */
	ck_assert_uint_eq(pt.nlive, 4);
	mark = nsent;
	pt.shutting_down = 1;
	svc_stop_all();
	sent_services(M_STOP, &mark, got, sizeof(got));
	ck_assert_str_eq(got, "c d");
	ck_assert_uint_eq(dep_find("a")->nlive, 2);
	ck_assert(!svc_all_stopped());
	exited(&c->acts[0], SIGTERM);
	sent_services(M_STOP, &mark, got, sizeof(got));
	ck_assert_str_eq(got, "");	/* b still runs */
	spawned(&d->acts[0], 103);	/* arrives after its M_STOP */
	ck_assert_int_eq(d->acts[0].state, AS_STOPPING);
	ck_assert_uint_eq(pt.nlive, 3);
	exited(&d->acts[0], SIGTERM);
	sent_services(M_STOP, &mark, got, sizeof(got));
	ck_assert_str_eq(got, "b");
	exited(&b->acts[0], SIGTERM);
	sent_services(M_STOP, &mark, got, sizeof(got));
	ck_assert_str_eq(got, "a");
	ck_assert_uint_eq(pt.nlive, 1);
	ck_assert_int_eq(nstop_all, 0);
	ck_assert(!svc_all_stopped());
	exited(&a->acts[0], SIGTERM);
	ck_assert_uint_eq(pt.nlive, 0);
	ck_assert(svc_all_stopped());
	ck_assert_int_eq(nstop_all, 1);
	ck_assert_int_eq(a->state, SS_STOPPED);
}
END_TEST

/* A spawn that fails while shutting down counts down too. */
START_TEST(shutdown_spawn_failed)
{
	struct svc	*a, *b;
	struct m_failed	 f;

	a = load_dep("a", "");
	b = load_dep("b", "\"a\"");
	svc_start(a);
	spawned(&a->acts[0], 100);
	svc_start(b);
	pt.shutting_down = 1;
	svc_stop_all();
	ck_assert_uint_eq(count_sent(M_STOP), 1);	/* b */
	memset(&f, 0, sizeof(f));
	act_ref(&b->acts[0], &f.ref);
	f.error = ENOENT;
	act_spawn_failed(&f);
	ck_assert_int_eq(svc_check(), 0);
	ck_assert_int_eq(b->state, SS_STOPPED);
	ck_assert_uint_eq(count_sent(M_STOP), 2);	/* then a */
	ck_assert_int_eq(nstop_all, 0);
	exited(&a->acts[0], SIGTERM);
	ck_assert(svc_all_stopped());
	ck_assert_int_eq(nstop_all, 1);
}
END_TEST

static char	 confdir[64];

static void
write_conf(const char *name, const char *after)
{
	char	 path[128];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s.json", confdir, name);
	if (after == NULL) {
		ck_assert_int_eq(unlink(path), 0);
		return;
	}
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "{\"name\":\"%s\",\"after\":[%s],\"autostart\":false,"
	    "\"actions\":[{\"name\":\"m\",\"exec\":[\"/x\"],"
	    "\"ready\":{\"settle_ms\":0}}]}\n", name, after);
	fclose(f);
}

START_TEST(reload_changes_dependencies)
{
	struct svc	*a, *b;
	char		 got[256];
	size_t		 mark = 0;

	strlcpy(confdir, "/tmp/herod-test-state.XXXXXX", sizeof(confdir));
	ck_assert_ptr_nonnull(mkdtemp(confdir));
	strlcpy(herod_env.confdir, confdir, sizeof(herod_env.confdir));
	write_conf("a", "");
	write_conf("b", "\"a\"");
	ck_assert_int_eq(config_initial(), 0);
	a = svc_find("a");
	b = svc_find("b");
	svc_start(b);
	ck_assert_int_eq(b->acts[0].state, AS_WAITING);
	ck_assert_uint_eq(dep_find("a")->nedges, 1);

	/* b drops its dependency: it is replaced and starts at once */
	write_conf("b", "");
	ck_assert_int_eq(reload_config(NULL, NULL, 0), 0);
	ck_assert_int_eq(svc_check(), 0);
	ck_assert_uint_eq(dep_find("a")->nedges, 0);
	b = svc_find("b");
	sent_services(M_SPAWN, &mark, got, sizeof(got));
	ck_assert_str_eq(got, "b");
	spawned(&b->acts[0], 100);

	/* and gets it back while running: stopped, then waits for a */
	write_conf("b", "\"a\"");
	ck_assert_int_eq(reload_config(NULL, NULL, 0), 0);
	ck_assert_int_eq(svc_check(), 0);
	ck_assert_uint_eq(count_sent(M_STOP), 1);
	exited(&b->acts[0], SIGTERM);
	ck_assert_ptr_eq(svc_find("b"), b);
	ck_assert_int_eq(b->acts[0].state, AS_WAITING);
	ck_assert_uint_eq(dep_find("a")->nedges, 1);
	ck_assert_uint_eq(dep_find("a")->nlive, 0);
	svc_start(a);
	spawned(&a->acts[0], 101);
	sent_services(M_SPAWN, &mark, got, sizeof(got));
	ck_assert_str_eq(got, "a b");
	spawned(&b->acts[0], 102);
	ck_assert_uint_eq(dep_find("a")->nlive, 1);

	/* a goes, b no longer waits for it: both stop, a is dropped */
	write_conf("a", NULL);
	write_conf("b", "");
	ck_assert_int_eq(reload_config(NULL, NULL, 0), 0);
	ck_assert_int_eq(svc_check(), 0);
	ck_assert_ptr_eq(svc_find("a"), a);		/* until it stopped */
	ck_assert_int_eq(a->removing, 1);
	exited(&a->acts[0], SIGTERM);
	ck_assert_ptr_null(svc_find("a"));
	ck_assert_ptr_nonnull(dep_find("a"));		/* old b still waits */
	exited(&b->acts[0], SIGTERM);
	ck_assert_ptr_null(dep_find("a"));
	ck_assert_int_eq(b->acts[0].state, AS_STARTING);
	ck_assert_uint_eq(pt.nlive, 1);

	write_conf("b", NULL);
	rmdir(confdir);
}
END_TEST

int
main(void)
{
	Suite	*su = suite_create("state");
	TCase	*tc = tcase_create("core");
	SRunner	*sr;
	int	 nf;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, start_running);
	tcase_add_test(tc, crash_restarts_same_job);
	tcase_add_test(tc, restart_limit);
	tcase_add_test(tc, backoff_doubles);
	tcase_add_test(tc, policy_never_and_exit_zero);
	tcase_add_test(tc, exec_failure_fails_at_once);
	tcase_add_test(tc, two_actions_degraded);
	tcase_add_test(tc, readiness_file);
	tcase_add_test(tc, probe_ready_then_warn);
	tcase_add_test(tc, probe_restart);
	tcase_add_test(tc, oneshot_then_process);
	tcase_add_test(tc, stop_then_stopped);
	tcase_add_test(tc, after_chain_start_order);
	tcase_add_test(tc, after_fan_out);
	tcase_add_test(tc, shutdown_dependents_first);
	tcase_add_test(tc, shutdown_spawn_failed);
	tcase_add_test(tc, reload_changes_dependencies);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
