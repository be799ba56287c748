/*
 * seccomp allowlists for the unprivileged workers (prober, store), the
 * Linux analog of pledge(2).  Installed after the worker opened what it
 * needs and dropped its ids.  A syscall outside the list fails with EPERM
 * (it does not kill the worker: the parent would only restart it into
 * the same failure); process creation, exec, ptrace, mounts, module and
 * key management, bpf and the like are all outside.
 *
 * Not installed in sanitizer builds: ASan and UBSan runtimes need
 * syscalls a worker never makes itself.
 */
#include <sys/types.h>

#include <errno.h>
#include <stddef.h>

#include "build_config.h"
#include "herod.h"
#include "log.h"

#if defined(__SANITIZE_ADDRESS__)
#define HEROD_SANITIZED	1
#else
#define HEROD_SANITIZED	0
#endif

#if HAVE_SECCOMP && !HEROD_SANITIZED
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
	"prlimit64", "getrlimit", "tgkill", "open", "openat", "access",
	"faccessat", "faccessat2", "readlink", "readlinkat", "getcwd",
	"getdents64", "sendmsg", "recvmsg", "sendto", "recvfrom",
	"socket", "socketpair", "connect", "getsockopt", "setsockopt",
	"getsockname", "getpeername", "shutdown", "umask", "rseq",
	"set_robust_list", NULL
};

/* The prober: notify sockets, inotify on ready files. */
static const char *prober_calls[] = {
	"bind", "chmod", "fchmod", "fchmodat", "unlink", "unlinkat",
	"inotify_init1", "inotify_add_watch", "inotify_rm_watch", NULL
};

/* The store: SQLite in its state directory. */
static const char *store_calls[] = {
	"unlink", "unlinkat", "rename", "renameat", "renameat2", "fsync",
	"fdatasync", "ftruncate", "fallocate", "fchown", "fchmod",
	"mkdir", "mkdirat", "flock", NULL
};

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

void
sandbox_seccomp(const char *who)
{
	scmp_filter_ctx	 ctx;
	const char	**extra;

	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL)
		fatalx("%s: seccomp_init", __func__);
	extra = who[0] == 'p' ? prober_calls : store_calls;
	if (allow(ctx, base_calls) == -1 || allow(ctx, extra) == -1)
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
