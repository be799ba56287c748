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
 * Log capture: the spawner passes (through the parent) the read end of
 * each action's stdout and stderr FIFO.  We read them with libevent,
 * cut the bytes into lines on '\n' and queue one row per line.
 *
 * A line longer than LOG_LINE_MAX (8192) bytes is stored as several rows
 * of LOG_LINE_MAX bytes (the last one shorter); a partial last line is
 * stored at EOF.  Lines are never held back: when the write queue is
 * full they are dropped and counted (db_log_append), and we keep reading
 * so that a flooding service never blocks on its output.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "proto.h"
#include "store.h"
#include "util.h"

#define LOGS_READ_SIZE		(64 * 1024)
#define LOGS_READS_PER_CB	16	/* then let other fds run */

struct logfd {
	TAILQ_ENTRY(logfd)	 entry;
	struct m_ref		 ref;
	int			 stream;
	int			 fd;
	struct event		*ev;
	struct db_action	*act;
	size_t			 len;		/* partial line in buf */
	char			*buf;		/* LOG_LINE_MAX, only while a
						   partial line waits */
};
TAILQ_HEAD(logfds, logfd);

static struct logfds	 logfds = TAILQ_HEAD_INITIALIZER(logfds);

static void	 logs_readcb(evutil_socket_t, short, void *);
static void	 logs_line(struct logfd *, int64_t, const char *, size_t);
static void	 logs_close(struct logfd *);

void
logs_add_fd(const struct m_logfd *m, int fd)
{
	struct logfd	*lf;

	if ((lf = calloc(1, sizeof(*lf))) == NULL) {
		log_warn("%s", __func__);
		close(fd);
		return;
	}
	lf->ref = m->ref;
	lf->stream = m->stream;
	lf->fd = fd;
	if (set_nonblock(fd) == -1 || set_cloexec(fd) == -1)
		log_warn("%s: fd flags", __func__);
	lf->act = db_action_get(store_db, lf->ref.service, lf->ref.action);
	lf->ev = event_new(store_base, fd, EV_READ | EV_PERSIST, logs_readcb,
	    lf);
	if (lf->ev == NULL || event_add(lf->ev, NULL) == -1) {
		log_warnx("%s: event_add", __func__);
		if (lf->ev != NULL)
			event_free(lf->ev);
		close(fd);
		free(lf);
		return;
	}
	TAILQ_INSERT_TAIL(&logfds, lf, entry);
	log_debug("%s: %s.%s job %llu/%u %s", __func__, lf->ref.service,
	    lf->ref.action, (unsigned long long)lf->ref.job_id,
	    lf->ref.restart_count, log_stream_name(lf->stream));
}

static void
logs_line(struct logfd *lf, int64_t ts, const char *line, size_t len)
{
	struct log_row	 r;

	(void)db_log_append(store_db, lf->act, ts, lf->ref.job_id,
	    lf->ref.restart_count, lf->stream, line, len);
	/* Followers see the line now, committed or not. */
	r.id = 0;
	r.ts = ts;
	r.service = lf->ref.service;
	r.action = lf->ref.action;
	r.job_id = lf->ref.job_id;
	r.restart_count = lf->ref.restart_count;
	r.stream = lf->stream;
	r.line = line;
	r.len = len;
	clients_log_line(&r);
}

/* Cut bytes into lines, carrying a partial line in lf->buf. */
static void
logs_input(struct logfd *lf, int64_t ts, const char *p, size_t n)
{
	const char	*nl;
	size_t		 seg, take;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		seg = nl != NULL ? (size_t)(nl - p) : n;
		/* Fast path: a whole line in the read buffer. */
		if (nl != NULL && lf->len == 0 && seg <= LOG_LINE_MAX) {
			logs_line(lf, ts, p, seg);
			p += seg + 1;
			n -= seg + 1;
			continue;
		}
		if (lf->buf == NULL &&
		    (lf->buf = malloc(LOG_LINE_MAX)) == NULL) {
			/* no memory for the partial line: store it as is */
			logs_line(lf, ts, p, seg > LOG_LINE_MAX ?
			    LOG_LINE_MAX : seg);
			take = seg > LOG_LINE_MAX ? LOG_LINE_MAX : seg;
			p += take;
			n -= take;
			if (take == seg && nl != NULL) {
				p++;
				n--;
			}
			continue;
		}
		while (seg > 0) {
			if (lf->len == LOG_LINE_MAX) {
				logs_line(lf, ts, lf->buf, lf->len);
				lf->len = 0;
			}
			take = LOG_LINE_MAX - lf->len;
			if (take > seg)
				take = seg;
			memcpy(lf->buf + lf->len, p, take);
			lf->len += take;
			p += take;
			n -= take;
			seg -= take;
		}
		if (nl != NULL) {
			logs_line(lf, ts, lf->buf, lf->len);
			lf->len = 0;
			p++;
			n--;
		}
	}
	if (lf->len == 0) {
		/* idle fds hold no buffer: memory does not grow with N */
		free(lf->buf);
		lf->buf = NULL;
	}
}

static void
logs_readcb(evutil_socket_t fd, short what, void *arg)
{
	static char	 rbuf[LOGS_READ_SIZE];
	struct logfd	*lf = arg;
	ssize_t		 n;
	int		 i, eof = 0;

	for (i = 0; i < LOGS_READS_PER_CB; i++) {
		n = read(lf->fd, rbuf, sizeof(rbuf));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			log_warn("%s: %s.%s: read", __func__,
			    lf->ref.service, lf->ref.action);
			eof = 1;
			break;
		}
		if (n == 0) {
			eof = 1;
			break;
		}
		logs_input(lf, wall_ms(), rbuf, n);
		store_queued();
		if ((size_t)n < sizeof(rbuf))
			break;
	}
	if (eof)
		logs_close(lf);
}

/* EOF: store the partial last line, report the counters at once. */
static void
logs_close(struct logfd *lf)
{
	struct db_action	*a = lf->act;

	if (lf->len > 0) {
		logs_line(lf, wall_ms(), lf->buf, lf->len);
		lf->len = 0;
		store_queued();
	}
	log_debug("%s: %s.%s job %llu/%u %s: eof", __func__,
	    lf->ref.service, lf->ref.action,
	    (unsigned long long)lf->ref.job_id, lf->ref.restart_count,
	    log_stream_name(lf->stream));
	TAILQ_REMOVE(&logfds, lf, entry);
	event_free(lf->ev);
	close(lf->fd);
	free(lf->buf);
	free(lf);
	store_send_stats(a);
}

/* Read what is left without waiting, for a clean exit. */
void
logs_shutdown(void)
{
	struct logfd	*lf;

	while ((lf = TAILQ_FIRST(&logfds)) != NULL) {
		logs_readcb(lf->fd, EV_READ, lf);
		if (TAILQ_FIRST(&logfds) == lf) {
			if (lf->len > 0)
				logs_line(lf, wall_ms(), lf->buf, lf->len);
			TAILQ_REMOVE(&logfds, lf, entry);
			event_free(lf->ev);
			close(lf->fd);
			free(lf->buf);
			free(lf);
		}
	}
}
