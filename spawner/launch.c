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
 * Starting a program without copying the spawner: clone(2) with
 * CLONE_VM | CLONE_VFORK, the way posix_spawn(3) does it.  The child runs
 * on a stack of its own in the spawner's memory while the spawner waits;
 * it only makes system calls on data prepared beforehand (no malloc, no
 * stdio, no global writes) and reports a failure before exec through the
 * shared struct launch.  When clone returns, the child has either exec'd
 * or exited 127, so the outcome is known at once: no status pipe.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spawner.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEROD_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define HEROD_ASAN 1
#endif
#ifdef HEROD_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define LAUNCH_STACK	(256 * 1024)

/* the 32-bit id calls where the plain ones take 16-bit ids (i386, arm) */
#ifdef SYS_setresuid32
#define LAUNCH_SYS_SETGROUPS	SYS_setgroups32
#define LAUNCH_SYS_SETRESGID	SYS_setresgid32
#define LAUNCH_SYS_SETRESUID	SYS_setresuid32
#else
#define LAUNCH_SYS_SETGROUPS	SYS_setgroups
#define LAUNCH_SYS_SETRESGID	SYS_setresgid
#define LAUNCH_SYS_SETRESUID	SYS_setresuid
#endif

static char	*launch_stack;
static int	 launch_maxfd;

/*
 * Signals whose disposition is not the default here, read at the first
 * launch: the spawner sets its handlers up before its event loop runs.
 */
static int	 launch_sigs[_NSIG];
static int	 nlaunch_sigs = -1;

static void
launch_find_sigs(void)
{
	struct sigaction	 sa;
	int			 sig;

	nlaunch_sigs = 0;
	for (sig = 1; sig < _NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		/* glibc's own (32, 33): not visible through sigaction(2) */
		if ((sig >= 32 && sig < SIGRTMIN) ||
		    (sigaction(sig, NULL, &sa) == 0 &&
		    sa.sa_handler != SIG_DFL))
			launch_sigs[nlaunch_sigs++] = sig;
	}
}

/* Child: the default for sig, also for those glibc keeps to itself. */
static void
child_sigdfl(int sig)
{
	static const char	 zero[64];	/* a kernel sigaction: SIG_DFL */

	if (sig >= 32 && sig < SIGRTMIN)
		(void)syscall(SYS_rt_sigaction, sig, zero, NULL, _NSIG / 8);
	else
		(void)signal(sig, SIG_DFL);
}

static const char *launch_stages[] = {
	[LAUNCH_ST_NONE] = "",
	[LAUNCH_ST_FDS] = "setting up fds",
	[LAUNCH_ST_RLIMIT] = "setrlimit",
	[LAUNCH_ST_GROUPS] = "setgroups",
	[LAUNCH_ST_GID] = "setgid",
	[LAUNCH_ST_UID] = "setuid",
	[LAUNCH_ST_CHDIR] = "chdir",
	[LAUNCH_ST_EXEC] = "exec",
};

/* Why the child of a failed launch() could not exec. */
void
launch_strerror(const struct launch *l, char *buf, size_t len)
{
	int	 st = l->stage;

	if (st <= LAUNCH_ST_NONE || st > LAUNCH_ST_EXEC)
		st = LAUNCH_ST_EXEC;
	(void)snprintf(buf, len, "%s %s: %s", launch_stages[st],
	    st == LAUNCH_ST_EXEC ? "failed" : "failed before exec",
	    strerror(l->error));
}

