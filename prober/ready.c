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
 * Readiness of action instances and their watchdogs.
 *
 *  file    RUNDIR/sockets/SERVICE/.ready.ACTION, seen through one inotify
 *          watch per service directory (no polling).  Each event on that
 *          name leads to a stat(); a change of presence is reported.
 *  notify  sd_notify(3) datagrams on RUNDIR/notify/SERVICE.ACTION, a
 *          socket created at config time so that it exists before the
 *          service starts.  Only a process of the watched instance counts
 *          (SCM_CREDENTIALS: same pid, same process group, or a
 *          descendant).  Every received fd is closed at once (BARRIER=1).
 *  fd      the read end of the action's readiness pipe (M_READYFD); a
 *          newline means ready (the s6 convention).
 *
 * A watch is one instance (struct m_ref: job_id + restart_count); a new
 * M_WATCH for a service/action replaces the previous instance, so nothing
 * from an old instance counts for the new one.
 *
 * Adopted instances (m_watch.adopted, herod restarted): file mode reports
 * the file's presence now; notify and fd modes report ready at once when
 * the instance was ready when it was recorded (adopted 1): a notify
 * service will not send READY=1 again, nor can the pipe of an fd service
 * be recovered.  One adopted while still starting (adopted 2) must still
 * send READY=1 in notify mode; in fd mode it is taken as ready, since its
 * pipe is gone.
 */
#include <sys/types.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "herod.h"
#include "log.h"
#include "proto.h"
#include "util.h"
#include "prober.h"
#include "ratelim.h"

#define NOTIFY_BUF		4096	/* longer datagrams are ignored */
#define NOTIFY_MAX_FDS		64	/* per datagram; more dropped */
#define NOTIFY_BATCH		64	/* datagrams per wakeup */
#define NOTIFY_RATE		100	/* M_NOTIFY per second, watch */
#define ANCESTRY_MAX		64
#define PENDING_MAX_MS		30000	/* unmatched facts kept */
#define PENDING_FDS_MAX		64
#define WATCHDOG_REPORT_MS	1000
#define READY_PREFIX		".ready."
#define SUN_PATH_MAX		sizeof(((struct sockaddr_un *)0)->sun_path)

/* What one or more datagrams said. */
struct nfacts {
	int		 ready;
	int		 stopping;
	int		 watchdog;
	int		 watchdog_trigger;
	int		 has_status;
	int		 has_errno;
	int		 has_extend;
	int		 reloading;
	int		 errnum;
	pid_t		 mainpid;	/* 0: not said */
	uint64_t	 extend_us;
	char		 status[REASON_BUF];
};

/* Who sent a datagram, as seen when it was received. */
struct nsender {
	pid_t		 pid;
	pid_t		 pgid;		/* 0: the sender was gone */
	pid_t		 anc[ANCESTRY_MAX];
	int		 nanc;
};

/* Facts that arrived before the M_WATCH of their instance. */
struct npending {
	int64_t		 when_ms;
	struct nsender	 sender;
	struct nfacts	 facts;
};

struct nsock {
	TAILQ_ENTRY(nsock)	 entry;
	char			 service[NAME_BUF];
	char			 action[NAME_BUF];
	char			 path[SUN_PATH_MAX];
	int			 fd;
	struct event		*ev;
	int			 keep;
	struct npending		*pending;
};

/* A service's socket directory, watched with inotify. */
struct rdir {
	TAILQ_ENTRY(rdir)	 entry;
	char			 service[NAME_BUF];
	char			 path[PATH_MAX];
	int			 wd;		/* -1: not watched */
};

struct watch {
	TAILQ_ENTRY(watch)	 entry;
	struct m_ref		 ref;
	pid_t			 pid;
	pid_t			 pgid;
	enum ready_mode		 mode;
	int			 ready;
	/* file */
	char			 file[PATH_MAX];
	/* fd */
	int			 rfd;
	struct event		*rev;
	/* notify */
	int			 stopping;
	int			 reloading;	/* RELOADING=1 until READY=1 */
	int			 say_ready;	/* adopted: pass on a READY=1 */
	pid_t			 mainpid;	/* last MAINPID= passed on */
	int			 errnum;
	char			 status[REASON_BUF];
	int64_t			 rate_start_ms;
	int			 rate_count;
	/* watchdog */
	uint32_t		 watchdog_ms;	/* 0: off or fired */
	struct event		*wd;
	int64_t			 wd_last_ms;
	int64_t			 wd_reported_ms;
};

/* A readiness fd that came before its M_WATCH. */
struct pendfd {
	TAILQ_ENTRY(pendfd)	 entry;
	struct m_ref		 ref;
	int			 fd;
};

