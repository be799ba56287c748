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
 * The store's database: schema and migrations, the in-memory write queue
 * committed in one transaction per flush, log retention and the queries
 * behind heroctl logs/events and M_STORE_LOAD.
 *
 * Nothing here knows about the event loop: the caller decides when to
 * flush (store.c: every DB_FLUSH_MS, or once DB_FLUSH_ENTRIES are
 * queued).  Per action, the committed log rows are mirrored in memory
 * (struct db_acct: byte total and the list of generations with their id
 * ranges), so retention never has to scan the table to know what to
 * delete.  A flush that fails (disk full, I/O error) is rolled back: its
 * log lines are counted as dropped, the rest is kept for the next flush.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/tree.h>
#include <sys/queue.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "proto.h"
#include "store.h"
#include "util.h"

#define DB_BUSY_TIMEOUT_MS	5000
#define DB_MAX_STATE_OPS	50000	/* kept for retry when disk fails */
#define DB_WARN_INTERVAL_MS	10000

enum db_op_type {
	OP_SERVICE,
	OP_JOB,
	OP_EVENT,
	OP_LOG,
	OP_MARKER,
};

struct db_op {
	TAILQ_ENTRY(db_op)	 entry;
	enum db_op_type		 type;
	union {
		struct {
			struct m_store_service	 s;
			int64_t			 updated;
		} svc;
		int64_t			 ts;		/* event */
		struct {
			struct db_action	*act;
			int64_t			 ts;
			uint64_t		 job_id;
			uint32_t		 restart_count;
			int			 stream;
			uint64_t		 count;	/* marker */
		} log;
	} u;
	size_t			 len;
	unsigned char		 data[];	/* a job: its m_store_job */
};
TAILQ_HEAD(db_ops, db_op);

struct db_logconf {
	RB_ENTRY(db_logconf)	 entry;
	char			 service[NAME_BUF];
	uint64_t		 max_bytes;
	uint32_t		 keep;
};

RB_HEAD(db_actions, db_action);
RB_HEAD(db_logconfs, db_logconf);

enum db_stmt {
	ST_SERVICE,
	ST_JOB,
	ST_EVENT,
	ST_LOG,
	ST_STATS,
	ST_DEL_GEN,
	ST_DEL_UPTO,
	ST_WALK,
	ST_EV_TRIM,
	ST_MAX
};

static const char *db_stmt_sql[ST_MAX] = {
	[ST_SERVICE] = "INSERT OR REPLACE INTO services"
	    "(name, intent, run_id, updated) VALUES (?1, ?2, ?3, ?4)",
	[ST_JOB] = "INSERT OR REPLACE INTO jobs(job_id, run_id, service,"
	    " action, restart_count, pid, pgid, starttime, state, wstatus,"
	    " updated_ms, status_text, reason) VALUES (?1, ?2, ?3, ?4, ?5,"
	    " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_EVENT] = "INSERT INTO events(ts, json) VALUES (?1, ?2)",
	[ST_LOG] = "INSERT INTO logs(ts, service, action, job_id,"
	    " restart_count, stream, line) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
	    " ?7)",
	[ST_STATS] = "INSERT INTO log_stats(service, action, written,"
	    " dropped, deleted) VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT(service, action) DO UPDATE SET"
	    " written = excluded.written, dropped = excluded.dropped,"
	    " deleted = excluded.deleted",
	[ST_DEL_GEN] = "DELETE FROM logs WHERE service = ?1 AND action = ?2"
	    " AND id BETWEEN ?3 AND ?4 AND job_id = ?5 AND restart_count = ?6",
	[ST_DEL_UPTO] = "DELETE FROM logs WHERE service = ?1 AND action = ?2"
	    " AND id <= ?3",
	[ST_WALK] = "SELECT id, job_id, restart_count, stream, length(line)"
	    " FROM logs WHERE service = ?1 AND action = ?2 ORDER BY id",
	[ST_EV_TRIM] = "DELETE FROM events WHERE id <= ?1",
};

struct db {
	sqlite3			*h;
	char			 path[PATH_MAX];
	sqlite3_stmt		*st[ST_MAX];
	struct db_ops		 ops;
	size_t			 nops;
	size_t			 logbytes;	/* queued line cost */
	int			 touched;	/* some action touched */
	struct db_actions	 actions;
	struct db_logconfs	 confs;
	int64_t			 ev_count;
	int64_t			 ev_max;
	int			 failing;
	int64_t			 warn_ms;
};

/*
 * Migrations: migrations[i] takes the schema from version i to i + 1.
 * Append only; never edit a released step.
 */
static const char *migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE IF NOT EXISTS meta ("
	"  key TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL);"
	"CREATE TABLE services ("
	"  name TEXT PRIMARY KEY,"
	"  intent INTEGER NOT NULL,"
	"  run_id INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL);"
	"CREATE TABLE jobs ("
	"  job_id INTEGER PRIMARY KEY,"
	"  run_id INTEGER NOT NULL,"
	"  service TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  restart_count INTEGER NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  pgid INTEGER NOT NULL,"
	"  starttime INTEGER NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  wstatus INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL);"
	"CREATE INDEX jobs_action ON jobs(service, action, job_id);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  json TEXT NOT NULL);"
	"CREATE TABLE logs ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  service TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  job_id INTEGER NOT NULL,"
	"  restart_count INTEGER NOT NULL,"
	"  stream INTEGER NOT NULL,"	/* 0 herod, 1 stdout, 2 stderr */
	"  line BLOB NOT NULL);"
	"CREATE INDEX logs_action ON logs(service, action, id);"
	"CREATE INDEX logs_service ON logs(service, id);"
	"CREATE TABLE log_stats ("
	"  service TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  written INTEGER NOT NULL,"
	"  dropped INTEGER NOT NULL,"
	"  deleted INTEGER NOT NULL,"
	"  PRIMARY KEY (service, action));",
	/* 1 -> 2: what list shows of a job survives a restart of herod */
	"ALTER TABLE jobs ADD COLUMN status_text TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE jobs ADD COLUMN reason TEXT NOT NULL DEFAULT '';",
};
#define DB_SCHEMA_VERSION	((int)nitems(migrations))