/* Child: close fds lo..hi (hi -1: all above lo). */
static int
child_close_from(struct launch *l, int lo, int hi)
{
	int	 fd;

	if (close_range((unsigned int)lo, hi == -1 ? ~0U : (unsigned int)hi,
	    0) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	/* before Linux 5.9: one by one, up to the descriptor limit */
	for (fd = lo; fd < (hi == -1 ? l->maxfd : hi + 1); fd++)
		(void)close(fd);
	return 0;
}

/* Child: move the sources out of the way, then onto their targets. */
static int
child_fds(struct launch *l)
{
	int	 low, src[4], dst[4], n = 3, i;

	src[0] = l->fd0;
	src[1] = l->fd1;
	src[2] = l->fd2;
	dst[0] = 0;
	dst[1] = 1;
	dst[2] = 2;
	if (l->extra_fd != -1) {
		src[3] = l->extra_fd;
		dst[3] = l->extra_target;
		n = 4;
	}
	low = (n == 4 && l->extra_target > 2 ? l->extra_target : 2) + 1;
	for (i = 0; i < n; i++)
		if ((src[i] = fcntl(src[i], F_DUPFD, low)) == -1)
			return -1;
	for (i = 0; i < n; i++)
		if (dup2(src[i], dst[i]) == -1)
			return -1;
	if (n == 4) {
		if (dst[3] > 3 && child_close_from(l, 3, dst[3] - 1) == -1)
			return -1;
		return child_close_from(l, dst[3] + 1, -1);
	}
	return child_close_from(l, 3, -1);
}

static int
child_creds(struct launch *l)
{
	if (!l->change_cred)
		return 0;
	/* raw calls: glibc's wrappers would signal the spawner's threads */
	l->stage = LAUNCH_ST_GROUPS;
	if (syscall(LAUNCH_SYS_SETGROUPS, l->ngroups, l->groups) == -1)
		return -1;
	l->stage = LAUNCH_ST_GID;
	if (syscall(LAUNCH_SYS_SETRESGID, l->gid, l->gid, l->gid) == -1)
		return -1;
	l->stage = LAUNCH_ST_UID;
	if (syscall(LAUNCH_SYS_SETRESUID, l->uid, l->uid, l->uid) == -1)
		return -1;
	return 0;
}

/*
 * Child: the PATH search of execvp(3), without touching environ and
 * without falling back to a shell for a file that is not executable.
 */
static void
child_exec(struct launch *l)
{
	const char	*file = l->argv[0], *p, *end;
	char		 buf[PATH_MAX];
	size_t		 dl, fl = strlen(file);
	int		 eacces = 0;

	if (fl == 0) {
		errno = ENOENT;
		return;
	}
	if (strchr(file, '/') != NULL || l->path == NULL) {
		execve(file, l->argv, l->envp);
		return;
	}
	errno = ENOENT;		/* if no entry could be tried */
	for (p = l->path; ; p = end + 1) {
		if ((end = strchr(p, ':')) == NULL)
			end = p + strlen(p);
		dl = (size_t)(end - p);
		if (dl + 1 + fl < sizeof(buf)) {
			memcpy(buf, dl ? p : ".", dl ? dl : 1);
			dl = dl ? dl : 1;
			buf[dl] = '/';
			memcpy(buf + dl + 1, file, fl + 1);
			execve(buf, l->argv, l->envp);
			/* as glibc: these mean "try the next entry" */
			if (errno == EACCES)
				eacces = 1;
			else if (errno != ENOENT && errno != ENOTDIR &&
			    errno != ESTALE && errno != ENODEV &&
			    errno != ETIMEDOUT)
				return;
		}
		if (*end == '\0')
			break;
	}
	if (eacces)
		errno = EACCES;
}

/*
 * Child: its own pid, in decimal, into the space build_env() left for it
 * (WATCHDOG_PID=, as sd_watchdog_enabled(3) compares it with getpid()).
 */
static void
child_pid_env(char *p)
{
	char	 d[16];
	long	 pid = syscall(SYS_getpid);
	int	 n = 0;

	do
		d[n++] = (char)('0' + pid % 10);
	while ((pid /= 10) > 0 && n < (int)sizeof(d));
	while (n > 0)
		*p++ = d[--n];
	*p = '\0';
}

static int
child_main(void *arg)
{
	struct launch	*l = arg;
	struct rlimit	 rl;
	sigset_t	 set;
	size_t		 i;
	int		 j;

	/* no handler of the spawner's may run here; nothing stays ignored */
	for (j = 0; j < nlaunch_sigs; j++)
		child_sigdfl(launch_sigs[j]);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	setsid();
	if (l->pid_env != NULL)
		child_pid_env(l->pid_env);
	l->stage = LAUNCH_ST_FDS;
	if (child_fds(l) == -1)
		goto fail;
	l->stage = LAUNCH_ST_RLIMIT;
	for (i = 0; i < l->nrlimits; i++) {
		rl.rlim_cur = rl.rlim_max = l->rlimits[i].value;
		if (setrlimit(l->rlimits[i].resource, &rl) == -1)
			goto fail;
	}
	umask(l->umask);
	if (child_creds(l) == -1)
		goto fail;
	l->stage = LAUNCH_ST_CHDIR;
	if (l->workdir != NULL && chdir(l->workdir) == -1 &&
	    (!l->chdir_fallback || chdir("/") == -1))
		goto fail;
	l->stage = LAUNCH_ST_EXEC;
	child_exec(l);
 fail:
	l->error = errno;
	l->failed = 1;
	_exit(127);
}

/*
 * Run fn in a child sharing our memory (CLONE_VM | CLONE_VFORK, plus
 * extra flags) on the launch stack, all signals blocked around it: when
 * this returns, the child has exec'd or exited.
 */
static pid_t
launch_clone(int (*fn)(void *), int flags, struct launch *l)
{
	struct rlimit	 rl;
	sigset_t	 all, old;
	pid_t		 pid;
	int		 e;

	if (launch_stack == NULL) {
		launch_stack = mmap(NULL, LAUNCH_STACK, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (launch_stack == MAP_FAILED) {
			launch_stack = NULL;
			return -1;
		}
	}
	if (nlaunch_sigs == -1)
		launch_find_sigs();
	if (launch_maxfd == 0)
		launch_maxfd = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
	l->maxfd = launch_maxfd;
	l->failed = 0;
	l->stage = LAUNCH_ST_NONE;
	l->error = 0;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = clone(fn, launch_stack + LAUNCH_STACK,
	    CLONE_VM | CLONE_VFORK | SIGCHLD | flags, l);
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
#ifdef HEROD_ASAN
	/* the child's frames left shadow bytes behind on the shared stack */
	__asan_unpoison_memory_region(launch_stack, LAUNCH_STACK);
#endif
	errno = e;
	return pid;
}

/*
 * Start l->argv as a new session.  Returns the pid, or -1 with errno set:
 * no process could be made, or (l->failed) the child could not exec; it
 * has exited 127 and is reaped here, launch_strerror() says why.
 */
pid_t
launch(struct launch *l)
{
	pid_t	 pid;

	if ((pid = launch_clone(child_main, 0, l)) == -1)
		return -1;
	if (l->failed) {
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		errno = l->error;
		return -1;
	}
	sp->nforked++;
	return pid;
}

/*
 * Child of launch_connect(): it shares our descriptor table, so the
 * socket it connects is ours once it has exited.  All signals stay
 * blocked; it only makes system calls.
 */
static int
child_connect(void *arg)
{
	struct launch	*l = arg;
	int		 s;

	if (child_creds(l) == -1)
		goto fail;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s == -1)
		goto fail;
	if (connect(s, (const struct sockaddr *)&l->connect_to,
	    sizeof(l->connect_to)) == -1 && errno != EINPROGRESS) {
		l->error = errno;
		close(s);
		l->failed = 1;
		_exit(1);
	}
	l->sock = s;
	_exit(0);
 fail:
	l->error = errno;
	l->failed = 1;
	_exit(1);
}

/*
 * Connect a unix stream socket to l->connect_to with the credentials of
 * l (uid, gid, groups), not the spawner's: the connected, non-blocking
 * socket, or -1 with errno.
 */
int
launch_connect(struct launch *l)
{
	pid_t	 pid;

	l->sock = -1;
	if ((pid = launch_clone(child_connect, CLONE_FILES, l)) == -1)
		return -1;
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	if (l->failed) {
		errno = l->error;
		return -1;
	}
	return l->sock;
}
