/*
 * The workers: fork + re-exec of /proc/self/exe with "-W NAME" and the
 * parent's socket on fd 3, a ready handshake, the configuration push with
 * an ack, and a restart (with a short backoff) whenever one dies.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "herod.h"
#include "log.h"
#include "msg.h"
#include "parent.h"
#include "util.h"

#define READY_TIMEOUT_S	10

struct worker {
	const char	*name;
	pid_t		 pid;
	struct msgev	*mev;
	int		 ready;		/* configured and acked */
	int		 hello;		/* M_WORKER_READY seen */
	int		 hello_seen;	/* ... by this process */
	int		 restarts;
	int64_t		 last_start;
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
		log_warn("%s: to %s, type %u", __func__, w->name, type);
		if (fd != -1)
			close(fd);
		return -1;
	}
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
	log_debug("%s: %s channel closed", __func__, w->name);
	w->mev = NULL;
	w->ready = w->hello = 0;
	if (w->pid > 0)
		kill(w->pid, SIGKILL);
	control_worker_lost((enum proc_id)(w - workers));
}

static void
restart_cb(int fd, short ev, void *arg)
{
	proc_start((enum proc_id)(intptr_t)arg);
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
	/* posix_spawn: no copy of the parent, whose memory grows with N */
	if ((errno = posix_spawn_file_actions_init(&fa)) != 0 ||
	    (errno = posix_spawn_file_actions_adddup2(&fa, sv[1],
	    WORKER_FD)) != 0 ||
	    (errno = posix_spawn_file_actions_addclosefrom_np(&fa,
	    WORKER_FD + 1)) != 0)
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
		proc_died(id, 1 << 8);
		return;
	}
	w->pid = pid;
	w->last_start = now_ms();
	w->hello = w->ready = w->hello_seen = 0;
	w->mev = msgev_new(pt.base, sv[0], MSG_MAX_PAYLOAD, 0, proc_dispatch,
	    proc_closed, w);
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

/* Restart a dead worker: at once, or after 1 s if it keeps dying. */
static void
proc_died(enum proc_id id, int st)
{
	struct worker	*w = &workers[id];
	struct timeval	 tv = { 0, 0 };

	if (WIFSIGNALED(st))
		log_warnx("%s (pid %d) killed by signal %d", w->name,
		    (int)w->pid, WTERMSIG(st));
	else
		log_warnx("%s (pid %d) exited with status %d", w->name,
		    (int)w->pid, WEXITSTATUS(st));
	w->pid = 0;
	if (w->mev != NULL) {
		msgev_free(w->mev);
		w->mev = NULL;
		control_worker_lost(id);
	}
	w->ready = w->hello = 0;
	if (pt.shutting_down && svc_all_stopped())
		return;
	/*
	 * Killed after its handshake: back at once.  Dying before it (a
	 * crash at start) repeatedly: wait a second between tries.
	 */
	if (!w->hello_seen && w->restarts++ > 3)
		tv.tv_sec = 1;
	else if (w->hello_seen)
		w->restarts = 0;
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

#define GET(m, s) do {							\
	if (msg_get_exact((m), &(s), sizeof(s)) == -1) {		\
		log_warnx("%s: %s sent type %u with bad size %u",	\
		    __func__, w->name, (m)->hdr.type, (m)->hdr.len);	\
		kill(w->pid, SIGKILL);					\
		return;							\
	}								\
} while (0)

static void
ref_terminate(struct m_ref *r)
{
	proto_terminate(r->service);
	proto_terminate(r->action);
}

static void
proc_hello(struct worker *w, enum proc_id id)
{
	w->hello = 1;
	w->hello_seen = 1;
	evtimer_del(w->ev_timeout);
	log_debug("%s: %s ready", __func__, w->name);
	proc_configure(id);
}

static void
proc_acked(struct worker *w, enum proc_id id)
{
	w->ready = 1;
	svc_resync(id);
}

