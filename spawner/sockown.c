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
 * Who holds a unix socket or a TCP port: /proc/net/unix, /proc/net/tcp
 * and tcp6 give the socket inode, /proc/PID/fd links give its owner.
 * No lsof needed.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "herod.h"
#include "log.h"
#include "spawner.h"
#include "util.h"

#define SO_ACCEPTCON_FLAG	0x00010000

/*
 * The unix socket file path, found without following any link an
 * unprivileged user could have made (safe_parent_open(), O_NOFOLLOW):
 * an O_PATH fd to connect to as /proc/self/fd/N, so that what was
 * checked is what is connected to.  -1 with errno ELOOP for a link,
 * ENOTSOCK for anything else but a socket.
 */
static int
sock_path_open(const char *path, struct stat *sb)
{
	char	 base[NAME_MAX + 1];
	int	 dfd, fd, e;

	if ((dfd = safe_parent_open(path, base, sizeof(base))) == -1)
		return -1;
	fd = openat(dfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	e = errno;
	close(dfd);
	if (fd == -1) {
		errno = e;
		return -1;
	}
	if (fstat(fd, sb) == -1)
		e = errno;
	else if (!S_ISSOCK(sb->st_mode))
		e = S_ISLNK(sb->st_mode) ? ELOOP : ENOTSOCK;
	else
		return fd;
	close(fd);
	errno = e;
	return -1;
}

/* 1 someone listens, 0 nobody (refused), -1 cannot tell. */
int
sock_listening(const char *path)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;
	int			 s, r, pfd;

	if ((pfd = sock_path_open(path, &sb)) == -1)
		return errno == ENOENT ? 0 : -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d",
	    pfd);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s == -1) {
		close(pfd);
		return -1;
	}
	r = connect(s, (struct sockaddr *)&sun, sizeof(sun));
	if (r == 0 || errno == EAGAIN || errno == EINPROGRESS)
		r = 1;
	else
		r = (errno == ECONNREFUSED || errno == ENOENT) ? 0 : -1;
	close(s);
	close(pfd);
	return r;
}

/*
 * Connect to a service's unix socket for the prober, which may not open
 * it, and pass the connected fd back.  The path the prober sent is not
 * used: the socket is the target of the service's probe of that name in
 * our configuration, found without following links, and connected to
 * with the credentials of the probe's action (spawn_connect_as()).
 */
void
connect_for_prober(struct m_connect *c)
{
	struct service_conf	*sc;
	struct probe_conf	*pc;
	struct action_conf	*ac;
	struct m_ref		 ref;
	struct stat		 sb;
	char			 sockdir[PATH_MAX], *t = NULL;
	int			 s = -1, pfd;

	c->error = 0;
	if ((sc = service_conf_lookup(&sp->services, c->service)) == NULL ||
	    (pc = probe_conf_find(sc, c->probe)) == NULL ||
	    pc->kind == PROBE_EXEC || pc->target == NULL ||
	    (ac = spawn_probe_action(sc, pc)) == NULL) {
		c->error = ENOENT;
		goto reply;
	}
	memset(&ref, 0, sizeof(ref));
	strlcpy(ref.service, sc->name, sizeof(ref.service));
	strlcpy(ref.action, ac->name, sizeof(ref.action));
	if (spawn_paths(&ref, "sockdir", sockdir, sizeof(sockdir)) == -1 ||
	    (t = config_expand(pc->target, sockdir, sc->name, ac->name)) ==
	    NULL) {
		c->error = errno;
		goto reply;
	}
	if (strncmp(t, "unix:/", 6) != 0) {
		c->error = EPERM;
		goto reply;
	}
	if (strcmp(t + 5, c->path) != 0)
		log_debug("%s: %s/%s: prober asked for %s, target is %s",
		    __func__, sc->name, pc->name, c->path, t + 5);
	if ((pfd = sock_path_open(t + 5, &sb)) == -1) {
		c->error = errno;
		goto reply;
	}
	s = spawn_connect_as(ac, pfd, &sb, &c->error);
	close(pfd);
 reply:
	free(t);
	spawner_send(M_CONNECT_FD, s, c, sizeof(*c));
}

/* The pid that has socket inode ino open, 0 if none visible. */
static pid_t
inode_owner(unsigned long ino, char *comm, size_t commlen)
{
	DIR		*proc, *fds;
	struct dirent	*dp, *fp;
	char		 path[300], link[64], want[64];
	ssize_t		 n;
	pid_t		 pid, found = 0;

	snprintf(want, sizeof(want), "socket:[%lu]", ino);
	if ((proc = opendir("/proc")) == NULL)
		return 0;
	while (found == 0 && (dp = readdir(proc)) != NULL) {
		pid = (pid_t)strtol(dp->d_name, NULL, 10);
		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		if ((fds = opendir(path)) == NULL)
			continue;
		while ((fp = readdir(fds)) != NULL) {
			if (fp->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/fd/%s",
			    (int)pid, fp->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, want) == 0) {
				found = pid;
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	if (found > 0 && comm != NULL &&
	    proc_stat(found, NULL, NULL, NULL, comm, commlen) == -1)
		strlcpy(comm, "?", commlen);
	return found;
}

pid_t
sock_owner_unix(unsigned long file_ino, const char *path, char *comm,
    size_t commlen)
{
	FILE		*f;
	char		 line[PATH_MAX + 128], p[PATH_MAX];
	unsigned long	 flags, ino;
	unsigned int	 type, st;
	pid_t		 owner = 0;

	(void)file_ino;
	if ((f = fopen("/proc/net/unix", "re")) == NULL)
		return 0;
	while (owner == 0 && fgets(line, sizeof(line), f) != NULL) {
		p[0] = '\0';
		if (sscanf(line, "%*s %*s %*s %lx %x %x %lu %4095s", &flags,
		    &type, &st, &ino, p) != 5)
			continue;
		if (!(flags & SO_ACCEPTCON_FLAG) || strcmp(p, path) != 0)
			continue;
		owner = inode_owner(ino, comm, commlen);
	}
	fclose(f);
	return owner;
}

static pid_t
port_owner_file(const char *file, unsigned int port, int *held, char *comm,
    size_t commlen)
{
	FILE		*f;
	char		 line[512], local[128];
	unsigned int	 lport, st;
	unsigned long	 ino;
	char		*colon;
	pid_t		 owner = 0;

	if ((f = fopen(file, "re")) == NULL)
		return 0;
	while (owner == 0 && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%*s %127s %*s %x %*s %*s %*s %*s %*s %lu",
		    local, &st, &ino) != 3)
			continue;
		if (st != 0x0A || (colon = strrchr(local, ':')) == NULL)
			continue;
		lport = (unsigned int)strtoul(colon + 1, NULL, 16);
		if (lport != port)
			continue;
		*held = 1;
		owner = inode_owner(ino, comm, commlen);
	}
	fclose(f);
	return owner;
}

/* >0 owner pid, 0 port free, -1 held by a process we cannot see. */
pid_t
port_owner_tcp(unsigned int port, char *comm, size_t commlen)
{
	pid_t	 owner;
	int	 held = 0;

	owner = port_owner_file("/proc/net/tcp", port, &held, comm, commlen);
	if (owner == 0)
		owner = port_owner_file("/proc/net/tcp6", port, &held, comm,
		    commlen);
	if (owner == 0 && held)
		return -1;
	return owner;
}
