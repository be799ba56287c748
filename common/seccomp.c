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
 * seccomp allowlists for the unprivileged workers (prober, store), the
 * Linux analog of pledge(2).  Installed after the worker opened what it
 * needs and dropped its ids.  A system call outside the list kills the
 * whole worker (SECCOMP_RET_KILL_PROCESS, SIGSYS): a worker that makes
 * one was subverted, and the parent only restarts it.  Process creation,
 * exec, ptrace, mounts, module and key management, bpf, ioctl and the
 * like are all outside.  Where a worker's needs are narrow the arguments
 * are checked too: socket families, signals to itself only, resource
 * limits of itself only.
 *
 * HEROD_SECCOMP_DEBUG=1 in the environment: a call outside the list is
 * reported on stderr with its number and fails with ENOSYS instead
 * (x86_64 and aarch64; elsewhere the report is followed by _exit), to
 * find what a new code path needs.
 *
 * Not installed in sanitizer builds: ASan and UBSan runtimes need
 * syscalls a worker never makes itself.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_config.h"
#include "herod.h"
#include "log.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#define HEROD_SANITIZED	1
#else
#define HEROD_SANITIZED	0
#endif

#if HAVE_SECCOMP && !HEROD_SANITIZED
#include <ucontext.h>

#include <seccomp.h>

/* What libc, libevent and the framing need in every worker. */
static const char *base_calls[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close",
	"fstat", "newfstatat", "statx", "stat", "lstat", "lseek",
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"fcntl", "dup", "dup2", "dup3", "pipe2", "eventfd2",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"epoll_pwait2", "poll", "ppoll", "select", "pselect6",
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
	"gettimeofday", "time", "getpid", "gettid", "getppid", "getuid",
	"geteuid", "getgid", "getegid", "exit", "exit_group", "futex",
	"getrandom", "restart_syscall", "sched_yield", "uname",
	"getrlimit", "open", "openat", "access", "faccessat", "faccessat2",
	"readlink", "readlinkat", "getcwd", "getdents64", "sendmsg",
	"recvmsg", "sendto", "recvfrom", "connect", "getsockopt",
	"setsockopt", "getsockname", "getpeername", "shutdown", "umask",
	"rseq", "set_robust_list", NULL
};

/* The prober: notify sockets, inotify on ready files, probes. */
static const char *prober_calls[] = {
	"bind", "chmod", "fchmod", "fchmodat", "unlink", "unlinkat",
	"inotify_init1", "inotify_add_watch", "inotify_rm_watch", NULL
};
static const int prober_families[] = { AF_UNIX, AF_INET, AF_INET6 };

/* The store: SQLite in its state directory. */
static const char *store_calls[] = {
	"unlink", "unlinkat", "rename", "renameat", "renameat2", "fsync",
	"fdatasync", "ftruncate", "fallocate", "fchmod", "flock", NULL
};
/* syslog(3) reconnecting to /dev/log; no network at all */
static const int store_families[] = { AF_UNIX };

static const char	*seccomp_who = "?";

static int
allow(scmp_filter_ctx ctx, const char **calls)
{
	int	 nr;

	for (; *calls != NULL; calls++) {
		nr = seccomp_syscall_resolve_name(*calls);
		if (nr == __NR_SCMP_ERROR)
			continue;	/* not on this architecture */
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0)
			return -1;
	}
	return 0;
}

/* Calls allowed with some arguments only. */
/* argument 0 equal to x (datum_b given: clang's -Wextra wants it) */
#define ARG0_IS(x)	SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)(x), 0)

static int
allow_narrow(scmp_filter_ctx ctx, const int *families, size_t nfamilies)
{
	pid_t	 self = getpid();
	size_t	 i;

	for (i = 0; i < nfamilies; i++) {
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		    ARG0_IS(families[i])) < 0)
			return -1;
	}
	/* libevent's internal pairs, if it ever makes them */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
	    ARG0_IS(AF_UNIX)) < 0)
		return -1;
	/* raise(3), abort(3): signals to itself only */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
	    ARG0_IS(self)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
	    ARG0_IS(self)) < 0)
		return -1;
	/* getrlimit(3) and setrlimit(3) of itself */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
	    ARG0_IS(0)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
	    ARG0_IS(self)) < 0)
		return -1;
	return 0;
}

static void
utoa(char *buf, size_t len, unsigned long v)
{
	char	 tmp[24];
	size_t	 n = 0, i;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v != 0 && n < sizeof(tmp));
	for (i = 0; i < n && i + 1 < len; i++)
		buf[i] = tmp[n - 1 - i];
	buf[i] = '\0';
}

/* HEROD_SECCOMP_DEBUG: report the call (async-signal-safe), go on. */
static void
sigsys_debug(int sig, siginfo_t *si, void *arg)
{
	ucontext_t	*uc = arg;
	char		 nr[24];
	int		 saved = errno;

	utoa(nr, sizeof(nr), (unsigned long)si->si_syscall);
	(void)write(STDERR_FILENO, "herod: ", 7);
	(void)write(STDERR_FILENO, seccomp_who, strlen(seccomp_who));
	(void)write(STDERR_FILENO, ": seccomp: system call ", 23);
	(void)write(STDERR_FILENO, nr, strlen(nr));
	(void)write(STDERR_FILENO, " not allowed\n", 13);
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = -ENOSYS;
#else
	(void)uc;
	_exit(1);
#endif
	errno = saved;
}

void
sandbox_seccomp(const char *who)
{
	scmp_filter_ctx		 ctx;
	struct sigaction	 sa;
	const char		**extra, *dbg;
	const int		*fam;
	size_t			 nfam;
	uint32_t		 deflt = SCMP_ACT_KILL_PROCESS;

	seccomp_who = who;
	if ((dbg = getenv("HEROD_SECCOMP_DEBUG")) != NULL &&
	    strcmp(dbg, "1") == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = sigsys_debug;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL) == -1)
			fatal("%s: sigaction", __func__);
		deflt = SCMP_ACT_TRAP;
		log_warnx("%s: %s: HEROD_SECCOMP_DEBUG: calls outside the "
		    "list are reported and fail with ENOSYS", __func__, who);
	}
	if ((ctx = seccomp_init(deflt)) == NULL)
		fatalx("%s: seccomp_init", __func__);
	if (who[0] == 'p') {
		extra = prober_calls;
		fam = prober_families;
		nfam = nitems(prober_families);
	} else {
		extra = store_calls;
		fam = store_families;
		nfam = nitems(store_families);
	}
	if (allow(ctx, base_calls) == -1 || allow(ctx, extra) == -1 ||
	    allow_narrow(ctx, fam, nfam) == -1)
		fatalx("%s: seccomp_rule_add", __func__);
	if (seccomp_load(ctx) < 0)
		fatalx("%s: seccomp_load", __func__);
	seccomp_release(ctx);
	log_debug("%s: %s: seccomp filter installed", __func__, who);
}

#else

void
sandbox_seccomp(const char *who)
{
	log_debug("%s: %s: no seccomp filter (%s)", __func__, who,
	    HEROD_SANITIZED ? "sanitizer build" : "built without libseccomp");
}

#endif