static TAILQ_HEAD(, nsock)	 nsocks = TAILQ_HEAD_INITIALIZER(nsocks);
static TAILQ_HEAD(, rdir)	 rdirs = TAILQ_HEAD_INITIALIZER(rdirs);
static TAILQ_HEAD(, watch)	 watches = TAILQ_HEAD_INITIALIZER(watches);
static TAILQ_HEAD(, pendfd)	 pendfds = TAILQ_HEAD_INITIALIZER(pendfds);
static int			 npendfds;
static int			 inotify_fd = -1;
static struct event		*inotify_ev;
/* lines any process that can reach a notify socket can cause */
static struct ratelim		 rl_notify = RATELIM_INIT(10, 10000);
static struct ratelim		 rl_notify_debug = RATELIM_INIT(10, 10000);

static void	 inotify_read(int, short, void *);
static void	 notify_read(int, short, void *);
static void	 readyfd_read(int, short, void *);
static void	 watchdog_fired(int, short, void *);
static void	 nsock_close(struct nsock *);
static void	 watch_free(struct watch *);
static void	 file_check(struct watch *);

static int
same_ref(const struct m_ref *a, const struct m_ref *b)
{
	return strcmp(a->service, b->service) == 0 &&
	    strcmp(a->action, b->action) == 0 &&
	    a->job_id == b->job_id && a->restart_count == b->restart_count;
}

static struct watch *
watch_find(const char *service, const char *action)
{
	struct watch	*w;

	TAILQ_FOREACH(w, &watches, entry)
		if (strcmp(w->ref.service, service) == 0 &&
		    strcmp(w->ref.action, action) == 0)
			return w;
	return NULL;
}

static struct nsock *
nsock_find(const char *service, const char *action)
{
	struct nsock	*ns;

	TAILQ_FOREACH(ns, &nsocks, entry)
		if (strcmp(ns->service, service) == 0 &&
		    strcmp(ns->action, action) == 0)
			return ns;
	return NULL;
}

static void
send_ready(struct watch *w, int ready, const char *reason)
{
	struct m_ready	 r;

	w->ready = ready;
	memset(&r, 0, sizeof(r));
	r.ref = w->ref;
	r.ready = ready ? 1 : 0;
	strlcpy(r.reason, reason, sizeof(r.reason));
	log_debug("%s: %s/%s job %llu.%u %s%s%s", __func__, w->ref.service,
	    w->ref.action, (unsigned long long)w->ref.job_id,
	    w->ref.restart_count, ready ? "ready" : "not ready",
	    reason[0] != '\0' ? ": " : "", reason);
	prober_send(M_READY, &r, sizeof(r));
}

static void
send_notify(struct watch *w, enum notify_what what, uint64_t value,
    const char *text)
{
	struct m_notify	 n;
	int64_t		 now = now_ms();

	/* a chatty service must not flood the parent */
	if (now - w->rate_start_ms >= 1000) {
		w->rate_start_ms = now;
		w->rate_count = 0;
	}
	if (++w->rate_count > NOTIFY_RATE) {
		if (w->rate_count == NOTIFY_RATE + 1)
			log_warnx("%s: %s/%s: too many notifications, "
			    "dropping some", __func__, w->ref.service,
			    w->ref.action);
		return;
	}
	memset(&n, 0, sizeof(n));
	n.ref = w->ref;
	n.what = what;
	n.value = value;
	if (text != NULL)
		strlcpy(n.text, text, sizeof(n.text));
	prober_send(M_NOTIFY, &n, sizeof(n));
}

int
ready_init(void)
{
	inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (inotify_fd == -1)
		return -1;
	inotify_ev = event_new(prober_base, inotify_fd, EV_READ | EV_PERSIST,
	    inotify_read, NULL);
	if (inotify_ev == NULL || event_add(inotify_ev, NULL) == -1)
		fatalx("%s: event", __func__);
	return 0;
}

/* ---- notify sockets ---------------------------------------------- */

