/*
 * heroctl: send one request to herod over its control socket, print what
 * comes back, exit with the status herod decided (SPEC "Control").  The
 * connection is a plain msgchan driven with poll(); no event loop.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "msg.h"
#include "heroctl.h"

#ifndef HEROD_VERSION
#define HEROD_VERSION	"unknown"
#endif

#define SYS_SOCK	"/run/herod/herod.sock"
/* Largest message accepted from herod: a data chunk with room to spare. */
#define CHAN_MAXPAYLOAD	(2 * CTL_DATA_CHUNK)

struct reply {
	char		*buf;		/* document, or a partial line */
	size_t		 len;
	size_t		 size;
	int		 bad;		/* a line was not JSON */
};

static volatile sig_atomic_t	 quit;

static void	 sighandler(int);
static int	 sock_path(const char *, char *, size_t);
static int	 sock_connect(const char *);
static int	 send_request(struct msgchan *, const struct parse_result *);
static int	 wait_fd(int, short, const sigset_t *);
static int	 receive(struct msgchan *, const struct parse_result *,
		    const sigset_t *);
static int	 handle_data(struct reply *, const struct parse_result *,
		    const char *, size_t);
static int	 handle_end(struct reply *, const struct parse_result *,
		    const struct msg *);
static int	 buf_append(struct reply *, const char *, size_t, size_t);
static int	 out_status(int);

__attribute__((noreturn))
void
usage(void)
{
	fprintf(stderr,
	    "usage: heroctl [-j] [-s socket] command [argument ...]\n"
	    "commands:\n"
	    "\tlist\n"
	    "\tstatus name ...\n"
	    "\tstart name ... [--no-wait] [--timeout seconds]\n"
	    "\tstop name ... [--no-wait] [--timeout seconds]\n"
	    "\trestart name ... [--no-wait] [--timeout seconds]\n"
	    "\treset-failed [name ...] [--force]\n"
	    "\treload\n"
	    "\tlogs name [-f] [-a action] [-n lines] [-r restart]\n"
	    "\tevents [-f] [-n lines]\n"
	    "\tshutdown [--keep-services]\n"
	    "\tversion\n");
	exit(EXIT_USAGE);
}

static void
sighandler(int sig)
{
	quit = 1;
}

/* -s, else $HEROD_SOCK, else the default of herod's mode. */
static int
sock_path(const char *opt, char *path, size_t len)
{
	const char	*s;
	int		 n;

	if (opt != NULL)
		n = snprintf(path, len, "%s", opt);
	else if ((s = getenv("HEROD_SOCK")) != NULL && *s != '\0')
		n = snprintf(path, len, "%s", s);
	else if (geteuid() == 0)
		n = snprintf(path, len, "%s", SYS_SOCK);
	else if ((s = getenv("XDG_RUNTIME_DIR")) != NULL && *s != '\0')
		n = snprintf(path, len, "%s/herod/herod.sock", s);
	else
		n = snprintf(path, len, "/tmp/herod-%lu/herod.sock",
		    (unsigned long)geteuid());
	if (n < 0 || (size_t)n >= len)
		return (-1);
	return (0);
}

static int
sock_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EINTR)
			continue;
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

/*
 * Wait until fd is ready for ev.  1 ready, 0 interrupted by SIGINT or
 * SIGTERM (only when they are caught, see main), -1 error.
 */
