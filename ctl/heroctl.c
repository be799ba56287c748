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
 * heroctl: send one request to herod over its control socket, print what
 * comes back, exit with the status herod decided (SPEC "Control").  The
 * connection is a plain msgchan driven with poll(); no event loop.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build_config.h"
#include "ctl.h"
#include "msg.h"
#include "heroctl.h"
#include "util.h"

#ifndef HEROD_VERSION
#define HEROD_VERSION	"unknown"
#endif

#define SYS_SOCK	HEROD_RUNDIR "/herod.sock"
/* Largest message accepted from herod: a data chunk with room to spare. */
#define CHAN_MAXPAYLOAD	(2 * CTL_DATA_CHUNK)
#define BOUND_DEFAULT_S	30	/* -t: herod's answer, connect included */
#define WAIT_DEFAULT_S	90	/* herod's start/stop wait without --timeout */
#define BOUND_MAX_S	(7 * 24 * 3600)

struct reply {
	char		*buf;		/* document, or a partial line */
	size_t		 len;
	size_t		 size;
	int		 bad;		/* a line was not JSON */
};

static volatile sig_atomic_t	 quit;
static int			 json_errors;	/* -j: errors as JSON too */
static int			 doc_printed;	/* stdout has herod's answer */
static int64_t			 deadline;	/* monotonic ms, 0 none */
static uint32_t			 bound_s;	/* what deadline came from */
static const char		*sockname;

static void	 sighandler(int);
static int	 sock_path(const char *, char *, size_t);
static int	 sock_connect(const char *);
static int	 fail(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	 timed_out(void);
static int	 send_request(struct msgchan *, const struct parse_result *);
static int	 wait_fd(int, short, const sigset_t *, int);
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
	usage_msg(NULL);
}