static void
nsock_open(const char *service, const char *action)
{
	struct nsock		*ns;
	struct sockaddr_un	 sun;
	int			 fd, on = 1;

	if ((ns = calloc(1, sizeof(*ns))) == NULL)
		fatal("%s: calloc", __func__);
	ns->fd = -1;
	ns->keep = 1;
	strlcpy(ns->service, service, sizeof(ns->service));
	strlcpy(ns->action, action, sizeof(ns->action));
	TAILQ_INSERT_TAIL(&nsocks, ns, entry);

	if ((size_t)snprintf(ns->path, sizeof(ns->path), "%s/%s/%s.%s",
	    prober_env->rundir, RUN_NOTIFY, service, action) >=
	    sizeof(ns->path)) {
		log_warnx("%s: %s/%s: notify socket path too long (max %zu)",
		    __func__, service, action, sizeof(ns->path) - 1);
		ns->path[0] = '\0';
		return;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("%s: socket", __func__);
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, ns->path, sizeof(sun.sun_path));
	if (unlink(ns->path) == -1 && errno != ENOENT)
		log_warn("%s: unlink %s", __func__, ns->path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("%s: bind %s", __func__, ns->path);
		close(fd);
		return;
	}
	/* services run as any user: let them all send */
	if (chmod(ns->path, 0666) == -1)
		log_warn("%s: chmod %s", __func__, ns->path);
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == -1) {
		log_warn("%s: SO_PASSCRED", __func__);
		close(fd);
		unlink(ns->path);
		return;
	}
	ns->fd = fd;
	ns->ev = event_new(prober_base, fd, EV_READ | EV_PERSIST,
	    notify_read, ns);
	if (ns->ev == NULL || event_add(ns->ev, NULL) == -1)
		fatalx("%s: event", __func__);
	log_debug("%s: %s", __func__, ns->path);
}

static void
nsock_close(struct nsock *ns)
{
	TAILQ_REMOVE(&nsocks, ns, entry);
	if (ns->ev != NULL)
		event_free(ns->ev);
	if (ns->fd != -1) {
		close(ns->fd);
		if (unlink(ns->path) == -1 && errno != ENOENT)
			log_warn("%s: unlink %s", __func__, ns->path);
	}
	free(ns->pending);
	free(ns);
}

/* Create the notify sockets a (new or changed) service needs. */
void
ready_conf_apply(struct psvc *svc)
{
	struct nsock		*ns, *tns;
	struct action_conf	*ac;
	size_t			 i;

	TAILQ_FOREACH(ns, &nsocks, entry)
		if (strcmp(ns->service, svc->name) == 0)
			ns->keep = 0;
	for (i = 0; i < svc->conf->nactions; i++) {
		ac = &svc->conf->actions[i];
		if (ac->ready_mode != READY_NOTIFY)
			continue;
		if ((ns = nsock_find(svc->name, ac->name)) != NULL) {
			ns->keep = 1;
			continue;
		}
		nsock_open(svc->name, ac->name);
	}
	TAILQ_FOREACH_SAFE(ns, &nsocks, entry, tns)
		if (strcmp(ns->service, svc->name) == 0 && !ns->keep)
			nsock_close(ns);
}

void
ready_svc_remove(const char *service)
{
	struct nsock	*ns, *tns;
	struct watch	*w, *tw;
	struct pendfd	*pf, *tpf;

	TAILQ_FOREACH_SAFE(w, &watches, entry, tw)
		if (strcmp(w->ref.service, service) == 0)
			watch_free(w);
	TAILQ_FOREACH_SAFE(ns, &nsocks, entry, tns)
		if (strcmp(ns->service, service) == 0)
			nsock_close(ns);
	TAILQ_FOREACH_SAFE(pf, &pendfds, entry, tpf)
		if (strcmp(pf->ref.service, service) == 0) {
			TAILQ_REMOVE(&pendfds, pf, entry);
			npendfds--;
			close(pf->fd);
			free(pf);
		}
}

/*
 * ppid and pgid from /proc/PID/stat, zombies included (unlike
 * proc_stat()): a notifier such as systemd-notify may have exited, and
 * not yet been reaped, by the time its datagram is read.
 */
static int
proc_parents(pid_t pid, pid_t *ppid, pid_t *pgid)
{
	char	 path[64], buf[512], *p;
	int	 a, b;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small_file(path, buf, sizeof(buf)) == -1)
		return -1;
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 1, " %*c %d %d", &a, &b) != 2)
		return -1;
	*ppid = a;
	*pgid = b;
	return 0;
}

/* Snapshot of the sender: its process group and its ancestors. */
static void
sender_snapshot(struct nsender *s, pid_t pid)
{
	pid_t	 pgid = 0, ppid = 0, cur, dummy;

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	if (proc_parents(pid, &ppid, &pgid) == -1)
		return;		/* gone already */
	s->pgid = pgid;
	for (cur = ppid; cur > 1 && s->nanc < ANCESTRY_MAX; cur = ppid) {
		s->anc[s->nanc++] = cur;
		if (proc_parents(cur, &ppid, &dummy) == -1)
			break;
	}
}

