/*
 * httpd: a tiny HTTP server for herod's integration tests.  One
 * connection at a time, blocking.
 *
 * usage: httpd [--mode MODE] [--code N] [--delay-ms N]
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
 */
#include <sys/socket.h>

#include <signal.h>
#include <stdint.h>

#include "srvutil.h"

enum mode { M_OK, M_EMPTY, M_HANG, M_FAILHEALTH, M_GARBAGE, M_HUGEHDR,
	    M_HUGESTATUS, M_NUL, M_ENDLESSBODY };

static const char *modes[] = { "ok", "empty", "hang", "fail-health",
	"garbage", "huge-headers", "huge-status", "nul", "endless-body",
	NULL };

static volatile sig_atomic_t	 toggled;

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
	    "[--delay-ms N] [--ready-file PATH|-] LISTEN\n");
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
reply(int fd, int code, const char *body)
{
	char	 buf[1024];
	int	 n;

	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", code,
	    code < 400 ? "OK" : "Error", strlen(body), body);
	srv_send(fd, buf, (size_t)n);
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
		reply(fd, code, "ok\n");
		break;
	case M_FAILHEALTH:
		if (strcmp(path, "/health") == 0)
			reply(fd, 500, "unhealthy\n");
		else
			reply(fd, 200, "ok\n");
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

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	enum mode		 mode = M_OK;
	const char		*readyfile = NULL, *listen_spec = NULL;
	long			 delay_ms = 0;
	int			 i, j, lfd, fd, code = 200;

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
			code = atoi(argv[++i]);
		else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
			delay_ms = atol(argv[++i]);
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
	srv_touch(readyfile);
	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			err(1, "accept");
		}
		serve(fd, toggled ? (mode == M_EMPTY ? M_OK : M_EMPTY) : mode,
		    code, delay_ms);
		close(fd);
	}
}
