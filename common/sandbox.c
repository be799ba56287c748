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
 * Privilege drop for the unprivileged workers: chroot (root only), the
 * capability bounding set emptied (root only), groups, gid, uid, then
 * inheritable and ambient capabilities cleared and no-new-privs.  The
 * order matters: chroot and PR_CAPBSET_DROP need root, and the uid goes
 * last so nothing can be regained.
 *
 * Then each worker restricts its view of the file system with Landlock
 * (sandbox_landlock): deny by default every access right the running
 * kernel knows, allow only the listed directories.  A kernel without
 * Landlock gets one warning; the workers run on with chroot (store,
 * system mode), ids and seccomp as their confinement.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <linux/capability.h>

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "herod.h"
#include "log.h"

/*
 * The Landlock ABI, spelled out here: the installed <linux/landlock.h>
 * may predate the rights a newer kernel has.  Values from the kernel's
 * UAPI; which ones apply depends on the ABI version the kernel reports.
 */
#define LL_CREATE_RULESET_VERSION	(1U << 0)
#define LL_RULE_PATH_BENEATH		1

#define LL_FS_EXECUTE		(1ULL << 0)
#define LL_FS_WRITE_FILE	(1ULL << 1)
#define LL_FS_READ_FILE		(1ULL << 2)
#define LL_FS_READ_DIR		(1ULL << 3)
#define LL_FS_REMOVE_DIR	(1ULL << 4)
#define LL_FS_REMOVE_FILE	(1ULL << 5)
#define LL_FS_MAKE_CHAR		(1ULL << 6)
#define LL_FS_MAKE_DIR		(1ULL << 7)
#define LL_FS_MAKE_REG		(1ULL << 8)
#define LL_FS_MAKE_SOCK		(1ULL << 9)
#define LL_FS_MAKE_FIFO		(1ULL << 10)
#define LL_FS_MAKE_BLOCK	(1ULL << 11)
#define LL_FS_MAKE_SYM		(1ULL << 12)
#define LL_FS_REFER		(1ULL << 13)	/* ABI 2 */
#define LL_FS_TRUNCATE		(1ULL << 14)	/* ABI 3 */
#define LL_FS_IOCTL_DEV		(1ULL << 15)	/* ABI 5 */
#define LL_FS_ABI1		((1ULL << 13) - 1)

#define LL_NET_BIND_TCP		(1ULL << 0)	/* ABI 4 */
#define LL_NET_CONNECT_TCP	(1ULL << 1)

#define LL_SCOPE_ABSTRACT_UNIX	(1ULL << 0)	/* ABI 6 */
#define LL_SCOPE_SIGNAL		(1ULL << 1)

struct ll_ruleset_attr {
	uint64_t	 handled_access_fs;
	uint64_t	 handled_access_net;	/* ABI 4 */
	uint64_t	 scoped;		/* ABI 6 */
};

struct ll_path_beneath_attr {
	uint64_t	 allowed_access;
	int32_t		 parent_fd;
} __attribute__((packed));

/* What sandbox_landlock() allows below a path. */
#define SANDBOX_FS_READ		0x1	/* read files, list dirs */
#define SANDBOX_FS_WRITE	0x2	/* make, write, remove files */
#define SANDBOX_FS_SOCK		0x4	/* make, remove sockets */
/* sandbox_landlock() flags */
#define SANDBOX_NO_TCP		0x1	/* no TCP connect either */
#define SANDBOX_CHROOTED	0x2	/* for the warning only */

struct sandbox_path {
	const char	*path;
	unsigned int	 access;
};

static void
caps_clear(void)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[2];

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		fatal("%s: PR_CAP_AMBIENT_CLEAR_ALL", __func__);
	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	if (syscall(SYS_capset, &hdr, data) == -1)
		fatal("%s: capset", __func__);
}