static int
sender_matches(const struct nsender *s, const struct watch *w)
{
	int	 i;

	if (w->pid > 0 && s->pid == w->pid)
		return 1;
	if (w->pgid > 0 && s->pgid == w->pgid)
		return 1;
	for (i = 0; i < s->nanc; i++)
		if (w->pid > 0 && s->anc[i] == w->pid)
			return 1;
	return 0;
}

static void
facts_parse(struct nfacts *f, char *buf)
{
	char		*line, *next, *v;
	const char	*errstr;
	unsigned long long ull;
	char		*ep;
	int		 n;

	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((v = strchr(line, '=')) == NULL)
			continue;
		*v++ = '\0';
		if (strcmp(line, "READY") == 0) {
			if (strcmp(v, "1") == 0)
				f->ready = 1;
		} else if (strcmp(line, "STATUS") == 0) {
			f->has_status = 1;
			sanitize_text(f->status, sizeof(f->status), v,
			    strlen(v));
		} else if (strcmp(line, "STOPPING") == 0) {
			if (strcmp(v, "1") == 0)
				f->stopping = 1;
		} else if (strcmp(line, "RELOADING") == 0) {
			if (strcmp(v, "1") == 0)
				f->reloading = 1;
		} else if (strcmp(line, "MAINPID") == 0) {
			/* checked again by the parent, which trusts no pid */
			n = (int)strtonum(v, 2, INT_MAX, &errstr);
			if (errstr == NULL)
				f->mainpid = n;
		} else if (strcmp(line, "ERRNO") == 0) {
			n = (int)strtonum(v, 0, INT_MAX, &errstr);
			/* a bad value changes nothing, not even an earlier one */
			if (errstr == NULL) {
				f->errnum = n;
				f->has_errno = 1;
			}
		} else if (strcmp(line, "EXTEND_TIMEOUT_USEC") == 0) {
			if (*v < '0' || *v > '9')
				continue;
			errno = 0;
			ull = strtoull(v, &ep, 10);
			if (*ep != '\0' || errno == ERANGE)
				continue;
			f->has_extend = 1;
			f->extend_us = ull;
		} else if (strcmp(line, "WATCHDOG") == 0) {
			if (strcmp(v, "1") == 0)
				f->watchdog = 1;
			else if (strcmp(v, "trigger") == 0)
				f->watchdog_trigger = 1;
		}
		/* BARRIER, FDSTORE, MONOTONIC_USEC, ...: nothing to do */
	}
}

/* Merge facts b into a (a keeps what b does not say). */
static void
facts_merge(struct nfacts *a, const struct nfacts *b)
{
	a->ready |= b->ready;
	a->stopping |= b->stopping;
	a->reloading |= b->reloading;
	if (b->mainpid != 0)
		a->mainpid = b->mainpid;
	a->watchdog |= b->watchdog;
	a->watchdog_trigger |= b->watchdog_trigger;
	if (b->has_status) {
		a->has_status = 1;
		memcpy(a->status, b->status, sizeof(a->status));
	}
	if (b->has_errno) {
		a->has_errno = 1;
		a->errnum = b->errnum;
	}
	if (b->has_extend) {
		a->has_extend = 1;
		a->extend_us = b->extend_us;
	}
}

