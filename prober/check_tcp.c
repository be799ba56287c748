/*
 * The transport of tcp, http and jsonrpc probes: a non-blocking connect,
 * then (when the kind has a request) send it and read the reply, handing
 * each new piece to the kind's validate function.  The run's single
 * deadline (probe.c) covers all of it; run->phase names where it was.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "prober.h"

static void	 tcp_connect_done(int, short, void *);
static void	 tcp_connect_via_spawner(struct probe_run *);
static void	 tcp_connected(struct probe_run *);
static void	 tcp_write(int, short, void *);
static void	 tcp_read(int, short, void *);

void
check_tcp(struct probe_run *run)
{
	struct probe	*p = run->probe;
	int		 fd;

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
	strlcpy(c.probe, p->name, sizeof(c.probe));
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
	    strcmp(run->probe->name, c->probe) != 0) {
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
			probe_errno(run, "send", errno);
			return;
		}
		run->woff += (size_t)n;
	}
	run->phase = "waiting for reply";
	probe_set_event(run, EV_READ | EV_PERSIST, tcp_read);
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
		probe_errno(run, "read", errno);
		return;
	}
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
