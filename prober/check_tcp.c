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
 * The transport of tcp, http and jsonrpc probes: a non-blocking connect,
 * then (when the kind has a request) send it and read the reply, handing
 * each new piece to the kind's validate function.  The run's single
 * deadline (probe.c) covers all of it; run->phase names where it was.
 *
 * Keep-alive: a periodic http run whose reply was ok and complete leaves
 * its connection to the probe (conn_release), and the next periodic run
 * borrows it (conn_take) instead of connecting.  A kept connection never
 * hides a listener that stopped accepting for long: it serves at most
 * CONN_MAX_USES checks and lives at most CONN_MAX_AGE_MS, then a check
 * connects afresh.  While idle it is watched, and closed as soon as the
 * peer closes it or sends anything.  A check on a kept connection that
 * ends before a single byte of reply (the server closed it meanwhile)
 * is tried once more on a fresh connection, within the same deadline.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "util.h"
#include "prober.h"

#define CONN_MAX_USES		10	/* checks on one connection */
#define CONN_MAX_AGE_MS		30000
#define CONN_NOFILE_WANT	65536	/* soft RLIMIT_NOFILE asked for */
#define CONN_NOFILE_RESERVE	128	/* fds never used for idle ones */

static size_t	 conn_n, conn_max;	/* kept connections */

static int	 conn_path_changed(struct probe *);
static void	 conn_read(int, short, void *);
static int	 tcp_retry(struct probe_run *);
static void	 tcp_connect_done(int, short, void *);
static void	 tcp_connect_via_spawner(struct probe_run *);
static void	 tcp_connected(struct probe_run *);
static void	 tcp_write(int, short, void *);
static void	 tcp_read(int, short, void *);

/*
 * Idle connections take one fd each (and in-flight checks another): ask
 * for more than the usual 1024, and keep half of what we have for them.
 */
void
conn_init(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("%s: getrlimit", __func__);
	if (rl.rlim_cur < CONN_NOFILE_WANT && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < CONN_NOFILE_WANT ?
		    rl.rlim_max : CONN_NOFILE_WANT;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			log_warn("%s: setrlimit", __func__);
			if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
				fatal("%s: getrlimit", __func__);
		}
	}
	if (rl.rlim_cur > 2 * CONN_NOFILE_RESERVE)
		conn_max = (rl.rlim_cur - CONN_NOFILE_RESERVE) / 2;
	log_debug("%s: at most %zu kept connections", __func__, conn_max);
}

/*
 * The probe's kept connection, lent to its periodic run, or -1: connect.
 * Its persistent read event stays as it is (conn_read passes what comes
 * to the run), so that a reused connection costs no epoll_ctl.
 */
int
conn_take(struct probe *p)
{
	if (p->conn_fd == -1 || p->conn_lent)
		return -1;
	if (p->conn_uses >= CONN_MAX_USES ||
	    now_us() - p->conn_since_us >= (int64_t)CONN_MAX_AGE_MS * 1000 ||
	    conn_path_changed(p)) {
		conn_close(p);
		return -1;
	}
	p->conn_lent = 1;
	return p->conn_fd;
}

/*
 * A unix socket's file that is gone, or is another socket now, takes no
 * new connections (a dangling listener): a connection kept from before
 * must not hide that, so the check connects afresh.  The file is
 * compared with the one seen when the connection was kept; when the
 * prober may not look (a service's private directory) it cannot tell,
 * and the connection's use and age limits still apply.
 */
static int
conn_path_changed(struct probe *p)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&p->ss;
	struct stat		 st;

	if (p->ss.ss_family != AF_UNIX || p->conn_ino == 0)
		return 0;
	if (stat(sun->sun_path, &st) == -1)
		return errno != EACCES;
	return st.st_dev != p->conn_dev || st.st_ino != p->conn_ino;
}

