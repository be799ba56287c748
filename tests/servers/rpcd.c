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
 * rpcd: a tiny JSON-RPC server for herod's integration tests.  One
 * connection at a time, blocking, one request per connection (with
 * --keepalive and transport http: as many as the client sends, the
 * reply without "Connection: close").
 *
 * usage: rpcd [--mode MODE] [--transport line|http] [--delay-ms N]
 *             [--keepalive] [--stats PATH] [--ready-file PATH|-] LISTEN
 * LISTEN is unix:/path (or PORT, HOST:PORT, [V6]:PORT).
 *
 * modes (the reply to {"jsonrpc":"2.0","method":M,"id":N}):
 *   ok         {"jsonrpc":"2.0","id":N,"result":"pong"}
 *   wrong-id   the same with id N+1
 *   error      {"jsonrpc":"2.0","id":N,"error":{"code":-32000,
 *              "message":"backend down"}}
 *   no-result  {"jsonrpc":"2.0","id":N}
 *   malformed  {"jsonrpc":"2.0","id":N,"result":   (cut)
 *   long-line  70000 bytes without a newline
 *   empty      close without a byte
 *   hang       never answer
 * With --transport http the request is a POST and the reply body is the
 * same, with Content-Length, status 200 (or 500 in mode error-status).
 * --stats rewrites PATH with "accepts=A requests=R" after each change.
 */
#include <sys/socket.h>

#include <signal.h>

#include "srvutil.h"

#define REQ_MAX	(128 * 1024)

static const char *modes[] = { "ok", "wrong-id", "error", "no-result",
	"malformed", "long-line", "empty", "hang", "error-status", NULL };
enum mode { M_OK, M_WRONGID, M_ERROR, M_NORESULT, M_MALFORMED,
	    M_LONGLINE, M_EMPTY, M_HANG, M_ERRSTATUS };

static const char	*stats_path;
static long		 n_accepts, n_requests;
static int		 keepalive;

static void
usage(void)
{
	fprintf(stderr, "usage: rpcd [--mode MODE] [--transport line|http] "
	    "[--delay-ms N]\n"
	    "            [--keepalive] [--stats PATH] [--ready-file PATH|-] "
	    "LISTEN\n");
	exit(2);
}

static void
write_stats(void)
{
	char	 text[128];

	snprintf(text, sizeof(text), "accepts=%ld requests=%ld\n",
	    n_accepts, n_requests);
	srv_stats(stats_path, text);
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

/* The id of the request, or -1. */
static long
request_id(const char *req)
{
	const char	*p;

	if ((p = strstr(req, "\"id\"")) == NULL)
		return -1;
	p += 4;
	while (*p == ' ' || *p == ':')
		p++;
	return strtol(p, NULL, 10);
}

/* Read until the request is complete; 0 or -1 (EOF, too long). */
static int
read_request(int fd, char *buf, size_t size, int http, const char **body)
{
	size_t		 len = 0;
	ssize_t		 n;
	char		*h, *cl;
	long		 clen;

	*body = buf;
	for (;;) {
		if (len + 1 >= size)
			return -1;
		n = read(fd, buf + len, size - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (!http) {
			if (memchr(buf, '\n', len) != NULL)
				return 0;
			continue;
		}
		if ((h = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		clen = 0;
		if ((cl = strcasestr(buf, "\ncontent-length:")) != NULL)
			clen = strtol(cl + 16, NULL, 10);
		*body = h + 4;
		if ((size_t)(buf + len - (h + 4)) >= (size_t)clen)
			return 0;
	}
}

/* One request; 1 if the connection stays for another. */
static int
serve(int fd, enum mode mode, int http, long delay_ms)
{
	struct timeval	 tv = { 5, 0 };
	char		*req, out[512], hdr[256];
	const char	*body;
	long		 id;
	size_t		 len;
	int		 n, status = 200;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (mode == M_EMPTY) {
		shutdown(fd, SHUT_WR);
		drain(fd);
		return 0;
	}
	if ((req = malloc(REQ_MAX)) == NULL)
		err(1, "malloc");
	if (read_request(fd, req, REQ_MAX, http, &body) == -1) {
		free(req);
		return 0;
	}
	id = request_id(body);
	free(req);
	n_requests++;
	write_stats();
	srv_sleep_ms(delay_ms);
	switch (mode) {
	case M_HANG:
		drain(fd);
		return 0;
	case M_LONGLINE: {
		char	*big;

		len = 70000;
		if ((big = malloc(len)) == NULL)
			err(1, "malloc");
		memset(big, 'a', len);
		big[0] = '"';
		if (http) {
			n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\n"
			    "Content-Type: application/json\r\n\r\n");
			srv_send(fd, hdr, (size_t)n);
		}
		srv_send(fd, big, len);
		free(big);
		return 0;
	}
	case M_WRONGID:
		n = snprintf(out, sizeof(out), "{\"jsonrpc\":\"2.0\","
		    "\"id\":%ld,\"result\":\"pong\"}", id + 1);
		break;
	case M_ERROR:
	case M_ERRSTATUS:
		n = snprintf(out, sizeof(out), "{\"jsonrpc\":\"2.0\","
		    "\"id\":%ld,\"error\":{\"code\":-32000,"
		    "\"message\":\"backend down\"}}", id);
		if (mode == M_ERRSTATUS)
			status = 500;
		break;
	case M_NORESULT:
		n = snprintf(out, sizeof(out), "{\"jsonrpc\":\"2.0\","
		    "\"id\":%ld}", id);
		break;
	case M_MALFORMED:
		n = snprintf(out, sizeof(out), "{\"jsonrpc\":\"2.0\","
		    "\"id\":%ld,\"result\":", id);
		break;
	default:
		n = snprintf(out, sizeof(out), "{\"jsonrpc\":\"2.0\","
		    "\"id\":%ld,\"result\":\"pong\"}", id);
		break;
	}
	if (http) {
		n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d %s\r\n"
		    "Content-Type: application/json\r\n"
		    "Content-Length: %d\r\n%s\r\n",
		    status, status == 200 ? "OK" : "Error", n,
		    keepalive ? "" : "Connection: close\r\n");
		srv_send(fd, hdr, (size_t)n);
		srv_send(fd, out, strlen(out));
		return keepalive;
	}
	strncat(out, "\n", sizeof(out) - strlen(out) - 1);
	srv_send(fd, out, strlen(out));
	return 0;
}

int
main(int argc, char *argv[])
{
	enum mode	 mode = M_OK;
	const char	*readyfile = NULL, *listen_spec = NULL;
	long		 delay_ms = 0;
	int		 i, j, lfd, fd, http = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
			i++;
			for (j = 0; modes[j] != NULL; j++)
				if (strcmp(argv[i], modes[j]) == 0)
					break;
			if (modes[j] == NULL)
				usage();
			mode = (enum mode)j;
		} else if (strcmp(argv[i], "--transport") == 0 &&
		    i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "http") == 0)
				http = 1;
			else if (strcmp(argv[i], "line") != 0)
				usage();
		} else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
			delay_ms = atol(argv[++i]);
		else if (strcmp(argv[i], "--keepalive") == 0)
			keepalive = 1;
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
	lfd = srv_listen(listen_spec);
	write_stats();
	srv_touch(readyfile);
	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			err(1, "accept");
		}
		n_accepts++;
		write_stats();
		while (serve(fd, mode, http, delay_ms))
			;
		close(fd);
	}
}
