/* Small helpers shared by all herod programs. */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>

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
	ssize_t	 n;
	int	 fd;

	if (len < 2 || (fd = open(path, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1)
		return -1;
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

int
write_file_atomic(const char *path, const char *data, size_t len,
    mode_t mode)
{
	return write_file_atomic_xattr(path, data, len, mode, NULL, NULL, 0,
	    NULL);
}

/*
 * The same, with the extended attribute xname = xval set on the file
 * before it takes its name; *xfailed tells whether that failed (a file
 * system without user xattrs), the file is written anyway.
 */
int
write_file_atomic_xattr(const char *path, const char *data, size_t len,
    mode_t mode, const char *xname, const void *xval, size_t xlen,
    int *xfailed)
{
	char	 tmp[PATH_MAX];
	int	 fd, saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp%d", path,
	    (int)getpid()) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    mode);
	if (fd == -1)
		return -1;
	/*
	 * No fsync: these are run-time files (pid files under /run), gone
	 * with a reboot anyway; rename() alone makes them atomic.
	 */
	if (write_all(fd, data, len) == -1) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (xname != NULL)
		*xfailed = fsetxattr(fd, xname, xval, xlen, 0) == -1;
	close(fd);
	if (rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

uint32_t
rand_below(uint32_t n)
{
	if (n == 0)
		return 0;
	return arc4random_uniform(n);
}