/* Messages from the spawner. */
static void
dispatch_spawner(struct worker *w, struct msg *m)
{
	struct m_spawned	 sp;
	struct m_failed		 f;
	struct m_exited		 e;
	struct m_adopted	 a;
	struct m_logfd		 l;
	struct m_ref		 r;
	struct m_probe_result	 pr;
	struct m_connect	 cn;

	switch (m->hdr.type) {
	case M_SPAWNED:
		GET(m, sp);
		ref_terminate(&sp.ref);
		act_spawned(&sp);
		break;
	case M_SPAWN_FAILED:
		GET(m, f);
		ref_terminate(&f.ref);
		proto_terminate(f.reason);
		act_spawn_failed(&f);
		break;
	case M_EXITED:
		GET(m, e);
		ref_terminate(&e.ref);
		act_exited(&e);
		break;
	case M_ADOPTED:
		GET(m, a);
		ref_terminate(&a.ref);
		act_adopted(&a);
		break;
	case M_LOGFD:
		GET(m, l);
		if (m->fd == -1)
			goto bad;
		proc_send(PROC_STORE, M_LOGFD, m->fd, &l, sizeof(l));
		m->fd = -1;
		break;
	case M_READYFD:
		GET(m, r);
		if (m->fd == -1)
			goto bad;
		proc_send(PROC_PROBER, M_READYFD, m->fd, &r, sizeof(r));
		m->fd = -1;
		break;
	case M_EXEC_PROBE_RESULT:
		GET(m, pr);
		proc_send(PROC_PROBER, M_EXEC_PROBE_RESULT, -1, &pr,
		    sizeof(pr));
		break;
	case M_CONNECT_FD:
		GET(m, cn);
		proc_send(PROC_PROBER, M_CONNECT_FD, m->fd, &cn, sizeof(cn));
		m->fd = -1;
		break;
	default:
		goto bad;
	}
	return;
 bad:
	log_warnx("%s: unexpected message %u from spawner", __func__,
	    m->hdr.type);
	kill(w->pid, SIGKILL);
}

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
		GET(m, r);
		ref_terminate(&r.ref);
		proto_terminate(r.reason);
		act_ready(&r);
		break;
	case M_NOTIFY:
		GET(m, n);
		ref_terminate(&n.ref);
		proto_terminate(n.text);
		act_notify(&n);
		break;
	case M_PROBE_RESULT:
		GET(m, pr);
		proto_terminate(pr.service);
		proto_terminate(pr.probe);
		proto_terminate(pr.error);
		svc_probe_result(&pr);
		break;
	case M_PROBE_NOW_DONE:
		GET(m, pn);
		proto_terminate(pn.service);
		control_probe_done(&pn);
		break;
	case M_EXEC_PROBE:
		GET(m, ep);
		proc_send(PROC_SPAWNER, M_EXEC_PROBE, -1, &ep, sizeof(ep));
		break;
	case M_CONNECT_REQ:
		GET(m, cn);
		proc_send(PROC_SPAWNER, M_CONNECT_REQ, -1, &cn, sizeof(cn));
		break;
	default:
		log_warnx("%s: unexpected message %u from prober", __func__,
		    m->hdr.type);
		kill(w->pid, SIGKILL);
	}
}

static void
dispatch_store(struct worker *w, struct msg *m)
{
	struct m_store_service		 s;
	struct m_store_job		 j;
	struct m_store_load_done	 d;
	struct m_log_stats		 ls;

	switch (m->hdr.type) {
	case M_STORE_LOAD_SERVICE:
		GET(m, s);
		proto_terminate(s.name);
		svc_load_record(&s);
		break;
	case M_STORE_LOAD_JOB:
		GET(m, j);
		ref_terminate(&j.ref);
		svc_load_job(&j);
		break;
	case M_STORE_LOAD_DONE:
		GET(m, d);
		svc_load_done(&d);
		break;
	case M_LOG_STATS:
		GET(m, ls);
		proto_terminate(ls.service);
		proto_terminate(ls.action);
		svc_log_stats(&ls);
		break;
	default:
		log_warnx("%s: unexpected message %u from store", __func__,
		    m->hdr.type);
		kill(w->pid, SIGKILL);
	}
}

static void
proc_dispatch(struct msgev *mev, struct msg *m, void *arg)
{
	struct worker	*w = arg;
	enum proc_id	 id = (enum proc_id)(w - workers);

	if (m->hdr.type == M_WORKER_READY) {
		proc_hello(w, id);
	} else if (m->hdr.type == M_CONF_ACK) {
		proc_acked(w, id);
	} else if (!w->hello) {
		log_warnx("%s: %s sent %u before ready", __func__, w->name,
		    m->hdr.type);
		kill(w->pid, SIGKILL);
	} else if (id == PROC_SPAWNER)
		dispatch_spawner(w, m);
	else if (id == PROC_PROBER)
		dispatch_prober(w, m);
	else
		dispatch_store(w, m);
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
}
