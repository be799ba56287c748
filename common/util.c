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

/* Small helpers shared by all herod programs. */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

#include <linux/openat2.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
set_nonblock(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int
set_cloexec(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFD)) == -1)
		return -1;
	return fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

ssize_t
read_small_file(const char *path, char *buf, size_t len)
{
	struct stat	 sb;
	ssize_t		 n;
	int		 fd;

	/* never block on a fifo, never follow a link planted as the file */
	if (len < 2 || (fd = open(path, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

int
proc_stat(pid_t pid, uint64_t *starttime, pid_t *pgid, pid_t *ppid,
    char *comm, size_t commlen)
{
	char		 path[64], buf[1024], *lp, *rp, *p, *ep;
	ssize_t		 n;
	int		 field;
	unsigned long long v;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((n = read_small_file(path, buf, sizeof(buf))) == -1)
		return -1;
	/* comm is in parentheses and may itself contain ')' or spaces */
	if ((lp = strchr(buf, '(')) == NULL ||
	    (rp = strrchr(buf, ')')) == NULL || rp < lp)
		return -1;
	if (comm != NULL && commlen > 0) {
		size_t	 l = (size_t)(rp - lp - 1);

		if (l >= commlen)
			l = commlen - 1;
		memcpy(comm, lp + 1, l);
		comm[l] = '\0';
	}
	p = rp + 2;		/* field 3: state */
	if (p >= buf + n)
		return -1;
	if (*p == 'Z' || *p == 'X')
		return -1;	/* a zombie is not alive */
	for (field = 3; field < 22; field++) {
		if (field == 4 || field == 5) {
			v = strtoull(p, &ep, 10);
			if (ep == p)
				return -1;
			if (field == 4 && ppid != NULL)
				*ppid = (pid_t)v;
			if (field == 5 && pgid != NULL)
				*pgid = (pid_t)v;
		}
		if ((p = strchr(p, ' ')) == NULL)
			return -1;
		p++;
	}
	v = strtoull(p, &ep, 10);
	if (ep == p)
		return -1;
	if (starttime != NULL)
		*starttime = v;
	return 0;
}

int
proc_alive(pid_t pid, uint64_t starttime)
{
	uint64_t	 st;

	if (proc_stat(pid, &st, NULL, NULL, NULL, 0) == -1)
		return 0;
	return starttime == 0 || st == starttime;
}

int
mkdir_p(const char *path, mode_t mode)
{
	char	 buf[PATH_MAX], *p;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Safe path walking for root in directories other users may write.
 *
 * A symlink is followed only where nobody but root (or we) could have
 * made it: the link is owned by root or us and so is the directory
 * holding it, which no group or other may write (/var/run -> /run).  Any other link makes
 * the walk fail with ELOOP; a ".." in the path asked for, with EINVAL
 * (one in the target of a trusted link is followed: it goes up to the
 * real parent).  Directories
 * themselves need no check: an unprivileged user cannot give a
 * directory of its own a name in a directory it may not write, and
 * cannot hard link a directory.
 */
#define SAFE_MAXLINKS	40

static int
trusted_link(int dfd, const struct stat *lsb)
{
	struct stat	 dsb;

	if (fstat(dfd, &dsb) == -1)
		return 0;
	return (lsb->st_uid == 0 || lsb->st_uid == geteuid()) &&
	    (dsb.st_uid == 0 || dsb.st_uid == geteuid()) &&
	    (dsb.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/* The walk component by component, for openat2 refusing or missing. */
static int
safe_dir_walk(const char *path)
{
	char		 buf[PATH_MAX], link[PATH_MAX], *p, *name, *next;
	struct stat	 lsb;
	ssize_t		 n;
	size_t		 rest;
	int		 dfd, fd, nlinks = 0, saved;

	if (path[0] != '/' || strlcpy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		errno = path[0] != '/' ? EINVAL : ENAMETOOLONG;
		return -1;
	}
	if ((dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	for (p = buf; ; p = next) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			return dfd;
		name = p;
		if ((next = strchr(p, '/')) != NULL)
			*next++ = '\0';
		else
			next = p + strlen(p);
		if (strcmp(name, ".") == 0)
			continue;
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC | O_NONBLOCK);
		if (fd != -1) {
			close(dfd);
			dfd = fd;
			continue;
		}
		if (errno != ELOOP && errno != ENOTDIR)
			goto fail;
		saved = errno;
		if (fstatat(dfd, name, &lsb, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISLNK(lsb.st_mode)) {
			errno = saved;	/* not a directory */
			goto fail;
		}
		if (!trusted_link(dfd, &lsb)) {
			errno = ELOOP;
			goto fail;
		}
		if (++nlinks > SAFE_MAXLINKS) {
			errno = ELOOP;
			goto fail;
		}
		if ((n = readlinkat(dfd, name, link, sizeof(link) - 1)) <= 0)
			goto fail;
		link[n] = '\0';
		/* the target, then what was left of the path */
		rest = strlen(next);
		if ((size_t)n + 1 + rest >= sizeof(buf)) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memmove(buf + n + 1, next, rest + 1);
		memcpy(buf, link, (size_t)n);
		buf[n] = '/';
		next = buf;
		if (link[0] == '/') {
			close(dfd);
			if ((dfd = open("/", O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC)) == -1)
				return -1;
		}
	}
 fail:
	saved = errno;
	close(dfd);
	errno = saved;
	return -1;
}

/* A ".." component: refused, the walk has no use for one. */
static int
has_dotdot(const char *path)
{
	const char	*p;

	for (p = path; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '/' ||
		    p[2] == '\0'))
			return 1;
	return 0;
}

int
safe_dir_open(const char *path)
{
	struct open_how	 how;
	int		 fd;

	if (path[0] != '/' || has_dotdot(path)) {
		errno = EINVAL;
		return -1;
	}
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK;
	how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd != -1 || (errno != ELOOP && errno != ENOSYS &&
	    errno != EPERM && errno != EAGAIN && errno != EXDEV))
		return fd;
	/* a link on the way (maybe a trusted one), or no openat2 */
	return safe_dir_walk(path);
}

int
safe_parent_open(const char *path, char *base, size_t baselen)
{
	char		 dir[PATH_MAX];
	const char	*slash;

	if ((slash = strrchr(path, '/')) == NULL || slash[1] == '\0' ||
	    strcmp(slash + 1, ".") == 0 || strcmp(slash + 1, "..") == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((size_t)(slash - path) + 1 >= sizeof(dir) ||
	    strlcpy(base, slash + 1, baselen) >= baselen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (dir[0] == '\0')
		strlcpy(dir, "/", sizeof(dir));
	return safe_dir_open(dir);
}

int
unlinkat_type(int dfd, const char *name, mode_t fmt)
{
	struct stat	 sb;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if (S_ISDIR(sb.st_mode) || (fmt != 0 && (sb.st_mode & S_IFMT) !=
	    fmt)) {
		errno = EINVAL;
		return -1;
	}
	return unlinkat(dfd, name, 0);
}

int
safe_unlink(const char *path, mode_t fmt)
{
	char	 base[NAME_MAX + 1];
	int	 dfd, r, saved;

	if ((dfd = safe_parent_open(path, base, sizeof(base))) == -1)
		return -1;
	r = unlinkat_type(dfd, base, fmt);
	saved = errno;
	close(dfd);
	errno = saved;
	return r;
}

int
write_file_atomic(const char *path, const char *data, size_t len,
    mode_t mode)
{
	return write_file_atomic_xattr(path, data, len, mode, NULL, NULL, 0,
	    NULL);
}

int
write_file_atomic_xattr(const char *path, const char *data, size_t len,
    mode_t mode, const char *xname, const void *xval, size_t xlen,
    int *xfailed)
{
	char	 base[NAME_MAX + 1];
	int	 dfd, r, saved;

	if ((dfd = safe_parent_open(path, base, sizeof(base))) == -1)
		return -1;
	r = write_file_at(dfd, base, data, len, mode, xname, xval, xlen,
	    xfailed);
	saved = errno;
	close(dfd);
	errno = saved;
	return r;
}

/*
 * The temporary file has an unpredictable name and is created with
 * O_EXCL (which never follows a link nor opens a fifo planted there);
 * the extended attribute is set on its fd; renameat() within dfd
 * replaces whatever name was (a link is replaced, not followed).
 */
int
write_file_at(int dfd, const char *name, const char *data, size_t len,
    mode_t mode, const char *xname, const void *xval, size_t xlen,
    int *xfailed)
{
	char		 tmp[NAME_MAX + 1];
	uint32_t	 r[2];
	int		 fd = -1, saved, tries;

	if (strchr(name, '/') != NULL || strlen(name) + 19 > NAME_MAX) {
		errno = strchr(name, '/') != NULL ? EINVAL : ENAMETOOLONG;
		return -1;
	}
	for (tries = 0; tries < 8 && fd == -1; tries++) {
		arc4random_buf(r, sizeof(r));
		(void)snprintf(tmp, sizeof(tmp), ".%s.%08x%08x", name, r[0],
		    r[1]);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
		if (fd == -1 && errno != EEXIST)
			return -1;
	}
	if (fd == -1)
		return -1;
	/*
	 * No fsync: these are run-time files (pid files under /run), gone
	 * with a reboot anyway; rename() alone makes them atomic.
	 */
	if (write_all(fd, data, len) == -1)
		goto fail;
	if (xname != NULL)
		*xfailed = fsetxattr(fd, xname, xval, xlen, 0) == -1;
	close(fd);
	fd = -1;
	if (renameat(dfd, tmp, dfd, name) == -1)
		goto fail;
	return 0;
 fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	(void)unlinkat(dfd, tmp, 0);
	errno = saved;
	return -1;
}

uint32_t
rand_below(uint32_t n)
{
	if (n == 0)
		return 0;
	return arc4random_uniform(n);
}
