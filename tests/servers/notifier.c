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
 * notifier: a readiness test service for herod's integration tests.
 *
 * usage: notifier --mode file|notify|fd|none [--delay-ms N] [--fd N]
 *                 [--watchdog-ms N|env] [--status TEXT]
 *                 [--stop-watchdog-after-ms N] [--exit-after-ms N]
 *                 [--env-file PATH] [--mainpid child|N]
 *                 [--reload-ms N]
 *
 * Sleeps --delay-ms, then signals readiness:
 *   file    creates $HERO_READY_FILE
 *   notify  sends "READY=1" (and "STATUS=TEXT") to $NOTIFY_SOCKET with
 *           its own minimal sd_notify client ('@' = abstract socket)
 *   fd      writes "\n" to fd --fd (default 3) and closes it
 *   none    nothing
 * and prints "ready_signal_us=N" (wall clock, microseconds) on stdout.
 * Then it stays alive; with --watchdog-ms it sends WATCHDOG=1 every
 * watchdog_ms/3, and stops doing so --stop-watchdog-after-ms after it
 * started (counted from program start).  On SIGTERM it sends STOPPING=1
 * (notify mode) and exits 0.
 *
 * sd_notify drop-in checks:
 *   --watchdog-ms env  the interval is $WATCHDOG_USEC, used only when
 *                      $WATCHDOG_PID is unset or this pid, as
 *                      sd_watchdog_enabled(3) does; else no WATCHDOG=1
 *   --env-file PATH    writes "WATCHDOG_USEC=.. WATCHDOG_PID=.. pid=.."
 *   --mainpid child    forks a child (same process group) that sleeps,
 *                      and sends MAINPID=child with READY=1;
 *                      --mainpid N sends MAINPID=N
 *   --reload-ms N      on SIGHUP: RELOADING=1, N ms without WATCHDOG=1,
 *                      then READY=1 (Type=notify-reload)
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <signal.h>
#include <stddef.h>

#include "srvutil.h"

static volatile sig_atomic_t	 term, hup;

static void
on_term(int sig)
{
	(void)sig;
	term = 1;
}

static void
on_hup(int sig)
{
	(void)sig;
	hup = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: notifier --mode file|notify|fd|none "
	    "[--delay-ms N] [--fd N] [--watchdog-ms N] [--status TEXT] "
	    "[--stop-watchdog-after-ms N] [--exit-after-ms N] "
	    "[--env-file PATH] [--mainpid child|N] [--reload-ms N]\n");
	exit(2);
}