static int
wait_fd(int fd, short ev, const sigset_t *mask)
{
	struct pollfd	 pfd;

	for (;;) {
		if (quit)
			return (0);
		pfd.fd = fd;
		pfd.events = ev;
		pfd.revents = 0;
		if (ppoll(&pfd, 1, NULL, mask) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		return (1);
	}
}

static int
send_request(struct msgchan *chan, const struct parse_result *res)
{
	struct ctl_request	 req;
	char			*buf, *p;
	size_t			 i, len, n;
	int			 rv;

	memset(&req, 0, sizeof(req));
	req.version = CTL_VERSION;
	req.cmd = res->cmd;
	req.flags = res->flags;
	req.timeout_s = res->timeout_s;
	req.lines = res->lines;
	req.restart = res->restart;
	strlcpy(req.action, res->action, sizeof(req.action));
	req.nnames = res->nnames;

	len = sizeof(req) + res->nameslen;
	if (len > CTL_MAX_REQUEST) {
		errno = EMSGSIZE;
		return (-1);
	}
	if ((buf = malloc(len)) == NULL)
		return (-1);
	memcpy(buf, &req, sizeof(req));
	p = buf + sizeof(req);
	for (i = 0; i < res->nnames; i++) {
		n = strlen(res->names[i]) + 1;
		memcpy(p, res->names[i], n);
		p += n;
	}
	rv = msgchan_queue(chan, CTL_M_REQUEST, 0, 0, -1, buf, len);
	free(buf);
	if (rv == -1)
		return (-1);

	while ((rv = msgchan_flush(chan)) == 1) {
		if (wait_fd(msgchan_fd(chan), POLLOUT, NULL) == -1)
			return (-1);
	}
	return (rv);
}

/* Grow r->buf to hold add more bytes, at most max in all; -1 if over. */
static int
buf_append(struct reply *r, const char *data, size_t add, size_t max)
{
	char	*nbuf;
	size_t	 nsize;

	if (add > max || r->len > max - add)
		return (-1);
	if (r->len + add + 1 > r->size) {
		nsize = r->size ? r->size : 64 * 1024;
		while (nsize < r->len + add + 1)
			nsize *= 2;
		if ((nbuf = realloc(r->buf, nsize)) == NULL)
			err(EXIT_FAILED, NULL);
		r->buf = nbuf;
		r->size = nsize;
	}
	memcpy(r->buf + r->len, data, add);
	r->len += add;
	r->buf[r->len] = '\0';
	return (0);
}

/* Make sure what we printed got out; a closed pipe is a quiet failure. */
static int
out_status(int code)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (errno != EPIPE)
			warn("stdout");
		return (EXIT_FAILED);
	}
	return (code);
}

/*
 * One CTL_M_DATA chunk.  A document is kept whole; JSON lines are printed
 * as soon as their '\n' arrives, a partial line waits in r.  Returns 0, or
 * an exit status to stop with.
 */
static int
handle_data(struct reply *r, const struct parse_result *res,
    const char *data, size_t len)
{
	const char	*nl;
	size_t		 n;

	if (!res->stream) {
		if (buf_append(r, data, len, REPLY_MAX) == -1) {
			warnx("reply from herod is larger than %d MiB",
			    REPLY_MAX / (1024 * 1024));
			return (EXIT_FAILED);
		}
		return (0);
	}

	while (len > 0) {
		if ((nl = memchr(data, '\n', len)) == NULL)
			n = len;
		else
			n = nl - data;
		if (buf_append(r, data, n, LINE_MAX_LEN) == -1) {
			warnx("line from herod is longer than %d MiB",
			    LINE_MAX_LEN / (1024 * 1024));
			return (EXIT_FAILED);
		}
		if (nl == NULL)
			break;
		if (out_line(res, r->buf, r->len) == -1)
			r->bad = 1;
		r->len = 0;
		data += n + 1;
		len -= n + 1;
	}
	if (res->flags & CTLF_FOLLOW) {
		if (fflush(stdout) == EOF)
			return (out_status(EXIT_FAILED));
	}
	return (0);
}

static int
handle_end(struct reply *r, const struct parse_result *res,
    const struct msg *m)
{
	struct ctl_end	 end;
	int		 code;

	if (msg_get_exact(m, &end, sizeof(end)) == -1) {
		warnx("bad end message from herod (%u bytes)", m->hdr.len);
		return (out_status(EXIT_FAILED));
	}
	end.message[sizeof(end.message) - 1] = '\0';
	code = end.exitcode;
	if (code < EXIT_OK || code > EXIT_DENIED)
		code = EXIT_FAILED;

	if (res->stream) {
		if (r->len > 0 && out_line(res, r->buf, r->len) == -1)
			r->bad = 1;
	} else if (r->len > 0) {
		if (out_document(res, r->buf, r->len) == -1 &&
		    code == EXIT_OK)
			code = EXIT_FAILED;
	}
	if (r->bad && code == EXIT_OK)
		code = EXIT_FAILED;
	code = out_status(code);

	if (end.message[0] != '\0') {
		/* keep the terminal sane whatever the text holds */
		fputs("heroctl: ", stderr);
		put_text(stderr, end.message, strlen(end.message), 1);
		fputc('\n', stderr);
	}
	return (code);
}

