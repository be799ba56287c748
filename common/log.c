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
 * herod logging: one line per call, to syslog(3) when detached and the
 * host has a syslog socket, else to stderr with a timestamp (always in
 * the foreground, -d).
 */
#include <sys/stat.h>

#include <errno.h>
#include <paths.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int	 log_foreground = 1;
static int	 log_verbose;
static char	 log_proc[32] = "herod";

void
log_init(int foreground, int verbose)
{
	struct stat	 sb;

	log_verbose = verbose;
	/* without a syslog daemon, syslog(3) would drop every line */
	log_foreground = foreground || stat(_PATH_LOG, &sb) == -1 ||
	    !S_ISSOCK(sb.st_mode);
	if (!log_foreground)
		openlog("herod", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

int
log_to_syslog(void)
{
	return !log_foreground;
}

const char *
log_where(void)
{
	return log_foreground ? "standard error" :
	    "syslog (" _PATH_LOG ", facility daemon)";
}

void
log_procinit(const char *procname)
{
	if (procname != NULL)
		snprintf(log_proc, sizeof(log_proc), "%s", procname);
}

int
log_getverbose(void)
{
	return log_verbose;
}

static void
log_line(int pri, const char *msg)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 tbuf[32];

	if (!log_foreground) {
		syslog(pri, "%s: %s", log_proc, msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld %s: %s\n", tbuf, ts.tv_nsec / 1000000,
	    log_proc, msg);
	fflush(stderr);
}

static void
vlog(int pri, int saved_errno, const char *fmt, va_list ap)
{
	char	 msg[2048];
	size_t	 n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (saved_errno != 0) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s",
		    strerror(saved_errno));
	}
	log_line(pri, msg);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

/* A structured event: one JSON object on one line. */
void
log_event(const char *json)
{
	log_line(LOG_NOTICE, json);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_CRIT, saved ? saved : EINVAL, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
