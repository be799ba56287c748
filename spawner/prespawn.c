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
 * Before every spawn (herod.service(5), "Before every spawn"):
 *   1. singleton: an instance named by the pid file is stopped first;
 *   2. declared sockets nobody listens on are removed; sockets and TCP
 *      ports held by a live process are freed (singleton, kill_others)
 *      or make the spawn fail with the holder's pid and command;
 *   3. the stale ready file is removed.
 * Stopping holders is asynchronous (pidfds + a timer); once they are all
 * gone the checks run again and, when clean, spawn_do() forks.
 *
 * Nothing is signalled on a pid alone: the pid file may be written by the
 * action's user, and a socket or port may be held by anyone.  A process
 * is stopped only through a pidfd, after proc_is_action() showed all its
 * uids to be the action's (and, for the pid file, its environment to
 * name this service and action and its start time to be the recorded
 * one).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/xattr.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "herod.h"
#include "log.h"
#include "msg.h"
#include "spawner.h"
#include "util.h"

#define PREWAIT_MAX	16
#define PIDFILE_XATTR	"user.herod.start"
#define PREWAIT_ROUNDS	20
#define RETRY_MS	50	/* a holder we could not see yet */
#define PREWAIT_GRACE_MS 5000

struct prewait {
	struct inst	*in;
	int		 round;
	int		 n;
	pid_t		 pids[PREWAIT_MAX];
	int		 fds[PREWAIT_MAX];
	struct event	*evs[PREWAIT_MAX];
	struct event	*ev_timer;
	struct event	*ev_retry;
	int		 killed;		/* SIGKILL sent */
	int		 retry;			/* look again soon */
	uint32_t	 timeout_ms;
};

static int	prespawn_check(struct inst *, struct service_conf *,
		    struct action_conf *, struct prewait *, char *, size_t);

int
inst_pidfile_path(const struct m_ref *ref, struct action_conf *ac, char *buf,
    size_t len)
{
	int	 n;

	if (ac != NULL && ac->pidfile != NULL)
		n = snprintf(buf, len, "%s", ac->pidfile);
	else
		n = snprintf(buf, len, "%s/%s/%s.%s.pid", sp->env->rundir,
		    RUN_PIDS, ref->service, ref->action);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return 0;
}

/*
 * The pid file holds the pid alone (kill $(cat FILE) works).  The start
 * time of the process, which tells a reused pid from ours, goes into an
 * extended attribute of the file where the file system has them (tmpfs
 * since Linux 6.6, ext4, ...), else into FILE.start beside it.
 */
void
inst_pidfile_write(struct inst *in)
{
	struct service_conf	*sc;
	struct action_conf	*ac = NULL;
	char			 path[PATH_MAX], side[PATH_MAX + 8];
	char			 buf[32], start[32];
	int			 n, sn, noxattr = 0;

	if ((sc = service_conf_lookup(&sp->services, in->ref.service)) != NULL)
		ac = action_conf_find(sc, in->ref.action);
	if (inst_pidfile_path(&in->ref, ac, path, sizeof(path)) == -1)
		return;
	n = snprintf(buf, sizeof(buf), "%d\n", (int)in->pid);
	sn = snprintf(start, sizeof(start), "%llu",
	    (unsigned long long)in->starttime);
	if (write_file_atomic_xattr(path, buf, (size_t)n, 0644, PIDFILE_XATTR,
	    start, (size_t)sn, &noxattr) == -1) {
		log_warn("%s: %s", __func__, path);
		return;
	}
	if ((in->pidfile = strdup(path)) == NULL)
		fatal("%s: strdup", __func__);
	in->pidfile_side = noxattr;
	if (!noxattr)
		return;
	(void)snprintf(side, sizeof(side), "%s.start", path);
	start[sn++] = '\n';
	if (write_file_atomic(side, start, (size_t)sn, 0644) == -1)
		log_warn("%s: %s", __func__, side);
}

/*
 * Remove what inst_pidfile_write() made.  Its directory may be the
 * action user's, who may have put a link on the way since: it is opened
 * without following one, and only regular files are removed from it.
 */
