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
 * Reaping: SIGCHLD for our own children, pidfds for adopted processes
 * (not our children), and orphans of an action (descendants that were
 * reparented to us, the child subreaper) killed with their action.
 *
 * Before the spawner signals a process it did not fork itself, the
 * process is proven to be the action's from what the kernel says
 * (proc_is_action()), never from a pid or pgid another process gave:
 * the store's rows and the pid files are writable by less privileged
 * users.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#define ENVIRON_MAX	(128 * 1024)

int
pidfd_open_pid(pid_t pid)
{
	if (pid <= 1) {
		errno = ESRCH;
		return -1;
	}
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int
pidfd_signal(int fd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

/* 1: the process behind fd has exited (or fd cannot tell), 0: alive. */
int
pidfd_exited(int fd)
{
	struct pollfd	 pfd;
	int		 r;

	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	do
		r = poll(&pfd, 1, 0);
	while (r == -1 && errno == EINTR);
	return r != 0;
}

/* A number field of /proc/PID/stat at p; -1 if it is not one. */
static int
stat_field(const char *p, unsigned long long *v)
{
	char	*ep;

	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	*v = strtoull(p, &ep, 10);
	if (errno != 0 || (*ep != ' ' && *ep != '\n' && *ep != '\0'))
		return -1;
	return 0;
}

/*
 * Start time, process group and session from /proc/PID/stat, the four
 * uids from /proc/PID/status.  -1 if pid is gone, a zombie or either
 * file cannot be parsed.
 */
int
proc_ident_read(pid_t pid, struct proc_ident *pi)
{
	char			 path[64], buf[2048], *p, *ep;
	unsigned long long	 v;
	int			 field, i;

	memset(pi, 0, sizeof(*pi));
	if (pid <= 0)
		return -1;
	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small_file(path, buf, sizeof(buf)) == -1)
		return -1;
	/* comm may hold ')' and spaces: the fields follow the last ')' */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return -1;
	p += 2;
	if (*p == '\0' || *p == 'Z' || *p == 'X')
		return -1;
	for (field = 3; field <= 22; field++) {
		if (field == 5 || field == 6 || field == 22) {
			if (stat_field(p, &v) == -1)
				return -1;
			if (field == 22)
				pi->starttime = v;
			else if (v == 0 || v > INT_MAX)
				return -1;
			else if (field == 5)
				pi->pgid = (pid_t)v;
			else
				pi->sid = (pid_t)v;
		}
		if (field < 22 && (p = strchr(p, ' ')) == NULL)
			return -1;
		p++;
	}
	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_small_file(path, buf, sizeof(buf)) == -1)
		return -1;
	if ((p = strstr(buf, "\nUid:")) == NULL)
		return -1;
	p += 5;
	for (i = 0; i < 4; i++) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			return -1;
		errno = 0;
		v = strtoull(p, &ep, 10);
		if (errno != 0 || v > UINT32_MAX - 1)
			return -1;
		pi->uids[i] = (uid_t)v;
		p = ep;
	}
	return 0;
}