static void
watchdog_arm(struct watch *w)
{
	struct timeval	 tv;

	if (w->watchdog_ms == 0 || w->reloading)
		return;
	if (w->wd == NULL &&
	    (w->wd = evtimer_new(prober_base, watchdog_fired, w)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	tv.tv_sec = w->watchdog_ms / 1000;
	tv.tv_usec = (w->watchdog_ms % 1000) * 1000;
	evtimer_add(w->wd, &tv);
}

static void
watchdog_missed(struct watch *w)
{
	int64_t	 since = now_ms() - w->wd_last_ms;

	log_warnx("%s: %s/%s: no WATCHDOG=1 for %lld ms", __func__,
	    w->ref.service, w->ref.action, (long long)since);
	send_notify(w, NOTIFY_WATCHDOG_MISSED, since > 0 ? (uint64_t)since :
	    0, NULL);
	/* once: the parent restarts the action, a new M_WATCH follows */
	w->watchdog_ms = 0;
	if (w->wd != NULL)
		evtimer_del(w->wd);
}

static void
watchdog_fired(int fd, short ev, void *arg)
{
	watchdog_missed(arg);
}

/*
 * MAINPID=: passed on for a process of the instance's process group only
 * (the parent checks it again, with a pidfd).
 */
static void
mainpid_apply(struct watch *w, pid_t pid)
{
	pid_t	 ppid, pgid;

	if (pid == w->mainpid)
		return;
	if (w->pgid <= 0 || proc_parents(pid, &ppid, &pgid) == -1 ||
	    pgid != w->pgid) {
		if (ratelim_ok(&rl_notify, __func__))
			log_warnx("%s: %s/%s: MAINPID=%d is not a process of "
			    "its group %d, ignored", __func__,
			    w->ref.service, w->ref.action, (int)pid,
			    (int)w->pgid);
		return;
	}
	w->mainpid = pid;
	send_notify(w, NOTIFY_MAINPID, (uint64_t)pid, NULL);
}

static void
facts_apply(struct watch *w, const struct nfacts *f)
{
	int64_t	 now;

	if (f->has_status && strcmp(f->status, w->status) != 0) {
		strlcpy(w->status, f->status, sizeof(w->status));
		send_notify(w, NOTIFY_STATUS, 0, w->status);
	}
	if (f->has_errno && f->errnum != w->errnum) {
		w->errnum = f->errnum;
		send_notify(w, NOTIFY_ERRNO, (uint64_t)f->errnum, NULL);
	}
	if (f->has_extend)
		send_notify(w, NOTIFY_EXTEND_TIMEOUT, f->extend_us, NULL);
	if (f->stopping && !w->stopping) {
		w->stopping = 1;
		send_notify(w, NOTIFY_STOPPING, 0, NULL);
	}
	if (f->mainpid != 0)
		mainpid_apply(w, f->mainpid);
	/* Type=notify-reload: RELOADING=1 until the next READY=1 */
	if (f->reloading && w->ready && !w->reloading && !w->stopping) {
		w->reloading = 1;
		if (w->wd != NULL)
			evtimer_del(w->wd);	/* not counted meanwhile */
		send_notify(w, NOTIFY_RELOADING, 1, NULL);
	}
	if (f->ready && !w->ready)
		send_ready(w, 1, "");
	else if (f->ready && (w->reloading || w->say_ready)) {
		/* a reload ended (or one the parent may still show) */
		w->reloading = 0;
		w->say_ready = 0;
		w->wd_last_ms = now_ms();
		watchdog_arm(w);
		send_notify(w, NOTIFY_RELOADING, 0, NULL);
	}
	if (f->watchdog && w->watchdog_ms > 0) {
		now = now_ms();
		w->wd_last_ms = now;
		watchdog_arm(w);
		if (now - w->wd_reported_ms >= WATCHDOG_REPORT_MS) {
			w->wd_reported_ms = now;
			send_notify(w, NOTIFY_WATCHDOG, 0, NULL);
		}
	}
	if (f->watchdog_trigger && w->watchdog_ms > 0)
		watchdog_missed(w);
}

static void
notify_datagram(struct nsock *ns, pid_t pid, char *buf)
{
	struct nsender	 s;
	struct nfacts	 f;
	struct watch	*w;
	struct npending	*p;

	memset(&f, 0, sizeof(f));
	facts_parse(&f, buf);
	sender_snapshot(&s, pid);

	w = watch_find(ns->service, ns->action);
	if (w != NULL && w->mode == READY_NOTIFY && sender_matches(&s, w)) {
		facts_apply(w, &f);
		return;
	}
	if (w != NULL && w->mode == READY_NOTIFY && w->pid > 0 &&
	    proc_alive(w->pid, 0)) {
		/* the watched instance lives: no newer one can be coming */
		if (ratelim_ok(&rl_notify, __func__))
			log_warnx("%s: notify from pid %d not of %s/%s, "
			    "ignored", __func__, (int)pid, ns->service,
			    ns->action);
		return;
	}
	/*
	 * Perhaps the next instance, faster than its M_WATCH: keep the
	 * facts with who sent them, decide when the M_WATCH comes.
	 */
	p = ns->pending;
	if (p != NULL && (p->sender.pgid == 0 ||
	    p->sender.pgid != s.pgid)) {
		if (ratelim_ok(&rl_notify, __func__))
			log_warnx("%s: notify from pid %d not of %s/%s, "
			    "ignored", __func__, (int)p->sender.pid,
			    ns->service, ns->action);
		memset(p, 0, sizeof(*p));
	}
	if (p == NULL && (p = ns->pending = calloc(1, sizeof(*p))) == NULL)
		fatal("%s: calloc", __func__);
	p->when_ms = now_ms();
	p->sender = s;
	facts_merge(&p->facts, &f);
	if (ratelim_ok(&rl_notify_debug, __func__))
		log_debug("%s: notify from pid %d for %s/%s kept for its "
		    "instance", __func__, (int)pid, ns->service, ns->action);
}

static void
notify_read(int fd, short ev, void *arg)
{
	struct nsock	*ns = arg;
	char		 buf[NOTIFY_BUF + 1];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(struct ucred)) +
				    CMSG_SPACE(sizeof(int) * NOTIFY_MAX_FDS)];
	}		 cbuf;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	struct ucred	 cred;
	ssize_t		 n;
	int		 i, nfds, havecred, *fds;

	for (i = 0; i < NOTIFY_BATCH; i++) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = buf;
		iov.iov_len = NOTIFY_BUF;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC |
		    MSG_TRUNC);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_warn("%s: recvmsg %s", __func__,
				    ns->path);
			return;
		}
		havecred = 0;
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		    cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET)
				continue;
			if (cm->cmsg_type == SCM_RIGHTS) {
				/* BARRIER=1, FDSTORE=1: close them all */
				fds = (int *)CMSG_DATA(cm);
				nfds = (int)((cm->cmsg_len - CMSG_LEN(0)) /
				    sizeof(int));
				while (nfds-- > 0)
					close(fds[nfds]);
			} else if (cm->cmsg_type == SCM_CREDENTIALS &&
			    cm->cmsg_len == CMSG_LEN(sizeof(cred))) {
				memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
				havecred = 1;
			}
		}
		if ((mh.msg_flags & MSG_CTRUNC) &&
		    ratelim_ok(&rl_notify, __func__))
			log_warnx("%s: %s: control data truncated",
			    __func__, ns->path);
		if ((mh.msg_flags & MSG_TRUNC) || n > NOTIFY_BUF) {
			if (ratelim_ok(&rl_notify, __func__))
				log_warnx("%s: %s: datagram of %zd bytes too "
				    "long, ignored", __func__, ns->path, n);
			continue;
		}
		if (!havecred || cred.pid <= 0) {
			if (ratelim_ok(&rl_notify, __func__))
				log_warnx("%s: %s: datagram without sender, "
				    "ignored", __func__, ns->path);
			continue;
		}
		if (memchr(buf, '\0', (size_t)n) != NULL) {
			if (ratelim_ok(&rl_notify, __func__))
				log_warnx("%s: %s: datagram with a NUL byte "
				    "from pid %d, ignored", __func__, ns->path,
				    (int)cred.pid);
			continue;
		}
		buf[n] = '\0';
		notify_datagram(ns, cred.pid, buf);
	}
}