void
inst_pidfile_remove(struct inst *in)
{
	char	 base[NAME_MAX + 1], side[NAME_MAX + 8];
	int	 dfd;

	if (in->pidfile == NULL)
		return;
	if ((dfd = safe_parent_open(in->pidfile, base, sizeof(base))) == -1) {
		if (errno != ENOENT)
			log_warn("%s: %s: not removed", __func__, in->pidfile);
		goto done;
	}
	if (unlinkat_type(dfd, base, S_IFREG) == -1 && errno != ENOENT)
		log_warn("%s: %s: not removed", __func__, in->pidfile);
	if (in->pidfile_side && (size_t)snprintf(side, sizeof(side),
	    "%s.start", base) < sizeof(side) &&
	    unlinkat_type(dfd, side, S_IFREG) == -1 && errno != ENOENT)
		log_warn("%s: %s.start: not removed", __func__, in->pidfile);
	close(dfd);
 done:
	free(in->pidfile);
	in->pidfile = NULL;
}

/*
 * The uid an action runs as: its user in system mode (root if none),
 * ours in user mode.  0 or -1.
 */
int
action_uid(struct action_conf *ac, uid_t *uid)
{
	struct passwd	*pw;

	if (!sp->env->sysmode) {
		*uid = getuid();
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(ac->user != NULL ? ac->user : "root")) == NULL)
		return -1;
	*uid = pw->pw_uid;
	return 0;
}

/*
 * Open a file root reads in a directory another user may write (a pid
 * file), name in dfd (opened by safe_parent_open(): no link on the way):
 * the name is not followed if a link, and only a regular file is opened
 * for reading (through O_PATH first, so a FIFO or a device is never
 * opened).  The fd, or -1.
 */
static int
open_regular(int dfd, const char *name)
{
	char		 self[64];
	struct stat	 sb;
	int		 pfd, fd;

	pfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd == -1)
		return -1;
	if (fstat(pfd, &sb) == -1) {
		close(pfd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		log_warnx("%s: not a regular file: ignored", name);
		close(pfd);
		errno = EINVAL;
		return -1;
	}
	(void)snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	close(pfd);
	return fd;
}

/* A decimal number, then only white space; 0 or -1. */
static int
read_number_fd(int fd, unsigned long long *v)
{
	char	 buf[64], *ep;
	ssize_t	 n;

	while ((n = read(fd, buf, sizeof(buf) - 1)) == -1 && errno == EINTR)
		;
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (buf[0] < '0' || buf[0] > '9')
		return -1;
	errno = 0;
	*v = strtoull(buf, &ep, 10);
	if (errno != 0)
		return -1;
	while (*ep == '\n' || *ep == ' ' || *ep == '\t')
		ep++;
	return *ep == '\0' ? 0 : -1;
}

/*
 * The pid in the pid file and the start time recorded with it (0 when
 * none is: a pid file herod did not write).  0 or -1.
 */
static int
pidfile_read(const char *path, unsigned long long *pid, uint64_t *start)
{
	char			 base[NAME_MAX + 1], side[NAME_MAX + 8];
	char			 xa[32], *ep;
	unsigned long long	 v;
	ssize_t			 xn;
	int			 dfd, fd;

	*start = 0;
	if ((dfd = safe_parent_open(path, base, sizeof(base))) == -1) {
		if (errno != ENOENT)
			log_warn("%s: %s: not read", __func__, path);
		return -1;
	}
	if ((fd = open_regular(dfd, base)) == -1)
		goto fail;
	if (read_number_fd(fd, pid) == -1) {
		close(fd);
		goto fail;
	}
	xn = fgetxattr(fd, PIDFILE_XATTR, xa, sizeof(xa) - 1);
	close(fd);
	if (xn > 0) {
		xa[xn] = '\0';
		errno = 0;
		v = strtoull(xa, &ep, 10);
		if (ep != xa && *ep == '\0' && errno == 0)
			*start = v;
		close(dfd);
		return 0;
	}
	if ((size_t)snprintf(side, sizeof(side), "%s.start", base) <
	    sizeof(side) && (fd = open_regular(dfd, side)) != -1) {
		if (read_number_fd(fd, &v) == 0)
			*start = v;
		close(fd);
	}
	close(dfd);
	return 0;
 fail:
	close(dfd);
	return -1;
}

static void
prewait_reset(struct prewait *pw)
{
	int	 i;

	for (i = 0; i < pw->n; i++) {
		if (pw->evs[i] != NULL)
			event_free(pw->evs[i]);
		if (pw->fds[i] != -1)
			close(pw->fds[i]);
		pw->evs[i] = NULL;
		pw->fds[i] = -1;
	}
	pw->n = 0;
	pw->killed = 0;
	if (pw->ev_timer != NULL)
		evtimer_del(pw->ev_timer);
}

static void
prewait_free(struct prewait *pw)
{
	prewait_reset(pw);
	if (pw->ev_timer != NULL)
		event_free(pw->ev_timer);
	if (pw->ev_retry != NULL)
		event_free(pw->ev_retry);
	free(pw);
}