void
sandbox_drop(const struct herod_env *env, const char *chroot_dir)
{
	int	 cap;

	if (geteuid() == 0) {
		if (chroot_dir != NULL) {
			if (chroot(chroot_dir) == -1)
				fatal("%s: chroot %s", __func__, chroot_dir);
			if (chdir("/") == -1)
				fatal("%s: chdir /", __func__);
		}
		/* no capability can come back, even through an exec */
		for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0;
		    cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1)
				fatal("%s: PR_CAPBSET_DROP %d", __func__, cap);
		if (setgroups(1, &env->worker_gid) == -1)
			fatal("%s: setgroups", __func__);
		if (setresgid(env->worker_gid, env->worker_gid,
		    env->worker_gid) == -1)
			fatal("%s: setresgid", __func__);
		if (setresuid(env->worker_uid, env->worker_uid,
		    env->worker_uid) == -1)
			fatal("%s: setresuid", __func__);
		if (env->worker_uid != 0 && setuid(0) != -1)
			fatalx("%s: could regain root", __func__);
	}
	caps_clear();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: PR_SET_NO_NEW_PRIVS", __func__);
}

/*
 * A worker goes with its parent.  The parent's pid comes in the
 * environment (HEROD_PARENT_PID), so that a herod that is pid 1 of a
 * container is not taken for a parent that is gone.
 */
void
sandbox_die_with_parent(void)
{
	const char	*e = getenv(HEROD_PARENT_ENV), *errstr;
	pid_t		 want = 0;

	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		fatal("%s: PR_SET_PDEATHSIG", __func__);
	if (e != NULL) {
		want = (pid_t)strtonum(e, 1, INT32_MAX, &errstr);
		if (errstr != NULL)
			fatalx("%s: %s is %s", __func__, HEROD_PARENT_ENV,
			    errstr);
	}
	if (want != 0 ? getppid() != want : getppid() == 1)
		fatalx("%s: parent already gone", __func__);
}

/* Every file system right of this ABI version. */
static uint64_t
ll_fs_rights(int abi)
{
	uint64_t	 r = LL_FS_ABI1;

	if (abi >= 2)
		r |= LL_FS_REFER;
	if (abi >= 3)
		r |= LL_FS_TRUNCATE;
	if (abi >= 5)
		r |= LL_FS_IOCTL_DEV;
	return r;
}

static uint64_t
ll_access(unsigned int want, int abi)
{
	uint64_t	 r = 0;

	if (want & SANDBOX_FS_READ)
		r |= LL_FS_READ_FILE | LL_FS_READ_DIR;
	if (want & SANDBOX_FS_WRITE) {
		r |= LL_FS_WRITE_FILE | LL_FS_MAKE_REG | LL_FS_REMOVE_FILE;
		if (abi >= 3)
			r |= LL_FS_TRUNCATE;
	}
	if (want & SANDBOX_FS_SOCK)
		r |= LL_FS_MAKE_SOCK | LL_FS_REMOVE_FILE;
	return r;
}

/*
 * Restrict this process to the paths given.  Missing paths are skipped
 * (e.g. /lib64 on some systems).  Every other file system access the
 * kernel can restrict is denied, and so are TCP bind (with
 * SANDBOX_NO_TCP, TCP connect too), abstract unix sockets and signals
 * outside the worker.  Returns the Landlock ABI version in force, or 0
 * if the kernel has none (warned about once per worker).
 */
static int
sandbox_landlock(const char *who, const struct sandbox_path *paths,
    size_t npaths, unsigned int flags)
{
	struct ll_ruleset_attr		 attr;
	struct ll_path_beneath_attr	 pb;
	struct stat			 sb;
	size_t				 attrlen, i;
	uint64_t			 files_only;
	int				 abi, rfd, fd;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	if (abi <= 0) {
		log_warnx("%s: %s: no Landlock in this kernel (%s): the file "
		    "system is not restricted beyond ids%s", __func__, who,
		    strerror(errno), flags & SANDBOX_CHROOTED ?
		    " and the chroot" : "");
		return 0;
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = ll_fs_rights(abi);
	attrlen = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP;
		if (flags & SANDBOX_NO_TCP)
			attr.handled_access_net |= LL_NET_CONNECT_TCP;
		attrlen = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		attrlen = sizeof(attr);
	}
	rfd = syscall(SYS_landlock_create_ruleset, &attr, attrlen, 0);
	if (rfd == -1)
		fatal("%s: %s: landlock_create_ruleset", __func__, who);
	/* rights that make sense on a file, for a rule on a file */
	files_only = LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE |
	    (abi >= 3 ? LL_FS_TRUNCATE : 0) | (abi >= 5 ? LL_FS_IOCTL_DEV : 0);
	for (i = 0; i < npaths; i++) {
		fd = open(paths[i].path, O_PATH | O_CLOEXEC);
		if (fd == -1) {
			if (errno == ENOENT)
				continue;
			fatal("%s: %s: %s", __func__, who, paths[i].path);
		}
		if (fstat(fd, &sb) == -1)
			fatal("%s: %s: fstat %s", __func__, who,
			    paths[i].path);
		memset(&pb, 0, sizeof(pb));
		pb.parent_fd = fd;
		pb.allowed_access = ll_access(paths[i].access, abi);
		if (!S_ISDIR(sb.st_mode))
			pb.allowed_access &= files_only;
		if (pb.allowed_access != 0 && syscall(SYS_landlock_add_rule,
		    rfd, LL_RULE_PATH_BENEATH, &pb, 0) == -1)
			fatal("%s: %s: landlock_add_rule %s", __func__, who,
			    paths[i].path);
		close(fd);
	}
	if (syscall(SYS_landlock_restrict_self, rfd, 0) == -1)
		fatal("%s: %s: landlock_restrict_self", __func__, who);
	close(rfd);
	return abi;
}

