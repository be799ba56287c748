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
 * The workers: fork + re-exec of /proc/self/exe with "-W NAME" and the
 * parent's socket on fd 3, a ready handshake, the configuration push with
 * an ack, and a restart whenever one dies: at once after a worker that
 * stayed up, with a doubling delay (1 s to 60 s) while it keeps dying.
 * A worker that cannot set itself up when herod starts fails the start.
 * Services are never touched by a worker's death.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <yajl/yajl_gen.h>

#include "herod.h"
#include "log.h"
#include "msg.h"
#include "parent.h"
#include "util.h"

#define READY_TIMEOUT_S	10
#define BACKOFF_FIRST_MS	1000	/* second death in a row */
#define BACKOFF_MAX_MS		60000
#define STABLE_MS		10000	/* up this long: a fresh start */

struct worker {
	const char	*name;
	pid_t		 pid;
	struct msgev	*mev;
	int		 ready;		/* configured and acked */
	int		 hello;		/* M_WORKER_READY seen */
	int		 hello_seen;	/* ... by this process */
	int		 loading;	/* M_STORE_LOAD sent, no DONE yet */
	int		 up_once;	/* M_WORKER_READY seen, ever */
	uint32_t	 deaths;	/* in a row, without staying up */
	uint32_t	 deaths_total;
	int		 last_status;	/* wait status of the last death */
	uint32_t	 delay_ms;	/* of the pending restart */
	int64_t		 restart_at;	/* monotonic ms, 0: none pending */
	int64_t		 last_start;
	int64_t		 hello_ms;	/* monotonic, last M_WORKER_READY */
	int64_t		 drop_start;	/* rate limit of drop logs */
	uint32_t	 drop_count;
	struct event	*ev_restart;
	struct event	*ev_timeout;
};

static struct worker	 workers[PROC_MAX] = {
	[PROC_SPAWNER] = { .name = "spawner" },
	[PROC_PROBER] = { .name = "prober" },
	[PROC_STORE] = { .name = "store" },
};
static char		 self_exe[PATH_MAX];

extern char	**environ;

static void	proc_start(enum proc_id);
static void	proc_died(enum proc_id, int);
static void	proc_dispatch(struct msgev *, struct msg *, void *);

void
proc_init(char *argv0)
{
	ssize_t	 n;

	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		fatal("%s: readlink /proc/self/exe", __func__);
	self_exe[n] = '\0';
}

int
proc_ready(enum proc_id id)
{
	return workers[id].ready;
}