void
prespawn_cancel(struct inst *in)
{
	if (in->prewait == NULL)
		return;
	prewait_free(in->prewait);
	in->prewait = NULL;
}

static int
prewait_pending(struct prewait *pw)
{
	int	 i, left = 0;

	for (i = 0; i < pw->n; i++) {
		if (pw->fds[i] == -1)
			continue;
		if (pidfd_exited(pw->fds[i])) {
			event_free(pw->evs[i]);
			pw->evs[i] = NULL;
			close(pw->fds[i]);
			pw->fds[i] = -1;
			continue;
		}
		left++;
	}
	return left;
}

static void	prespawn_continue(struct inst *);

static void
prewait_gone_cb(int fd, short ev, void *arg)
{
	struct inst	*in = arg;

	if (in->prewait == NULL || prewait_pending(in->prewait) > 0)
		return;
	prespawn_continue(in);
}

static void
prewait_retry_cb(int fd, short ev, void *arg)
{
	prespawn_continue(arg);
}

static void
prewait_timer_cb(int fd, short ev, void *arg)
{
	struct inst	*in = arg;
	struct prewait	*pw = in->prewait;
	struct timeval	 tv = { PREWAIT_GRACE_MS / 1000, 0 };
	struct m_ref	 ref = in->ref;
	int		 i;

	if (!pw->killed) {
		for (i = 0; i < pw->n; i++)
			if (pw->fds[i] != -1 &&
			    pidfd_signal(pw->fds[i], SIGKILL) == 0)
				report_kill(&ref, pw->pids[i], SIGKILL,
				    KILLED_PRESPAWN_TIMEOUT, "pid %d did not "
				    "stop within %u ms", (int)pw->pids[i],
				    pw->timeout_ms);
		pw->killed = 1;
		evtimer_add(pw->ev_timer, &tv);
		return;
	}
	for (i = 0; i < pw->n && pw->fds[i] == -1; i++)
		;
	i = i < pw->n ? (int)pw->pids[i] : 0;
	inst_free(in);
	send_failed(&ref, EBUSY, "pid %d did not go away", i);
}

/*
 * Ask pid to stop if it is provably the action's (see proc_is_action();
 * env: its environment must name the action, start: its start time if
 * not 0); it will be waited for before the spawn goes on.  0: asked, or
 * already gone; 1: not the action's, left alone (err says why); -1: no
 * room or no pidfd (err says why).
 */
static int
prewait_add(struct prewait *pw, struct action_conf *ac, pid_t pid,
    int env, uint64_t start, const char *what, char *err, size_t errlen)
{
	struct inst		*in = pw->in;
	struct proc_ident	 pi;
	char			 why[160];
	uid_t			 uid;
	int			 fd, r;

	if (pid <= 1 || pid == sp->self || pid == getppid()) {
		(void)snprintf(err, errlen, "%s: pid %d is herod's: left alone",
		    what, (int)pid);
		return 1;
	}
	if (action_uid(ac, &uid) == -1) {
		(void)snprintf(err, errlen, "%s: user of the action unknown",
		    what);
		return -1;
	}
	if (pw->n >= PREWAIT_MAX) {
		(void)snprintf(err, errlen, "%s: more than %d processes to "
		    "stop", what, PREWAIT_MAX);
		return -1;
	}
	if ((fd = pidfd_open_pid(pid)) == -1) {
		if (errno == ESRCH)
			return 0;
		(void)snprintf(err, errlen, "%s: pidfd of pid %d: %s", what,
		    (int)pid, strerror(errno));
		return -1;
	}
	r = proc_is_action(fd, pid, env ? &in->ref : NULL, uid, 0, start, &pi,
	    why, sizeof(why));
	if (r != 1) {
		close(fd);
		if (r == -1)
			return 0;
		(void)snprintf(err, errlen, "%s: pid %d is not the action's "
		    "(%s): left alone", what, (int)pid, why);
		return 1;
	}
	log_info("%s/%s: %s: stopping pid %d before spawn", in->ref.service,
	    in->ref.action, what, (int)pid);
	if (pidfd_signal(fd, ac->stop_signal) == -1 && errno == ESRCH) {
		close(fd);
		return 0;
	}
	pidfd_signal(fd, SIGCONT);
	report_kill(&in->ref, pid, ac->stop_signal, env || !ac->kill_others ?
	    KILLED_SINGLETON : KILLED_KILL_OTHERS, "%s: pid %d", what,
	    (int)pid);
	pw->pids[pw->n] = pid;
	pw->fds[pw->n] = fd;
	pw->evs[pw->n] = event_new(sp->base, fd, EV_READ, prewait_gone_cb,
	    in);
	if (pw->evs[pw->n] == NULL || event_add(pw->evs[pw->n], NULL))
		fatalx("%s: event", __func__);
	pw->n++;
	return 0;
}