/* ---- ready files: inotify -------------------------------------- */

static struct rdir *
rdir_get(const char *service)
{
	struct rdir	*rd;

	TAILQ_FOREACH(rd, &rdirs, entry)
		if (strcmp(rd->service, service) == 0)
			return rd;
	if ((rd = calloc(1, sizeof(*rd))) == NULL)
		fatal("%s: calloc", __func__);
	strlcpy(rd->service, service, sizeof(rd->service));
	snprintf(rd->path, sizeof(rd->path), "%s/%s/%s", prober_env->rundir,
	    RUN_SOCKETS, service);
	rd->wd = -1;
	TAILQ_INSERT_TAIL(&rdirs, rd, entry);
	return rd;
}

/*
 * (Re)arm the watch of a service directory.  Called on every M_WATCH of
 * a file-mode instance: if the directory was re-created, the kernel gives
 * a new watch descriptor and the old one goes.
 */
static void
rdir_arm(struct rdir *rd)
{
	int	 wd;

	wd = inotify_add_watch(inotify_fd, rd->path, IN_CREATE |
	    IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_CLOSE_WRITE |
	    IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
	if (wd == -1) {
		log_warn("%s: cannot watch %s (retried at the next spawn)",
		    __func__, rd->path);
		return;
	}
	if (rd->wd != -1 && rd->wd != wd)
		(void)inotify_rm_watch(inotify_fd, rd->wd);
	rd->wd = wd;
}

static void
rdir_release(const char *service)
{
	struct rdir	*rd;
	struct watch	*w;

	TAILQ_FOREACH(w, &watches, entry)
		if (w->mode == READY_FILE &&
		    strcmp(w->ref.service, service) == 0)
			return;		/* still used */
	TAILQ_FOREACH(rd, &rdirs, entry)
		if (strcmp(rd->service, service) == 0)
			break;
	if (rd == NULL)
		return;
	if (rd->wd != -1)
		(void)inotify_rm_watch(inotify_fd, rd->wd);
	TAILQ_REMOVE(&rdirs, rd, entry);
	free(rd);
}

static void
file_check(struct watch *w)
{
	struct stat	 st;
	int		 present;

	present = stat(w->file, &st) == 0;
	if (present && !w->ready)
		send_ready(w, 1, "");
	else if (!present && w->ready)
		send_ready(w, 0, "ready file removed");
}

static void
file_check_service(const char *service)
{
	struct watch	*w;

	TAILQ_FOREACH(w, &watches, entry)
		if (w->mode == READY_FILE && (service == NULL ||
		    strcmp(w->ref.service, service) == 0))
			file_check(w);
}

static void
inotify_read(int fd, short ev, void *arg)
{
	char			 buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	struct inotify_event	*ie;
	struct rdir		*rd;
	struct watch		*w;
	ssize_t			 n;
	char			*p;
	int			 loops;

	for (loops = 0; loops < 64; loops++) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_warn("%s: read", __func__);
			return;
		}
		if (n == 0)
			return;
		for (p = buf; p + sizeof(*ie) <= buf + n;
		    p += sizeof(*ie) + ie->len) {
			ie = (struct inotify_event *)p;
			if (p + sizeof(*ie) + ie->len > buf + n)
				break;
			if (ie->mask & IN_Q_OVERFLOW) {
				log_warnx("%s: inotify queue overflow",
				    __func__);
				file_check_service(NULL);
				continue;
			}
			TAILQ_FOREACH(rd, &rdirs, entry)
				if (rd->wd == ie->wd)
					break;
			if (rd == NULL)
				continue;
			if (ie->mask & (IN_IGNORED | IN_DELETE_SELF |
			    IN_MOVE_SELF)) {
				/* the directory went: so did its files */
				if (ie->mask & IN_IGNORED)
					rd->wd = -1;
				file_check_service(rd->service);
				continue;
			}
			if (ie->len == 0 || strncmp(ie->name, READY_PREFIX,
			    sizeof(READY_PREFIX) - 1) != 0)
				continue;
			w = watch_find(rd->service,
			    ie->name + sizeof(READY_PREFIX) - 1);
			if (w != NULL && w->mode == READY_FILE)
				file_check(w);
		}
	}
}