/*
 * After Landlock: a path the worker must not reach is checked to be out
 * of reach indeed, and the result logged once, so that the confinement
 * in force can be read in the log.
 */
static void
landlock_report(int abi, const char *what,
    const char *probe)
{
	int	 fd;

	if (abi == 0)
		return;
	if (probe == NULL) {
		log_info("landlock ABI %d: %s", abi, what);
		return;
	}
	fd = open(probe, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd != -1) {
		close(fd);
		log_warnx("landlock ABI %d: %s, yet %s can be opened",
		    abi, what, probe);
		return;
	}
	log_info("landlock ABI %d: %s (%s: %s)", abi, what, probe,
	    strerror(errno));
}

/*
 * The prober: /proc (ancestry of notify senders), its notify sockets,
 * and what getaddrinfo(3) reads (/etc, NSS modules).  Ready files are
 * only stat(2)ed and watched with inotify, which Landlock leaves alone.
 * TCP connects are its job; it may not listen.
 */
void
sandbox_fs_prober(const struct herod_env *env)
{
	char			 notify[PATH_MAX];
	struct sandbox_path	 paths[] = {
		{ "/proc", SANDBOX_FS_READ },
		{ "/etc", SANDBOX_FS_READ },
		{ "/usr/lib", SANDBOX_FS_READ },
		{ "/usr/lib64", SANDBOX_FS_READ },
		{ "/lib", SANDBOX_FS_READ },
		{ "/lib64", SANDBOX_FS_READ },
		{ notify, SANDBOX_FS_SOCK },
	};
	int			 abi;

	if ((size_t)snprintf(notify, sizeof(notify), "%s/%s", env->rundir,
	    RUN_NOTIFY) >= sizeof(notify))
		fatalx("%s: run directory path too long", __func__);
	abi = sandbox_landlock("prober", paths,
	    sizeof(paths) / sizeof(paths[0]), 0);
	landlock_report(abi, "reads /proc, /etc and libraries, "
	    "makes sockets in RUNDIR/notify, no TCP listening; the state "
	    "directory is out of reach", env->statedir);
}

/*
 * The store: its state directory (the current directory; chrooted
 * there in system mode), no TCP at all.  LeakSanitizer reads /proc at
 * exit in sanitizer builds.
 */
void
sandbox_fs_store(const struct herod_env *env, int chrooted)
{
	struct sandbox_path	 paths[] = {
		{ ".", SANDBOX_FS_READ | SANDBOX_FS_WRITE },
#if defined(__SANITIZE_ADDRESS__)
		{ "/proc", SANDBOX_FS_READ },
#endif
	};
	int			 abi;

	abi = sandbox_landlock("store", paths,
	    sizeof(paths) / sizeof(paths[0]),
	    SANDBOX_NO_TCP | (chrooted ? SANDBOX_CHROOTED : 0));
	if (chrooted)
		landlock_report(abi, "the state directory only "
		    "(chrooted), no TCP", NULL);
	else
		landlock_report(abi, "the state directory only, "
		    "no TCP", env->rundir);
}
