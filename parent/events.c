/*
 * Structured events: every state change, spawn, exit and probe failure
 * or recovery is one JSON object, written to herod's log and sent to the
 * store (which keeps them for "heroctl events").
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <stdio.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "log.h"
#include "parent.h"
#include "util.h"

yajl_gen
event_begin(const char *event, const char *service)
{
	yajl_gen	 g;

	if ((g = yajl_gen_alloc(NULL)) == NULL)
		fatalx("%s: yajl_gen_alloc", __func__);
	yajl_gen_map_open(g);
	gen_kint(g, "ts", wall_ms());
	gen_kv(g, "event", event);
	gen_kv(g, "service", service);
	return g;
}

void
event_emit(yajl_gen g)
{
	const unsigned char	*buf;
	size_t			 len;

	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok) {
		log_event((const char *)buf);
		proc_send(PROC_STORE, M_STORE_EVENT, -1, buf, len);
	}
	yajl_gen_free(g);
}

void
event_state(struct act *a)
{
	yajl_gen	 g;

	g = event_begin("state", a->svc->name);
	gen_kv(g, "action", a->conf->name);
	gen_kv(g, "state", action_state_name(a->state));
	gen_kv(g, "reason", a->reason);
	gen_kint(g, "job_id", (long long)a->job_id);
	gen_kint(g, "restart_count", a->restart_count);
	event_emit(g);
}

void
event_service(struct svc *s)
{
	yajl_gen	 g;

	g = event_begin("service_state", s->name);
	gen_kv(g, "state", service_state_name(s->state));
	gen_kv(g, "reason", s->reason);
	event_emit(g);
}

void
event_spawn(struct act *a)
{
	yajl_gen	 g;

	g = event_begin("spawn", a->svc->name);
	gen_kv(g, "action", a->conf->name);
	gen_kint(g, "pid", a->pid);
	gen_kint(g, "job_id", (long long)a->job_id);
	gen_kint(g, "restart_count", a->restart_count);
	event_emit(g);
}

void
event_exit(struct act *a, int known, int st)
{
	yajl_gen	 g;
	char		 buf[64];

	if (!known)
		snprintf(buf, sizeof(buf), "unknown");
	else if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exited %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "signal %s",
		    config_signal_name(WTERMSIG(st)));
	else
		snprintf(buf, sizeof(buf), "status %d", st);
	g = event_begin("exit", a->svc->name);
	gen_kv(g, "action", a->conf->name);
	gen_kint(g, "pid", a->pid);
	gen_kv(g, "status", buf);
	gen_kint(g, "job_id", (long long)a->job_id);
	gen_kint(g, "restart_count", a->restart_count);
	event_emit(g);
}

void
event_probe(struct svc *s, struct probe_st *p, int ok)
{
	yajl_gen	 g;

	g = event_begin(ok ? "probe_ok" : "probe_failed", s->name);
	gen_kv(g, "probe", p->conf->name);
	if (!ok) {
		gen_kv(g, "error", PROBE_ERROR(p));
		gen_kint(g, "consecutive", p->failures);
	}
	event_emit(g);
}