static int	 db_action_cmp(struct db_action *, struct db_action *);
static int	 db_logconf_cmp(struct db_logconf *, struct db_logconf *);
RB_PROTOTYPE(db_actions, db_action, entry, db_action_cmp);
RB_PROTOTYPE(db_logconfs, db_logconf, entry, db_logconf_cmp);

static int	 db_exec(struct db *, const char *);
static int	 db_connect(struct db *);
static void	 db_disconnect(struct db *);
static int	 db_set_aside(const char *, const char *);
static int	 db_migrate(struct db *);
static int	 db_prepare(struct db *);
static int	 db_load_acct(struct db *);
static int	 db_flush_once(struct db *);
static int	 db_op_exec(struct db *, struct db_op *);
static int	 db_retain(struct db *, struct db_action *);
static int	 db_stats_put(struct db *, struct db_action *);
static void	 db_enqueue(struct db *, struct db_op *);
static void	 db_marker_queue(struct db *, struct db_action *, int64_t);
static struct db_gen *gen_get(struct db_acct *, uint64_t, uint32_t, int);
static void	 gen_remove(struct db_acct *, size_t);
static int	 acct_save(struct db_action *);
static void	 acct_restore(struct db_action *);
static void	 acct_discard(struct db_acct *);
static void	 db_logconf_get(struct db *, const char *, uint64_t *,
		    uint32_t *);

static int
db_action_cmp(struct db_action *a, struct db_action *b)
{
	int	 r;

	if ((r = strcmp(a->service, b->service)) != 0)
		return r;
	return strcmp(a->action, b->action);
}

static int
db_logconf_cmp(struct db_logconf *a, struct db_logconf *b)
{
	return strcmp(a->service, b->service);
}

RB_GENERATE(db_actions, db_action, entry, db_action_cmp);
RB_GENERATE(db_logconfs, db_logconf, entry, db_logconf_cmp);

static void
db_warn(struct db *db, const char *what)
{
	int64_t	 now = now_ms();

	if (db->failing && now - db->warn_ms < DB_WARN_INTERVAL_MS)
		return;
	db->warn_ms = now;
	log_warnx("%s: %s: %s (%d)", __func__, what, sqlite3_errmsg(db->h),
	    sqlite3_extended_errcode(db->h));
}