static void
prespawn_continue(struct inst *in)
{
	struct service_conf	*sc;
	struct action_conf	*ac;
	struct prewait		*pw = in->prewait;
	struct m_ref		 ref = in->ref;
	struct timeval		 tv;
	char			 err[REASON_BUF];
	int			 r;

	if ((sc = service_conf_lookup(&sp->services, ref.service)) == NULL ||
	    (ac = action_conf_find(sc, ref.action)) == NULL) {
		inst_free(in);
		send_failed(&ref, ENOENT, "unknown action");
		return;
	}
	prewait_reset(pw);
	if (pw->round++ >= PREWAIT_ROUNDS) {
		inst_free(in);
		send_failed(&ref, EBUSY, "pre-spawn cleanup did not settle");
		return;
	}
	err[0] = '\0';
	r = prespawn_check(in, sc, ac, pw, err, sizeof(err));
	if (r == -1) {
		inst_free(in);
		send_failed(&ref, EADDRINUSE, "%s", err);
		return;
	}
	/*
	 * Look again soon: a holder not seen yet, or all those asked to
	 * stop gone already (what they held, e.g. a socket file, may be
	 * left for the next round to clean).
	 */
	if ((pw->retry || (pw->n > 0 && prewait_pending(pw) == 0)) &&
	    pw->round < PREWAIT_ROUNDS) {
		tv.tv_sec = 0;
		tv.tv_usec = pw->retry ? RETRY_MS * 1000 : 0;
		pw->retry = 0;
		if (pw->ev_retry == NULL)
			pw->ev_retry = evtimer_new(sp->base, prewait_retry_cb,
			    in);
		if (pw->ev_retry == NULL || evtimer_add(pw->ev_retry, &tv))
			fatalx("%s: evtimer", __func__);
		return;
	}
	if (pw->n == 0 || prewait_pending(pw) == 0) {
		prespawn_cancel(in);
		spawn_do(in);
		return;
	}
	tv.tv_sec = pw->timeout_ms / 1000;
	tv.tv_usec = (pw->timeout_ms % 1000) * 1000;
	if (pw->ev_timer == NULL)
		pw->ev_timer = evtimer_new(sp->base, prewait_timer_cb, in);
	if (pw->ev_timer == NULL || evtimer_add(pw->ev_timer, &tv) == -1)
		fatalx("%s: evtimer", __func__);
}

void
prespawn_run(struct inst *in, struct service_conf *sc,
    struct action_conf *ac)
{
	struct prewait	*pw;
	int		 i;

	if ((pw = calloc(1, sizeof(*pw))) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < PREWAIT_MAX; i++)
		pw->fds[i] = -1;
	pw->in = in;
	pw->timeout_ms = ac->stop_timeout_ms;
	in->prewait = pw;
	prespawn_continue(in);
}

/*
 * 1. singleton: the previous instance named by the pid file, if it is
 * provably one: the action's uid, this service and action in its
 * environment, the recorded start time.  A pid file naming anything
 * else is not believed: the process is left alone and the spawn goes
 * on (the file is rewritten after it).
 */
static int
check_singleton(struct inst *in, struct action_conf *ac,
    struct prewait *pw, char *err, size_t errlen)
{
	char			 path[PATH_MAX];
	unsigned long long	 pid;
	uint64_t		 start;
	int			 r;

	if (!ac->singleton ||
	    inst_pidfile_path(&in->ref, ac, path, sizeof(path)) == -1)
		return 0;
	if (pidfile_read(path, &pid, &start) == -1 || pid <= 1 ||
	    pid > INT_MAX)
		return 0;
	r = prewait_add(pw, ac, (pid_t)pid, 1, start, "pid file", err,
	    errlen);
	if (r == 1) {
		log_warnx("%s/%s: %s", in->ref.service, in->ref.action, err);
		err[0] = '\0';
		return 0;
	}
	return r;
}

/*
 * 2. a declared unix socket.  Its directory may be the action user's:
 * it is opened without following a link (one the user put on the way
 * is refused, the socket left alone), and a stale socket is removed
 * from that directory fd, only if the socket seen first is still there.
 * 0 or -1 (err says why).
 */
