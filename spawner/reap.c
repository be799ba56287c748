/*
 * Reaping: SIGCHLD for our own children, pidfds for adopted processes
 * (not our children), and orphans of an action (descendants that were
 * reparented to us, the child subreaper) killed with their action.
 */
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

static void
sigchld_cb(int sig, short ev, void *arg)
{
	struct inst	 key, *in;
	pid_t		 pid;
	int		 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (sp->nforked > 0)
			sp->nforked--;	/* an orphan's reaping is absorbed */
		key.pid = pid;
		if ((in = RB_FIND(inst_pids, &sp->pids, &key)) != NULL) {
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

static void
unlink_inst_files(struct inst *in)
{
	char	 path[PATH_MAX];

	if (spawn_paths(&in->ref, "out", path, sizeof(path)) == 0)
		unlink(path);
	if (spawn_paths(&in->ref, "err", path, sizeof(path)) == 0)
		unlink(path);
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
	if (in->pgid > 1 && killpg(in->pgid, SIGKILL) == -1 &&
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
	in->pidfd = (int)syscall(SYS_pidfd_open, in->pid, 0);
	if (in->pidfd == -1)
		return;
	in->ev_pidfd = event_new(sp->base, in->pidfd, EV_READ, pidfd_cb, in);
	if (in->ev_pidfd == NULL || event_add(in->ev_pidfd, NULL) == -1)
		fatalx("%s: event", __func__);
}

void
reap_adopt(const struct m_spawned *rec)
{
	struct m_adopted	 a;
	struct inst		*in, key;

	memset(&a, 0, sizeof(a));
	a.ref = rec->ref;
	a.pid = rec->pid;
	key.pid = rec->pid;
	if ((in = RB_FIND(inst_pids, &sp->pids, &key)) != NULL) {
		/* already ours (e.g. spawner restarted twice) */
		a.ok = 1;
		spawner_send(M_ADOPTED, -1, &a, sizeof(a));
		return;
	}
	if (rec->pid <= 1 || !proc_alive(rec->pid, rec->starttime)) {
		spawner_send(M_ADOPTED, -1, &a, sizeof(a));
		return;
	}
	if ((in = calloc(1, sizeof(*in))) == NULL)
		fatal("%s: calloc", __func__);
	in->ref = rec->ref;
	in->pid = rec->pid;
	in->pgid = rec->pgid;
	in->starttime = rec->starttime;
	in->adopted = 1;
	in->pidfd = -1;
	inst_insert(in);
	RB_INSERT(inst_pids, &sp->pids, in);
	reap_watch_pidfd(in);
	if (in->pidfd == -1 || !proc_alive(in->pid, in->starttime)) {
		inst_free(in);
		spawner_send(M_ADOPTED, -1, &a, sizeof(a));
		return;
	}
	a.ok = 1;
	spawner_send(M_ADOPTED, -1, &a, sizeof(a));
}

/* Does /proc/PID/environ hold HERO_JOB_ID=job? */
static int
proc_has_job(pid_t pid, uint64_t job)
{
	char	 path[64], want[48], buf[16384];
	ssize_t	 n;
	size_t	 wl;
	char	*p, *end;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	wl = (size_t)snprintf(want, sizeof(want), "HERO_JOB_ID=%llu",
	    (unsigned long long)job);
	if ((n = read_small_file(path, buf, sizeof(buf))) == -1)
		return 0;
	end = buf + n;
	for (p = buf; p < end; p += strlen(p) + 1)
		if (strncmp(p, want, wl) == 0 && p[wl] == '\0')
			return 1;
	return 0;
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
		if (proc_has_job((pid_t)v, job)) {
			log_debug("%s: job %llu orphan pid %ld: signal %d",
			    __func__, (unsigned long long)job, v, sig);
			kill((pid_t)v, sig);
			if (sig != SIGKILL && sig != SIGCONT)
				kill((pid_t)v, SIGCONT);
		}
	}
}