/* The environment of pid as NUL-terminated strings; NULL if unreadable. */
static char *
proc_environ(pid_t pid, size_t *lenp)
{
	static char	*buf;
	char		 path[64];
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if (buf == NULL && (buf = malloc(ENVIRON_MAX + 1)) == NULL)
		fatal("%s: malloc", __func__);
	(void)snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return NULL;
	while (len < ENVIRON_MAX) {
		n = read(fd, buf + len, ENVIRON_MAX - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

static int
env_has(const char *env, size_t len, const char *key, const char *val)
{
	const char	*p, *end = env + len;
	size_t		 kl = strlen(key);

	for (p = env; p < end; p += strlen(p) + 1)
		if (strncmp(p, key, kl) == 0 && p[kl] == '=' &&
		    (val == NULL || strcmp(p + kl + 1, val) == 0))
			return 1;
	return 0;
}

/*
 * Does the environment of pid hold HERO_SERVICE and HERO_ACTION of ref
 * (ref NULL: not checked) and HERO_JOB_ID=job (job 0: any job)?
 */
int
proc_env_match(pid_t pid, const struct m_ref *ref, uint64_t job)
{
	char	*env, jb[32];
	size_t	 len;

	if ((env = proc_environ(pid, &len)) == NULL)
		return 0;
	(void)snprintf(jb, sizeof(jb), "%llu", (unsigned long long)job);
	if (ref != NULL && (!env_has(env, len, "HERO_SERVICE", ref->service) ||
	    !env_has(env, len, "HERO_ACTION", ref->action)))
		return 0;
	return env_has(env, len, "HERO_JOB_ID", job != 0 ? jb : NULL);
}

/*
 * Is the process behind pidfd (opened on pid) provably an instance of
 * ref's action?  All four of its uids are uid; its start time is start
 * (if start != 0); its environment names ref's service and action and
 * job (if ref != NULL; job 0: any job).  The pidfd is polled after all
 * was read: a process still alive then is the one that was read, not
 * a later process given the same pid.  1 yes, 0 no (why tells why),
 * -1 gone.
 */
int
proc_is_action(int pidfd, pid_t pid, const struct m_ref *ref, uid_t uid,
    uint64_t job, uint64_t start, struct proc_ident *pi, char *why,
    size_t whylen)
{
	int	 i;

	if (proc_ident_read(pid, pi) == -1)
		return -1;
	if (start != 0 && pi->starttime != start) {
		(void)snprintf(why, whylen, "started at tick %llu, not %llu",
		    (unsigned long long)pi->starttime,
		    (unsigned long long)start);
		goto no;
	}
	for (i = 0; i < 4; i++)
		if (pi->uids[i] != uid) {
			(void)snprintf(why, whylen, "runs as uid %u, not %u",
			    (unsigned int)pi->uids[i], (unsigned int)uid);
			goto no;
		}
	if (ref != NULL && !proc_env_match(pid, ref, job)) {
		if (job != 0)
			(void)snprintf(why, whylen, "its environment does "
			    "not name %s/%s job %llu", ref->service,
			    ref->action, (unsigned long long)job);
		else
			(void)snprintf(why, whylen, "its environment does "
			    "not name %s/%s", ref->service, ref->action);
		goto no;
	}
	return pidfd_exited(pidfd) ? -1 : 1;
 no:
	return pidfd_exited(pidfd) ? -1 : 0;
}

/*
 * A group leader that is our child (an instance's, an exec probe) has
 * exited and is still a zombie: its group is killed now, while the
 * zombie keeps the group's id from being given to another process.
 */
static void
kill_group_of_zombie(pid_t pgid)
{
	if (pgid > 1 && killpg(pgid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("%s: killpg %d", __func__, (int)pgid);
}

static void
sigchld_cb(int sig, short ev, void *arg)
{
	struct inst	 key, *in;
	siginfo_t	 si;
	pid_t		 pid;
	int		 st;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == -1 ||
		    si.si_pid <= 0)
			break;
		key.pid = si.si_pid;
		if ((in = RB_FIND(inst_pids, &sp->pids, &key)) != NULL) {
			if (!in->adopted)
				kill_group_of_zombie(in->pgid);
		} else if (reap_exec_probe_pid(-si.si_pid, 0))
			kill_group_of_zombie(si.si_pid);	/* setsid() */
		while ((pid = waitpid(si.si_pid, &st, 0)) == -1 &&
		    errno == EINTR)
			;
		if (pid != si.si_pid)
			break;
		if (sp->nforked > 0)
			sp->nforked--;	/* an orphan's reaping is absorbed */
		if (in != NULL) {
			reap_inst_gone(in, st, 1);
			continue;
		}
		if (reap_exec_probe_pid(pid, st))
			continue;
		log_debug("%s: reaped orphan pid %d", __func__, (int)pid);
	}
}

void
reap_init(void)
{
	sp->ev_sigchld = evsignal_new(sp->base, SIGCHLD, sigchld_cb, NULL);
	if (sp->ev_sigchld == NULL || evsignal_add(sp->ev_sigchld, NULL))
		fatalx("%s: evsignal", __func__);
}

/* The log fifos, from the fifo dir opened without following a link. */
static void
unlink_inst_files(struct inst *in)
{
	char	 path[PATH_MAX];
	int	 dfd;

	if ((dfd = spawn_fifo_dir_open()) == -1)
		return;
	if (spawn_paths(&in->ref, "out", path, sizeof(path)) == 0)
		(void)unlinkat_type(dfd, strrchr(path, '/') + 1, S_IFIFO);
	if (spawn_paths(&in->ref, "err", path, sizeof(path)) == 0)
		(void)unlinkat_type(dfd, strrchr(path, '/') + 1, S_IFIFO);
	close(dfd);
}

/*
 * The leader of an instance is gone: report at once (a restart may
 * follow; its M_SPAWN is read only after this returns), then clean the
 * rest and forget.
 */
void
reap_inst_gone(struct inst *in, int wstatus, int known)
{
	struct m_exited	 e;

	memset(&e, 0, sizeof(e));
	e.ref = in->ref;
	e.pid = in->pid;
	e.wstatus = wstatus;
	e.known = known;
	spawner_send(M_EXITED, -1, &e, sizeof(e));
	msgev_flush(sp->parent);
	/*
	 * Our own child's group was killed before it was reaped.  An
	 * adopted leader was reaped by its parent: the group, as the
	 * kernel gave it at adoption, is killed now; its id stays taken
	 * as long as a member is left.
	 */
	if (in->adopted && in->pgid > 1 && killpg(in->pgid, SIGKILL) == -1 &&
	    errno != ESRCH)
		log_warn("%s: killpg %d", __func__, (int)in->pgid);
	kill_job_orphans(in->ref.job_id, SIGKILL);
	unlink_inst_files(in);
	inst_pidfile_remove(in);
	inst_free(in);
}

static void
pidfd_cb(int fd, short ev, void *arg)
{
	struct inst	*in = arg;
	int		 st;

	if (waitpid(in->pid, &st, WNOHANG) == in->pid) {
		if (sp->nforked > 0)
			sp->nforked--;
		reap_inst_gone(in, st, 1);
		return;
	}
	reap_inst_gone(in, 0, 0);
}

void
reap_watch_pidfd(struct inst *in)
{
	if (in->pidfd == -1)
		in->pidfd = pidfd_open_pid(in->pid);
	if (in->pidfd == -1)
		return;
	in->ev_pidfd = event_new(sp->base, in->pidfd, EV_READ, pidfd_cb, in);
	if (in->ev_pidfd == NULL || event_add(in->ev_pidfd, NULL) == -1)
		fatalx("%s: event", __func__);
}

static int
ref_same(const struct m_ref *a, const struct m_ref *b)
{
	return strcmp(a->service, b->service) == 0 &&
	    strcmp(a->action, b->action) == 0 && a->job_id == b->job_id;
}

/*
 * The record comes from the store, which a less privileged user can
 * write: it only says where to look.  Adopted is a process the kernel
 * shows alive with the recorded start time, the leader of its own
 * session and process group (as launch() made it), running with the
 * action's uid and carrying the job's HERO_SERVICE, HERO_ACTION and
 * HERO_JOB_ID.  Its process group is then taken from the kernel, never
 * from the record.  Anything else is not adopted: the parent restarts
 * the action by its policy.
 */
void
reap_adopt(const struct m_spawned *rec)
{
	struct m_adopted	 a;
	struct inst		*in, key;
	struct service_conf	*sc;
	struct action_conf	*ac;
	struct proc_ident	 pi;
	char			 why[160];
	uid_t			 uid;
	int			 fd, r;

	memset(&a, 0, sizeof(a));
	a.ref = rec->ref;
	a.pid = rec->pid;
	key.pid = rec->pid;
	if ((in = RB_FIND(inst_pids, &sp->pids, &key)) != NULL) {
		/* already ours (e.g. a resync): only as the same job */
		a.ok = ref_same(&in->ref, &rec->ref);
		spawner_send(M_ADOPTED, -1, &a, sizeof(a));
		return;
	}
	if (rec->pid <= 1 || rec->pid == sp->self || rec->starttime == 0 ||
	    rec->ref.job_id == 0) {
		spawner_send(M_ADOPTED, -1, &a, sizeof(a));
		return;
	}
	if ((sc = service_conf_lookup(&sp->services, rec->ref.service)) ==
	    NULL || (ac = action_conf_find(sc, rec->ref.action)) == NULL ||
	    action_uid(ac, &uid) == -1) {
		log_warnx("%s/%s: no such action or user: pid %d not adopted",
		    rec->ref.service, rec->ref.action, (int)rec->pid);
		spawner_send(M_ADOPTED, -1, &a, sizeof(a));
		return;
	}
	if ((fd = pidfd_open_pid(rec->pid)) == -1) {
		spawner_send(M_ADOPTED, -1, &a, sizeof(a));
		return;
	}
	r = proc_is_action(fd, rec->pid, &rec->ref, uid, rec->ref.job_id,
	    rec->starttime, &pi, why, sizeof(why));
	if (r == 1 && (pi.pgid != rec->pid || pi.sid != rec->pid)) {
		(void)snprintf(why, sizeof(why), "not the leader of its own "
		    "session and group (group %d, session %d)", (int)pi.pgid,
		    (int)pi.sid);
		r = 0;
	}
	if (r != 1) {
		if (r == 0)
			log_warnx("%s/%s: recorded pid %d is not this job's "
			    "process (%s): not adopted, left alone",
			    rec->ref.service, rec->ref.action, (int)rec->pid,
			    why);
		close(fd);
		spawner_send(M_ADOPTED, -1, &a, sizeof(a));
		return;
	}
	if (rec->pgid != pi.pgid)
		log_warnx("%s/%s: recorded process group %d, the kernel's is "
		    "%d: the kernel's is used", rec->ref.service,
		    rec->ref.action, (int)rec->pgid, (int)pi.pgid);
	if ((in = calloc(1, sizeof(*in))) == NULL)
		fatal("%s: calloc", __func__);
	in->ref = rec->ref;
	in->pid = rec->pid;
	in->pgid = pi.pgid;
	in->starttime = pi.starttime;
	in->adopted = 1;
	in->pidfd = fd;
	inst_insert(in);
	RB_INSERT(inst_pids, &sp->pids, in);
	reap_watch_pidfd(in);
	if (pidfd_exited(in->pidfd)) {
		inst_free(in);
		spawner_send(M_ADOPTED, -1, &a, sizeof(a));
		return;
	}
	a.ok = 1;
	spawner_send(M_ADOPTED, -1, &a, sizeof(a));
}

static size_t
count_words(const char *p)
{
	size_t	 n = 0;

	for (; *p != '\0'; p++)
		if (*p != ' ' && *p != '\n' && (p[1] == ' ' || p[1] == '\n' ||
		    p[1] == '\0'))
			n++;
	return n;
}

/*
 * Our direct children that are not instance leaders are orphans some
 * action left behind (we are the subreaper).  Those of job get sig.
 */
void
kill_job_orphans(uint64_t job, int sig)
{
	char		 path[96], buf[65536], *p, *ep;
	struct inst	 key;
	long		 v;

	if (job == 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
	    (int)sp->self, (int)sp->self);
	if (read_small_file(path, buf, sizeof(buf)) == -1)
		return;
	/* as many children as we forked and did not reap: no orphan */
	if (count_words(buf) <= sp->nforked)
		return;
	for (p = buf; *p != '\0'; p = ep) {
		v = strtol(p, &ep, 10);
		if (ep == p)
			break;
		key.pid = (pid_t)v;
		if (RB_FIND(inst_pids, &sp->pids, &key) != NULL)
			continue;
		if (reap_exec_probe_pid(-(pid_t)v, 0))
			continue;	/* an exec probe, not an orphan */
		if (proc_env_match((pid_t)v, NULL, job)) {
			log_debug("%s: job %llu orphan pid %ld: signal %d",
			    __func__, (unsigned long long)job, v, sig);
			kill((pid_t)v, sig);
			if (sig != SIGKILL && sig != SIGCONT)
				kill((pid_t)v, SIGCONT);
		}
	}
}
