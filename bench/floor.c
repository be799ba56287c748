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
 * floor: the physical floor for bench/run, the least a supervisor could
 * possibly do for each figure.  Compiled by bench/run with cc.
 *
 *   floor start N PROG ARG...    fork+exec N children (own process group
 *                                each), wait until every one has exec'd
 *                                (one CLOEXEC pipe per child), print
 *                                "started N PID..."; then on "stop" or EOF
 *                                on stdin SIGTERM all, reap all, exit.
 *   floor supervise PROG ARG...  run PROG; whenever it dies, fork+exec it
 *                                again at once (SIGCHLD -> fork -> exec).
 *                                SIGTERM: kill the child and exit.
 *   floor stamp FILE             write "PID REALTIME_US" to FILE
 *                                (atomically), then sleep forever.
 *   floor spew SECONDS LEN FILE  write LEN-byte lines to stdout as fast as
 *                                possible (stdio, fully buffered) for
 *                                SECONDS, write the count to FILE, sleep.
 *   floor logfloor W SECONDS LEN W writers (forked) into pipes read by
 *                                this process with poll(), counting lines;
 *                                prints "lines N bytes B secs S".
 *   floor readyfloor PROG ARG... run PROG with NOTIFY_SOCKET set to a
 *                                socket of ours; print the wall clock us
 *                                at which READY=1 was received.
 *   floor ready MODE MS FILE     sleep MS, take the wall clock us T, signal
 *                                readiness (file: create $HERO_READY_FILE,
 *                                notify: READY=1 to $NOTIFY_SOCKET, fd:
 *                                newline to fd 3), then write "PID T" to
 *                                FILE and sleep forever.
 *   floor nop                    exit 0 (exec floor for heroctl).
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long
now_us(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static volatile sig_atomic_t term;

static void
on_term(int s)
{
	(void)s;
	term = 1;
}

static pid_t
spawn(char **argv, int *statusfd)
{
	int p[2];
	pid_t pid;

	if (statusfd != NULL && pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		setpgid(0, 0);
		signal(SIGTERM, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		if (statusfd != NULL)
			close(p[0]);
		execv(argv[0], argv);
		if (statusfd != NULL) {
			int e = errno;
			(void)!write(p[1], &e, sizeof(e));
		}
		_exit(127);
	}
	if (statusfd != NULL) {
		close(p[1]);
		*statusfd = p[0];
	}
	return pid;
}

static int
do_start(int n, char **argv)
{
	pid_t *pids = calloc(n, sizeof(*pids));
	int *fds = calloc(n, sizeof(*fds));
	char line[64];
	int i, e;

	for (i = 0; i < n; i++)
		if ((pids[i] = spawn(argv, &fds[i])) == -1) {
			perror("spawn");
			return 1;
		}
	for (i = 0; i < n; i++) {
		if (read(fds[i], &e, sizeof(e)) > 0) {
			fprintf(stderr, "exec failed: %s\n", strerror(e));
			return 1;
		}
		close(fds[i]);
	}
	printf("started %d", n);
	for (i = 0; i < n; i++)
		printf(" %d", (int)pids[i]);
	printf("\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL)
		if (strncmp(line, "stop", 4) == 0)
			break;
	for (i = 0; i < n; i++)
		kill(pids[i], SIGTERM);
	for (i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	printf("stopped\n");
	return 0;
}

static int
do_supervise(char **argv)
{
	struct sigaction sa;
	pid_t pid;
	int restarts = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);		/* no SA_RESTART: EINTR */
	pid = spawn(argv, NULL);
	while (!term && restarts < 1000000) {
		pid_t w = waitpid(-1, NULL, 0);

		if (w == pid && !term) {
			pid = spawn(argv, NULL);
			restarts++;
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return 0;
}

static void write_stamp(const char *, long long);

static int
do_stamp(const char *file)
{
	write_stamp(file, now_us(CLOCK_REALTIME));
	for (;;)
		pause();
	return 0;
}

static long long
spew(int secs, int len, int fd)
{
	char *line = malloc(len);
	long long end, n = 0;
	FILE *f = fdopen(fd, "w");

	memset(line, 'x', len - 1);
	line[len - 1] = '\n';
	end = now_us(CLOCK_MONOTONIC) + (long long)secs * 1000000;
	for (;;) {
		int i;

		for (i = 0; i < 64; i++)
			if (fwrite(line, len, 1, f) != 1)
				return n;
		n += 64;
		if (now_us(CLOCK_MONOTONIC) >= end)
			break;
	}
	fflush(f);
	return n;
}

static void
write_stamp(const char *file, long long t)
{
	char tmp[4096], buf[64];
	int fd, len;

	len = snprintf(buf, sizeof(buf), "%d %lld\n", (int)getpid(), t);
	snprintf(tmp, sizeof(tmp), "%s.%d", file, (int)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1)
		return;
	(void)!write(fd, buf, len);
	close(fd);
	rename(tmp, file);
}

static int
do_ready(const char *mode, int ms, const char *file)
{
	struct timespec d = { ms / 1000, (ms % 1000) * 1000000L };
	long long t;
	const char *p;

	nanosleep(&d, NULL);
	t = now_us(CLOCK_REALTIME);
	if (strcmp(mode, "file") == 0) {
		int fd;

		if ((p = getenv("HERO_READY_FILE")) == NULL ||
		    (fd = open(p, O_WRONLY | O_CREAT, 0644)) == -1)
			return 1;
		close(fd);
	} else if (strcmp(mode, "notify") == 0) {
		struct sockaddr_un sun;
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		socklen_t len;

		if ((p = getenv("NOTIFY_SOCKET")) == NULL ||
		    strlen(p) >= sizeof(sun.sun_path))
			return 1;
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, p, strlen(p) + 1);	/* length checked above */
		len = offsetof(struct sockaddr_un, sun_path) + strlen(p) + 1;
		if (p[0] == '@') {
			sun.sun_path[0] = '\0';
			len--;
		}
		if (sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sun,
		    len) == -1)
			return 1;
		close(fd);
	} else if (strcmp(mode, "fd") == 0) {
		(void)!write(3, "\n", 1);
		close(3);
	}
	write_stamp(file, t);
	for (;;)
		pause();
	return 0;
}

static int
do_spew(int secs, int len, const char *file)
{
	long long n;
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	n = spew(secs, len, 1);
	if ((f = fopen(file, "w")) != NULL) {
		fprintf(f, "%lld\n", n);
		fclose(f);
	}
	for (;;)
		pause();
	return 0;
}

static int
do_logfloor(int w, int secs, int len)
{
	struct pollfd *pfd = calloc(w, sizeof(*pfd));
	pid_t *pids = calloc(w, sizeof(*pids));
	static char buf[65536];
	long long lines = 0, bytes = 0, t0, t1;
	int i, open_ = w;

	t0 = now_us(CLOCK_MONOTONIC);
	for (i = 0; i < w; i++) {
		int p[2];

		if (pipe(p) == -1)
			return 1;
		if ((pids[i] = fork()) == 0) {
			close(p[0]);
			spew(secs, len, p[1]);
			_exit(0);
		}
		close(p[1]);
		pfd[i].fd = p[0];
		pfd[i].events = POLLIN;
	}
	while (open_ > 0) {
		if (poll(pfd, w, 1000) <= 0)
			continue;
		for (i = 0; i < w; i++) {
			ssize_t r;
			char *p, *e;

			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			r = read(pfd[i].fd, buf, sizeof(buf));
			if (r <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_--;
				continue;
			}
			bytes += r;
			for (p = buf, e = buf + r;
			    (p = memchr(p, '\n', e - p)) != NULL; p++)
				lines++;
		}
	}
	t1 = now_us(CLOCK_MONOTONIC);
	for (i = 0; i < w; i++)
		waitpid(pids[i], NULL, 0);
	printf("lines %lld bytes %lld secs %.6f\n", lines, bytes,
	    (t1 - t0) / 1e6);
	return 0;
}

static int
do_readyfloor(char **argv)
{
	struct sockaddr_un sun;
	char path[108], buf[4096];
	int fd, one = 1;
	pid_t pid;
	ssize_t r;

	snprintf(path, sizeof(path), "/tmp/floor-notify.%d", (int)getpid());
	unlink(path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror("bind");
		return 1;
	}
	chmod(path, 0777);
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	setenv("NOTIFY_SOCKET", path, 1);
	if ((pid = spawn(argv, NULL)) == -1)
		return 1;
	while ((r = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[r] = '\0';
		if (strstr(buf, "READY=1") != NULL) {
			printf("ready_recv_us=%lld\n", now_us(CLOCK_REALTIME));
			fflush(stdout);
			usleep(100000);		/* let it write its stamp */
			break;
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(path);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc >= 4 && strcmp(argv[1], "start") == 0)
		return do_start(atoi(argv[2]), argv + 3);
	if (argc >= 3 && strcmp(argv[1], "supervise") == 0)
		return do_supervise(argv + 2);
	if (argc == 3 && strcmp(argv[1], "stamp") == 0)
		return do_stamp(argv[2]);
	if (argc == 5 && strcmp(argv[1], "spew") == 0)
		return do_spew(atoi(argv[2]), atoi(argv[3]), argv[4]);
	if (argc == 5 && strcmp(argv[1], "logfloor") == 0)
		return do_logfloor(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (argc >= 3 && strcmp(argv[1], "readyfloor") == 0)
		return do_readyfloor(argv + 2);
	if (argc == 5 && strcmp(argv[1], "ready") == 0)
		return do_ready(argv[2], atoi(argv[3]), argv[4]);
	if (argc == 2 && strcmp(argv[1], "nop") == 0)
		return 0;
	fprintf(stderr, "usage: see the comment in bench/floor.c\n");
	return 2;
}