int
proc_send(enum proc_id id, uint32_t type, int fd, const void *data,
    size_t len)
{
	struct worker	*w = &workers[id];

	if (w->mev == NULL || !w->hello) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (msgev_send(w->mev, type, 0, 0, fd, data, len) == -1) {
		log_warn("%s: %s to %s", __func__, msg_type_name(type),
		    w->name);
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (type == M_STORE_LOAD)
		w->loading = 1;
	return 0;
}

/* Send what is queued for a worker now (a restart waits for it). */
void
proc_flush(enum proc_id id)
{
	if (workers[id].mev != NULL && workers[id].hello)
		msgev_flush(workers[id].mev);
}

void
proc_push_service(struct service_conf *sc)
{
	struct m_store_logconf	 lc;

	proc_send(PROC_SPAWNER, M_CONF_SERVICE, -1, sc->text, sc->textlen);
	proc_send(PROC_PROBER, M_CONF_SERVICE, -1, sc->text, sc->textlen);
	memset(&lc, 0, sizeof(lc));
	strlcpy(lc.service, sc->name, sizeof(lc.service));
	lc.max_bytes = sc->logs_max_bytes;
	lc.keep_restarts = sc->logs_keep_restarts;
	proc_send(PROC_STORE, M_STORE_LOGCONF, -1, &lc, sizeof(lc));
}

void
proc_push_remove(const char *name)
{
	struct m_name	 n;

	memset(&n, 0, sizeof(n));
	strlcpy(n.name, name, sizeof(n.name));
	proc_send(PROC_SPAWNER, M_CONF_REMOVE, -1, &n, sizeof(n));
	proc_send(PROC_PROBER, M_CONF_REMOVE, -1, &n, sizeof(n));
}

static void
proc_configure(enum proc_id id)
{
	struct svc	*s;

	if (id == PROC_STORE) {
		RB_FOREACH(s, svc_tree, &pt.svcs)
			proc_push_service(s->conf);
		workers[id].ready = 1;
		svc_resync(id);
		return;
	}
	RB_FOREACH(s, svc_tree, &pt.svcs) {
		proc_send(id, M_CONF_SERVICE, -1, s->conf->text,
		    s->conf->textlen);
	}
	proc_send(id, M_CONF_DONE, -1, NULL, 0);
}

static void
proc_closed(struct msgev *mev, void *arg)
{
	struct worker	*w = arg;

	/* the process itself is reaped in proc_reap */
	if (mev != NULL && msgev_protocol_error(mev))
		log_warnx("%s: protocol error, killing it", w->name);
	else
		log_debug("%s: %s channel closed", __func__, w->name);
	w->mev = NULL;
	w->ready = w->hello = w->loading = 0;
	if (w->pid > 0)
		kill(w->pid, SIGKILL);
	control_worker_lost((enum proc_id)(w - workers));
}

static void
restart_cb(int fd, short ev, void *arg)
{
	workers[(intptr_t)arg].restart_at = 0;
	proc_start((enum proc_id)(intptr_t)arg);
}

/* "exit 1", "signal KILL": how a worker ended. */
static void
proc_status_text(int st, char *buf, size_t len)
{
	if (WIFSIGNALED(st))
		snprintf(buf, len, "signal %s",
		    config_signal_name(WTERMSIG(st)));
	else if (WIFEXITED(st))
		snprintf(buf, len, "exit %d", WEXITSTATUS(st));
	else
		snprintf(buf, len, "status %d", st);
}

int
proc_info(enum proc_id id, struct proc_info *pi)
{
	struct worker	*w = &workers[id];
	int64_t		 now = now_ms();

	if (id <= PROC_PARENT || id >= PROC_MAX)
		return -1;
	memset(pi, 0, sizeof(*pi));
	pi->name = w->name;
	pi->pid = w->pid;
	if (w->restart_at != 0 && w->pid == 0) {
		pi->state = "restarting";
		pi->next_try_ms = w->restart_at > now ?
		    w->restart_at - now : 0;
	} else if (w->pid > 0 && w->ready)
		pi->state = "running";
	else if (w->pid > 0)
		pi->state = "starting";
	else
		pi->state = "stopped";
	/* up long enough: its next death is a fresh start */
	if (w->pid > 0 && w->ready && w->hello_ms > 0 &&
	    now - w->hello_ms >= STABLE_MS)
		pi->deaths = 0;
	else
		pi->deaths = w->deaths;
	pi->deaths_total = w->deaths_total;
	if (w->deaths_total > 0)
		proc_status_text(w->last_status, pi->last_exit,
		    sizeof(pi->last_exit));
	if (w->pid > 0 && w->hello_ms > 0)
		pi->uptime_ms = now - w->hello_ms;
	return 0;
}

/* A worker died or came back: an event (the store's own come later). */
static void
proc_event(struct worker *w, const char *state, pid_t pid)
{
	yajl_gen	 g;
	char		 buf[64];

	if ((g = yajl_gen_alloc(NULL)) == NULL)
		fatalx("%s: yajl_gen_alloc", __func__);
	yajl_gen_map_open(g);
	gen_kint(g, "ts", wall_ms());
	gen_kv(g, "event", "worker");
	gen_kv(g, "worker", w->name);
	gen_kv(g, "state", state);
	gen_kint(g, "pid", pid);
	gen_kint(g, "deaths", w->deaths);
	proc_status_text(w->last_status, buf, sizeof(buf));
	gen_kv(g, "last_exit", buf);
	if (w->restart_at != 0)
		gen_kint(g, "next_try_ms", w->delay_ms);
	event_emit(g);
}

static void
timeout_cb(int fd, short ev, void *arg)
{
	struct worker	*w = &workers[(intptr_t)arg];

	if (w->ready)
		return;
	log_warnx("%s: %s not ready after %d s, killing it", __func__,
	    w->name, READY_TIMEOUT_S);
	if (w->pid > 0)
		kill(w->pid, SIGKILL);
}

static void
proc_start(enum proc_id id)
{
	struct worker	*w = &workers[id];
	struct timeval	 tv = { READY_TIMEOUT_S, 0 };
	posix_spawn_file_actions_t fa;
	char		*argv[16];
	int		 sv[2], i = 0, v, rc;
	pid_t		 pid;

	if (pt.shutting_down && !svc_all_stopped() && id != PROC_SPAWNER &&
	    id != PROC_STORE)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("%s: socketpair", __func__);
	argv[i++] = "herod";
	argv[i++] = "-W";
	argv[i++] = (char *)w->name;
	if (herod_env.foreground)
		argv[i++] = "-d";
	for (v = 0; v < herod_env.verbose && v < 2; v++)
		argv[i++] = "-v";
	argv[i++] = "-c";
	argv[i++] = herod_env.confdir;
	argv[i++] = "-s";
	argv[i++] = herod_env.statedir;
	argv[i++] = "-r";
	argv[i++] = herod_env.rundir;
	if (herod_env.sysmode) {
		argv[i++] = "-u";
		argv[i++] = herod_env.user;
	}
	argv[i] = NULL;
	/*
	 * posix_spawn: no copy of the parent, whose memory grows with N.
	 * Detached, a worker logs to syslog: it gets /dev/null, never the
	 * terminal that started herod (which waits for its end of file).
	 */
	if ((errno = posix_spawn_file_actions_init(&fa)) != 0 ||
	    (errno = posix_spawn_file_actions_adddup2(&fa, sv[1],
	    WORKER_FD)) != 0 ||
	    (errno = posix_spawn_file_actions_addclosefrom_np(&fa,
	    WORKER_FD + 1)) != 0)
		fatal("%s: posix_spawn_file_actions", __func__);
	for (v = 0; !herod_env.foreground && v <= 2; v++)
		if ((errno = posix_spawn_file_actions_addopen(&fa, v,
		    "/dev/null", O_RDWR, 0)) != 0)
			fatal("%s: posix_spawn_file_actions", __func__);
	rc = posix_spawn(&pid, self_exe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (rc != 0) {
		errno = rc;
		log_warn("%s: %s: %s", __func__, w->name, self_exe);
		close(sv[0]);
		/* tried again like a worker dying at start: not in a loop */
		w->hello_seen = 0;
		w->pid = 0;
		proc_died(id, 127 << 8);
		return;
	}
	w->pid = pid;
	w->last_start = now_ms();
	w->hello = w->ready = w->hello_seen = w->loading = 0;
	w->mev = proto_msgev_new(pt.base, sv[0], PROC_PARENT, id, 0,
	    proc_dispatch, proc_closed, w);
	if (w->mev == NULL)
		fatal("%s: msgev_new", __func__);
	if (w->ev_timeout == NULL)
		w->ev_timeout = evtimer_new(pt.base, timeout_cb,
		    (void *)(intptr_t)id);
	evtimer_add(w->ev_timeout, &tv);
	log_debug("%s: %s is pid %d", __func__, w->name, (int)pid);
}

void
proc_start_all(void)
{
	proc_start(PROC_STORE);
	proc_start(PROC_SPAWNER);
	proc_start(PROC_PROBER);
}

/*
 * Restart a dead worker.  One that stayed up STABLE_MS after its
 * handshake comes back at once; one that keeps dying (in its set-up,
 * or soon after) waits 1 s, then 2, 4, ... up to 60 s between tries,
 * and is reported in list, status and events meanwhile.  A worker that
 * never got through its set-up since herod started fails the start.
 */
static void
proc_died(enum proc_id id, int st)
{
	struct worker	*w = &workers[id];
	struct timeval	 tv;
	char		 how[64], msg[256];
	pid_t		 pid = w->pid;
	int64_t		 now = now_ms();

	proc_status_text(st, how, sizeof(how));
	if (WIFSIGNALED(st))
		log_warnx("%s (pid %d) killed by signal %d%s", w->name,
		    (int)pid, WTERMSIG(st),
		    w->hello_seen ? "" : " before it was ready");
	else
		log_warnx("%s (pid %d) exited with status %d%s", w->name,
		    (int)pid, WEXITSTATUS(st),
		    w->hello_seen ? "" : " before it was ready");
	w->pid = 0;
	if (w->mev != NULL) {
		msgev_free(w->mev);
		w->mev = NULL;
		control_worker_lost(id);
	}
	w->ready = w->hello = w->loading = 0;
	w->last_status = st;
	w->deaths_total++;
	if (pt.shutting_down && svc_all_stopped())
		return;
	if (!w->up_once && !pt.shutting_down) {
		snprintf(msg, sizeof(msg), "the %s could not set itself up "
		    "(%s before it was ready)", w->name, how);
		herod_start_failed(msg);
	}
	if (w->hello_seen && w->hello_ms > 0 && now - w->hello_ms >=
	    STABLE_MS)
		w->deaths = 0;
	w->deaths++;
	if (w->deaths <= 1)
		w->delay_ms = 0;
	else if (w->deaths - 2 >= 6)
		w->delay_ms = BACKOFF_MAX_MS;
	else
		w->delay_ms = BACKOFF_FIRST_MS << (w->deaths - 2);
	if (w->delay_ms > BACKOFF_MAX_MS)
		w->delay_ms = BACKOFF_MAX_MS;
	w->restart_at = now + w->delay_ms;
	if (w->delay_ms > 0)
		log_warnx("%s died %u times in a row: next try in %u s",
		    w->name, w->deaths, w->delay_ms / 1000);
	proc_event(w, "restarting", pid);
	tv.tv_sec = w->delay_ms / 1000;
	tv.tv_usec = (w->delay_ms % 1000) * 1000;
	if (w->ev_restart == NULL)
		w->ev_restart = evtimer_new(pt.base, restart_cb,
		    (void *)(intptr_t)id);
	evtimer_add(w->ev_restart, &tv);
}

void
proc_reap(void)
{
	struct m_exited	 e;
	struct act	*a;
	pid_t		 pid;
	int		 st, id;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (id = 1; id < PROC_MAX; id++)
			if (workers[id].pid == pid)
				break;
		if (id < PROC_MAX) {
			proc_died((enum proc_id)id, st);
			continue;
		}
		/* an action orphaned by a dead spawner: we reap it */
		if ((a = act_find_pid(pid)) == NULL)
			continue;
		memset(&e, 0, sizeof(e));
		act_ref(a, &e.ref);
		e.pid = pid;
		e.wstatus = st;
		e.known = 1;
		act_exited(&e);
	}
	if (pt.shutting_down && svc_all_stopped())
		proc_stop_all();
}

/* herod gives up at its start: no worker outlives it. */
void
proc_kill_all(void)
{
	int	 id;

	for (id = 1; id < PROC_MAX; id++)
		if (workers[id].pid > 0)
			kill(workers[id].pid, SIGKILL);
}

void
proc_stop_all(void)
{
	int	 id, alive = 0;

	for (id = 1; id < PROC_MAX; id++) {
		if (workers[id].pid > 0) {
			if (workers[id].mev != NULL)
				msgev_close_when_flushed(workers[id].mev);
			workers[id].mev = NULL;
			alive++;
		}
	}
	if (alive == 0)
		event_base_loopexit(pt.base, NULL);
}

/*
 * What a worker sends has passed the message table (common/proto.c) when
 * it gets here: size, fd, NUL-terminated strings, sender.  What is left
 * is the state of the channel (hello first; the load replies only while
 * loading) and, for the unprivileged prober and store, the values.
 *
 * A protocol violation costs the worker its channel: it is killed and
 * restarted (proc_violation).  A value that does not make sense (an
 * unknown service, an enum out of range) only costs that message: it is
 * dropped with a rate-limited log, since it may come from a recorded
 * state or a race with a reload rather than from a broken worker.
 */
#define DROP_LOG_MAX		5	/* lines per window and worker */
#define DROP_LOG_WINDOW_MS	10000

static void
proc_violation(struct worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
proc_violation(struct worker *w, const char *fmt, ...)
{
	char	 buf[256];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s: protocol violation: %s; killing it", w->name, buf);
	/* nothing more is read from it: msgev_free is safe in dispatch */
	msgev_free(w->mev);
	proc_closed(NULL, w);
}

static int	 proc_drop(struct worker *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Drop one message; log at most DROP_LOG_MAX per window.  Returns 0. */
static int
proc_drop(struct worker *w, int warn, const char *fmt, ...)
{
	char	 buf[256];
	va_list	 ap;
	int64_t	 now = now_ms();

	if (now - w->drop_start >= DROP_LOG_WINDOW_MS) {
		if (w->drop_count > DROP_LOG_MAX)
			log_warnx("%s: %u more messages dropped", w->name,
			    w->drop_count - DROP_LOG_MAX);
		w->drop_start = now;
		w->drop_count = 0;
	}
	if (w->drop_count++ >= DROP_LOG_MAX)
		return 0;
	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (warn)
		log_warnx("%s: message dropped: %s", w->name, buf);
	else
		log_debug("%s: message dropped: %s", w->name, buf);
	return 0;
}

static struct act *
proc_find_act(struct svc *s, const char *name)
{
	size_t	 i;

	for (i = 0; i < s->nacts; i++)
		if (strcmp(s->acts[i].conf->name, name) == 0)
			return &s->acts[i];
	return NULL;
}

/* A ref from an unprivileged worker names a configured action. */
static int
proc_ref_ok(struct worker *w, uint32_t type, const struct m_ref *r)
{
	struct svc	*s;

	if ((s = svc_find(r->service)) == NULL ||
	    proc_find_act(s, r->action) == NULL)
		return proc_drop(w, 0, "%s for unknown %s/%s",
		    msg_type_name(type), r->service, r->action);
	return 1;
}

static int
proc_probe_ok(struct worker *w, uint32_t type, const char *service,
    const char *probe)
{
	struct svc	*s;
	size_t		 i;

	if ((s = svc_find(service)) == NULL)
		return proc_drop(w, 0, "%s for unknown service %s",
		    msg_type_name(type), service);
	for (i = 0; i < s->nprobes; i++)
		if (strcmp(s->probes[i].conf->name, probe) == 0)
			return 1;
	return proc_drop(w, 0, "%s for unknown probe %s of %s",
	    msg_type_name(type), probe, service);
}

static int
proc_id_ok(uint64_t id)
{
	/* as SQLite stores them; no wrap at + 1 */
	return id <= INT64_MAX;
}

static void
proc_hello(struct worker *w, enum proc_id id)
{
	if (w->hello) {
		proc_violation(w, "second M_WORKER_READY");
		return;
	}
	w->hello = 1;
	w->hello_seen = 1;
	w->hello_ms = now_ms();
	evtimer_del(w->ev_timeout);
	log_debug("%s: %s ready", __func__, w->name);
	proc_configure(id);
	if (w->deaths > 0)
		proc_event(w, "running", w->pid);
	if (!w->up_once) {
		w->up_once = 1;
		for (id = 1; id < PROC_MAX; id++)
			if (!workers[id].up_once)
				return;
		herod_started();
	}
}

static void
proc_acked(struct worker *w, enum proc_id id)
{
	w->ready = 1;
	svc_resync(id);
}

/* One of the relayed messages: on to its destination, fd and all. */
static void
proc_forward(struct msg *m, enum proc_id to)
{
	proc_send(to, m->hdr.type, m->fd, m->data, m->hdr.len);
	m->fd = -1;
}

/* Messages from the spawner (root: the table is all it needs). */
static void
dispatch_spawner(struct worker *w, struct msg *m)
{
	struct m_spawned	 sp;
	struct m_failed		 f;
	struct m_exited		 e;
	struct m_adopted	 a;

	switch (m->hdr.type) {
	case M_SPAWNED:
		proto_copy(m, &sp, sizeof(sp));
		act_spawned(&sp);
		break;
	case M_SPAWN_FAILED:
		proto_copy(m, &f, sizeof(f));
		act_spawn_failed(&f);
		break;
	case M_EXITED:
		proto_copy(m, &e, sizeof(e));
		act_exited(&e);
		break;
	case M_ADOPTED:
		proto_copy(m, &a, sizeof(a));
		act_adopted(&a);
		break;
	case M_KILLED:
		event_killed(m);
		break;
	default:
		fatalx("%s: %s passed the table", __func__,
		    msg_type_name(m->hdr.type));
	}
}

/* Messages from the prober: unprivileged, every value is checked. */
static void
dispatch_prober(struct worker *w, struct msg *m)
{
	struct m_ready		 r;
	struct m_notify		 n;
	struct m_probe_result	 pr;
	struct m_probe_now	 pn;
	struct m_exec_probe	 ep;
	struct m_connect	 cn;

	switch (m->hdr.type) {
	case M_READY:
		proto_copy(m, &r, sizeof(r));
		if (r.ready > 1) {
			proc_drop(w, 1, "M_READY: ready %u", r.ready);
			break;
		}
		if (proc_ref_ok(w, m->hdr.type, &r.ref))
			act_ready(&r);
		break;
	case M_NOTIFY:
		proto_copy(m, &n, sizeof(n));
		if (n.what < NOTIFY_STATUS || n.what > NOTIFY_WATCHDOG) {
			proc_drop(w, 1, "M_NOTIFY: what %u", n.what);
			break;
		}
		if (proc_ref_ok(w, m->hdr.type, &n.ref))
			act_notify(&n);
		break;
	case M_PROBE_RESULT:
		proto_copy(m, &pr, sizeof(pr));
		if (pr.ok > 1) {
			proc_drop(w, 1, "M_PROBE_RESULT: ok %u", pr.ok);
			break;
		}
		if (proc_probe_ok(w, m->hdr.type, pr.service, pr.probe))
			svc_probe_result(&pr);
		break;
	case M_PROBE_NOW_DONE:
		/* answers a seq of ours; an unknown one matches nothing */
		proto_copy(m, &pn, sizeof(pn));
		control_probe_done(&pn);
		break;
	case M_EXEC_PROBE:
		/* the spawner looks the probe up and answers in any case */
		proto_copy(m, &ep, sizeof(ep));
		if (!config_valid_name(ep.service)) {
			proc_drop(w, 1, "M_EXEC_PROBE: invalid service name");
			break;
		}
		proc_forward(m, PROC_SPAWNER);
		break;
	case M_CONNECT_REQ:
		proto_copy(m, &cn, sizeof(cn));
		if (!config_valid_name(cn.service)) {
			proc_drop(w, 1, "M_CONNECT_REQ: invalid service name");
			break;
		}
		proc_forward(m, PROC_SPAWNER);
		break;
	default:
		fatalx("%s: %s passed the table", __func__,
		    msg_type_name(m->hdr.type));
	}
}

/* Messages from the store: unprivileged, every value is checked. */
static void
dispatch_store(struct worker *w, struct msg *m)
{
	struct m_store_service		 s;
	struct m_store_job		 j;
	struct m_store_load_done	 d;
	struct m_log_stats		 ls;
	struct svc			*sv;

	switch (m->hdr.type) {
	case M_STORE_LOAD_SERVICE:
	case M_STORE_LOAD_JOB:
	case M_STORE_LOAD_DONE:
		if (!w->loading) {
			proc_violation(w, "%s outside a load",
			    msg_type_name(m->hdr.type));
			return;
		}
		break;
	}

	switch (m->hdr.type) {
	case M_STORE_LOAD_SERVICE:
		proto_copy(m, &s, sizeof(s));
		if (s.intent > INTENT_FAILED || !proc_id_ok(s.run_id)) {
			proc_drop(w, 1, "M_STORE_LOAD_SERVICE %s: intent %u, "
			    "run %llu", s.name, s.intent,
			    (unsigned long long)s.run_id);
			break;
		}
		svc_load_record(&s);
		break;
	case M_STORE_LOAD_JOB:
		proto_copy(m, &j, sizeof(j));
		if (j.ref.job_id == 0 || !proc_id_ok(j.ref.job_id) ||
		    !proc_id_ok(j.run_id) || j.pid < 0 || j.pgid < 0 ||
		    j.state >= AS_MAX) {
			proc_drop(w, 1, "M_STORE_LOAD_JOB %s/%s: job %llu, "
			    "run %llu, pid %d, pgid %d, state %u",
			    j.ref.service, j.ref.action,
			    (unsigned long long)j.ref.job_id,
			    (unsigned long long)j.run_id, j.pid, j.pgid,
			    j.state);
			break;
		}
		svc_load_job(&j);
		break;
	case M_STORE_LOAD_DONE:
		proto_copy(m, &d, sizeof(d));
		w->loading = 0;
		if (!proc_id_ok(d.max_job_id) || !proc_id_ok(d.max_run_id)) {
			proc_drop(w, 1, "M_STORE_LOAD_DONE: ids out of range");
			d.max_job_id = d.max_run_id = 0;
		}
		svc_load_done(&d);
		break;
	case M_LOG_STATS:
		proto_copy(m, &ls, sizeof(ls));
		if ((sv = svc_find(ls.service)) == NULL ||
		    proc_find_act(sv, ls.action) == NULL) {
			/* normal after a removal: the store keeps old logs */
			break;
		}
		svc_log_stats(&ls);
		break;
	default:
		fatalx("%s: %s passed the table", __func__,
		    msg_type_name(m->hdr.type));
	}
}

static void
proc_dispatch(struct msgev *mev, struct msg *m, void *arg)
{
	struct worker		*w = arg;
	enum proc_id		 id = (enum proc_id)(w - workers);
	const struct proto_msg	*pm;

	if (m->hdr.type == M_WORKER_READY)
		proc_hello(w, id);
	else if (!w->hello)
		proc_violation(w, "%s before M_WORKER_READY",
		    msg_type_name(m->hdr.type));
	else if (m->hdr.type == M_CONF_ACK)
		proc_acked(w, id);
	else if ((pm = proto_lookup(m->hdr.type)) != NULL &&
	    pm->relay != -1 && id == PROC_SPAWNER)
		proc_forward(m, (enum proc_id)pm->relay);
	else if (id == PROC_SPAWNER)
		dispatch_spawner(w, m);
	else if (id == PROC_PROBER)
		dispatch_prober(w, m);
	else
		dispatch_store(w, m);
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
}
