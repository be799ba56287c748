/* JSON documents for list and status (docs/ARCHITECTURE.md). */
#include <sys/types.h>
#include <sys/wait.h>

#include <string.h>

#include <yajl/yajl_gen.h>

#include "parent.h"
#include "util.h"

void
gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

void
gen_kv(yajl_gen g, const char *k, const char *v)
{
	gen_str(g, k);
	gen_str(g, v ? v : "");
}

void
gen_kint(yajl_gen g, const char *k, long long v)
{
	gen_str(g, k);
	yajl_gen_integer(g, v);
}

static void
gen_exit(yajl_gen g, struct act *a)
{
	gen_str(g, "exit_status");
	if (!a->has_exit) {
		yajl_gen_null(g);
		return;
	}
	yajl_gen_map_open(g);
	if (!a->exit_known) {
		gen_str(g, "unknown");
		yajl_gen_bool(g, 1);
	} else if (WIFEXITED(a->wstatus))
		gen_kint(g, "code", WEXITSTATUS(a->wstatus));
	else if (WIFSIGNALED(a->wstatus))
		gen_kv(g, "signal", config_signal_name(WTERMSIG(a->wstatus)));
	yajl_gen_map_close(g);
}

/* full: status (everything); otherwise list (the SPEC's keys). */
static void
status_action(yajl_gen g, struct act *a, int full)
{
	int64_t	 up = 0;

	if (a->pid > 0 && a->started_ms > 0)
		up = now_ms() - a->started_ms;
	yajl_gen_map_open(g);
	gen_kv(g, "name", a->conf->name);
	gen_kv(g, "state", action_state_name(a->state));
	gen_kint(g, "pid", a->pid);
	gen_kint(g, "job_id", (long long)a->job_id);
	gen_kint(g, "restart_count", a->restart_count);
	gen_kint(g, "uptime_ms", up);
	gen_kv(g, "status", a->status_text);
	gen_str(g, "ready");
	yajl_gen_bool(g, a->ready);
	gen_kint(g, "logs_written", (long long)a->logs_written);
	gen_kint(g, "logs_dropped", (long long)a->logs_dropped);
	if (!full) {
		yajl_gen_map_close(g);
		return;
	}
	gen_kv(g, "kind", config_kind_name(a->conf->kind));
	gen_kv(g, "ready_mode", config_ready_mode_name(a->conf->ready_mode));
	gen_kv(g, "reason", a->reason);
	gen_kint(g, "main_pid", a->main_pid);
	gen_exit(g, a);
	yajl_gen_map_close(g);
}

static void
status_probe(yajl_gen g, struct probe_st *p)
{
	yajl_gen_map_open(g);
	gen_kv(g, "name", p->conf->name);
	gen_str(g, "ok");
	if (p->ok < 0)
		yajl_gen_null(g);
	else
		yajl_gen_bool(g, p->ok);
	gen_kint(g, "consecutive_failures", p->failures);
	gen_kv(g, "last_error", PROBE_ERROR(p));
	yajl_gen_map_close(g);
}

void
status_service(yajl_gen g, struct svc *s, int full)
{
	uint64_t	 dropped = 0;
	size_t		 i;

	yajl_gen_map_open(g);
	gen_kv(g, "name", s->name);
	gen_kv(g, "state", service_state_name(s->state));
	gen_kv(g, "reason", s->reason);
	if (full)
		gen_kv(g, "description", s->conf->description);
	gen_str(g, "actions");
	yajl_gen_array_open(g);
	for (i = 0; i < s->nacts; i++) {
		status_action(g, &s->acts[i], full);
		dropped += s->acts[i].logs_dropped;
	}
	yajl_gen_array_close(g);
	gen_str(g, "probes");
	yajl_gen_array_open(g);
	for (i = 0; i < s->nprobes; i++)
		status_probe(g, &s->probes[i]);
	yajl_gen_array_close(g);
	gen_kint(g, "logs_dropped", (long long)dropped);
	yajl_gen_map_close(g);
}
