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

/* yajl_gen_integer() goes through sprintf: this is most of a list. */
void
gen_int(yajl_gen g, long long v)
{
	char			 buf[24], *p = buf + sizeof(buf);
	unsigned long long	 u = v < 0 ? -(unsigned long long)v :
				    (unsigned long long)v;

	do {
		*--p = '0' + u % 10;
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	yajl_gen_number(g, p, buf + sizeof(buf) - p);
}

void
gen_key_kv(yajl_gen g, const char *k, size_t klen, const char *v)
{
	yajl_gen_string(g, (const unsigned char *)k, klen);
	gen_str(g, v ? v : "");
}

void
gen_key_kint(yajl_gen g, const char *k, size_t klen, long long v)
{
	yajl_gen_string(g, (const unsigned char *)k, klen);
	gen_int(g, v);
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

/*
 * One action: the same keys for list and status (heroctl(8), JSON
 * OUTPUT; docs/ARCHITECTURE.md).
 */
static void
status_action(yajl_gen g, struct act *a)
{
	int64_t	 up = 0;

	if (a->pid > 0 && a->started_ms > 0)
		up = now_ms() - a->started_ms;
	yajl_gen_map_open(g);
	gen_kv(g, "name", a->conf->name);
	gen_kv(g, "kind", config_kind_name(a->conf->kind));
	gen_kv(g, "state", action_state_name(a->state));
	gen_kint(g, "pid", a->pid);
	gen_kint(g, "job_id", (long long)a->job_id);
	gen_kint(g, "restart_count", a->restart_count);
	gen_kint(g, "uptime_ms", up);
	gen_str(g, "ready");
	yajl_gen_bool(g, a->ready);
	gen_kv(g, "status", a->status_text);
	gen_kv(g, "reason", a->reason);
	gen_kint(g, "logs_written", (long long)a->logs_written);
	gen_kint(g, "logs_dropped", (long long)a->logs_dropped);
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
status_service(yajl_gen g, struct svc *s)
{
	uint64_t	 dropped = 0;
	size_t		 i;

	yajl_gen_map_open(g);
	gen_kv(g, "name", s->name);
	gen_kv(g, "description", s->conf->description);
	gen_kv(g, "state", service_state_name(s->state));
	gen_kv(g, "reason", s->reason);
	gen_str(g, "actions");
	yajl_gen_array_open(g);
	for (i = 0; i < s->nacts; i++) {
		status_action(g, &s->acts[i]);
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

/*
 * "workers": {"store": {"state":"restarting","pid":0,"deaths":5,
 * "last_exit":"exit 1","next_try_ms":7400,...}, ...}: a worker that
 * keeps dying is never hidden.
 */
void
status_workers(yajl_gen g)
{
	struct proc_info	 pi;
	int			 id;

	gen_str(g, "workers");
	yajl_gen_map_open(g);
	for (id = PROC_PARENT + 1; id < PROC_MAX; id++) {
		if (proc_info((enum proc_id)id, &pi) == -1)
			continue;
		gen_str(g, pi.name);
		yajl_gen_map_open(g);
		gen_kv(g, "state", pi.state);
		gen_kint(g, "pid", pi.pid);
		gen_kint(g, "uptime_ms", pi.uptime_ms);
		gen_kint(g, "deaths", pi.deaths);
		gen_kint(g, "deaths_total", pi.deaths_total);
		gen_kv(g, "last_exit", pi.last_exit);
		gen_kint(g, "next_try_ms", pi.next_try_ms);
		yajl_gen_map_close(g);
	}
	yajl_gen_map_close(g);
}