/* A usage error (exit 2); with -j also as a JSON object on stdout. */
__attribute__((noreturn))
void
usage_msg(const char *msg)
{
	if (json_errors) {
		out_error(EXIT_USAGE, msg != NULL ? msg : "usage error");
		fflush(stdout);
	}
	fprintf(stderr,
	    "usage: heroctl [-j] [-s socket] [-t seconds] command "
	    "[argument ...]\n"
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

/*
 * Say why heroctl gives up, on stderr, and with -j as a JSON object on
 * stdout when herod's answer was not printed there.  Returns code.
 */
static int
fail(int code, const char *fmt, ...)
{
	char	 msg[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "heroctl: ");
	put_text(stderr, msg, strlen(msg), 1);
	fputc('\n', stderr);
	if (json_errors && !doc_printed) {
		out_error(code, msg);
		doc_printed = 1;
	}
	fflush(stdout);
	return (code);
}

static int
timed_out(void)
{
	return (fail(EXIT_TIMEOUT, "no answer from herod at %s within %u s",
	    sockname, bound_s));
}

/* Milliseconds left before the deadline: -1 none, 0 passed. */
static int
left_ms(void)
{
	int64_t	 left;

	if (deadline == 0)
		return (-1);
	left = deadline - now_ms();
	if (left <= 0)
		return (0);
	return (left > INT32_MAX ? INT32_MAX : (int)left);
}

/*
 * A blocking connect; a unix socket whose backlog is full makes it wait,
 * for at most the time left (SO_SNDTIMEO bounds it, errno EAGAIN).
 */
static int
sock_connect(const char *path)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv;
	int			 fd, saved, ms;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	if ((ms = left_ms()) >= 0) {
		tv.tv_sec = (ms > 0 ? ms : 1) / 1000;
		tv.tv_usec = (ms > 0 ? ms : 1) % 1000 * 1000;
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
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
 * SIGTERM (only when they are caught, see main), 2 the deadline passed
 * (bounded only), -1 error.
 */
static int
wait_fd(int fd, short ev, const sigset_t *mask, int bounded)
{
	struct pollfd	 pfd;
	struct timespec	 ts;
	int		 ms, r;

	for (;;) {
		if (quit)
			return (0);
		ms = bounded ? left_ms() : -1;
		if (ms == 0)
			return (2);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long)(ms % 1000) * 1000000;
		pfd.fd = fd;
		pfd.events = ev;
		pfd.revents = 0;
		r = ppoll(&pfd, 1, ms < 0 ? NULL : &ts, mask);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (r == 0)
			continue;	/* left_ms() says whether it is over */
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
		switch (wait_fd(msgchan_fd(chan), POLLOUT, NULL, 1)) {
		case -1:
			return (-1);
		case 2:
			errno = ETIMEDOUT;
			return (-1);
		}
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
		if (buf_append(r, data, len, REPLY_MAX) == -1)
			return (fail(EXIT_FAILED, "reply from herod is larger "
			    "than %d MiB", REPLY_MAX / (1024 * 1024)));
		return (0);
	}

	while (len > 0) {
		if ((nl = memchr(data, '\n', len)) == NULL)
			n = len;
		else
			n = nl - data;
		if (buf_append(r, data, n, LINE_MAX_LEN) == -1)
			return (fail(EXIT_FAILED, "line from herod is longer "
			    "than %d MiB", LINE_MAX_LEN / (1024 * 1024)));
		if (nl == NULL)
			break;
		if (out_line(res, r->buf, r->len) == -1)
			r->bad = 1;
		doc_printed = 1;
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

	if (msg_get_exact(m, &end, sizeof(end)) == -1)
		return (out_status(fail(EXIT_FAILED, "bad end message from "
		    "herod (%u bytes)", m->hdr.len)));
	end.message[sizeof(end.message) - 1] = '\0';
	code = end.exitcode;
	if (code < EXIT_OK || code > EXIT_TIMEOUT)
		code = EXIT_FAILED;

	if (res->stream) {
		if (r->len > 0 && out_line(res, r->buf, r->len) == -1)
			r->bad = 1;
		if (r->len > 0)
			doc_printed = 1;
	} else if (r->len > 0) {
		if (out_document(res, r->buf, r->len) == -1 &&
		    code == EXIT_OK)
			code = EXIT_FAILED;
		doc_printed = 1;
	}
	if (r->bad && code == EXIT_OK)
		code = EXIT_FAILED;
	code = out_status(code);

	if (end.message[0] != '\0')
		/* escaped on stderr; JSON on stdout when nothing else is */
		(void)fail(code, "%s", end.message);
	else if (code != EXIT_OK && json_errors && !doc_printed) {
		out_error(code, "failed");
		code = out_status(code);
	}
	return (code);
}

/*
 * Read herod's answer.  The whole of it is bounded by the deadline,
 * except that a follow (-f) is bounded only until herod's first message
 * (it accepted the request); then it runs until interrupted.
 */
static int
receive(struct msgchan *chan, const struct parse_result *res,
    const sigset_t *mask)
{
	struct reply	 r;
	struct msg	 m;
	ssize_t		 n;
	int		 rv, code = 0, bounded = 1;

	memset(&r, 0, sizeof(r));
	while (code == 0) {
		while (code == 0 && (rv = msgchan_get(chan, &m)) == 1) {
			if (m.fd != -1)
				close(m.fd);
			if (res->flags & CTLF_FOLLOW)
				bounded = 0;
			switch (m.hdr.type) {
			case CTL_M_DATA:
				code = handle_data(&r, res, m.data,
				    m.hdr.len);
				break;
			case CTL_M_END:
				code = handle_end(&r, res, &m);
				goto done;
			default:
				code = out_status(fail(EXIT_FAILED,
				    "unexpected message type %u from herod",
				    m.hdr.type));
				break;
			}
		}
		if (code != 0)
			break;
		if (rv == -1) {
			code = out_status(fail(EXIT_FAILED, "bad message from "
			    "herod: %s", strerror(errno)));
			break;
		}

		switch (wait_fd(msgchan_fd(chan), POLLIN, mask, bounded)) {
		case 0:
			/* interrupted while following: a normal end */
			code = out_status(EXIT_OK);
			goto done;
		case 2:
			code = out_status(timed_out());
			goto done;
		case -1:
			code = out_status(fail(EXIT_FAILED, "poll: %s",
			    strerror(errno)));
			goto done;
		}
		if ((n = msgchan_read(chan)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			code = out_status(fail(EXIT_FAILED, "connection to "
			    "herod lost: %s", strerror(errno)));
		} else if (n == 0) {
			if (res->flags & CTLF_FOLLOW)
				code = fail(EXIT_FAILED, "herod closed the "
				    "connection");
			else
				code = fail(EXIT_FAILED, "connection to herod "
				    "lost");
			code = out_status(code);
		}
	}
 done:
	free(r.buf);
	return (code);
}

/*
 * How long heroctl waits for herod: -t (default BOUND_DEFAULT_S), and
 * for a start, stop or restart that waits, herod's own wait (--timeout,
 * or herod's default) on top of it.
 */
static uint32_t
request_bound(const struct parse_result *res, uint32_t t)
{
	uint32_t	 wait;

	switch (res->cmd) {
	case CTL_START:
	case CTL_STOP:
	case CTL_RESTART:
		if (res->flags & CTLF_NOWAIT)
			return (t);
		wait = res->timeout_s ? res->timeout_s : WAIT_DEFAULT_S;
		return (wait + t);
	default:
		return (t);
	}
}

int
main(int argc, char *argv[])
{
	struct parse_result	 res;
	struct sigaction	 sa;
	struct msgchan		*chan;
	sigset_t		 block, old, *mask = NULL;
	const char		*sockopt = NULL, *errstr;
	char			 path[PATH_MAX];
	uint32_t		 t = BOUND_DEFAULT_S;
	int			 ch, i, fd, saved, jflag = 0;

	/* messages say "heroctl:" whatever the binary is called */
	program_invocation_short_name = "heroctl";

	/* -j anywhere before "--" makes even a usage error JSON */
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-j") == 0)
			json_errors = 1;

	while ((ch = getopt(argc, argv, "+js:t:")) != -1) {
		switch (ch) {
		case 'j':
			jflag = 1;
			break;
		case 's':
			sockopt = optarg;
			break;
		case 't':
			t = (uint32_t)strtonum(optarg, 1, BOUND_MAX_S,
			    &errstr);
			if (errstr != NULL) {
				warnx("-t %s: seconds are %s", optarg, errstr);
				usage_msg("-t: invalid number of seconds");
			}
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
	json_errors = res.json;

	signal(SIGPIPE, SIG_IGN);
	bound_s = request_bound(&res, t);
	deadline = now_ms() + (int64_t)bound_s * 1000;
	if (sock_path(sockopt, path, sizeof(path)) == -1)
		exit(fail(EXIT_UNREACH, "herod not reachable at %s: %s", path,
		    strerror(ENAMETOOLONG)));
	sockname = path;
	if ((fd = sock_connect(path)) == -1) {
		saved = errno;
		if (res.cmd == CTL_VERSION_CMD && !res.json)
			printf("heroctl %s\n", HEROD_VERSION);
		fflush(stdout);
		if (saved == EAGAIN || saved == EWOULDBLOCK)
			exit(timed_out());
		exit(fail(EXIT_UNREACH, "herod not reachable at %s: %s", path,
		    strerror(saved)));
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
		exit(fail(EXIT_FAILED, "msgchan_new: %s", strerror(errno)));

	if (send_request(chan, &res) == -1) {
		if (errno == ETIMEDOUT)
			exit(timed_out());
		/* herod may have said why before it hung up: read that */
		if (errno != EPIPE)
			exit(fail(EXIT_FAILED, "cannot send the request to "
			    "herod: %s", strerror(errno)));
	}
	ch = receive(chan, &res, mask);
	msgchan_free(chan);
	free(res.names);
	return (ch);
}
