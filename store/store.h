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
 * herod: store worker.  The only process that touches the database:
 * services, jobs, events and the captured log lines of every action.
 *
 * db.c is usable without an event loop (the unit tests drive it
 * directly); store.c, logs.c and clients.c are the libevent side.
 */
#ifndef HEROD_STORE_H
#define HEROD_STORE_H

#include <sys/tree.h>

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct event_base;
struct sqlite3;
struct msgev;
struct db;

#define LOG_LINE_MAX		8192	/* longer lines are cut in pieces */
#define LOG_QUEUE_MAX		(4 * 1024 * 1024) /* pending line bytes */
#define LOG_DEFAULT_MAX_BYTES	(4 * 1024 * 1024)
#define LOG_DEFAULT_KEEP	5
#define DB_FLUSH_ENTRIES	2000	/* flush at once past this */
#define DB_FLUSH_MS		50	/* otherwise this often */
#define DB_EVENTS_KEEP		10000
#define DB_EVENTS_SLACK		500	/* trim in batches of this */
#define STATS_INTERVAL_MS	200	/* M_LOG_STATS per action */

/* Stream of a log row.  Markers ("N lines dropped") are LS_HEROD. */
enum log_stream {
	LS_HEROD = 0,
	LS_STDOUT = 1,
	LS_STDERR = 2,
};

/* A stored log line, as handed to query callbacks. */
struct log_row {
	int64_t		 id;
	int64_t		 ts;		/* wall clock, ms */
	const char	*service;
	const char	*action;
	uint64_t	 job_id;
	uint32_t	 restart_count;
	int		 stream;	/* enum log_stream */
	const void	*line;		/* raw bytes, no newline */
	size_t		 len;
};

struct event_row {
	int64_t		 id;
	int64_t		 ts;
	const char	*json;
	size_t		 len;
};

/* Which log rows a query or a follower wants. */
struct log_filter {
	char		 service[NAME_BUF];
	char		 action[NAME_BUF];	/* "" = every action */
	uint64_t	 job_id;		/* 0 = any */
	int64_t		 restart;		/* -1 = any */
};

/* One generation of an action: the rows of one (job_id, restart_count). */
struct db_gen {
	uint64_t	 job_id;
	uint32_t	 restart_count;
	int64_t		 first_id;	/* no row of it below */
	int64_t		 last_id;	/* nor above */
	uint64_t	 bytes;		/* line bytes, markers included */
	uint64_t	 lines;		/* rows, markers excluded */
	uint64_t	 rows;		/* rows, markers included */
};

/* What is committed for an action; saved and restored around a flush. */
struct db_acct {
	uint64_t	 bytes;		/* line bytes stored */
	uint64_t	 stored;	/* lines stored (no markers) */
	uint64_t	 deleted;	/* lines removed by retention */
	struct db_gen	*gens;		/* oldest first */
	size_t		 ngens;
	size_t		 gencap;
};

/*
 * Per action log accounting.  Invariant, once the queue is flushed:
 * written == acct.stored + acct.deleted + dropped.
 */
struct db_action {
	RB_ENTRY(db_action)	 entry;
	char			 service[NAME_BUF];
	char			 action[NAME_BUF];
	uint64_t		 written;	/* lines received */
	uint64_t		 dropped;	/* lost: queue full, disk */
	uint64_t		 unannounced;	/* dropped, no marker yet */
	uint64_t		 marker_job;	/* generation for the marker */
	uint32_t		 marker_restart;
	struct db_acct		 acct;
	struct db_acct		 saved;		/* during a flush */
	int			 touched;	/* flush must visit it */
	int			 stats_dirty;	/* written/dropped changed */
	int64_t			 stats_sent_ms;	/* monotonic */
};

/* db.c */
struct db	*db_open(const char *path);
void		 db_close(struct db *);
struct sqlite3	*db_sqlite(struct db *);		/* for tests */
int		 db_flush(struct db *);
size_t		 db_pending(struct db *);	/* queued entries */
int		 db_needs_flush(struct db *);
size_t		 db_pending_log_bytes(struct db *);
void		 db_service_put(struct db *, const struct m_store_service *,
		    int64_t updated_ms);
void		 db_job_put(struct db *, const struct m_store_job *);
void		 db_event_put(struct db *, int64_t ts, const char *json,
		    size_t len);
struct db_action *db_action_get(struct db *, const char *service,
		    const char *action);
struct db_action *db_action_first(struct db *);
struct db_action *db_action_next(struct db *, struct db_action *);
/* 0 queued, 1 dropped (queue full, counted). */
int		 db_log_append(struct db *, struct db_action *, int64_t ts,
		    uint64_t job_id, uint32_t restart_count, int stream,
		    const void *line, size_t len);
void		 db_logconf(struct db *, const char *service,
		    uint64_t max_bytes, uint32_t keep_restarts);
int		 db_load(struct db *,
		    void (*)(const struct m_store_service *, void *),
		    void (*)(const struct m_store_job *, void *),
		    struct m_store_load_done *, void *);
/* Newest job_id with log rows for the service (and action), 0 if none. */
uint64_t	 db_logs_newest_job(struct db *, const char *service,
		    const char *action);
/* Cursor (id) after which the last n rows matching f start. */
int64_t		 db_logs_start(struct db *, const struct log_filter *,
		    uint32_t n);
int64_t		 db_logs_max_id(struct db *);
/*
 * Call cb for up to limit rows matching f with after < id <= upto
 * (upto 0: no bound), in id order; *last is the id of the last row
 * seen.  Returns the number of rows, -1 on error.  cb returning -1
 * stops the query.
 */
int		 db_logs_query(struct db *, const struct log_filter *,
		    int64_t after, int64_t upto, size_t limit,
		    int (*cb)(const struct log_row *, void *), void *arg,
		    int64_t *last);
int64_t		 db_events_start(struct db *, uint32_t n);
int64_t		 db_events_max_id(struct db *);
int		 db_events_query(struct db *, int64_t after, int64_t upto,
		    size_t limit, int (*cb)(const struct event_row *, void *),
		    void *arg, int64_t *last);
int		 log_filter_match(const struct log_filter *,
		    const struct log_row *);

/* json.c */
const char	*log_stream_name(int);
int		 utf8_valid(const unsigned char *, size_t);
/*
 * JSON string (quoted) of raw bytes; bytes that are not valid UTF-8 are
 * written as \u00XX of the byte value.  The result lives in a static
 * buffer until the next call.
 */
const char	*json_escape_bytes(const void *, size_t, size_t *outlen);
/* One log row as a JSON object plus '\n', static until the next call. */
const char	*log_row_json(const struct log_row *, size_t *outlen);
/* {"ts":..,"event":"dropped","count":N} plus '\n', static. */
const char	*dropped_json(int64_t ts, uint64_t count, size_t *outlen);

/* store.c */
extern struct db	*store_db;
extern struct event_base *store_base;
void		 store_queued(void);
void		 store_send_stats(struct db_action *);

/* logs.c */
void		 logs_add_fd(const struct m_logfd *, int fd);
void		 logs_shutdown(void);

/* clients.c */
void		 clients_new(const void *, size_t, int fd);
void		 clients_log_line(const struct log_row *);
void		 clients_event(int64_t ts, const char *json, size_t len);
void		 clients_shutdown(void);

#endif