static int
db_exec(struct db *db, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(db->h, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("%s: %.40s...: %s", __func__, sql,
		    err != NULL ? err : sqlite3_errmsg(db->h));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static void
db_quick_check_warn(const char *path, const char *res)
{
	char	 msg[256], *p;

	(void)strlcpy(msg, res != NULL ? res : "?", sizeof(msg));
	for (p = msg; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	log_warnx("%s: %s: quick_check: %s", __func__, path, msg);
}

/*
 * Open the file and check it.  0 usable, 1 corrupt (or not a database),
 * -1 other error (cannot open, I/O).
 */
static int
db_connect(struct db *db)
{
	sqlite3_stmt	*st;
	const char	*res;
	int		 rc, ret = -1;

	rc = sqlite3_open_v2(db->path, &db->h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_warnx("%s: %s: %s", __func__, db->path,
		    db->h != NULL ? sqlite3_errmsg(db->h) :
		    sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(db->h, DB_BUSY_TIMEOUT_MS);

	rc = sqlite3_prepare_v2(db->h, "PRAGMA quick_check", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			res = (const char *)sqlite3_column_text(st, 0);
			if (res != NULL && strcmp(res, "ok") == 0)
				ret = 0;
			else {
				db_quick_check_warn(db->path, res);
				ret = 1;
			}
		}
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_ROW) {
		rc = sqlite3_errcode(db->h);
		log_warnx("%s: %s: quick_check: %s", __func__, db->path,
		    sqlite3_errmsg(db->h));
		if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
			ret = 1;
		goto fail;
	}
	if (ret != 0)
		goto fail;

	/* No temporary files: the store may be chrooted without /tmp. */
	if (db_exec(db, "PRAGMA journal_mode = WAL") == -1 ||
	    db_exec(db, "PRAGMA synchronous = NORMAL") == -1 ||
	    db_exec(db, "PRAGMA temp_store = MEMORY") == -1 ||
	    db_exec(db, "PRAGMA cache_size = -2048") == -1) {
		rc = sqlite3_errcode(db->h);
		ret = (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) ? 1 : -1;
		goto fail;
	}
	return 0;

 fail:
	db_disconnect(db);
	return ret;
}

static void
db_disconnect(struct db *db)
{
	int	 i;

	for (i = 0; i < ST_MAX; i++) {
		sqlite3_finalize(db->st[i]);
		db->st[i] = NULL;
	}
	if (db->h != NULL)
		sqlite3_close(db->h);
	db->h = NULL;
}

/* Rename path (and its -wal, -shm) to path.WHY-TIMESTAMP. */
static int
db_set_aside(const char *path, const char *why)
{
	static const char	*sfx[] = { "", "-wal", "-shm" };
	char			 from[PATH_MAX], to[PATH_MAX];
	char			 base[PATH_MAX];
	struct stat		 sb;
	size_t			 i;
	int			 n;

	for (n = 0; n < 100; n++) {
		if (n == 0)
			(void)snprintf(base, sizeof(base), "%s.%s-%lld", path,
			    why, (long long)time(NULL));
		else
			(void)snprintf(base, sizeof(base), "%s.%s-%lld.%d",
			    path, why, (long long)time(NULL), n);
		if (stat(base, &sb) == -1 && errno == ENOENT)
			break;
	}
	for (i = 0; i < nitems(sfx); i++) {
		(void)snprintf(from, sizeof(from), "%s%s", path, sfx[i]);
		(void)snprintf(to, sizeof(to), "%s%s", base, sfx[i]);
		if (rename(from, to) == -1 && errno != ENOENT) {
			log_warn("%s: rename %s", __func__, from);
			return -1;
		}
	}
	log_warnx("%s: database %s set aside as %s, starting a new one",
	    __func__, path, base);
	return 0;
}

static int
db_schema_version(struct db *db)
{
	sqlite3_stmt	*st;
	int		 v = -1;

	if (sqlite3_prepare_v2(db->h, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'table' AND name = 'meta'", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v != 1)
		return v == 0 ? 0 : -1;

	if (sqlite3_prepare_v2(db->h, "SELECT value FROM meta"
	    " WHERE key = 'schema_version'", -1, &st, NULL) != SQLITE_OK)
		return -1;
	v = 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* 0 done, 1 the database is newer than this herod, -1 error. */
static int
db_migrate(struct db *db)
{
	char	 sql[128];
	int	 v;

	if ((v = db_schema_version(db)) == -1) {
		log_warnx("%s: cannot read schema version: %s", __func__,
		    sqlite3_errmsg(db->h));
		return -1;
	}
	if (v > DB_SCHEMA_VERSION) {
		log_warnx("%s: schema version %d is newer than %d", __func__,
		    v, DB_SCHEMA_VERSION);
		return 1;
	}
	for (; v < DB_SCHEMA_VERSION; v++) {
		if (db_exec(db, "BEGIN IMMEDIATE") == -1)
			return -1;
		(void)snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO meta"
		    "(key, value) VALUES ('schema_version', %d)", v + 1);
		if (db_exec(db, migrations[v]) == -1 ||
		    db_exec(db, sql) == -1 || db_exec(db, "COMMIT") == -1) {
			(void)db_exec(db, "ROLLBACK");
			return -1;
		}
		log_debug("%s: schema version %d", __func__, v + 1);
	}
	return 0;
}

static int
db_prepare(struct db *db)
{
	int	 i;

	for (i = 0; i < ST_MAX; i++) {
		if (sqlite3_prepare_v3(db->h, db_stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &db->st[i], NULL) !=
		    SQLITE_OK) {
			log_warnx("%s: %s: %s", __func__, db_stmt_sql[i],
			    sqlite3_errmsg(db->h));
			return -1;
		}
	}
	return 0;
}

static int
db_scalar(struct db *db, const char *sql, int64_t *v)
{
	sqlite3_stmt	*st;
	int		 rc;

	*v = 0;
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : -1;
}

/* Mirror what is committed: counters and generations of every action. */
static int
db_load_acct(struct db *db)
{
	sqlite3_stmt		*st;
	struct db_action	*a;
	struct db_gen		*g;
	uint64_t		 total;
	int			 rc;

	if (sqlite3_prepare_v2(db->h, "SELECT service, action, written,"
	    " dropped, deleted FROM log_stats", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = db_action_get(db, (const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1));
		a->written = sqlite3_column_int64(st, 2);
		a->dropped = sqlite3_column_int64(st, 3);
		a->acct.deleted = sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;

	if (sqlite3_prepare_v2(db->h, "SELECT service, action, job_id,"
	    " restart_count, min(id), max(id), sum(length(line)),"
	    " sum(stream != 0), count(*) FROM logs"
	    " GROUP BY service, action, job_id, restart_count", -1, &st,
	    NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = db_action_get(db, (const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1));
		g = gen_get(&a->acct, sqlite3_column_int64(st, 2),
		    sqlite3_column_int64(st, 3), 1);
		if (g == NULL)
			fatal("%s", __func__);
		g->first_id = sqlite3_column_int64(st, 4);
		g->last_id = sqlite3_column_int64(st, 5);
		g->bytes = sqlite3_column_int64(st, 6);
		g->lines = sqlite3_column_int64(st, 7);
		g->rows = sqlite3_column_int64(st, 8);
		a->acct.bytes += g->bytes;
		a->acct.stored += g->lines;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;

	/* A lost log_stats row must not break written = kept + dropped. */
	RB_FOREACH(a, db_actions, &db->actions) {
		total = a->acct.stored + a->acct.deleted + a->dropped;
		if (a->written < total)
			a->written = total;
	}

	if (db_scalar(db, "SELECT count(*) FROM events", &db->ev_count) ==
	    -1 || db_scalar(db, "SELECT max(id) FROM events", &db->ev_max) ==
	    -1)
		goto fail;
	return 0;

 fail:
	log_warnx("%s: %s", __func__, sqlite3_errmsg(db->h));
	return -1;
}

static void
db_free_state(struct db *db)
{
	struct db_action	*a, *na;
	struct db_logconf	*c, *nc;
	struct db_op		*op;

	while ((op = TAILQ_FIRST(&db->ops)) != NULL) {
		TAILQ_REMOVE(&db->ops, op, entry);
		free(op);
	}
	db->nops = 0;
	db->logbytes = 0;
	RB_FOREACH_SAFE(a, db_actions, &db->actions, na) {
		RB_REMOVE(db_actions, &db->actions, a);
		acct_discard(&a->acct);
		acct_discard(&a->saved);
		free(a);
	}
	RB_FOREACH_SAFE(c, db_logconfs, &db->confs, nc) {
		RB_REMOVE(db_logconfs, &db->confs, c);
		free(c);
	}
}

/*
 * Open (creating if needed) the database at path, set a corrupt one
 * aside, bring the schema up to date.  NULL on an error that a new
 * file cannot fix (permissions, I/O).
 */
struct db *
db_open(const char *path)
{
	struct db	*db;
	const char	*why;
	int		 r, tries;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	TAILQ_INIT(&db->ops);
	RB_INIT(&db->actions);
	RB_INIT(&db->confs);
	if (strlcpy(db->path, path, sizeof(db->path)) >= sizeof(db->path)) {
		log_warnx("%s: %s: path too long", __func__, path);
		goto fail;
	}

	for (tries = 0; ; tries++) {
		why = "corrupt";
		r = db_connect(db);
		if (r == 0 && (r = db_migrate(db)) != 0) {
			db_disconnect(db);
			why = "newer";
		}
		if (r == 0)
			break;
		if (r == -1 || tries > 0)
			goto fail;
		/* Corrupt, or written by a newer herod: start afresh. */
		if (db_set_aside(path, why) == -1)
			goto fail;
	}
	if (db_prepare(db) == -1 || db_load_acct(db) == -1)
		goto fail;
	return db;

 fail:
	db_disconnect(db);
	db_free_state(db);
	free(db);
	return NULL;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	(void)db_flush(db);
	db_disconnect(db);
	db_free_state(db);
	free(db);
}

struct sqlite3 *
db_sqlite(struct db *db)
{
	return db->h;
}

size_t
db_pending(struct db *db)
{
	return db->nops;
}

size_t
db_pending_log_bytes(struct db *db)
{
	return db->logbytes;
}

int
db_needs_flush(struct db *db)
{
	return db->nops > 0 || db->touched;
}

/* Actions. */

struct db_action *
db_action_get(struct db *db, const char *service, const char *action)
{
	struct db_action	 key, *a;

	if (service == NULL)
		service = "";
	if (action == NULL)
		action = "";
	(void)strlcpy(key.service, service, sizeof(key.service));
	(void)strlcpy(key.action, action, sizeof(key.action));
	if ((a = RB_FIND(db_actions, &db->actions, &key)) != NULL)
		return a;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatal("%s", __func__);
	memcpy(a->service, key.service, sizeof(a->service));
	memcpy(a->action, key.action, sizeof(a->action));
	RB_INSERT(db_actions, &db->actions, a);
	return a;
}

struct db_action *
db_action_first(struct db *db)
{
	return RB_MIN(db_actions, &db->actions);
}

struct db_action *
db_action_next(struct db *db, struct db_action *a)
{
	return RB_NEXT(db_actions, &db->actions, a);
}

static void
db_logconf_get(struct db *db, const char *service, uint64_t *max_bytes,
    uint32_t *keep)
{
	struct db_logconf	 key, *c;

	*max_bytes = LOG_DEFAULT_MAX_BYTES;
	*keep = LOG_DEFAULT_KEEP;
	(void)strlcpy(key.service, service, sizeof(key.service));
	if ((c = RB_FIND(db_logconfs, &db->confs, &key)) == NULL)
		return;
	*max_bytes = c->max_bytes;
	*keep = c->keep;
}

void
db_logconf(struct db *db, const char *service, uint64_t max_bytes,
    uint32_t keep_restarts)
{
	struct db_logconf	 key, *c;
	struct db_action	*a;

	(void)strlcpy(key.service, service, sizeof(key.service));
	if ((c = RB_FIND(db_logconfs, &db->confs, &key)) == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			fatal("%s", __func__);
		memcpy(c->service, key.service, sizeof(c->service));
		RB_INSERT(db_logconfs, &db->confs, c);
	}
	c->max_bytes = max_bytes;
	c->keep = keep_restarts;
	/* The next flush applies it to what is already stored. */
	RB_FOREACH(a, db_actions, &db->actions) {
		if (strcmp(a->service, c->service) == 0) {
			a->touched = 1;
			db->touched = 1;
		}
	}
}

/* Generations, kept sorted by (job_id, restart_count). */

static struct db_gen *
gen_get(struct db_acct *ac, uint64_t job_id, uint32_t restart_count,
    int create)
{
	struct db_gen	*g;
	size_t		 i, cap;

	for (i = ac->ngens; i > 0; i--) {
		g = &ac->gens[i - 1];
		if (g->job_id == job_id && g->restart_count == restart_count)
			return g;
		if (g->job_id < job_id || (g->job_id == job_id &&
		    g->restart_count < restart_count))
			break;
	}
	if (!create)
		return NULL;
	/* Insert at index i. */
	if (ac->ngens == ac->gencap) {
		cap = ac->gencap == 0 ? 8 : ac->gencap * 2;
		g = reallocarray(ac->gens, cap, sizeof(*g));
		if (g == NULL)
			return NULL;
		ac->gens = g;
		ac->gencap = cap;
	}
	memmove(&ac->gens[i + 1], &ac->gens[i],
	    (ac->ngens - i) * sizeof(*g));
	ac->ngens++;
	g = &ac->gens[i];
	memset(g, 0, sizeof(*g));
	g->job_id = job_id;
	g->restart_count = restart_count;
	return g;
}

static void
gen_remove(struct db_acct *ac, size_t i)
{
	memmove(&ac->gens[i], &ac->gens[i + 1],
	    (ac->ngens - i - 1) * sizeof(ac->gens[0]));
	ac->ngens--;
}

static int
acct_save(struct db_action *a)
{
	acct_discard(&a->saved);
	a->saved = a->acct;
	a->saved.gens = NULL;
	a->saved.gencap = a->saved.ngens;
	if (a->acct.ngens == 0)
		return 0;
	a->saved.gens = reallocarray(NULL, a->acct.ngens,
	    sizeof(struct db_gen));
	if (a->saved.gens == NULL)
		return -1;
	memcpy(a->saved.gens, a->acct.gens,
	    a->acct.ngens * sizeof(struct db_gen));
	return 0;
}

static void
acct_restore(struct db_action *a)
{
	acct_discard(&a->acct);
	a->acct = a->saved;
	memset(&a->saved, 0, sizeof(a->saved));
}

static void
acct_discard(struct db_acct *ac)
{
	free(ac->gens);
	memset(ac, 0, sizeof(*ac));
}

/* The queue. */

static struct db_op *
db_op_new(enum db_op_type type, const void *data, size_t len)
{
	struct db_op	*op;

	if ((op = malloc(sizeof(*op) + len + 1)) == NULL)
		return NULL;
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->len = len;
	if (len > 0)
		memcpy(op->data, data, len);
	op->data[len] = '\0';
	return op;
}

static void
db_enqueue(struct db *db, struct db_op *op)
{
	TAILQ_INSERT_TAIL(&db->ops, op, entry);
	db->nops++;
	if (op->type == OP_LOG || op->type == OP_MARKER) {
		db->logbytes += sizeof(*op) + op->len;
		op->u.log.act->touched = 1;
		db->touched = 1;
	}
}

void
db_service_put(struct db *db, const struct m_store_service *s,
    int64_t updated_ms)
{
	struct db_op	*op;

	if ((op = db_op_new(OP_SERVICE, NULL, 0)) == NULL)
		fatal("%s", __func__);
	op->u.svc.s = *s;
	proto_terminate(op->u.svc.s.name);
	op->u.svc.updated = updated_ms;
	db_enqueue(db, op);
}

void
db_job_put(struct db *db, const struct m_store_job *j)
{
	struct db_op	*op;

	/* in data[]: every op of the union pays for its largest member */
	if ((op = db_op_new(OP_JOB, j, sizeof(*j))) == NULL)
		fatal("%s", __func__);
	db_enqueue(db, op);
}

void
db_event_put(struct db *db, int64_t ts, const char *json, size_t len)
{
	struct db_op	*op;

	if ((op = db_op_new(OP_EVENT, json, len)) == NULL)
		fatal("%s", __func__);
	op->u.ts = ts;
	db_enqueue(db, op);
}

static void
db_marker_queue(struct db *db, struct db_action *a, int64_t ts)
{
	struct db_op	*op;
	char		 text[64];
	int		 n;

	n = snprintf(text, sizeof(text), "%" PRIu64 " lines dropped",
	    a->unannounced);
	if ((op = db_op_new(OP_MARKER, text, n)) == NULL)
		return;		/* announced later */
	op->u.log.act = a;
	op->u.log.ts = ts;
	op->u.log.job_id = a->marker_job;
	op->u.log.restart_count = a->marker_restart;
	op->u.log.stream = LS_HEROD;
	op->u.log.count = a->unannounced;
	a->unannounced = 0;
	db_enqueue(db, op);
}

static void
db_log_drop(struct db_action *a, uint64_t job_id, uint32_t restart_count,
    uint64_t n)
{
	a->dropped += n;
	a->unannounced += n;
	a->marker_job = job_id;
	a->marker_restart = restart_count;
	a->stats_dirty = 1;
}

int
db_log_append(struct db *db, struct db_action *a, int64_t ts,
    uint64_t job_id, uint32_t restart_count, int stream, const void *line,
    size_t len)
{
	struct db_op	*op;

	a->written++;
	a->stats_dirty = 1;
	a->touched = 1;
	db->touched = 1;
	if (db->logbytes + sizeof(*op) + len > LOG_QUEUE_MAX ||
	    (op = db_op_new(OP_LOG, line, len)) == NULL) {
		db_log_drop(a, job_id, restart_count, 1);
		return 1;
	}
	/* There is room again: say what was lost, in its place. */
	if (a->unannounced > 0)
		db_marker_queue(db, a, ts);
	op->u.log.act = a;
	op->u.log.ts = ts;
	op->u.log.job_id = job_id;
	op->u.log.restart_count = restart_count;
	op->u.log.stream = stream;
	db_enqueue(db, op);
	return 0;
}

/* Flushing. */

static int
db_step_done(struct db *db, sqlite3_stmt *st)
{
	int	 rc;

	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		db_warn(db, sqlite3_sql(st));
		return -1;
	}
	return 0;
}

static int
db_op_exec(struct db *db, struct db_op *op)
{
	sqlite3_stmt		*st;
	struct db_action	*a;
	struct db_gen		*g;
	struct m_store_job	 jb, *j = &jb;
	int64_t			 id;

	switch (op->type) {
	case OP_SERVICE:
		st = db->st[ST_SERVICE];
		sqlite3_bind_text(st, 1, op->u.svc.s.name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, op->u.svc.s.intent);
		sqlite3_bind_int64(st, 3, (int64_t)op->u.svc.s.run_id);
		sqlite3_bind_int64(st, 4, op->u.svc.updated);
		return db_step_done(db, st);
	case OP_JOB:
		st = db->st[ST_JOB];
		memcpy(&jb, op->data, sizeof(jb));
		proto_terminate(jb.ref.service);
		proto_terminate(jb.ref.action);
		proto_terminate(jb.status_text);
		proto_terminate(jb.reason);
		sqlite3_bind_int64(st, 1, (int64_t)j->ref.job_id);
		sqlite3_bind_int64(st, 2, (int64_t)j->run_id);
		sqlite3_bind_text(st, 3, j->ref.service, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, j->ref.action, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, j->ref.restart_count);
		sqlite3_bind_int64(st, 6, j->pid);
		sqlite3_bind_int64(st, 7, j->pgid);
		sqlite3_bind_int64(st, 8, (int64_t)j->starttime);
		sqlite3_bind_int64(st, 9, j->state);
		sqlite3_bind_int64(st, 10, j->wstatus);
		sqlite3_bind_int64(st, 11, j->updated_ms);
		sqlite3_bind_text(st, 12, j->status_text, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 13, j->reason, -1, SQLITE_STATIC);
		return db_step_done(db, st);
	case OP_EVENT:
		st = db->st[ST_EVENT];
		sqlite3_bind_int64(st, 1, op->u.ts);
		sqlite3_bind_text(st, 2, (const char *)op->data, op->len,
		    SQLITE_STATIC);
		if (db_step_done(db, st) == -1)
			return -1;
		db->ev_count++;
		db->ev_max = sqlite3_last_insert_rowid(db->h);
		return 0;
	case OP_LOG:
	case OP_MARKER:
		st = db->st[ST_LOG];
		a = op->u.log.act;
		sqlite3_bind_int64(st, 1, op->u.log.ts);
		sqlite3_bind_text(st, 2, a->service, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, a->action, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (int64_t)op->u.log.job_id);
		sqlite3_bind_int64(st, 5, op->u.log.restart_count);
		sqlite3_bind_int64(st, 6, op->u.log.stream);
		if (op->len == 0)
			sqlite3_bind_zeroblob(st, 7, 0);
		else
			sqlite3_bind_blob(st, 7, op->data, op->len,
			    SQLITE_STATIC);
		if (db_step_done(db, st) == -1)
			return -1;
		id = sqlite3_last_insert_rowid(db->h);
		g = gen_get(&a->acct, op->u.log.job_id,
		    op->u.log.restart_count, 1);
		if (g == NULL)
			return -1;
		if (g->rows == 0 || id < g->first_id)
			g->first_id = id;
		if (id > g->last_id)
			g->last_id = id;
		g->rows++;
		g->bytes += op->len;
		a->acct.bytes += op->len;
		if (op->type == OP_LOG) {
			g->lines++;
			a->acct.stored++;
		}
		return 0;
	}
	return -1;
}

/* Apply keep_restarts and max_bytes to an action, oldest rows first. */
static int
db_retain(struct db *db, struct db_action *a)
{
	struct db_acct	*ac = &a->acct;
	struct db_gen	*g;
	sqlite3_stmt	*st;
	uint64_t	 max_bytes, need, freed = 0, len;
	uint32_t	 keep;
	int64_t		 id, cut = 0;
	size_t		 i;
	int		 rc;

	db_logconf_get(db, a->service, &max_bytes, &keep);
	if (keep == 0)
		keep = 1;

	while (ac->ngens > keep) {
		g = &ac->gens[0];
		st = db->st[ST_DEL_GEN];
		sqlite3_bind_text(st, 1, a->service, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, a->action, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, g->first_id);
		sqlite3_bind_int64(st, 4, g->last_id);
		sqlite3_bind_int64(st, 5, (int64_t)g->job_id);
		sqlite3_bind_int64(st, 6, g->restart_count);
		if (db_step_done(db, st) == -1)
			return -1;
		ac->bytes -= g->bytes;
		ac->stored -= g->lines;
		ac->deleted += g->lines;
		gen_remove(ac, 0);
	}

	if (ac->bytes <= max_bytes)
		return 0;
	need = ac->bytes - max_bytes;
	st = db->st[ST_WALK];
	sqlite3_bind_text(st, 1, a->service, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->action, -1, SQLITE_STATIC);
	rc = SQLITE_ROW;
	while (freed < need) {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		id = sqlite3_column_int64(st, 0);
		g = gen_get(ac, sqlite3_column_int64(st, 1),
		    sqlite3_column_int64(st, 2), 0);
		len = sqlite3_column_int64(st, 4);
		if (g == NULL) {
			/* Not mirrored: cannot happen, stay consistent. */
			log_warnx("%s: %s.%s: row %" PRId64 " unaccounted",
			    __func__, a->service, a->action, id);
			break;
		}
		cut = id;
		freed += len;
		ac->bytes -= len;
		g->bytes -= len;
		g->rows--;
		g->first_id = id + 1;
		if (sqlite3_column_int(st, 3) != LS_HEROD) {
			g->lines--;
			ac->stored--;
			ac->deleted++;
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_warn(db, "retention walk");
		return -1;
	}
	if (cut > 0) {
		st = db->st[ST_DEL_UPTO];
		sqlite3_bind_text(st, 1, a->service, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, a->action, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, cut);
		if (db_step_done(db, st) == -1)
			return -1;
	}
	for (i = 0; i < ac->ngens; ) {
		if (ac->gens[i].rows == 0)
			gen_remove(ac, i);
		else
			i++;
	}
	return 0;
}

static int
db_stats_put(struct db *db, struct db_action *a)
{
	sqlite3_stmt	*st = db->st[ST_STATS];

	sqlite3_bind_text(st, 1, a->service, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->action, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)a->written);
	sqlite3_bind_int64(st, 4, (int64_t)a->dropped);
	sqlite3_bind_int64(st, 5, (int64_t)a->acct.deleted);
	return db_step_done(db, st);
}

static int
db_flush_once(struct db *db)
{
	struct db_action	*a;
	struct db_op		*op, *nop;
	int64_t			 ev_count = db->ev_count, ev_max = db->ev_max;
	int			 saved = 0;

	RB_FOREACH(a, db_actions, &db->actions) {
		if (a->touched && acct_save(a) == -1)
			goto fail;
	}
	saved = 1;
	if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		db_warn(db, "BEGIN");
		goto fail;
	}
	TAILQ_FOREACH(op, &db->ops, entry) {
		if (db_op_exec(db, op) == -1)
			goto fail;
	}
	RB_FOREACH(a, db_actions, &db->actions) {
		if (!a->touched)
			continue;
		if (db_retain(db, a) == -1 || db_stats_put(db, a) == -1)
			goto fail;
	}
	if (db->ev_count > DB_EVENTS_KEEP + DB_EVENTS_SLACK) {
		sqlite3_bind_int64(db->st[ST_EV_TRIM], 1,
		    db->ev_max - DB_EVENTS_KEEP);
		if (db_step_done(db, db->st[ST_EV_TRIM]) == -1)
			goto fail;
		db->ev_count -= sqlite3_changes(db->h);
	}
	if (sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_warn(db, "COMMIT");
		goto fail;
	}

	while ((op = TAILQ_FIRST(&db->ops)) != NULL) {
		TAILQ_REMOVE(&db->ops, op, entry);
		free(op);
	}
	db->nops = 0;
	db->logbytes = 0;
	db->touched = 0;
	if (db->failing)
		log_info("%s: database writes work again", __func__);
	db->failing = 0;
	RB_FOREACH(a, db_actions, &db->actions) {
		if (!a->touched)
			continue;
		acct_discard(&a->saved);
		a->touched = 0;
	}
	/* The queue is empty: room for the markers of lost lines. */
	RB_FOREACH(a, db_actions, &db->actions) {
		if (a->unannounced > 0)
			db_marker_queue(db, a, wall_ms());
	}
	return 0;

 fail:
	db_warn(db, "flush failed, log lines of the batch dropped");
	db->failing = 1;
	if (!sqlite3_get_autocommit(db->h))
		(void)sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	db->ev_count = ev_count;
	db->ev_max = ev_max;
	if (saved) {
		RB_FOREACH(a, db_actions, &db->actions) {
			if (a->touched)
				acct_restore(a);
		}
	}
	/* Lines are lost (counted); state is kept for the next try. */
	db->logbytes = 0;
	TAILQ_FOREACH_SAFE(op, &db->ops, entry, nop) {
		if (op->type == OP_LOG || op->type == OP_MARKER) {
			a = op->u.log.act;
			if (op->type == OP_LOG)
				db_log_drop(a, op->u.log.job_id,
				    op->u.log.restart_count, 1);
			else
				a->unannounced += op->u.log.count;
			TAILQ_REMOVE(&db->ops, op, entry);
			db->nops--;
			free(op);
		}
	}
	while (db->nops > DB_MAX_STATE_OPS) {
		op = TAILQ_FIRST(&db->ops);
		TAILQ_REMOVE(&db->ops, op, entry);
		db->nops--;
		free(op);
		log_warnx("%s: state update lost", __func__);
	}
	return -1;
}

/*
 * Commit everything queued in one transaction.  On failure the batch's
 * log lines are counted as dropped and service/job/event updates stay
 * queued; they are tried once more at once, alone.  0 or -1.
 */
int
db_flush(struct db *db)
{
	int	 had_logs;

	if (!db_needs_flush(db))
		return 0;
	had_logs = db->logbytes > 0;
	if (db_flush_once(db) == 0)
		return 0;
	if (had_logs && db->nops > 0)
		(void)db_flush_once(db);
	return -1;
}

/* Load for the parent (M_STORE_LOAD). */

/*
 * A text column as display text: the database is the worker user's, so
 * it may hold anything (NULL, a blob, a NUL inside, any length).  At
 * most len - 1 bytes up to the first NUL, always terminated.
 */
static void
db_column_text(sqlite3_stmt *st, int col, char *buf, size_t len)
{
	const unsigned char	*t;
	int			 n;

	buf[0] = '\0';
	if ((t = sqlite3_column_text(st, col)) == NULL)
		return;
	if ((n = sqlite3_column_bytes(st, col)) <= 0)
		return;
	if ((size_t)n >= len)
		n = (int)len - 1;
	memcpy(buf, t, n);
	buf[n] = '\0';
}

int
db_load(struct db *db, void (*svc_cb)(const struct m_store_service *,
    void *), void (*job_cb)(const struct m_store_job *, void *),
    struct m_store_load_done *done, void *arg)
{
	struct m_store_service	 s;
	struct m_store_job	 j;
	struct db_action	*a;
	sqlite3_stmt		*st;
	int64_t			 v;
	size_t			 i;
	int			 rc, ret = 0;

	memset(done, 0, sizeof(*done));
	(void)db_flush(db);

	if (sqlite3_prepare_v2(db->h, "SELECT name, intent, run_id"
	    " FROM services ORDER BY name", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&s, 0, sizeof(s));
		(void)strlcpy(s.name, (const char *)sqlite3_column_text(st, 0),
		    sizeof(s.name));
		s.intent = sqlite3_column_int64(st, 1);
		s.run_id = sqlite3_column_int64(st, 2);
		if (s.run_id > done->max_run_id)
			done->max_run_id = s.run_id;
		svc_cb(&s, arg);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;

	if (sqlite3_prepare_v2(db->h, "SELECT job_id, run_id, service,"
	    " action, restart_count, pid, pgid, starttime, state, wstatus,"
	    " updated_ms, status_text, reason FROM jobs AS j"
	    " WHERE pid != 0 OR job_id ="
	    " (SELECT max(job_id) FROM jobs AS k WHERE k.service = j.service"
	    " AND k.action = j.action) ORDER BY job_id", -1, &st, NULL) !=
	    SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&j, 0, sizeof(j));
		j.ref.job_id = sqlite3_column_int64(st, 0);
		j.run_id = sqlite3_column_int64(st, 1);
		db_column_text(st, 2, j.ref.service, sizeof(j.ref.service));
		db_column_text(st, 3, j.ref.action, sizeof(j.ref.action));
		j.ref.restart_count = sqlite3_column_int64(st, 4);
		j.pid = sqlite3_column_int64(st, 5);
		j.pgid = sqlite3_column_int64(st, 6);
		j.starttime = sqlite3_column_int64(st, 7);
		j.state = sqlite3_column_int64(st, 8);
		j.wstatus = sqlite3_column_int64(st, 9);
		j.updated_ms = sqlite3_column_int64(st, 10);
		db_column_text(st, 11, j.status_text, sizeof(j.status_text));
		db_column_text(st, 12, j.reason, sizeof(j.reason));
		job_cb(&j, arg);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;

	if (db_scalar(db, "SELECT max(job_id) FROM jobs", &v) == -1)
		goto fail;
	done->max_job_id = v;
	if (db_scalar(db, "SELECT max(run_id) FROM jobs", &v) == -1)
		goto fail;
	if ((uint64_t)v > done->max_run_id)
		done->max_run_id = v;
	goto ids;

 fail:
	log_warnx("%s: %s", __func__, sqlite3_errmsg(db->h));
	ret = -1;
 ids:
	/* Log rows may name a job whose row was lost: never reuse it. */
	RB_FOREACH(a, db_actions, &db->actions) {
		for (i = 0; i < a->acct.ngens; i++) {
			if (a->acct.gens[i].job_id > done->max_job_id)
				done->max_job_id = a->acct.gens[i].job_id;
		}
	}
	return ret;
}

/* Queries. */

int
log_filter_match(const struct log_filter *f, const struct log_row *r)
{
	if (strcmp(f->service, r->service) != 0)
		return 0;
	if (f->action[0] != '\0' && strcmp(f->action, r->action) != 0)
		return 0;
	if (f->job_id != 0 && f->job_id != r->job_id)
		return 0;
	if (f->restart >= 0 && (uint64_t)f->restart != r->restart_count)
		return 0;
	return 1;
}

uint64_t
db_logs_newest_job(struct db *db, const char *service, const char *action)
{
	struct db_action	*a;
	uint64_t		 job = 0;
	size_t			 n;

	RB_FOREACH(a, db_actions, &db->actions) {
		if (strcmp(a->service, service) != 0)
			continue;
		if (action[0] != '\0' && strcmp(a->action, action) != 0)
			continue;
		n = a->acct.ngens;
		if (n > 0 && a->acct.gens[n - 1].job_id > job)
			job = a->acct.gens[n - 1].job_id;
	}
	return job;
}

/* WHERE clause for f; parameters ?1..?4. */
static void
db_filter_sql(char *buf, size_t len, const struct log_filter *f)
{
	(void)snprintf(buf, len, "service = ?1%s%s%s",
	    f->action[0] != '\0' ? " AND action = ?2" : "",
	    f->job_id != 0 ? " AND job_id = ?3" : "",
	    f->restart >= 0 ? " AND restart_count = ?4" : "");
}

static void
db_filter_bind(sqlite3_stmt *st, const struct log_filter *f)
{
	sqlite3_bind_text(st, 1, f->service, -1, SQLITE_STATIC);
	if (f->action[0] != '\0')
		sqlite3_bind_text(st, 2, f->action, -1, SQLITE_STATIC);
	if (f->job_id != 0)
		sqlite3_bind_int64(st, 3, (int64_t)f->job_id);
	if (f->restart >= 0)
		sqlite3_bind_int64(st, 4, f->restart);
}

int64_t
db_logs_start(struct db *db, const struct log_filter *f, uint32_t n)
{
	sqlite3_stmt	*st;
	char		 where[160], sql[320];
	int64_t		 id = 0;

	if (n == 0)
		return INT64_MAX;
	db_filter_sql(where, sizeof(where), f);
	(void)snprintf(sql, sizeof(sql), "SELECT id FROM logs WHERE %s"
	    " ORDER BY id DESC LIMIT 1 OFFSET ?5", where);
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db->h));
		return 0;
	}
	db_filter_bind(st, f);
	sqlite3_bind_int64(st, 5, (int64_t)n - 1);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0) - 1;
	sqlite3_finalize(st);
	return id;
}

int64_t
db_logs_max_id(struct db *db)
{
	int64_t	 v;

	if (db_scalar(db, "SELECT max(id) FROM logs", &v) == -1)
		return 0;
	return v;
}

int
db_logs_query(struct db *db, const struct log_filter *f, int64_t after,
    int64_t upto, size_t limit, int (*cb)(const struct log_row *, void *),
    void *arg, int64_t *last)
{
	struct log_row	 r;
	sqlite3_stmt	*st;
	char		 where[160], sql[384];
	int		 n = 0, rc;

	db_filter_sql(where, sizeof(where), f);
	(void)snprintf(sql, sizeof(sql), "SELECT id, ts, service, action,"
	    " job_id, restart_count, stream, line FROM logs WHERE %s"
	    " AND id > ?5%s ORDER BY id LIMIT ?7", where,
	    upto > 0 ? " AND id <= ?6" : "");
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db->h));
		return -1;
	}
	db_filter_bind(st, f);
	sqlite3_bind_int64(st, 5, after);
	if (upto > 0)
		sqlite3_bind_int64(st, 6, upto);
	sqlite3_bind_int64(st, 7, (int64_t)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r.id = sqlite3_column_int64(st, 0);
		r.ts = sqlite3_column_int64(st, 1);
		r.service = (const char *)sqlite3_column_text(st, 2);
		r.action = (const char *)sqlite3_column_text(st, 3);
		r.job_id = sqlite3_column_int64(st, 4);
		r.restart_count = sqlite3_column_int64(st, 5);
		r.stream = sqlite3_column_int(st, 6);
		r.line = sqlite3_column_blob(st, 7);
		r.len = sqlite3_column_bytes(st, 7);
		if (r.line == NULL)
			r.line = "";
		if (r.service == NULL)
			r.service = "";
		if (r.action == NULL)
			r.action = "";
		*last = r.id;
		n++;
		if (cb(&r, arg) == -1)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db->h));
		n = -1;
	}
	sqlite3_finalize(st);
	return n;
}

