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
 * The service state machine.  Action states move on messages from the
 * workers (spawned, exited, ready, probe results); the service state is
 * computed from its actions and probes, never from a bare pid.
 */
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "herod.h"
#include "log.h"
#include "msg.h"
#include "parent.h"
#include "util.h"

#define RESTART_RING_MAX	1024
#define LOAD_TIMEOUT_S		10
#ifndef SYS_pidfd_open
#define SYS_pidfd_open		434
#endif

static int	 store_loaded;
static struct event *ev_load_timeout;

static void	act_spawn(struct act *);
static void	act_set(struct act *, enum action_state, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	act_kill(struct act *, int, const char *, const char *);
static void	act_failure(struct act *, const char *);
static void	act_schedule_restart(struct act *, const char *);
static void	act_main_clear(struct act *);
static void	svc_kick(struct dep_node *);
static void	svc_stop_progress(void);
static void	maybe_start(void);

/* Shutdown: services whose live-dependent count may have hit zero. */
static TAILQ_HEAD(, svc) stopq = TAILQ_HEAD_INITIALIZER(stopq);

static int
svc_cmp(struct svc *a, struct svc *b)
{
	return strcmp(a->name, b->name);
}
RB_GENERATE(svc_tree, svc, entry, svc_cmp);

struct svc *
svc_find(const char *name)
{
	struct svc	 key;

	if (strlcpy(key.name, name, sizeof(key.name)) >= sizeof(key.name))
		return NULL;
	return RB_FIND(svc_tree, &pt.svcs, &key);
}

/*
 * An action is live while it has a process or a spawn on its way.  Call
 * after every change of pid or spawn_pending: the per-service and global
 * counters, and the dependents index, follow.
 */
static void
act_sync_live(struct act *a)
{
	struct svc	*s = a->svc;
	int		 live = a->pid > 0 || a->spawn_pending;

	if (live == a->live)
		return;
	a->live = live;
	if (live) {
		pt.nlive++;
		if (s->nlive++ == 0)
			deps_live(s, 1);
		return;
	}
	if (pt.nlive == 0 || s->nlive == 0)
		fatalx("%s: %s: live count underflow", __func__, s->name);
	pt.nlive--;
	if (--s->nlive == 0)
		deps_live(s, 0);
}

static void
svc_bind_conf(struct svc *s, struct service_conf *sc)
{
	size_t	 i, ring;

	s->conf = sc;
	s->nacts = sc->nactions;
	if ((s->acts = calloc(s->nacts, sizeof(*s->acts))) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < s->nacts; i++) {
		s->acts[i].svc = s;
		s->acts[i].conf = &sc->actions[i];
		s->acts[i].main_pidfd = -1;
		s->acts[i].cur_delay_ms = sc->actions[i].restart_delay_ms;
		ring = sc->actions[i].restart_max + 1;
		if (ring > RESTART_RING_MAX)
			ring = RESTART_RING_MAX;
		s->acts[i].restart_times = calloc(ring, sizeof(int64_t));
		if (s->acts[i].restart_times == NULL)
			fatal("%s: calloc", __func__);
	}
	s->nprobes = sc->nprobes;
	s->probes = calloc(s->nprobes ? s->nprobes : 1, sizeof(*s->probes));
	if (s->probes == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < s->nprobes; i++) {
		s->probes[i].conf = &sc->probes[i];
		s->probes[i].ok = -1;
	}
	deps_link(s);
}

static void
svc_unbind_conf(struct svc *s)
{
	size_t	 i;

	for (i = 0; i < s->nacts; i++) {
		/* only a torn-down test removes a live service */
		s->acts[i].pid = 0;
		s->acts[i].spawn_pending = 0;
		act_sync_live(&s->acts[i]);
	}
	deps_unlink(s);
	for (i = 0; i < s->nacts; i++) {
		act_main_clear(&s->acts[i]);
		if (s->acts[i].ev_timer != NULL)
			event_free(s->acts[i].ev_timer);
		free(s->acts[i].restart_times);
	}
	free(s->acts);
	for (i = 0; i < s->nprobes; i++)
		free(s->probes[i].last_error);
	free(s->probes);
	s->acts = NULL;
	s->probes = NULL;
	s->nacts = s->nprobes = 0;
	service_conf_free(s->conf);
	s->conf = NULL;
}

struct svc *
svc_add(struct service_conf *sc)
{
	struct svc	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("%s: calloc", __func__);
	strlcpy(s->name, sc->name, sizeof(s->name));
	deps_attach(s);
	svc_bind_conf(s, sc);
	s->state = SS_STOPPED;
	s->intent = INTENT_DOWN;
	RB_INSERT(svc_tree, &pt.svcs, s);
	pt.nsvcs++;
	if (pt.shutting_down)
		svc_dependents_down(s);
	return s;
}

void
svc_remove(struct svc *s)
{
	RB_REMOVE(svc_tree, &pt.svcs, s);
	pt.nsvcs--;
	if (s->in_stopq)
		TAILQ_REMOVE(&stopq, s, stopq);
	svc_unbind_conf(s);
	deps_detach(s);
	if (s->next_conf != NULL)
		service_conf_free(s->next_conf);
	free(s);
}

/* Swap in a new configuration of a stopped service (reload). */
static void
svc_rebind(struct svc *s, struct service_conf *sc)
{
	svc_unbind_conf(s);
	svc_bind_conf(s, sc);
}

void
act_ref(struct act *a, struct m_ref *r)
{
	memset(r, 0, sizeof(*r));
	strlcpy(r->service, a->svc->name, sizeof(r->service));
	strlcpy(r->action, a->conf->name, sizeof(r->action));
	r->job_id = a->job_id;
	r->restart_count = a->restart_count;
}

static struct act *
act_by_name(struct svc *s, const char *name)
{
	size_t	 i;

	for (i = 0; i < s->nacts; i++)
		if (strcmp(s->acts[i].conf->name, name) == 0)
			return &s->acts[i];
	return NULL;
}

/* exact: job_id and restart_count must match the current instance. */
struct act *
act_find_ref(const struct m_ref *r, int exact)
{
	struct svc	*s;
	struct act	*a;

	if ((s = svc_find(r->service)) == NULL ||
	    (a = act_by_name(s, r->action)) == NULL)
		return NULL;
	if (exact && (a->job_id != r->job_id ||
	    a->restart_count != r->restart_count))
		return NULL;
	return a;
}

struct act *
act_find_pid(pid_t pid)
{
	struct svc	*s;
	size_t		 i;

	RB_FOREACH(s, svc_tree, &pt.svcs)
		for (i = 0; i < s->nacts; i++)
			if (s->acts[i].pid == pid)
				return &s->acts[i];
	return NULL;
}

void
act_store(struct act *a)
{
	struct m_store_job	 j;

	memset(&j, 0, sizeof(j));
	act_ref(a, &j.ref);
	j.run_id = a->svc->run_id;
	j.pid = a->pid;
	j.pgid = a->pgid;
	j.starttime = a->starttime;
	j.state = a->state;
	j.wstatus = a->has_exit ? a->wstatus : -1;
	j.updated_ms = wall_ms();
	strlcpy(j.status_text, a->status_text, sizeof(j.status_text));
	strlcpy(j.reason, a->reason, sizeof(j.reason));
	if (a->job_id != 0)
		proc_send(PROC_STORE, M_STORE_JOB, -1, &j, sizeof(j));
}

void
svc_store(struct svc *s)
{
	struct m_store_service	 r;

	memset(&r, 0, sizeof(r));
	strlcpy(r.name, s->name, sizeof(r.name));
	r.intent = s->intent;
	r.run_id = s->run_id;
	proc_send(PROC_STORE, M_STORE_SERVICE, -1, &r, sizeof(r));
}

static void
act_timer_stop(struct act *a)
{
	if (a->ev_timer != NULL)
		evtimer_del(a->ev_timer);
	a->timer_kind = TIMER_NONE;
}

static void	act_timer_cb(int, short, void *);

static void
act_timer_start(struct act *a, int kind, uint64_t ms)
{
	struct timeval	 tv;

	if (a->ev_timer == NULL &&
	    (a->ev_timer = evtimer_new(pt.base, act_timer_cb, a)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	a->timer_kind = kind;
	evtimer_add(a->ev_timer, &tv);
}

static void
act_set(struct act *a, enum action_state st, const char *fmt, ...)
{
	char	 reason[REASON_BUF];
	va_list	 ap;

	reason[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(reason, sizeof(reason), fmt, ap);
		va_end(ap);
	}
	if (a->state == st && strcmp(a->reason, reason) == 0)
		return;
	if (st == AS_RUNNING && a->state != AS_RUNNING)
		a->running_since = now_ms();
	else if (st != AS_RUNNING)
		a->running_since = 0;
	a->state = st;
	strlcpy(a->reason, reason, sizeof(a->reason));
	event_state(a);
	act_store(a);
}

static int
probe_covers(struct probe_st *p, struct act *a)
{
	size_t	 i;

	if (p->conf->actions.n == 0)
		return a->conf->kind == KIND_PROCESS;
	for (i = 0; i < p->conf->actions.n; i++)
		if (strcmp(p->conf->actions.v[i], a->conf->name) == 0)
			return 1;
	return 0;
}

static int
act_done(struct act *a)
{
	if (a->conf->kind == KIND_ONESHOT)
		return a->state == AS_EXITED;
	return a->state == AS_RUNNING;
}

/* NULL when a may start now, else the name it waits for. */
static const char *
act_waits_for(struct act *a)
{
	struct svc	*d;
	struct act	*b;
	size_t		 i;

	for (i = 0; i < a->svc->conf->after.n; i++) {
		d = svc_find(a->svc->conf->after.v[i]);
		if (d != NULL && d->state != SS_RUNNING)
			return a->svc->conf->after.v[i];
	}
	for (i = 0; i < a->conf->after.n; i++) {
		b = act_by_name(a->svc, a->conf->after.v[i]);
		if (b != NULL && !act_done(b))
			return a->conf->after.v[i];
	}
	return NULL;
}

static void
act_try_start(struct act *a)
{
	const char	*w;

	if (a->state != AS_WAITING)
		return;
	if ((w = act_waits_for(a)) != NULL) {
		act_set(a, AS_WAITING, "waiting for %s", w);
		return;
	}
	act_spawn(a);
}

static void
act_spawn(struct act *a)
{
	struct m_spawn	 m;

	act_timer_stop(a);
	a->pid = 0;
	a->ready = 0;
	a->then = THEN_NOTHING;
	a->status_text[0] = '\0';
	a->reloading = 0;
	act_main_clear(a);
	a->started_ms = now_ms();
	act_set(a, AS_STARTING, NULL);
	memset(&m, 0, sizeof(m));
	act_ref(a, &m.ref);
	a->spawn_pending = proc_send(PROC_SPAWNER, M_SPAWN, -1, &m,
	    sizeof(m)) == 0;
	act_sync_live(a);
}

/* Ask the spawner to stop the current instance (signal, then SIGKILL). */
static void
act_send_stop(struct act *a)
{
	struct m_stop	 m;

	memset(&m, 0, sizeof(m));
	act_ref(a, &m.ref);
	m.pid = a->pid;
	m.signal = a->conf->stop_signal;
	m.timeout_ms = a->conf->stop_timeout_ms;
	proc_send(PROC_SPAWNER, M_STOP, -1, &m, sizeof(m));
}

/* Ask the spawner to watch the recorded process (pid + start time). */
static void
act_send_adopt(struct act *a)
{
	struct m_spawned	 m;

	memset(&m, 0, sizeof(m));
	act_ref(a, &m.ref);
	m.pid = a->pid;
	m.pgid = a->pgid;
	m.starttime = a->starttime;
	proc_send(PROC_SPAWNER, M_ADOPT, -1, &m, sizeof(m));
}

/*
 * cause: herod's own reason ("watchdog", ...) for the events, or NULL
 * for a stop asked by a command or a signal (event_actor()).
 */
static void
act_kill(struct act *a, int then, const char *cause, const char *why)
{
	const struct actor	*by;

	act_timer_stop(a);
	a->then = then;
	strlcpy(a->then_reason, why ? why : "", sizeof(a->then_reason));
	if (cause == NULL) {
		by = event_actor();
		a->kill_by = *by;
		a->kill_cause = "stop";
		if (why == NULL)
			strlcpy(a->then_reason, by->what[0] ? by->what :
			    "stop", sizeof(a->then_reason));
	} else {
		memset(&a->kill_by, 0, sizeof(a->kill_by));
		a->kill_by.by = ACTOR_HEROD;
		a->kill_cause = cause;
	}
	act_set(a, AS_STOPPING, "%s", why ? why : "");
	act_send_stop(a);
}

/*
 * At herod's shutdown (keep_finished) an action that had finished keeps
 * its exited or failed state, so that the next herod leaves it so.
 */
static void
act_stop(struct act *a, int keep_finished)
{
	act_timer_stop(a);
	if (a->pid > 0 || a->spawn_pending) {
		if (a->state != AS_STOPPING || a->then != THEN_NOTHING)
			act_kill(a, THEN_NOTHING, NULL, NULL);
		return;
	}
	if (keep_finished && (a->state == AS_EXITED || a->state == AS_FAILED))
		return;
	if (a->state != AS_STOPPED)
		act_set(a, AS_STOPPED, NULL);
}

static void
act_new_job(struct act *a)
{
	a->job_id = pt.next_job_id++;
	a->restart_count = 0;
	a->nrestart_times = 0;
	a->cur_delay_ms = a->conf->restart_delay_ms;
	a->has_exit = 0;
	a->logs_written = a->logs_dropped = 0;
}

void
svc_start(struct svc *s)
{
	size_t	 i;
	int	 fresh = 1;

	if (s->removing)
		return;
	for (i = 0; i < s->nacts; i++)
		if (s->acts[i].pid > 0 || s->acts[i].state == AS_STOPPING)
			fresh = 0;
	if (s->intent == INTENT_UP && s->state != SS_FAILED &&
	    s->state != SS_STOPPED)
		return;		/* already on its way */
	s->intent = INTENT_UP;
	if (fresh) {
		s->run_id = pt.next_run_id++;
		s->was_running = 0;
	}
	svc_store(s);
	for (i = 0; i < s->nprobes; i++) {
		s->probes[i].failures = s->probes[i].successes = 0;
		s->probes[i].at_threshold = 0;
		s->probes[i].failing = 0;
		s->probes[i].ok = -1;
	}
	for (i = 0; i < s->nacts; i++) {
		struct act *a = &s->acts[i];

		if (!fresh && (a->pid > 0 || a->state == AS_STOPPING ||
		    a->state == AS_BACKOFF))
			continue;
		if (fresh)
			act_new_job(a);
		else {
			a->restart_count++;
			a->nrestart_times = 0;
			a->cur_delay_ms = a->conf->restart_delay_ms;
		}
		a->state = AS_WAITING;
		a->reason[0] = '\0';
	}
	for (i = 0; i < s->nacts; i++)
		act_try_start(&s->acts[i]);
	svc_update(s);
}

static void
svc_stop_internal(struct svc *s, int record)
{
	size_t	 i;

	s->intent = INTENT_DOWN;
	if (record)
		svc_store(s);
	if (s->probes_enabled) {
		struct m_probes_enable	 pe;

		memset(&pe, 0, sizeof(pe));
		strlcpy(pe.service, s->name, sizeof(pe.service));
		proc_send(PROC_PROBER, M_PROBES_ENABLE, -1, &pe, sizeof(pe));
		s->probes_enabled = 0;
	}
	for (i = s->nacts; i > 0; i--)
		act_stop(&s->acts[i - 1], !record);
	svc_update(s);
}

void
svc_stop(struct svc *s)
{
	svc_stop_internal(s, 1);
}

/*
 * Actions waiting out a backoff delay are started now, with the backoff
 * reset (an operator's restart or reset-failed); returns how many.
 */
static int
svc_end_backoff(struct svc *s)
{
	struct act	*a;
	size_t		 i;
	int		 n = 0;

	for (i = 0; i < s->nacts; i++) {
		a = &s->acts[i];
		if (a->state != AS_BACKOFF)
			continue;
		a->nrestart_times = 0;
		a->cur_delay_ms = a->conf->restart_delay_ms;
		a->restart_count++;
		act_spawn(a);
		n++;
	}
	if (n > 0)
		svc_update(s);
	return n;
}

int
svc_in_backoff(struct svc *s)
{
	size_t	 i;

	for (i = 0; i < s->nacts; i++)
		if (s->acts[i].state == AS_BACKOFF)
			return 1;
	return 0;
}

void
svc_restart(struct svc *s)
{
	size_t	 i;
	int	 up = 0;

	for (i = 0; i < s->nacts; i++)
		if (s->acts[i].pid > 0 || s->acts[i].spawn_pending ||
		    s->acts[i].state == AS_STOPPING)
			up = 1;
	if (!up) {
		if (s->intent == INTENT_UP && svc_end_backoff(s) > 0)
			return;
		svc_start(s);
		return;
	}
	s->replacing = 1;
	svc_stop(s);
}

static void
probes_enable(struct svc *s)
{
	struct m_probes_enable	 pe;

	if (s->nprobes == 0 || s->probes_enabled)
		return;
	memset(&pe, 0, sizeof(pe));
	strlcpy(pe.service, s->name, sizeof(pe.service));
	pe.enable = 1;
	if (proc_send(PROC_PROBER, M_PROBES_ENABLE, -1, &pe,
	    sizeof(pe)) == 0)
		s->probes_enabled = 1;
}

static void
act_watch(struct act *a, int adopted)
{
	struct m_watch	 w;

	if (a->conf->ready_mode != READY_FILE &&
	    a->conf->ready_mode != READY_NOTIFY &&
	    a->conf->ready_mode != READY_FD)
		return;
	memset(&w, 0, sizeof(w));
	act_ref(a, &w.ref);
	w.pid = a->pid;
	w.pgid = a->pgid;
	w.mode = a->conf->ready_mode;
	w.watchdog_ms = a->conf->watchdog_ms;
	/* 2: adopted while still starting, not known ready */
	w.adopted = adopted ? (a->ready ? 1 : 2) : 0;
	proc_send(PROC_PROBER, M_WATCH, -1, &w, sizeof(w));
}

static void
act_unwatch(struct act *a)
{
	struct m_ref	 r;

	act_ref(a, &r);
	proc_send(PROC_PROBER, M_UNWATCH, -1, &r, sizeof(r));
}

static void
act_grace(struct act *a)
{
	struct svc	*s = a->svc;
	size_t		 i;

	for (i = 0; i < s->nprobes; i++) {
		if (!probe_covers(&s->probes[i], a))
			continue;
		/* a new instance starts with a clean count */
		s->probes[i].grace_until = now_ms() +
		    s->probes[i].conf->grace_ms;
		s->probes[i].failures = 0;
		s->probes[i].successes = 0;
	}
}

void
act_spawned(const struct m_spawned *m)
{
	struct act	*a;

	if ((a = act_find_ref(&m->ref, 1)) == NULL || a->pid != 0 ||
	    !a->spawn_pending) {
		log_debug("%s: stale spawn of %s/%s pid %d", __func__,
		    m->ref.service, m->ref.action, m->pid);
		return;
	}
	a->spawn_pending = 0;
	a->pid = m->pid;
	act_sync_live(a);
	a->pgid = m->pgid;
	a->starttime = m->starttime;
	a->started_ms = now_ms();
	event_spawn(a);
	if (a->state == AS_STOPPING) {
		/* stopped while starting: M_STOP already on its way */
		act_store(a);
		return;
	}
	act_grace(a);
	probes_enable(a->svc);
	if (a->conf->kind == KIND_ONESHOT ||
	    a->conf->ready_mode != READY_NONE) {
		act_watch(a, 0);
		/* a oneshot must finish within the same timeout */
		act_timer_start(a, TIMER_READY, a->conf->ready_timeout_ms);
		act_store(a);
		svc_update(a->svc);
		return;
	}
	if (a->conf->settle_ms > 0) {
		/* running once it has lived through the settle window */
		act_timer_start(a, TIMER_SETTLE, a->conf->settle_ms);
		act_store(a);
		svc_update(a->svc);
		return;
	}
	a->ready = 1;
	act_set(a, AS_RUNNING, NULL);
	svc_update(a->svc);
}

void
act_spawn_failed(const struct m_failed *f)
{
	struct act	*a;

	if ((a = act_find_ref(&f->ref, 1)) == NULL || !a->spawn_pending)
		return;
	a->spawn_pending = 0;
	a->pid = 0;
	act_sync_live(a);
	if (a->state == AS_STOPPING) {
		act_set(a, AS_STOPPED, NULL);
		svc_update(a->svc);
		return;
	}
	log_warnx("%s/%s: %s", a->svc->name, a->conf->name, f->reason);
	if (f->error == EADDRINUSE || f->error == EBUSY)
		act_failure(a, f->reason);
	else
		act_set(a, AS_FAILED, "%s", f->reason);
	svc_update(a->svc);
}

static void
exit_desc(char *buf, size_t len, int known, int st)
{
	if (!known)
		snprintf(buf, len, "exited (status unknown)");
	else if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %s",
		    config_signal_name(WTERMSIG(st)));
	else
		snprintf(buf, len, "ended (status %d)", st);
}

static void
act_failure(struct act *a, const char *why)
{
	if (a->conf->restart_policy == RESTART_NEVER) {
		act_set(a, AS_FAILED, "%s", why);
		return;
	}
	act_schedule_restart(a, why);
}

static void
act_schedule_restart(struct act *a, const char *why)
{
	struct action_conf	*c = a->conf;
	int64_t			 now = now_ms(), win;
	size_t			 i, n, ring;
	uint32_t		 delay;

	win = (int64_t)c->restart_window_s * 1000;
	if (a->running_since != 0 && now - a->running_since >= win) {
		a->cur_delay_ms = c->restart_delay_ms;
		a->nrestart_times = 0;
	}
	ring = c->restart_max + 1 > RESTART_RING_MAX ? RESTART_RING_MAX :
	    c->restart_max + 1;
	for (i = n = 0; i < a->nrestart_times; i++)
		if (now - a->restart_times[i] < win)
			a->restart_times[n++] = a->restart_times[i];
	a->nrestart_times = n;
	if (c->restart_max > 0 && n >= c->restart_max) {
		act_set(a, AS_FAILED, "restart limit reached (%u in %u s): %s",
		    c->restart_max, c->restart_window_s, why);
		return;
	}
	if (a->nrestart_times == ring) {
		memmove(a->restart_times, a->restart_times + 1,
		    (ring - 1) * sizeof(int64_t));
		a->nrestart_times--;
	}
	a->restart_times[a->nrestart_times++] = now;
	delay = a->cur_delay_ms;
	if (delay > 0)
		delay += rand_below(delay / 4 + 1);
	if (a->cur_delay_ms < c->restart_max_delay_ms) {
		a->cur_delay_ms = a->cur_delay_ms * 2 > c->restart_max_delay_ms ?
		    c->restart_max_delay_ms : a->cur_delay_ms * 2;
	}
	if (delay == 0) {
		a->restart_count++;
		act_spawn(a);
		proc_flush(PROC_SPAWNER);
		return;
	}
	act_set(a, AS_BACKOFF, "%s; restart in %u ms", why, delay);
	act_timer_start(a, TIMER_BACKOFF, delay);
}

static void
act_timer_cb(int fd, short ev, void *arg)
{
	struct act	*a = arg;
	char		 why[REASON_BUF];
	int		 kind = a->timer_kind;

	a->timer_kind = TIMER_NONE;
	if (kind == TIMER_BACKOFF && a->state == AS_BACKOFF) {
		a->restart_count++;
		act_spawn(a);
	} else if (kind == TIMER_SETTLE && a->state == AS_STARTING &&
	    a->pid > 0) {
		a->ready = 1;
		act_set(a, AS_RUNNING, NULL);
	} else if (kind == TIMER_READY && a->state == AS_STARTING &&
	    a->pid > 0) {
		snprintf(why, sizeof(why), "%s after %u ms",
		    a->conf->kind == KIND_ONESHOT ? "not finished" :
		    "not ready", a->conf->ready_timeout_ms);
		log_warnx("%s/%s: %s", a->svc->name, a->conf->name, why);
		act_kill(a, THEN_FAIL, "ready_timeout", why);
	}
	svc_update(a->svc);
}

/* What comes after an instance ended. */
static void
act_after_exit(struct act *a, int known, int st)
{
	char	 desc[REASON_BUF], why[REASON_BUF];
	int	 then = a->then;

	exit_desc(desc, sizeof(desc), known, st);
	a->then = THEN_NOTHING;
	if (a->state == AS_STOPPING) {
		if (then == THEN_RESTART) {
			act_schedule_restart(a, a->then_reason);
			return;
		}
		if (then == THEN_FAIL) {
			act_failure(a, a->then_reason);
			return;
		}
		act_set(a, AS_STOPPED, NULL);
		return;
	}
	if (a->svc->intent != INTENT_UP) {
		act_set(a, AS_STOPPED, NULL);
		return;
	}
	if (a->conf->kind == KIND_ONESHOT) {
		if (known && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			act_set(a, AS_EXITED, NULL);
			return;
		}
		snprintf(why, sizeof(why), "%s %s", a->conf->name, desc);
		act_failure(a, why);
		return;
	}
	if (known && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
	    a->conf->restart_policy != RESTART_ALWAYS) {
		act_set(a, AS_EXITED, "%s exited with status 0",
		    a->conf->name);
		return;
	}
	snprintf(why, sizeof(why), "%s %s", a->conf->name, desc);
	act_failure(a, why);
}

void
act_exited(const struct m_exited *e)
{
	struct act	*a;

	if ((a = act_find_ref(&e->ref, 1)) == NULL)
		return;
	if (a->pid != e->pid && !(e->pid == 0 && a->spawn_pending))
		return;
	act_timer_stop(a);
	if (a->pid > 0)
		act_unwatch(a);
	event_exit(a, e->known, e->wstatus);
	a->pid = 0;
	a->pgid = 0;
	a->spawn_pending = 0;
	act_sync_live(a);
	a->ready = 0;
	a->reloading = 0;
	act_main_clear(a);
	a->adopting = 0;
	a->has_exit = 1;
	a->exit_known = e->known;
	a->wstatus = e->wstatus;
	act_after_exit(a, e->known, e->wstatus);
	act_store(a);
	svc_update(a->svc);
}

void
act_adopted(const struct m_adopted *m)
{
	struct act	*a;
	struct m_exited	 e;

	if ((a = act_find_ref(&m->ref, 1)) == NULL || a->pid != m->pid)
		return;
	if (!a->adopting)
		return;		/* a spawner restart: nothing changes */
	a->adopting = 0;
	if (m->ok) {
		struct m_ref	 r;

		log_info("%s/%s: adopted pid %d", a->svc->name,
		    a->conf->name, (int)a->pid);
		act_ref(a, &r);
		proc_send(PROC_SPAWNER, M_REOPEN_LOGS, -1, &r, sizeof(r));
		act_watch(a, 1);
		probes_enable(a->svc);
		act_grace(a);
		svc_update(a->svc);
		return;
	}
	log_info("%s/%s: recorded pid %d is gone", a->svc->name,
	    a->conf->name, (int)a->pid);
	memset(&e, 0, sizeof(e));
	act_ref(a, &e.ref);
	e.pid = a->pid;
	e.known = 0;
	act_exited(&e);
}

void
act_ready(const struct m_ready *r)
{
	struct act	*a;

	if ((a = act_find_ref(&r->ref, 1)) == NULL || a->pid == 0)
		return;
	if (r->ready) {
		a->ready = 1;
		if (a->timer_kind == TIMER_READY)
			act_timer_stop(a);
		if (a->state == AS_STARTING || a->state == AS_UNHEALTHY)
			act_set(a, AS_RUNNING, NULL);
	} else {
		a->ready = 0;
		if (a->state == AS_RUNNING)
			act_set(a, AS_UNHEALTHY, "%s", r->reason[0] ?
			    r->reason : "not ready");
	}
	svc_update(a->svc);
}

/* Forget the main process named by MAINPID=. */
static void
act_main_clear(struct act *a)
{
	if (a->ev_main != NULL) {
		event_free(a->ev_main);
		a->ev_main = NULL;
	}
	if (a->main_pidfd != -1) {
		close(a->main_pidfd);
		a->main_pidfd = -1;
	}
	a->main_pid = 0;
}

/*
 * The main process (MAINPID=, not the first process) is gone: the
 * instance has ended.  Its exit status is not herod's to read (it is
 * not a child of herod), so the end counts as a failure: the rest of
 * the group is stopped and the restart policy applies.
 */
static void
act_main_exited(int fd, short ev, void *arg)
{
	struct act	*a = arg;
	char		 why[REASON_BUF];
	pid_t		 pid = a->main_pid;

	act_main_clear(a);
	if (a->pid == 0 || a->state == AS_STOPPING)
		return;
	snprintf(why, sizeof(why), "main process %d exited", (int)pid);
	log_warnx("%s/%s: %s", a->svc->name, a->conf->name, why);
	act_kill(a, a->svc->intent == INTENT_UP ? THEN_FAIL : THEN_NOTHING,
	    "main_exited", why);
	svc_update(a->svc);
}

/*
 * MAINPID= from the prober, which is less privileged: the pid counts
 * only if it is a live process of the instance's process group, which
 * the pidfd taken first proves (a pid reused after the pidfd was
 * opened cannot be behind it).  The first process stays the one herod
 * signals and whose exit ends the instance; the main one's exit does so
 * too.
 */
static void
act_main_set(struct act *a, uint64_t value)
{
	struct pollfd	 pfd;
	pid_t		 pid, pgid = 0;
	int		 fd;

	if (value < 2 || value > INT32_MAX || a->pgid <= 0 ||
	    a->state == AS_STOPPING) {
		log_debug("%s: %s/%s: MAINPID %llu not taken", __func__,
		    a->svc->name, a->conf->name, (unsigned long long)value);
		return;
	}
	pid = (pid_t)value;
	if (pid == a->main_pid)
		return;
	act_main_clear(a);
	if (pid == a->pid) {
		a->main_pid = pid;	/* the first process: watched anyway */
		return;
	}
	if ((fd = (int)syscall(SYS_pidfd_open, pid, 0)) == -1) {
		log_warn("%s/%s: MAINPID %d", a->svc->name, a->conf->name,
		    (int)pid);
		return;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (proc_stat(pid, NULL, &pgid, NULL, NULL, 0) == -1 ||
	    pgid != a->pgid || poll(&pfd, 1, 0) != 0) {
		log_warnx("%s/%s: MAINPID %d is not a live process of the "
		    "action's group %d, ignored", a->svc->name, a->conf->name,
		    (int)pid, (int)a->pgid);
		close(fd);
		return;
	}
	a->main_pidfd = fd;
	a->main_pid = pid;
	if ((a->ev_main = event_new(pt.base, fd, EV_READ, act_main_exited,
	    a)) == NULL || event_add(a->ev_main, NULL) == -1)
		fatalx("%s: event", __func__);
	log_info("%s/%s: main process %d", a->svc->name, a->conf->name,
	    (int)pid);
}

/* RELOADING=1 (on 1) until the next READY=1 (on 0). */
static void
act_reloading(struct act *a, int on)
{
	if (on && !a->reloading && a->state == AS_RUNNING) {
		a->reloading = 1;
		act_set(a, AS_RUNNING, "reloading");
	} else if (!on && a->reloading) {
		a->reloading = 0;
		if (a->state == AS_RUNNING)
			act_set(a, AS_RUNNING, NULL);
	} else
		return;
	svc_update(a->svc);
}

void
act_notify(const struct m_notify *n)
{
	struct act	*a;
	char		 why[REASON_BUF];

	if ((a = act_find_ref(&n->ref, 1)) == NULL || a->pid == 0)
		return;
	switch (n->what) {
	case NOTIFY_MAINPID:
		act_main_set(a, n->value);
		break;
	case NOTIFY_RELOADING:
		act_reloading(a, n->value != 0);
		break;
	case NOTIFY_STATUS:
		strlcpy(a->status_text, n->text, sizeof(a->status_text));
		act_store(a);	/* kept across a restart of herod */
		break;
	case NOTIFY_EXTEND_TIMEOUT:
		if (a->timer_kind == TIMER_READY)
			act_timer_start(a, TIMER_READY, n->value / 1000);
		break;
	case NOTIFY_ERRNO:
		snprintf(a->status_text, sizeof(a->status_text),
		    "errno %llu: %s", (unsigned long long)n->value,
		    strerror((int)n->value));
		act_store(a);
		break;
	case NOTIFY_STOPPING:
		strlcpy(a->status_text, "stopping", sizeof(a->status_text));
		act_store(a);
		break;
	case NOTIFY_WATCHDOG_MISSED:
		if (a->state == AS_STOPPING)
			break;
		snprintf(why, sizeof(why), "watchdog timeout (no WATCHDOG=1 "
		    "for %llu ms)", (unsigned long long)n->value);
		log_warnx("%s/%s: %s", a->svc->name, a->conf->name, why);
		act_set(a, AS_UNHEALTHY, "%s", why);
		act_kill(a, THEN_FAIL, "watchdog", why);
		svc_update(a->svc);
		break;
	default:
		break;
	}
}

/* Keep the error of a failing probe; a passing one keeps nothing. */
static void
probe_error_set(struct probe_st *p, const char *err, size_t max)
{
	size_t	 len = strnlen(err, max);

	if (p->last_error != NULL && strlen(p->last_error) == len &&
	    memcmp(p->last_error, err, len) == 0)
		return;
	free(p->last_error);
	if ((p->last_error = strndup(err, len)) == NULL)
		fatal("%s: strndup", __func__);
}

void
svc_probe_result(const struct m_probe_result *r)
{
	struct svc	*s;
	struct probe_st	*p = NULL;
	struct act	*a;
	char		 why[REASON_BUF];
	size_t		 i;
	int		 changed;

	if ((s = svc_find(r->service)) == NULL)
		return;
	for (i = 0; i < s->nprobes; i++)
		if (strcmp(s->probes[i].conf->name, r->probe) == 0) {
			p = &s->probes[i];
			break;
		}
	if (p == NULL)
		return;
	if (r->ok) {
		/* the usual case, ok again, changes nothing of the service */
		changed = p->ok != 1 || p->failures != 0 ||
		    p->last_error != NULL;
		p->ok = 1;
		p->successes++;
		p->failures = 0;
		free(p->last_error);
		p->last_error = NULL;
		if ((p->at_threshold || p->failing) &&
		    p->successes >= p->conf->success_threshold) {
			p->at_threshold = 0;
			p->failing = 0;
			event_probe(s, p, 1);
			changed = 1;
		}
		for (i = 0; i < s->nacts; i++) {
			a = &s->acts[i];
			if (a->conf->ready_mode == READY_PROBE &&
			    a->pid > 0 && !a->ready &&
			    a->state == AS_STARTING && probe_covers(p, a)) {
				struct m_ready	 m;

				memset(&m, 0, sizeof(m));
				act_ref(a, &m.ref);
				m.ready = 1;
				act_ready(&m);
				changed = 1;
			}
		}
		if (changed)
			svc_update(s);
		return;
	}
	p->ok = 0;
	p->successes = 0;
	probe_error_set(p, r->error, sizeof(r->error));
	if (now_ms() < p->grace_until && !p->at_threshold)
		return;
	for (i = 0; i < s->nacts; i++)
		if (probe_covers(p, &s->acts[i]) && s->acts[i].pid > 0)
			break;
	if (i == s->nacts && r->seq == 0)
		return;		/* nothing to probe now: not counted */
	p->failures++;
	event_probe(s, p, 0);
	if (p->failures < p->conf->failure_threshold || p->at_threshold) {
		svc_update(s);
		return;
	}
	p->at_threshold = 1;
	p->failing = 1;
	snprintf(why, sizeof(why), "probe %s failed %u times: %s",
	    p->conf->name, p->failures, PROBE_ERROR(p));
	log_warnx("%s: %s", s->name, why);
	if (p->conf->on_failure == ONFAIL_RESTART && s->intent == INTENT_UP) {
		for (i = 0; i < s->nacts; i++) {
			a = &s->acts[i];
			if (probe_covers(p, a) && a->pid > 0 &&
			    a->state != AS_STOPPING)
				act_kill(a, THEN_RESTART, "probe", why);
		}
		p->failures = 0;
		p->at_threshold = 0;
		strlcpy(s->reason, why, sizeof(s->reason));
	}
	svc_update(s);
}

void
svc_log_stats(const struct m_log_stats *ls)
{
	struct svc	*s;
	struct act	*a;

	if ((s = svc_find(ls->service)) == NULL ||
	    (a = act_by_name(s, ls->action)) == NULL)
		return;
	a->logs_written = ls->written;
	a->logs_dropped = ls->dropped;
}

/* The first thing that keeps a service from running, for its reason. */
static int
svc_problem(struct svc *s, char *buf, size_t len)
{
	struct act	*a;
	size_t		 i;

	for (i = 0; i < s->nprobes; i++) {
		if (s->probes[i].at_threshold) {
			snprintf(buf, len, "probe %s failed %u times: %s",
			    s->probes[i].conf->name, s->probes[i].failures,
			    PROBE_ERROR(&s->probes[i]));
			return 1;
		}
	}
	for (i = 0; i < s->nacts; i++) {
		a = &s->acts[i];
		if (act_done(a))
			continue;
		switch (a->state) {
		case AS_WAITING:
			snprintf(buf, len, "%s %s", a->conf->name, a->reason);
			break;
		case AS_STARTING:
			if (a->pid > 0 && a->conf->kind == KIND_PROCESS &&
			    a->conf->ready_mode == READY_NONE)
				snprintf(buf, len, "%s settling (up less than "
				    "%u ms)", a->conf->name,
				    a->conf->settle_ms);
			else if (a->pid > 0 && a->conf->kind == KIND_PROCESS)
				snprintf(buf, len, "%s not ready yet (%s)",
				    a->conf->name, config_ready_mode_name(
				    a->conf->ready_mode));
			else
				snprintf(buf, len, "%s starting",
				    a->conf->name);
			break;
		case AS_BACKOFF:
			snprintf(buf, len, "%s restarting: %s", a->conf->name,
			    a->reason);
			break;
		case AS_UNHEALTHY:
			snprintf(buf, len, "%s unhealthy: %s", a->conf->name,
			    a->reason);
			break;
		case AS_STOPPING:
			snprintf(buf, len, "%s restarting%s%s", a->conf->name,
			    a->reason[0] ? ": " : "", a->reason);
			break;
		default:
			snprintf(buf, len, "%s %s", a->conf->name,
			    action_state_name(a->state));
			break;
		}
		return 1;
	}
	return 0;
}

static enum service_state
svc_compute(struct svc *s, char *reason, size_t len)
{
	struct act	*a;
	size_t		 i;
	int		 up = 0, stopping = 0;

	reason[0] = '\0';
	for (i = 0; i < s->nacts; i++) {
		a = &s->acts[i];
		if (a->state == AS_FAILED) {
			snprintf(reason, len, "%s", a->reason);
			return SS_FAILED;
		}
	}
	for (i = 0; i < s->nacts; i++) {
		a = &s->acts[i];
		if (a->state == AS_STOPPING)
			stopping = 1;
		if (a->pid > 0 || a->spawn_pending || a->state ==
		    AS_STOPPING)
			up = 1;
	}
	if (s->intent != INTENT_UP)
		return up || stopping ? SS_STOPPING : SS_STOPPED;
	for (i = 0; i < s->nacts; i++) {
		a = &s->acts[i];
		if (a->conf->kind == KIND_PROCESS && a->state == AS_EXITED) {
			snprintf(reason, len, "%s", a->reason);
			return SS_STOPPED;
		}
	}
	if (!svc_problem(s, reason, len)) {
		for (i = 0; i < s->nacts; i++)
			if (s->acts[i].reloading) {
				snprintf(reason, len, "%s reloading",
				    s->acts[i].conf->name);
				break;
			}
		return SS_RUNNING;
	}
	return s->was_running ? SS_DEGRADED : SS_STARTING;
}

/* Reload: a removed service is stopped now, drop it. */
static void
svc_drop(struct svc *s)
{
	char	 name[NAME_MAXLEN + 1];

	control_state_changed(s);
	proc_push_remove(s->name);
	strlcpy(name, s->name, sizeof(name));
	svc_remove(s);
	svc_kick_name(name);
	svc_stop_progress();
}

void
svc_update(struct svc *s)
{
	enum service_state	 st;
	char			 reason[REASON_BUF];
	size_t			 i;

	if (s->intent == INTENT_UP)
		for (i = 0; i < s->nacts; i++)
			if (s->acts[i].state == AS_WAITING)
				act_try_start(&s->acts[i]);
	st = svc_compute(s, reason, sizeof(reason));
	if (st == SS_RUNNING)
		s->was_running = 1;
	if (st == s->state && strcmp(reason, s->reason) == 0)
		return;
	s->state = st;
	strlcpy(s->reason, reason, sizeof(s->reason));
	event_service(s);
	if (st == SS_STOPPED || st == SS_FAILED) {
		if (s->removing && st == SS_STOPPED) {
			svc_drop(s);
			return;
		}
		if (s->replacing && st == SS_STOPPED) {
			s->replacing = 0;
			if (s->next_conf != NULL) {
				svc_rebind(s, s->next_conf);
				s->next_conf = NULL;
				proc_push_service(s->conf);
			}
			svc_start(s);
			return;
		}
	}
	if (st == SS_FAILED && s->intent == INTENT_UP) {
		s->intent = INTENT_FAILED;
		svc_store(s);
	}
	control_state_changed(s);
	if (st == SS_RUNNING)
		svc_kick(s->node);
	svc_stop_progress();
	if (pt.shutting_down && svc_all_stopped())
		proc_stop_all();
}

/*
 * The service named by n became running, or went away: actions of the
 * services that wait for it may go.  Actions that wait for an action of
 * their own service are started by svc_update() of that service.
 */
static void
svc_kick(struct dep_node *n)
{
	struct dep_edge	*e;
	struct svc	*d;
	size_t		 i;

	if (n == NULL)
		return;
	TAILQ_FOREACH(e, &n->dependents, entry) {
		d = e->from;
		if (d->intent != INTENT_UP)
			continue;
		for (i = 0; i < d->nacts; i++)
			if (d->acts[i].state == AS_WAITING)
				act_try_start(&d->acts[i]);
	}
}

void
svc_kick_name(const char *name)
{
	svc_kick(dep_find(name));
}

int
svc_all_stopped(void)
{
	if (pt.keep_services)
		return 1;
	return pt.nlive == 0;
}

/*
 * Recount what the counters and the index keep (O(N)): 0 if they agree,
 * else -1.  For tests and debugging, not for the event path.
 */
int
svc_check(void)
{
	struct svc	*s;
	size_t		 i, n, total = 0;
	int		 rv = 0;

	RB_FOREACH(s, svc_tree, &pt.svcs) {
		for (i = n = 0; i < s->nacts; i++) {
			if (s->acts[i].live != (s->acts[i].pid > 0 ||
			    s->acts[i].spawn_pending)) {
				log_warnx("%s: %s/%s: live flag off", __func__,
				    s->name, s->acts[i].conf->name);
				rv = -1;
			}
			if (s->acts[i].live)
				n++;
		}
		if (n != s->nlive || s->node == NULL || s->node->svc != s) {
			log_warnx("%s: %s: %zu live, counted %zu", __func__,
			    s->name, n, s->nlive);
			rv = -1;
		}
		total += n;
	}
	if (total != pt.nlive) {
		log_warnx("%s: %zu live actions, counted %zu", __func__,
		    total, pt.nlive);
		rv = -1;
	}
	if (deps_check() == -1)
		rv = -1;
	return rv;
}

/* No service that waits for s has processes left (deps.c). */
void
svc_dependents_down(struct svc *s)
{
	if (!pt.shutting_down || s->in_stopq || s->shutdown_sent)
		return;
	s->in_stopq = 1;
	TAILQ_INSERT_TAIL(&stopq, s, stopq);
}

/*
 * Shutdown: stop services in reverse dependency order.  The recorded
 * intent is kept, so the next herod starts what was running.  Only the
 * queued services are looked at; a service is queued when shutdown
 * starts and again when its live-dependent count drops to zero.
 */
static void
svc_stop_progress(void)
{
	static int	 running;
	struct svc	*s;

	if (!pt.shutting_down || pt.keep_services || running)
		return;
	running = 1;
	while ((s = TAILQ_FIRST(&stopq)) != NULL) {
		TAILQ_REMOVE(&stopq, s, stopq);
		s->in_stopq = 0;
		if (s->shutdown_sent || s->node->nlive > 0)
			continue;
		s->shutdown_sent = 1;
		svc_stop_internal(s, 0);
	}
	running = 0;
}

void
svc_stop_all(void)
{
	struct svc	*s;

	if (pt.keep_services) {
		proc_stop_all();
		return;
	}
	if (log_getverbose() > 0)
		svc_check();
	RB_FOREACH(s, svc_tree, &pt.svcs)
		svc_dependents_down(s);
	svc_stop_progress();
	if (svc_all_stopped())
		proc_stop_all();
}

void
svc_start_autostart(void)
{
	struct svc	*s;

	RB_FOREACH(s, svc_tree, &pt.svcs)
		if (s->conf->autostart)
			svc_start(s);
}

/* State recorded by a previous herod. */
void
svc_load_record(const struct m_store_service *r)
{
	struct svc	*s;

	if ((s = svc_find(r->name)) == NULL)
		return;
	s->intent = r->intent;
	s->run_id = r->run_id;
	s->removing = 0;
	s->replacing = 0;
	s->was_running = -1;	/* marks "recorded" until maybe_start */
}

/*
 * Text read back from the database, which the worker user can write:
 * only for display, and only printable.  Control bytes and bytes that
 * are not UTF-8 become '?' (the prober makes STATUS= printable ASCII,
 * so a text of ours comes back as it was).
 */
static void
load_text(char *dst, size_t len, const char *src)
{
	const unsigned char	*p = (const unsigned char *)src;
	size_t			 o = 0, n, k;

	while (*p != '\0' && o + 1 < len) {
		if (*p >= 0x20 && *p < 0x7f) {
			dst[o++] = (char)*p++;
			continue;
		}
		n = (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 2 :
		    (*p & 0xf0) == 0xe0 ? 3 :
		    (*p & 0xf8) == 0xf0 && *p <= 0xf4 ? 4 : 0;
		for (k = 1; k < n; k++)
			if ((p[k] & 0xc0) != 0x80)
				break;
		if (n == 0 || k < n || o + n >= len) {
			dst[o++] = '?';
			p++;
			continue;
		}
		memcpy(dst + o, p, n);
		o += n;
		p += n;
	}
	dst[o] = '\0';
}

void
svc_load_job(const struct m_store_job *j)
{
	struct act	*a;
	struct svc	*s;

	if (j->ref.job_id >= pt.next_job_id)
		pt.next_job_id = j->ref.job_id + 1;
	if ((s = svc_find(j->ref.service)) == NULL ||
	    (a = act_by_name(s, j->ref.action)) == NULL ||
	    j->run_id != s->run_id || j->ref.job_id < a->job_id)
		return;
	a->job_id = j->ref.job_id;
	a->restart_count = j->ref.restart_count;
	a->pid = j->pid;
	act_sync_live(a);
	a->pgid = j->pgid;
	a->starttime = j->starttime;
	a->state = j->state < AS_MAX ? j->state : AS_STOPPED;
	load_text(a->status_text, sizeof(a->status_text), j->status_text);
	load_text(a->reason, sizeof(a->reason), j->reason);
	if (j->wstatus != -1) {
		a->has_exit = 1;
		a->exit_known = 1;
		a->wstatus = j->wstatus;
	}
}

static void
load_timeout_cb(int fd, short ev, void *arg)
{
	if (store_loaded)
		return;
	log_warnx("store did not answer in %d s: starting without "
	    "recorded state", LOAD_TIMEOUT_S);
	store_loaded = 1;
	maybe_start();
}

void
svc_load_done(const struct m_store_load_done *d)
{
	if (d->max_job_id >= pt.next_job_id)
		pt.next_job_id = d->max_job_id + 1;
	if (d->max_run_id >= pt.next_run_id)
		pt.next_run_id = d->max_run_id + 1;
	if (store_loaded)
		return;
	store_loaded = 1;
	maybe_start();
}

/*
 * The monotonic time (ms) at which a process started, from its start
 * time in clock ticks since boot: an adopted process keeps its uptime.
 */
static int64_t
act_started_ms(uint64_t starttime)
{
	struct timespec	 ts;
	int64_t		 boot_ms, start_ms, now = now_ms();
	long		 hz = sysconf(_SC_CLK_TCK);

	if (starttime == 0 || hz <= 0 ||
	    clock_gettime(CLOCK_BOOTTIME, &ts) == -1)
		return now;
	boot_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	start_ms = (int64_t)(starttime / (uint64_t)hz) * 1000 +
	    (int64_t)(starttime % (uint64_t)hz) * 1000 / hz;
	if (start_ms > boot_ms)
		return now;
	return now - (boot_ms - start_ms);
}

/*
 * Recorded as running: adopt it if its process is still there.  One
 * that was still starting proves its readiness again (the prober's
 * watch or a probe), under a fresh ready timeout.
 */
static void
act_adopt(struct act *a)
{
	a->adopting = 1;
	a->started_ms = act_started_ms(a->starttime);
	if (a->state != AS_RUNNING && a->state != AS_STARTING &&
	    a->state != AS_UNHEALTHY)
		a->state = AS_RUNNING;
	a->ready = a->state != AS_STARTING;
	if (a->state == AS_RUNNING)
		a->running_since = now_ms();
	if (a->state == AS_STARTING && a->conf->ready_mode == READY_NONE &&
	    a->conf->kind == KIND_PROCESS)
		act_timer_start(a, TIMER_SETTLE, a->conf->settle_ms);
	else if (a->state == AS_STARTING)
		act_timer_start(a, TIMER_READY, a->conf->ready_timeout_ms);
	a->cur_delay_ms = a->conf->restart_delay_ms;
	act_send_adopt(a);
}

/* Recovery: a recorded instance that is not taken back. */
static void
act_forget(struct act *a)
{
	a->pid = 0;
	act_sync_live(a);
}

/* Every action of the service ran and exited 0: nothing to resume. */
static int
svc_finished(struct svc *s)
{
	size_t	 i;

	for (i = 0; i < s->nacts; i++)
		if (s->acts[i].job_id == 0 || s->acts[i].state != AS_EXITED)
			return 0;
	return 1;
}

static void
svc_recover(struct svc *s)
{
	struct act	*a;
	size_t		 i;
	int		 all = 1;

	s->was_running = 0;
	if (s->intent == INTENT_DOWN) {
		for (i = 0; i < s->nacts; i++) {
			s->acts[i].state = AS_STOPPED;
			act_forget(&s->acts[i]);
		}
		svc_update(s);
		return;
	}
	if (s->intent == INTENT_FAILED) {
		for (i = 0; i < s->nacts; i++) {
			a = &s->acts[i];
			if (a->pid > 0 && a->state != AS_FAILED) {
				act_adopt(a);
				continue;
			}
			act_forget(a);
			/* its own reason, as recorded (an older herod's none) */
			if (a->state == AS_FAILED && a->reason[0] == '\0')
				strlcpy(a->reason, "failed before herod "
				    "restarted", sizeof(a->reason));
		}
		svc_update(s);
		return;
	}
	if (svc_finished(s)) {
		/* every action had finished: it stays so */
		for (i = 0; i < s->nacts; i++)
			act_forget(&s->acts[i]);
		svc_update(s);
		return;
	}
	for (i = 0; i < s->nacts; i++)
		if (s->acts[i].pid > 0 && s->acts[i].job_id != 0)
			break;
	if (i == s->nacts) {
		/* nothing left running (clean shutdown): a new run */
		for (i = 0; i < s->nacts; i++) {
			s->acts[i].state = AS_STOPPED;
			act_forget(&s->acts[i]);
		}
		svc_start(s);
		return;
	}
	for (i = 0; i < s->nacts; i++) {
		a = &s->acts[i];
		if (a->pid > 0 && a->job_id != 0) {
			act_adopt(a);
			continue;
		}
		act_forget(a);
		if (a->state == AS_EXITED)
			continue;	/* finished before: stays finished */
		all = 0;
		if (a->job_id == 0)
			act_new_job(a);
		else
			a->restart_count++;
		a->state = AS_WAITING;
	}
	s->was_running = all;
	for (i = 0; i < s->nacts; i++)
		act_try_start(&s->acts[i]);
	svc_update(s);
}

static void
maybe_start(void)
{
	struct svc	*s;

	if (pt.started || !store_loaded || !proc_ready(PROC_SPAWNER) ||
	    !proc_ready(PROC_PROBER))
		return;
	pt.started = 1;
	RB_FOREACH(s, svc_tree, &pt.svcs) {
		if (s->was_running == -1)
			svc_recover(s);
	}
	RB_FOREACH(s, svc_tree, &pt.svcs) {
		if (s->intent == INTENT_DOWN && s->run_id == 0 &&
		    s->conf->autostart && !s->was_running)
			svc_start(s);
	}
	log_info("services started (%zu configured)", pt.nsvcs);
	control_started();
}

/* A worker (re)connected and acked its configuration. */
void
svc_resync(enum proc_id id)
{
	struct timeval	 tv = { LOAD_TIMEOUT_S, 0 };
	struct svc	*s;
	struct act	*a;
	struct m_ref	 r;
	size_t		 i;

	if (id == PROC_STORE && !store_loaded) {
		proc_send(PROC_STORE, M_STORE_LOAD, -1, NULL, 0);
		if (ev_load_timeout == NULL)
			ev_load_timeout = evtimer_new(pt.base,
			    load_timeout_cb, NULL);
		evtimer_add(ev_load_timeout, &tv);
		return;
	}
	if (!pt.started) {
		maybe_start();
		return;
	}
	RB_FOREACH(s, svc_tree, &pt.svcs) {
		if (id == PROC_STORE)
			svc_store(s);
		for (i = 0; i < s->nacts; i++) {
			a = &s->acts[i];
			act_ref(a, &r);
			if (id == PROC_STORE) {
				act_store(a);
				if (a->pid > 0)
					proc_send(PROC_SPAWNER, M_REOPEN_LOGS,
					    -1, &r, sizeof(r));
			} else if (id == PROC_PROBER && a->pid > 0)
				act_watch(a, 1);
			else if (id == PROC_SPAWNER && a->pid > 0) {
				act_send_adopt(a);
				if (a->state == AS_STOPPING)
					act_send_stop(a);
			} else if (id == PROC_SPAWNER && a->spawn_pending) {
				a->spawn_pending = 0;
				act_spawn(a);
			} else if (id == PROC_SPAWNER &&
			    a->state == AS_STARTING && a->pid == 0)
				act_spawn(a);
		}
		if (id == PROC_PROBER && s->probes_enabled) {
			s->probes_enabled = 0;
			probes_enable(s);
		}
	}
}
