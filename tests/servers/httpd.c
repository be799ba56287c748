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
 * httpd: a tiny HTTP server for herod's integration tests (and the
 * benchmark's probe target).
 *
 * usage: httpd [--mode MODE] [--code N] [--delay-ms N] [--close]
 *              [--idle-ms N] [--drop-after N] [--stats PATH]
 *              [--ready-file PATH|-] LISTEN
 * LISTEN is PORT (on 127.0.0.1), HOST:PORT, [V6]:PORT or unix:/path.
 * Port 0 picks one; "listening=... port=N" is printed on stdout.
 * --ready-file - touches $HERO_READY_FILE once listening.
 *
 * modes:
 *   ok            200 on every path (--code N to answer N instead)
 *   empty         close at once without a byte
 *   hang          accept, never answer (until the client goes)
 *   fail-health   200, but 500 on /health
 *   garbage       random bytes that are not HTTP
 *   huge-headers  a status line, then endless header lines
 *   huge-status   an endless status line
 *   nul           NUL bytes in the status line
 *   endless-body  200 with no Content-Length, then an endless body
 * SIGUSR1 switches between the current mode and empty.
 *
 * In modes ok and fail-health connections are persistent, as HTTP/1.1
 * wants (many at once, with epoll), unless the request asks for
 * "Connection: close" or --close is given.  --idle-ms closes a
 * connection idle that long; --drop-after N closes a connection without
 * a reply when a request comes after N answered ones on it (a server
 * that closed it just then).  In mode empty a request on a persistent
 * connection is answered by closing it.  --stats rewrites PATH with
 * "accepts=A requests=R idle_closed=I" after each change.  The other
 * modes serve one connection at a time, blocking.
 */
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <signal.h>
#include <stdint.h>

#include "srvutil.h"

enum mode { M_OK, M_EMPTY, M_HANG, M_FAILHEALTH, M_GARBAGE, M_HUGEHDR,
	    M_HUGESTATUS, M_NUL, M_ENDLESSBODY };

static const char *modes[] = { "ok", "empty", "hang", "fail-health",
	"garbage", "huge-headers", "huge-status", "nul", "endless-body",
	NULL };

/* A persistent connection, read with epoll. */
struct conn {
	LIST_ENTRY(conn)	 entry;
	int			 fd;
	int			 served;	/* requests answered */
	long long		 last_us;	/* last activity */
	size_t			 len;
	char			 buf[8192];
};

static LIST_HEAD(, conn)	 conns = LIST_HEAD_INITIALIZER(conns);
static volatile sig_atomic_t	 toggled;
static const char		*stats_path;
static long			 n_accepts, n_requests, n_idle_closed;
static int			 opt_close, opt_code = 200;
static long			 opt_idle_ms, opt_drop_after, opt_delay_ms;

static void
on_usr1(int sig)
{
	(void)sig;
	toggled = !toggled;
}

static void
usage(void)
{
	fprintf(stderr, "usage: httpd [--mode MODE] [--code N] "
	    "[--delay-ms N] [--close] [--idle-ms N] [--drop-after N]\n"
	    "             [--stats PATH] [--ready-file PATH|-] LISTEN\n");
	exit(2);
}