int64_t
db_events_start(struct db *db, uint32_t n)
{
	sqlite3_stmt	*st;
	int64_t		 id = 0;

	if (n == 0)
		return INT64_MAX;
	if (sqlite3_prepare_v2(db->h, "SELECT id FROM events"
	    " ORDER BY id DESC LIMIT 1 OFFSET ?1", -1, &st, NULL) !=
	    SQLITE_OK) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db->h));
		return 0;
	}
	sqlite3_bind_int64(st, 1, (int64_t)n - 1);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0) - 1;
	sqlite3_finalize(st);
	return id;
}

int64_t
db_events_max_id(struct db *db)
{
	int64_t	 v;

	if (db_scalar(db, "SELECT max(id) FROM events", &v) == -1)
		return 0;
	return v;
}

int
db_events_query(struct db *db, int64_t after, int64_t upto, size_t limit,
    int (*cb)(const struct event_row *, void *), void *arg, int64_t *last)
{
	struct event_row	 r;
	sqlite3_stmt		*st;
	int			 n = 0, rc;

	if (sqlite3_prepare_v2(db->h, upto > 0 ?
	    "SELECT id, ts, json FROM events WHERE id > ?1 AND id <= ?2"
	    " ORDER BY id LIMIT ?3" :
	    "SELECT id, ts, json FROM events WHERE id > ?1"
	    " ORDER BY id LIMIT ?3", -1, &st, NULL) != SQLITE_OK) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db->h));
		return -1;
	}
	sqlite3_bind_int64(st, 1, after);
	if (upto > 0)
		sqlite3_bind_int64(st, 2, upto);
	sqlite3_bind_int64(st, 3, (int64_t)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r.id = sqlite3_column_int64(st, 0);
		r.ts = sqlite3_column_int64(st, 1);
		r.json = (const char *)sqlite3_column_text(st, 2);
		r.len = sqlite3_column_bytes(st, 2);
		if (r.json == NULL)
			r.json = "";
		*last = r.id;
		n++;
		if (cb(&r, arg) == -1)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db->h));
		n = -1;
	}
	sqlite3_finalize(st);
	return n;
}