static int
check_socket(struct inst *in, struct action_conf *ac, struct prewait *pw,
    const char *path, char *err, size_t errlen)
{
	char		 base[NAME_MAX + 1], what[PATH_MAX + 8], comm[32];
	struct stat	 sb, now;
	pid_t		 owner;
	int		 dfd, r;

	if ((dfd = safe_parent_open(path, base, sizeof(base))) == -1) {
		if (errno != ENOENT)
			log_warn("%s/%s: socket %s: left alone",
			    in->ref.service, in->ref.action, path);
		return 0;
	}
	if (fstatat(dfd, base, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISSOCK(sb.st_mode)) {
		close(dfd);
		return 0;
	}
	if ((r = sock_listening(path)) == 0) {
		if (fstatat(dfd, base, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISSOCK(now.st_mode) && now.st_dev == sb.st_dev &&
		    now.st_ino == sb.st_ino) {
			log_info("%s/%s: removing stale socket %s",
			    in->ref.service, in->ref.action, path);
			if (unlinkat(dfd, base, 0) == -1 && errno != ENOENT)
				log_warn("%s: %s", __func__, path);
		}
		close(dfd);
		return 0;
	}
	close(dfd);
	owner = sock_owner_unix(sb.st_ino, path, comm, sizeof(comm));
	if (owner <= 0) {
		/* listening, but its owner is going away: look again */
		pw->retry = 1;
		return 0;
	}
	if (ac->singleton || ac->kill_others) {
		snprintf(what, sizeof(what), "socket %s", path);
		return prewait_add(pw, ac, owner, 0, 0, what, err, errlen) ==
		    0 ? 0 : -1;
	}
	snprintf(err, errlen, "socket %s held by pid %d (%s)", path,
	    (int)owner, comm);
	return -1;
}

static int
check_sockets(struct inst *in, struct action_conf *ac, struct prewait *pw,
    char *err, size_t errlen)
{
	char		 sockdir[PATH_MAX], *path;
	size_t		 i;
	int		 r;

	if (spawn_paths(&in->ref, "sockdir", sockdir, sizeof(sockdir)))
		return 0;
	for (i = 0; i < ac->sockets.n; i++) {
		path = config_expand(ac->sockets.v[i], sockdir,
		    in->ref.service, in->ref.action);
		if (path == NULL)
			continue;
		r = check_socket(in, ac, pw, path, err, errlen);
		free(path);
		if (r == -1)
			return -1;
	}
	return 0;
}

/* 2. declared TCP ports */
static int
check_ports(struct inst *in, struct action_conf *ac, struct prewait *pw,
    char *err, size_t errlen)
{
	pid_t	 owner;
	char	 comm[32], what[32];
	size_t	 i;

	for (i = 0; i < ac->ntcp_ports; i++) {
		owner = port_owner_tcp(ac->tcp_ports[i], comm, sizeof(comm));
		if (owner == 0)
			continue;
		if (owner > 0 && (ac->singleton || ac->kill_others)) {
			snprintf(what, sizeof(what), "port %u",
			    ac->tcp_ports[i]);
			if (prewait_add(pw, ac, owner, 0, 0, what, err,
			    errlen) != 0)
				return -1;
			continue;
		}
		if (owner > 0)
			snprintf(err, errlen, "port %u held by pid %d (%s)",
			    ac->tcp_ports[i], (int)owner, comm);
		else
			snprintf(err, errlen, "port %u in use by an unknown "
			    "process", ac->tcp_ports[i]);
		return -1;
	}
	return 0;
}

static int
prespawn_check(struct inst *in, struct service_conf *sc,
    struct action_conf *ac, struct prewait *pw, char *err, size_t errlen)
{
	char	 sockdir[PATH_MAX], ready[PATH_MAX + 80];

	if (check_singleton(in, ac, pw, err, errlen) == -1)
		return -1;
	if (check_sockets(in, ac, pw, err, errlen) == -1)
		return -1;
	if (check_ports(in, ac, pw, err, errlen) == -1)
		return -1;
	/* 3. a ready file from a previous instance never counts */
	if (ac->ready_mode == READY_FILE &&
	    spawn_paths(&in->ref, "sockdir", sockdir, sizeof(sockdir)) == 0) {
		snprintf(ready, sizeof(ready), "%s/.ready.%s", sockdir,
		    in->ref.action);
		if (safe_unlink(ready, 0) == 0)
			log_debug("%s: removed stale %s", __func__, ready);
	}
	return 0;
}