static int
receive(struct msgchan *chan, const struct parse_result *res,
    const sigset_t *mask)
{
	struct reply	 r;
	struct msg	 m;
	ssize_t		 n;
	int		 rv, code = 0;

	memset(&r, 0, sizeof(r));
	while (code == 0) {
		while (code == 0 && (rv = msgchan_get(chan, &m)) == 1) {
			if (m.fd != -1)
				close(m.fd);
			switch (m.hdr.type) {
			case CTL_M_DATA:
				code = handle_data(&r, res, m.data,
				    m.hdr.len);
				break;
			case CTL_M_END:
				code = handle_end(&r, res, &m);
				goto done;
			default:
				warnx("unexpected message type %u from herod",
				    m.hdr.type);
				code = out_status(EXIT_FAILED);
				break;
			}
		}
		if (code != 0)
			break;
		if (rv == -1) {
			warn("bad message from herod");
			code = out_status(EXIT_FAILED);
			break;
		}

		switch (wait_fd(msgchan_fd(chan), POLLIN, mask)) {
		case 0:
			/* interrupted while following: a normal end */
			code = out_status(EXIT_OK);
			goto done;
		case -1:
			warn("poll");
			code = out_status(EXIT_FAILED);
			goto done;
		}
		if ((n = msgchan_read(chan)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			warn("connection to herod lost");
			code = out_status(EXIT_FAILED);
		} else if (n == 0) {
			if (res->flags & CTLF_FOLLOW)
				warnx("herod closed the connection");
			else
				warnx("connection to herod lost");
			code = out_status(EXIT_FAILED);
		}
	}
 done:
	free(r.buf);
	return (code);
}

int
main(int argc, char *argv[])
{
	struct parse_result	 res;
	struct sigaction	 sa;
	struct msgchan		*chan;
	sigset_t		 block, old, *mask = NULL;
	const char		*sockopt = NULL;
	char			 path[PATH_MAX];
	int			 ch, fd, saved, jflag = 0;

	/* messages say "heroctl:" whatever the binary is called */
	program_invocation_short_name = "heroctl";

	while ((ch = getopt(argc, argv, "+js:")) != -1) {
		switch (ch) {
		case 'j':
			jflag = 1;
			break;
		case 's':
			sockopt = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;

	memset(&res, 0, sizeof(res));
	parse(argc, argv, &res);
	if (jflag)
		res.json = 1;

	signal(SIGPIPE, SIG_IGN);
	if (sock_path(sockopt, path, sizeof(path)) == -1) {
		errno = ENAMETOOLONG;
		warn("herod not reachable at %s", path);
		exit(EXIT_UNREACH);
	}
	if ((fd = sock_connect(path)) == -1) {
		saved = errno;
		if (res.cmd == CTL_VERSION_CMD && !res.json)
			printf("heroctl %s\n", HEROD_VERSION);
		fflush(stdout);
		errno = saved;
		warn("herod not reachable at %s", path);
		exit(EXIT_UNREACH);
	}
	if (res.flags & CTLF_FOLLOW) {
		/*
		 * Following ends with ^C or SIGTERM: exit 0.  The signals
		 * stay blocked except inside ppoll(), so none is missed.
		 */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = sighandler;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGTERM);
		sigprocmask(SIG_BLOCK, &block, &old);
		sigdelset(&old, SIGINT);
		sigdelset(&old, SIGTERM);
		mask = &old;
	}

	if ((chan = msgchan_new(fd, CHAN_MAXPAYLOAD, 0)) == NULL)
		err(EXIT_FAILED, "msgchan_new");

	if (send_request(chan, &res) == -1) {
		/* herod may have said why before it hung up: read that */
		if (errno != EPIPE) {
			warn("cannot send the request to herod");
			exit(EXIT_FAILED);
		}
	}
	ch = receive(chan, &res, mask);
	msgchan_free(chan);
	free(res.names);
	return (ch);
}