static void
conn_path_note(struct probe *p)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&p->ss;
	struct stat		 st;

	p->conn_dev = 0;
	p->conn_ino = 0;
	if (p->ss.ss_family == AF_UNIX && stat(sun->sun_path, &st) == 0 &&
	    S_ISSOCK(st.st_mode)) {
		p->conn_dev = st.st_dev;
		p->conn_ino = st.st_ino;
	}
}

/* A decided run's connection: kept for the probe, or closed. */
void
conn_release(struct probe_run *run)
{
	struct probe	*p = run->probe;
	int		 fd = run->fd;

	run->fd = -1;
	if (run->reused) {
		p->conn_lent = 0;
		p->conn_run = NULL;
		if (run->keep)
			p->conn_uses++;
		else
			conn_close(p);
		return;
	}
	if (!run->keep || p->conn_fd != -1 || !p->svc->enabled ||
	    conn_n >= conn_max) {
		close(fd);
		return;
	}
	if (p->conn_ev == NULL)
		p->conn_ev = event_new(prober_base, fd, EV_READ | EV_PERSIST,
		    conn_read, p);
	else if (event_assign(p->conn_ev, prober_base, fd,
	    EV_READ | EV_PERSIST, conn_read, p) == -1)
		fatalx("%s: event_assign", __func__);
	if (p->conn_ev == NULL || event_add(p->conn_ev, NULL) == -1)
		fatalx("%s: event", __func__);
	p->conn_fd = fd;
	p->conn_uses = 1;
	p->conn_since_us = run->start_us;
	conn_path_note(p);
	conn_n++;
}

void
conn_close(struct probe *p)
{
	if (p->conn_fd == -1)
		return;
	event_del(p->conn_ev);
	close(p->conn_fd);
	p->conn_fd = -1;
	p->conn_lent = 0;
	p->conn_run = NULL;
	conn_n--;
}

/*
 * Bytes or EOF on a kept connection: the reply of the run it is lent
 * to, or, while idle, EOF, a reset or unasked-for bytes: drop it.
 */
static void
conn_read(int fd, short ev, void *arg)
{
	struct probe		*p = arg;
	struct probe_run	*run = p->conn_run;

	if (p->conn_lent && run != NULL && run->reused && run->fd == fd) {
		tcp_read(fd, ev, run);
		return;
	}
	log_debug("%s: %s/%s: idle connection closed", __func__,
	    p->svc->name, p->conf->name);
	conn_close(p);
}

void
check_tcp(struct probe_run *run)
{
	struct probe	*p = run->probe;
	int		 fd;

	if (run->may_keep && (fd = conn_take(p)) != -1) {
		run->fd = fd;
		run->reused = 1;
		p->conn_run = run;
		tcp_connected(run);
		return;
	}
	fd = socket(p->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		probe_errno(run, "socket", errno);
		return;
	}
	run->fd = fd;
	run->phase = "connecting";
	if (connect(fd, (struct sockaddr *)&p->ss, p->sslen) == 0) {
		tcp_connected(run);
		return;
	}
	switch (errno) {
	case EINPROGRESS:
	case EINTR:
		probe_set_event(run, EV_WRITE, tcp_connect_done);
		break;
	case EACCES:
		if (p->ss.ss_family == AF_UNIX) {
			tcp_connect_via_spawner(run);
			return;
		}
		probe_errno(run, "connect", errno);
		break;
	case EAGAIN:
		/* unix socket with a full backlog */
		probe_done(run, 0, "connection refused (backlog full)");
		break;
	default:
		probe_errno(run, "connect", errno);
		break;
	}
}

/*
 * The socket belongs to the service's user and we may not open it: the
 * spawner (root) connects for us and passes the connected fd.
 */
static uint32_t		 connect_token_last;

