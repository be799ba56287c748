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
 * Helpers shared by the test servers (test fixtures, not herod code):
 * listening on "PORT", "HOST:PORT", "[V6]:PORT" or "unix:/path", and
 * touching a ready file.
 */
#ifndef SRVUTIL_H
#define SRVUTIL_H

#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int __attribute__((unused))
srv_listen(const char *spec)
{
	struct sockaddr_un	 sun;
	struct addrinfo		 hints, *res;
	char			 buf[512], *host, *port, *e;
	int			 fd, on = 1, r;

	if (strncmp(spec, "unix:", 5) == 0) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(spec + 5) >= sizeof(sun.sun_path))
			errx(2, "unix path too long: %s", spec + 5);
		strcpy(sun.sun_path, spec + 5);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			err(1, "socket");
		unlink(sun.sun_path);
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			err(1, "bind %s", sun.sun_path);
		if (listen(fd, 16) == -1)
			err(1, "listen");
		printf("listening=%s\n", spec);
		fflush(stdout);
		return fd;
	}
	if (strlen(spec) >= sizeof(buf))
		errx(2, "bad address %s", spec);
	strcpy(buf, spec);
	if (buf[0] == '[') {
		host = buf + 1;
		if ((e = strchr(host, ']')) == NULL || e[1] != ':')
			errx(2, "bad address %s", spec);
		*e = '\0';
		port = e + 2;
	} else if ((e = strrchr(buf, ':')) != NULL) {
		*e = '\0';
		host = buf;
		port = e + 1;
	} else {
		host = "127.0.0.1";
		port = buf;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0)
		errx(2, "%s: %s", spec, gai_strerror(r));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		err(1, "socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1)
		err(1, "bind %s", spec);
	freeaddrinfo(res);
	if (listen(fd, 16) == -1)
		err(1, "listen");
	{
		struct sockaddr_storage	 ss;
		socklen_t		 sl = sizeof(ss);
		int			 p = 0;

		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET)
				p = ntohs(((struct sockaddr_in *)
				    &ss)->sin_port);
			else if (ss.ss_family == AF_INET6)
				p = ntohs(((struct sockaddr_in6 *)
				    &ss)->sin6_port);
		}
		printf("listening=%s port=%d\n", spec, p);
		fflush(stdout);
	}
	return fd;
}

/* "-" means $HERO_READY_FILE. */
static void __attribute__((unused))
srv_touch(const char *path)
{
	int	 fd;

	if (path == NULL)
		return;
	if (strcmp(path, "-") == 0 &&
	    (path = getenv("HERO_READY_FILE")) == NULL)
		errx(2, "HERO_READY_FILE not set");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) == -1)
		err(1, "%s", path);
	close(fd);
}

static long long __attribute__((unused))
srv_wall_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void __attribute__((unused))
srv_sleep_ms(long ms)
{
	struct timespec	 ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Rewrite path (if not NULL) with counters, atomically. */
static void __attribute__((unused))
srv_stats(const char *path, const char *text)
{
	char	 tmp[4096];
	FILE	*f;

	if (path == NULL)
		return;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		errx(2, "stats path too long");
	if ((f = fopen(tmp, "w")) == NULL)
		err(1, "%s", tmp);
	fputs(text, f);
	if (fclose(f) == EOF || rename(tmp, path) == -1)
		err(1, "%s", path);
}

/* Send it all, ignoring a peer that went away. */
static int __attribute__((unused))
srv_send(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
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

#endif