/* ---- readiness fds ---------------------------------------------- */

static void
readyfd_close(struct watch *w)
{
	if (w->rev != NULL) {
		event_free(w->rev);
		w->rev = NULL;
	}
	if (w->rfd != -1) {
		close(w->rfd);
		w->rfd = -1;
	}
}

static void
readyfd_attach(struct watch *w, int fd)
{
	w->rfd = fd;
	if (set_nonblock(fd) == -1)
		log_warn("%s: set_nonblock", __func__);
	w->rev = event_new(prober_base, fd, EV_READ | EV_PERSIST,
	    readyfd_read, w);
	if (w->rev == NULL || event_add(w->rev, NULL) == -1)
		fatalx("%s: event", __func__);
}

static void
readyfd_read(int fd, short ev, void *arg)
{
	struct watch	*w = arg;
	char		 buf[512];
	ssize_t		 n;
	int		 loops;

	for (loops = 0; loops < 16; loops++) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			log_warn("%s: %s/%s: read", __func__,
			    w->ref.service, w->ref.action);
			readyfd_close(w);
			return;
		}
		if (n == 0) {
			log_debug("%s: %s/%s: readiness fd closed without a "
			    "newline", __func__, w->ref.service,
			    w->ref.action);
			readyfd_close(w);
			return;
		}
		if (memchr(buf, '\n', (size_t)n) != NULL) {
			readyfd_close(w);
			if (!w->ready)
				send_ready(w, 1, "");
			return;
		}
	}
}

static void
pendfd_drop(struct pendfd *pf)
{
	TAILQ_REMOVE(&pendfds, pf, entry);
	npendfds--;
	close(pf->fd);
	free(pf);
}

void
ready_fd(const struct m_ref *ref, int fd)
{
	struct watch	*w;
	struct pendfd	*pf;

	w = watch_find(ref->service, ref->action);
	if (w != NULL && same_ref(&w->ref, ref)) {
		if (w->mode != READY_FD || w->rfd != -1 || w->ready) {
			log_debug("%s: %s/%s: readiness fd not wanted",
			    __func__, ref->service, ref->action);
			close(fd);
			return;
		}
		readyfd_attach(w, fd);
		return;
	}
	/* before its M_WATCH: keep it, bounded */
	if (npendfds >= PENDING_FDS_MAX) {
		log_warnx("%s: too many readiness fds without a watch",
		    __func__);
		pendfd_drop(TAILQ_FIRST(&pendfds));
	}
	if ((pf = calloc(1, sizeof(*pf))) == NULL)
		fatal("%s: calloc", __func__);
	pf->ref = *ref;
	pf->fd = fd;
	TAILQ_INSERT_TAIL(&pendfds, pf, entry);
	npendfds++;
}

/* ---- watches ---------------------------------------------------- */