static void
tcp_connect_via_spawner(struct probe_run *run)
{
	struct probe		*p = run->probe;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&p->ss;
	struct m_connect	 c;

	close(run->fd);
	run->fd = -1;
	if (++connect_token_last == 0)
		connect_token_last = 1;
	run->connect_token = connect_token_last;
	memset(&c, 0, sizeof(c));
	strlcpy(c.service, p->svc->name, sizeof(c.service));
	strlcpy(c.probe, p->conf->name, sizeof(c.probe));
	strlcpy(c.path, sun->sun_path, sizeof(c.path));
	c.token = run->connect_token;
	run->phase = "connecting through the spawner";
	if (prober_send(M_CONNECT_REQ, &c, sizeof(c)) == -1)
		probe_done(run, 0, "connect: permission denied");
}

void
check_tcp_connect_result(struct m_connect *c, int fd)
{
	struct probe_run	*run;

	if ((run = probe_run_by_connect_token(c->token)) == NULL ||
	    strcmp(run->probe->svc->name, c->service) != 0 ||
	    strcmp(run->probe->conf->name, c->probe) != 0) {
		if (fd != -1)
			close(fd);
		return;
	}
	run->connect_token = 0;
	if (fd == -1) {
		probe_errno(run, "connect (through the spawner)",
		    c->error ? c->error : EACCES);
		return;
	}
	run->fd = fd;
	tcp_connected(run);
}

static void
tcp_connect_done(int fd, short ev, void *arg)
{
	struct probe_run	*run = arg;
	socklen_t		 len;
	int			 error;

	len = sizeof(error);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1) {
		probe_errno(run, "getsockopt", errno);
		return;
	}
	if (error != 0) {
		probe_errno(run, "connect", error);
		return;
	}
	tcp_connected(run);
}

static void
tcp_connected(struct probe_run *run)
{
	if (run->wbuf == NULL) {
		/* a tcp probe: connecting was the whole test */
		probe_ok(run);
		return;
	}
	run->phase = "sending request";
	tcp_write(run->fd, EV_WRITE, run);
}

static void
tcp_write(int fd, short ev, void *arg)
{
	struct probe_run	*run = arg;
	ssize_t			 n;

	while (run->woff < run->wlen) {
		n = send(fd, run->wbuf + run->woff, run->wlen - run->woff,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				probe_set_event(run, EV_WRITE, tcp_write);
				return;
			}
			if (errno == EPIPE || errno == ECONNRESET)
				break;	/* a reply may be there: read */
			if (tcp_retry(run))
				return;
			probe_errno(run, "send", errno);
			return;
		}
		run->woff += (size_t)n;
	}
	run->phase = "waiting for reply";
	if (!run->reused) {
		probe_set_event(run, EV_READ | EV_PERSIST, tcp_read);
		return;
	}
	/* the probe's event on a kept connection reads for us */
	if (run->ev != NULL) {
		event_free(run->ev);
		run->ev = NULL;
	}
}

static void
tcp_read(int fd, short ev, void *arg)
{
	struct probe_run	*run = arg;
	int			 n;

	n = probe_read(run);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (tcp_retry(run))
			return;
		probe_errno(run, "read", errno);
		return;
	}
	if (n == 0 && tcp_retry(run))
		return;
	if (n > 0)
		run->phase = "reading reply";
	if (run->validate(run, n == 0))
		return;		/* decided; run is gone */
	if (n == 0)
		probe_done(run, 0, "connection closed in the middle of the "
		    "reply");
	else if (n == -2 || run->rlen >= PROBE_READ_MAX)
		probe_done(run, 0, "reply too long");
}

/*
 * A kept connection that failed before any byte of reply: the server
 * closed it while it was idle.  Try once more on a fresh connection, so
 * that this is no failure; a fresh one that fails is.
 */
static int
tcp_retry(struct probe_run *run)
{
	if (!run->reused || run->rlen > 0)
		return 0;
	log_debug("%s: %s/%s: kept connection gone, connecting afresh",
	    __func__, run->probe->svc->name, run->probe->conf->name);
	if (run->ev != NULL) {
		event_free(run->ev);
		run->ev = NULL;
	}
	run->fd = -1;
	run->reused = 0;
	conn_close(run->probe);
	run->woff = 0;
	run->scan = 0;
	check_tcp(run);
	return 1;
}