static long long
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A minimal sd_notify(3). */
static int
notify(const char *msg)
{
	struct sockaddr_un	 sun;
	const char		*path;
	socklen_t		 len;
	size_t			 plen;
	int			 fd, r;

	if ((path = getenv("NOTIFY_SOCKET")) == NULL || *path == '\0') {
		warnx("NOTIFY_SOCKET not set");
		return -1;
	}
	plen = strlen(path);
	if (plen >= sizeof(sun.sun_path)) {
		warnx("NOTIFY_SOCKET too long");
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
	    (path[0] == '@' ? 0 : 1));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		warn("socket");
		return -1;
	}
	r = (int)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len);
	if (r == -1)
		warn("sendto %s", path);
	close(fd);
	return r == -1 ? -1 : 0;
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	const char		*mode = NULL, *status = NULL, *rf;
	const char		*env_file = NULL, *mainpid = NULL, *wd_arg;
	const char		*e_usec, *e_pid;
	char			 msg[1024], mp[64];
	long			 delay_ms = 0, wd_ms = 0, stop_wd_ms = -1;
	long			 exit_ms = -1, reload_ms = -1;
	long long		 start, now, next_wd, reload_end = -1;
	pid_t			 child = -1;
	FILE			*f;
	int			 i, fd = 3;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--mode") == 0)
			mode = argv[++i];
		else if (strcmp(argv[i], "--delay-ms") == 0)
			delay_ms = atol(argv[++i]);
		else if (strcmp(argv[i], "--fd") == 0)
			fd = atoi(argv[++i]);
		else if (strcmp(argv[i], "--watchdog-ms") == 0) {
			wd_arg = argv[++i];
			e_usec = getenv("WATCHDOG_USEC");
			e_pid = getenv("WATCHDOG_PID");
			if (strcmp(wd_arg, "env") != 0)
				wd_ms = atol(wd_arg);
			else if (e_usec != NULL && (e_pid == NULL ||
			    atol(e_pid) == (long)getpid()))
				wd_ms = atol(e_usec) / 1000;
		} else if (strcmp(argv[i], "--env-file") == 0)
			env_file = argv[++i];
		else if (strcmp(argv[i], "--mainpid") == 0)
			mainpid = argv[++i];
		else if (strcmp(argv[i], "--reload-ms") == 0)
			reload_ms = atol(argv[++i]);
		else if (strcmp(argv[i], "--status") == 0)
			status = argv[++i];
		else if (strcmp(argv[i], "--stop-watchdog-after-ms") == 0)
			stop_wd_ms = atol(argv[++i]);
		else if (strcmp(argv[i], "--exit-after-ms") == 0)
			exit_ms = atol(argv[++i]);
		else
			usage();
	}
	if (mode == NULL)
		usage();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	start = mono_ms();
	if (env_file != NULL) {
		e_usec = getenv("WATCHDOG_USEC");
		e_pid = getenv("WATCHDOG_PID");
		if ((f = fopen(env_file, "w")) == NULL)
			err(1, "%s", env_file);
		fprintf(f, "WATCHDOG_USEC=%s WATCHDOG_PID=%s pid=%d\n",
		    e_usec ? e_usec : "-", e_pid ? e_pid : "-", (int)getpid());
		fclose(f);
	}
	mp[0] = '\0';
	if (mainpid != NULL && strcmp(mainpid, "child") == 0) {
		if ((child = fork()) == -1)
			err(1, "fork");
		if (child == 0) {
			for (;;)
				pause();
		}
		snprintf(mp, sizeof(mp), "\nMAINPID=%d", (int)child);
	} else if (mainpid != NULL)
		snprintf(mp, sizeof(mp), "\nMAINPID=%s", mainpid);

	srv_sleep_ms(delay_ms);
	if (strcmp(mode, "file") == 0) {
		if ((rf = getenv("HERO_READY_FILE")) == NULL)
			errx(1, "HERO_READY_FILE not set");
		srv_touch(rf);
	} else if (strcmp(mode, "notify") == 0) {
		snprintf(msg, sizeof(msg), "READY=1%s%s%s",
		    status != NULL ? "\nSTATUS=" : "",
		    status != NULL ? status : "", mp);
		if (notify(msg) == -1)
			exit(1);
	} else if (strcmp(mode, "fd") == 0) {
		if (write(fd, "\n", 1) != 1)
			err(1, "write fd %d", fd);
		close(fd);
	} else if (strcmp(mode, "none") != 0)
		usage();
	printf("ready_signal_us=%lld\n", srv_wall_us());
	fflush(stdout);

	next_wd = mono_ms();
	while (!term) {
		now = mono_ms();
		if (exit_ms >= 0 && now - start >= exit_ms)
			break;
		if (hup && reload_ms >= 0 && reload_end < 0) {
			hup = 0;
			notify("RELOADING=1");
			printf("reloading\n");
			fflush(stdout);
			reload_end = now + reload_ms;
		}
		if (reload_end >= 0 && now >= reload_end) {
			reload_end = -1;
			notify("READY=1");
			printf("reloaded\n");
			fflush(stdout);
			next_wd = now;
		}
		if (wd_ms > 0 && now >= next_wd && reload_end < 0 &&
		    (stop_wd_ms < 0 || now - start < stop_wd_ms)) {
			notify("WATCHDOG=1");
			next_wd = now + (wd_ms / 3 > 0 ? wd_ms / 3 : 1);
		}
		srv_sleep_ms(wd_ms > 0 ? (wd_ms / 3 > 0 ?
		    (wd_ms / 3 < 50 ? wd_ms / 3 : 50) : 1) : 50);
	}
	if (term && strcmp(mode, "notify") == 0)
		notify("STOPPING=1");
	if (child > 0)
		kill(child, SIGKILL);
	return 0;
}