static void
watch_free(struct watch *w)
{
	char	 service[NAME_BUF];
	int	 wasfile = w->mode == READY_FILE;

	TAILQ_REMOVE(&watches, w, entry);
	readyfd_close(w);
	if (w->wd != NULL)
		event_free(w->wd);
	strlcpy(service, w->ref.service, sizeof(service));
	free(w);
	if (wasfile)
		rdir_release(service);
}

void
ready_watch(const struct m_watch *mw)
{
	struct watch	*w;
	struct nsock	*ns;
	struct npending	*p;
	struct pendfd	*pf, *tpf;
	struct rdir	*rd;
	struct stat	 st;

	if ((w = watch_find(mw->ref.service, mw->ref.action)) != NULL)
		watch_free(w);
	/* readiness fds of other instances are of no use any more */
	TAILQ_FOREACH_SAFE(pf, &pendfds, entry, tpf)
		if (strcmp(pf->ref.service, mw->ref.service) == 0 &&
		    strcmp(pf->ref.action, mw->ref.action) == 0 &&
		    (mw->mode != READY_FD || !same_ref(&pf->ref, &mw->ref)))
			pendfd_drop(pf);

	if (mw->mode != READY_FILE && mw->mode != READY_NOTIFY &&
	    mw->mode != READY_FD) {
		if (mw->mode != READY_NONE && mw->mode != READY_PROBE)
			fatalx("%s: bad mode %u", __func__, mw->mode);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("%s: calloc", __func__);
	w->ref = mw->ref;
	w->pid = mw->pid;
	w->pgid = mw->pgid;
	w->mode = mw->mode;
	w->rfd = -1;
	w->wd_last_ms = now_ms();
	TAILQ_INSERT_TAIL(&watches, w, entry);
	log_debug("%s: %s/%s job %llu.%u pid %d mode %s%s", __func__,
	    w->ref.service, w->ref.action,
	    (unsigned long long)w->ref.job_id, w->ref.restart_count,
	    (int)w->pid, config_ready_mode_name(w->mode),
	    mw->adopted ? " (adopted)" : "");

	switch (w->mode) {
	case READY_FILE:
		snprintf(w->file, sizeof(w->file), "%s/%s/%s/%s%s",
		    prober_env->rundir, RUN_SOCKETS, w->ref.service,
		    READY_PREFIX, w->ref.action);
		rd = rdir_get(w->ref.service);
		rdir_arm(rd);
		/* it may exist already, made by this very instance */
		if (stat(w->file, &st) == 0)
			send_ready(w, 1, "");
		else if (mw->adopted)
			send_ready(w, 0, "ready file missing");
		break;
	case READY_NOTIFY:
		w->watchdog_ms = mw->watchdog_ms;
		/* herod or the prober restarted: a reload may be shown */
		w->say_ready = mw->adopted != 0;
		if ((ns = nsock_find(w->ref.service, w->ref.action)) == NULL ||
		    ns->fd == -1)
			log_warnx("%s: %s/%s: no notify socket", __func__,
			    w->ref.service, w->ref.action);
		if (mw->adopted == 1)
			send_ready(w, 1, "");
		if (ns != NULL && (p = ns->pending) != NULL) {
			ns->pending = NULL;
			if (now_ms() - p->when_ms <= PENDING_MAX_MS &&
			    sender_matches(&p->sender, w))
				facts_apply(w, &p->facts);
			else if (ratelim_ok(&rl_notify, __func__))
				log_warnx("%s: notify from pid %d not of "
				    "%s/%s, ignored", __func__,
				    (int)p->sender.pid, w->ref.service,
				    w->ref.action);
			free(p);
		}
		watchdog_arm(w);
		break;
	case READY_FD:
		if (mw->adopted) {
			send_ready(w, 1, "");
			break;
		}
		TAILQ_FOREACH(pf, &pendfds, entry)
			if (same_ref(&pf->ref, &w->ref))
				break;
		if (pf != NULL) {
			readyfd_attach(w, pf->fd);
			TAILQ_REMOVE(&pendfds, pf, entry);
			npendfds--;
			free(pf);
		}
		break;
	default:
		break;
	}
}

void
ready_unwatch(const struct m_ref *ref)
{
	struct watch	*w;
	struct pendfd	*pf, *tpf;

	TAILQ_FOREACH_SAFE(pf, &pendfds, entry, tpf)
		if (same_ref(&pf->ref, ref))
			pendfd_drop(pf);
	if ((w = watch_find(ref->service, ref->action)) == NULL ||
	    !same_ref(&w->ref, ref))
		return;
	log_debug("%s: %s/%s job %llu.%u", __func__, ref->service,
	    ref->action, (unsigned long long)ref->job_id,
	    ref->restart_count);
	watch_free(w);
}