/* Read the request head (bounded); returns its length, or -1 on EOF. */
static ssize_t
read_request(int fd, char *buf, size_t size)
{
	size_t	 len = 0;
	ssize_t	 n;

	while (len + 1 < size) {
		n = read(fd, buf + len, size - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return len > 0 ? (ssize_t)len : -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL ||
		    strstr(buf, "\n\n") != NULL)
			break;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

static void
drain(int fd)
{
	char	 buf[4096];
	ssize_t	 n;

	while ((n = read(fd, buf, sizeof(buf))) != 0)
		if (n == -1 && errno != EINTR)
			break;
}

static void
reply(int fd, int code, const char *body, int keep)
{
	char	 buf[1024];
	int	 n;

	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
	    "%s\r\n%s", code, code < 400 ? "OK" : "Error", strlen(body),
	    keep ? "" : "Connection: close\r\n", body);
	srv_send(fd, buf, (size_t)n);
}

static void
write_stats(void)
{
	char	 text[128];

	snprintf(text, sizeof(text), "accepts=%ld requests=%ld "
	    "idle_closed=%ld\n", n_accepts, n_requests, n_idle_closed);
	srv_stats(stats_path, text);
}

static void
serve(int fd, enum mode mode, int code, long delay_ms)
{
	struct timeval	 tv = { 5, 0 };
	char		 req[8192], path[1024], buf[4096];
	size_t		 i;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (mode == M_EMPTY) {
		/* EOF for the client, and no RST: read what it sends */
		shutdown(fd, SHUT_WR);
		drain(fd);
		return;
	}
	if (read_request(fd, req, sizeof(req)) == -1)
		return;
	srv_sleep_ms(delay_ms);
	path[0] = '\0';
	sscanf(req, "%*s %1023s", path);
	switch (mode) {
	case M_OK:
		reply(fd, code, "ok\n", 0);
		break;
	case M_FAILHEALTH:
		if (strcmp(path, "/health") == 0)
			reply(fd, 500, "unhealthy\n", 0);
		else
			reply(fd, 200, "ok\n", 0);
		break;
	case M_HANG:
		drain(fd);	/* until the client gives up */
		break;
	case M_GARBAGE:
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (char)(rand() & 0xff);
		buf[0] = '\x1b';	/* never a valid start */
		srv_send(fd, buf, sizeof(buf));
		break;
	case M_HUGEHDR:
		if (srv_send(fd, "HTTP/1.1 200 OK\r\n", 17) == -1)
			break;
		for (i = 0; ; i++) {
			snprintf(buf, sizeof(buf), "X-Pad-%zu: %0200d\r\n",
			    i, 0);
			if (srv_send(fd, buf, strlen(buf)) == -1)
				break;
		}
		break;
	case M_HUGESTATUS:
		if (srv_send(fd, "HTTP/1.1 200 ", 13) == -1)
			break;
		memset(buf, 'a', sizeof(buf));
		while (srv_send(fd, buf, sizeof(buf)) == 0)
			;
		break;
	case M_NUL:
		srv_send(fd, "HTTP/1.1 200 O\0K\r\n\r\n", 20);
		break;
	case M_ENDLESSBODY:
		if (srv_send(fd, "HTTP/1.1 200 OK\r\n"
		    "Content-Type: application/json\r\n\r\n", 51) == -1)
			break;
		memset(buf, '[', sizeof(buf));
		while (srv_send(fd, buf, sizeof(buf)) == 0)
			;
		break;
	case M_EMPTY:
		break;
	}
}

static int
persistent_mode(enum mode mode)
{
	return mode == M_OK || mode == M_FAILHEALTH;
}

static enum mode
current_mode(enum mode mode)
{
	if (!toggled)
		return mode;
	return mode == M_EMPTY ? M_OK : M_EMPTY;
}

static void
conn_drop(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	LIST_REMOVE(c, entry);
	free(c);
}

static void
conn_add(int ep, int fd)
{
	struct epoll_event	 ev;
	struct conn		*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		err(1, "calloc");
	c->fd = fd;
	c->last_us = srv_wall_us();
	LIST_INSERT_HEAD(&conns, c, entry);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		err(1, "epoll_ctl");
}

/* Does the request (its head in buf) let the connection persist? */
static int
request_keeps(const char *buf)
{
	const char	*line, *eol;
	char		 proto[16], value[256];
	size_t		 n;

	if (sscanf(buf, "%*s %*s %15s", proto) != 1 ||
	    strcmp(proto, "HTTP/1.1") != 0)
		return 0;
	for (line = buf; (eol = strchr(line, '\n')) != NULL; line = eol + 1) {
		if (strncasecmp(line, "connection:", 11) != 0)
			continue;
		n = (size_t)(eol - line) - 11;
		if (n >= sizeof(value))
			n = sizeof(value) - 1;
		memcpy(value, line + 11, n);
		value[n] = '\0';
		if (strcasestr(value, "close") != NULL)
			return 0;
	}
	return 1;
}

/* One request on a persistent connection; 0 to keep it, -1 to drop. */
static int
conn_request(struct conn *c, enum mode mode)
{
	char	 path[1024];
	int	 keep;

	if (mode == M_EMPTY || (opt_drop_after > 0 &&
	    c->served >= opt_drop_after))
		return -1;
	srv_sleep_ms(opt_delay_ms);
	path[0] = '\0';
	sscanf(c->buf, "%*s %1023s", path);
	keep = !opt_close && request_keeps(c->buf);
	if (mode == M_FAILHEALTH && strcmp(path, "/health") == 0)
		reply(c->fd, 500, "unhealthy\n", keep);
	else
		reply(c->fd, mode == M_OK ? opt_code : 200, "ok\n", keep);
	c->served++;
	n_requests++;
	write_stats();
	return keep ? 0 : -1;
}

static void
conn_readable(int ep, struct conn *c, enum mode mode)
{
	ssize_t	 n;

	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n == -1 && errno == EINTR)
		return;
	if (n <= 0) {
		conn_drop(ep, c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	c->last_us = srv_wall_us();
	if (strstr(c->buf, "\r\n\r\n") == NULL &&
	    strstr(c->buf, "\n\n") == NULL) {
		if (c->len + 1 >= sizeof(c->buf))
			conn_drop(ep, c);
		return;
	}
	/* the prober never pipelines: what follows the head is dropped */
	if (conn_request(c, current_mode(mode)) == -1) {
		conn_drop(ep, c);
		return;
	}
	c->len = 0;
}

static void
close_idle(int ep)
{
	struct conn	*c, *next;
	long long	 now = srv_wall_us();

	if (opt_idle_ms <= 0)
		return;
	for (c = LIST_FIRST(&conns); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		if (now - c->last_us < opt_idle_ms * 1000LL)
			continue;
		conn_drop(ep, c);
		n_idle_closed++;
		write_stats();
	}
}

static void
accept_one(int ep, int lfd, enum mode mode)
{
	int	 fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		if (errno == EINTR || errno == ECONNABORTED ||
		    errno == EAGAIN)
			return;
		err(1, "accept");
	}
	n_accepts++;
	write_stats();
	mode = current_mode(mode);
	if (persistent_mode(mode)) {
		conn_add(ep, fd);
		return;
	}
	serve(fd, mode, opt_code, opt_delay_ms);
	close(fd);
}

static void
loop(int lfd, enum mode mode)
{
	struct epoll_event	 ev, evs[64];
	int			 ep, i, n, tmo;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1)
		err(1, "epoll_ctl");
	tmo = opt_idle_ms > 0 ? (int)(opt_idle_ms / 4 + 1) : -1;
	for (;;) {
		n = epoll_wait(ep, evs, 64, tmo);
		if (n == -1 && errno != EINTR)
			err(1, "epoll_wait");
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				accept_one(ep, lfd, mode);
			else
				conn_readable(ep, evs[i].data.ptr, mode);
		}
		close_idle(ep);
	}
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	enum mode		 mode = M_OK;
	const char		*readyfile = NULL, *listen_spec = NULL;
	int			 i, j, lfd;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
			i++;
			for (j = 0; modes[j] != NULL; j++)
				if (strcmp(argv[i], modes[j]) == 0)
					break;
			if (modes[j] == NULL)
				usage();
			mode = (enum mode)j;
		} else if (strcmp(argv[i], "--code") == 0 && i + 1 < argc)
			opt_code = atoi(argv[++i]);
		else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
			opt_delay_ms = atol(argv[++i]);
		else if (strcmp(argv[i], "--close") == 0)
			opt_close = 1;
		else if (strcmp(argv[i], "--idle-ms") == 0 && i + 1 < argc)
			opt_idle_ms = atol(argv[++i]);
		else if (strcmp(argv[i], "--drop-after") == 0 &&
		    i + 1 < argc)
			opt_drop_after = atol(argv[++i]);
		else if (strcmp(argv[i], "--stats") == 0 && i + 1 < argc)
			stats_path = argv[++i];
		else if (strcmp(argv[i], "--ready-file") == 0 && i + 1 < argc)
			readyfile = argv[++i];
		else if (argv[i][0] != '-' && listen_spec == NULL)
			listen_spec = argv[i];
		else
			usage();
	}
	if (listen_spec == NULL)
		usage();
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	srand((unsigned)getpid());

	lfd = srv_listen(listen_spec);
	write_stats();
	srv_touch(readyfile);
	loop(lfd, mode);
	return 0;
}
