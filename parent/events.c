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
 * Structured events: every state change, spawn, exit and probe failure
 * or recovery is one JSON object, written to herod's log and sent to the
 * store (which keeps them for "heroctl events").  So is every
 * administrative command and every signal herod sends to a process,
 * with who asked (an admin's uid and pid, a signal, or herod itself)
 * and why: the audit trail.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "log.h"
#include "msg.h"
#include "parent.h"
#include "util.h"

#define EVENT_NAMES_MAX	3072	/* bytes of names in a command event */

/* Who asks now (a command being run), and who asked for the shutdown. */
static struct actor	 actor_now = { .by = ACTOR_HEROD };
static struct actor	 actor_shutdown = { .by = ACTOR_HEROD };

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
		/* the store takes at most STORE_EVENT_MAX: never more */
		if (len <= STORE_EVENT_MAX)
			proc_send(PROC_STORE, M_STORE_EVENT, -1, buf, len);
		else
			log_warnx("%s: event of %zu bytes not recorded",
			    __func__, len);
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

static void
gen_actor(yajl_gen g, const struct actor *a)
{
	switch (a->by) {
	case ACTOR_HEROCTL:
		gen_kv(g, "by", "heroctl");
		gen_kint(g, "by_uid", (long long)a->uid);
		gen_kint(g, "by_pid", (long long)a->pid);
		break;
	case ACTOR_SIGNAL:
		gen_kv(g, "by", "signal");
		gen_kv(g, "by_signal", config_signal_name(a->signal));
		break;
	default:
		gen_kv(g, "by", "herod");
		break;
	}
}

/*
 * The command run now; what it stops is asked by it (saved: what was
 * asking before, for event_actor_restore()).
 */
void
event_actor_set(const struct actor *a, struct actor *saved)
{
	if (saved != NULL)
		*saved = actor_now;
	actor_now = *a;
}

void
event_actor_restore(const struct actor *saved)
{
	actor_now = *saved;
}

/* Who asks for a stop now: during a shutdown, whoever asked for it. */
const struct actor *
event_actor(void)
{
	return pt.shutting_down ? &actor_shutdown : &actor_now;
}

/*
 * An administrative command: {"event":"command","command":"stop",
 * "services":[...],"by":...}.  force, keep: the options that change
 * what it does.
 */
void
event_command(const struct actor *a, const char *cmd, char **names,
    size_t n, int force, int keep)
{
	yajl_gen	 g;
	size_t		 i, len;

	if (strcmp(cmd, "shutdown") == 0)
		actor_shutdown = *a;
	if ((g = yajl_gen_alloc(NULL)) == NULL)
		fatalx("%s: yajl_gen_alloc", __func__);
	yajl_gen_map_open(g);
	gen_kint(g, "ts", wall_ms());
	gen_kv(g, "event", "command");
	gen_kv(g, "command", cmd);
	gen_str(g, "services");
	yajl_gen_array_open(g);
	for (i = 0, len = 0; i < n; i++) {
		/* an event is at most STORE_EVENT_MAX bytes: the rest counted */
		if ((len += strlen(names[i]) + 3) > EVENT_NAMES_MAX)
			break;
		gen_str(g, names[i]);
	}
	yajl_gen_array_close(g);
	if (i < n)
		gen_kint(g, "services_omitted", (long long)(n - i));
	if (force) {
		gen_str(g, "force");
		yajl_gen_bool(g, 1);
	}
	if (keep) {
		gen_str(g, "keep_services");
		yajl_gen_bool(g, 1);
	}
	gen_actor(g, a);
	event_emit(g);
}

/*
 * A signal herod received that makes it act (its handler runs with the
 * signal as the actor; saved: for event_actor_restore()).
 */
void
event_signal(int sig, struct actor *saved)
{
	struct actor	 a;
	const char	*cmd;

	*saved = actor_now;
	switch (sig) {
	case SIGHUP:
		cmd = "reload";
		break;
	case SIGTERM:
	case SIGINT:
	case SIGPWR:
	case SIGUSR1:
		cmd = "shutdown";
		break;
	default:
		return;
	}
	memset(&a, 0, sizeof(a));
	a.by = ACTOR_SIGNAL;
	a.signal = sig;
	snprintf(a.what, sizeof(a.what), "SIG%s: %s", config_signal_name(sig),
	    cmd);
	event_command(&a, cmd, NULL, 0, 0, sig == SIGUSR1);
	actor_now = a;
}

static const char *
killed_cause(uint32_t cause)
{
	switch (cause) {
	case KILLED_STOP_TIMEOUT:
		return "stop_timeout";
	case KILLED_SINGLETON:
		return "singleton";
	case KILLED_KILL_OTHERS:
		return "kill_others";
	case KILLED_PRESPAWN_TIMEOUT:
		return "prespawn_timeout";
	default:
		return "stop";
	}
}

/*
 * M_KILLED: the spawner sent a signal.  The stop signal is asked for by
 * whoever stopped the action (kill_by, kill_cause, then_reason of the
 * instance); the rest is herod's own decision.
 */
void
event_killed(struct msg *m)
{
	static struct actor	 herod = { .by = ACTOR_HEROD };
	struct m_killed		 k;
	const struct actor	*by = &herod;
	const char		*cause, *why;
	struct act		*a;
	yajl_gen		 g;

	proto_copy(m, &k, sizeof(k));
	if (k.cause < KILLED_STOP || k.cause > KILLED_MAX || k.pid <= 0 ||
	    k.signal <= 0 || k.signal >= NSIG) {
		log_warnx("%s: %s/%s: bad kill report (cause %u, pid %d, "
		    "signal %d)", __func__, k.ref.service, k.ref.action,
		    k.cause, k.pid, k.signal);
		return;
	}
	cause = killed_cause(k.cause);
	why = k.why;
	a = act_find_ref(&k.ref, 1);
	if (k.cause == KILLED_STOP && a != NULL) {
		by = &a->kill_by;
		if (a->kill_cause != NULL)
			cause = a->kill_cause;
		why = a->then_reason;
	}
	g = event_begin("kill", k.ref.service);
	gen_kv(g, "action", k.ref.action);
	gen_kint(g, "job_id", (long long)k.ref.job_id);
	gen_kint(g, "restart_count", k.ref.restart_count);
	gen_kint(g, "pid", k.pid);
	gen_kv(g, "signal", config_signal_name(k.signal));
	gen_kv(g, "cause", cause);
	gen_actor(g, by);
	gen_kv(g, "why", why);
	event_emit(g);
}
