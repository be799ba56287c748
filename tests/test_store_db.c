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

/* Unit tests for the store's database layer (store/db.c, store/json.c). */
#include <sys/types.h>
#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>
#include <yajl/yajl_tree.h>

#include "proto.h"
#include "store.h"

static char	 tmpdir[256];
static char	 dbpath[300];

static void
rm_rf(const char *dir)
{
	char		 p[600];
	struct dirent	*de;
	DIR		*d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void
setup(void)
{
	strlcpy(tmpdir, "/tmp/test_store_db.XXXXXX", sizeof(tmpdir));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(dbpath, sizeof(dbpath), "%s/herod.db", tmpdir);
}

static void
teardown(void)
{
	rm_rf(tmpdir);
}

static int64_t
sql_int(struct db *db, const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	ck_assert_int_eq(sqlite3_prepare_v2(db_sqlite(db), sql, -1, &st,
	    NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static const char *
sql_text(struct db *db, const char *sql)
{
	static char	 buf[256];
	sqlite3_stmt	*st;

	buf[0] = '\0';
	ck_assert_int_eq(sqlite3_prepare_v2(db_sqlite(db), sql, -1, &st,
	    NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		strlcpy(buf, (const char *)sqlite3_column_text(st, 0),
		    sizeof(buf));
	sqlite3_finalize(st);
	return buf;
}

static void
mkjob(struct m_store_job *j, const char *svc, const char *act,
    uint64_t job_id, uint32_t rc, int pid)
{
	memset(j, 0, sizeof(*j));
	strlcpy(j->ref.service, svc, sizeof(j->ref.service));
	strlcpy(j->ref.action, act, sizeof(j->ref.action));
	j->ref.job_id = job_id;
	j->ref.restart_count = rc;
	j->run_id = 3;
	j->pid = pid;
	j->pgid = pid;
	j->starttime = 12345;
	j->state = 3;
	j->wstatus = -1;
	j->updated_ms = 1000;
}

/* kept + deleted + dropped == written, and kept matches the table. */
static void
check_invariant(struct db *db, struct db_action *a)
{
	char	 sql[256];
	int64_t	 rows;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM logs WHERE"
	    " service = '%s' AND action = '%s' AND stream != 0",
	    a->service, a->action);
	rows = sql_int(db, sql);
	ck_assert_int_eq(db_pending(db), 0);
	ck_assert_int_eq(rows, a->acct.stored);
	ck_assert_uint_eq(a->written,
	    a->acct.stored + a->acct.deleted + a->dropped);
}

#define NCOLLECT	1024

struct collect {
	int		 n;
	int64_t		 ids[NCOLLECT];
	uint32_t	 rcs[NCOLLECT];
	int		 streams[NCOLLECT];
	char		 lines[NCOLLECT][128];
	size_t		 lens[NCOLLECT];
	uint64_t	 bytes;
};

static int
collect_cb(const struct log_row *r, void *arg)
{
	struct collect	*c = arg;

	if (c->n < NCOLLECT) {
		c->ids[c->n] = r->id;
		c->rcs[c->n] = r->restart_count;
		c->streams[c->n] = r->stream;
		c->lens[c->n] = r->len < 127 ? r->len : 127;
		memcpy(c->lines[c->n], r->line, c->lens[c->n]);
		c->lines[c->n][c->lens[c->n]] = '\0';
	}
	c->bytes += r->len;
	c->n++;
	return 0;
}

static void
all_logs(struct db *db, const char *svc, struct collect *c)
{
	struct log_filter	 f;
	int64_t			 last = 0;

	memset(c, 0, sizeof(*c));
	memset(&f, 0, sizeof(f));
	strlcpy(f.service, svc, sizeof(f.service));
	f.restart = -1;
	ck_assert_int_ge(db_logs_query(db, &f, 0, 0, 1000000, collect_cb, c,
	    &last), 0);
}

START_TEST(test_schema_reopen)
{
	struct db		*db;
	struct m_store_service	 s;

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(sql_int(db, "SELECT value FROM meta WHERE"
	    " key = 'schema_version'"), 2);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'table' AND name IN ('services', 'jobs', 'events',"
	    " 'logs', 'log_stats', 'meta')"), 6);
	memset(&s, 0, sizeof(s));
	strlcpy(s.name, "web", sizeof(s.name));
	s.intent = INTENT_UP;
	s.run_id = 9;
	db_service_put(db, &s, 1);
	db_close(db);

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(sql_int(db, "SELECT value FROM meta WHERE"
	    " key = 'schema_version'"), 2);
	ck_assert_int_eq(sql_int(db, "SELECT run_id FROM services WHERE"
	    " name = 'web'"), 9);
	ck_assert_str_eq(sql_text(db, "PRAGMA journal_mode"), "wal");
	ck_assert_int_eq(sql_int(db, "PRAGMA synchronous"), 1);
	db_close(db);
}
END_TEST

static int	 nloaded_svc, nloaded_job;
static struct m_store_job loaded_jobs[16];

static void
load_svc(const struct m_store_service *s, void *arg)
{
	nloaded_svc++;
}

static void
load_job(const struct m_store_job *j, void *arg)
{
	if (nloaded_job < 16)
		loaded_jobs[nloaded_job] = *j;
	nloaded_job++;
}

/* A database of schema 1 (no status text, no reason) is migrated. */
START_TEST(test_schema_migrate_job_text)
{
	struct db		*db;
	struct m_store_load_done done;

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(sqlite3_exec(db_sqlite(db),
	    "ALTER TABLE jobs DROP COLUMN status_text;"
	    "ALTER TABLE jobs DROP COLUMN reason;"
	    "UPDATE meta SET value = 1 WHERE key = 'schema_version';"
	    "INSERT INTO jobs VALUES (5, 2, 'web', 'server', 0, 77, 77, 1, 1,"
	    " -1, 1);", NULL, NULL, NULL), SQLITE_OK);
	db_close(db);
	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(sql_int(db, "SELECT value FROM meta WHERE"
	    " key = 'schema_version'"), 2);
	nloaded_svc = nloaded_job = 0;
	ck_assert_int_eq(db_load(db, load_svc, load_job, &done, NULL), 0);
	ck_assert_int_eq(nloaded_job, 1);
	ck_assert_int_eq(loaded_jobs[0].pid, 77);
	ck_assert_str_eq(loaded_jobs[0].status_text, "");
	ck_assert_str_eq(loaded_jobs[0].reason, "");
	/* what the worker user may write: anything, any length */
	ck_assert_int_eq(sqlite3_exec(db_sqlite(db),
	    "UPDATE jobs SET status_text = CAST(x'00616263' AS TEXT),"
	    " reason = CAST(zeroblob(5000) AS TEXT) || 'x';", NULL, NULL,
	    NULL), SQLITE_OK);
	nloaded_svc = nloaded_job = 0;
	ck_assert_int_eq(db_load(db, load_svc, load_job, &done, NULL), 0);
	ck_assert_int_eq(nloaded_job, 1);
	ck_assert_str_eq(loaded_jobs[0].status_text, "");
	ck_assert_str_eq(loaded_jobs[0].reason, "");
	ck_assert_int_eq(sqlite3_exec(db_sqlite(db),
	    "UPDATE jobs SET reason = printf('%.*c', 9000, 'r');", NULL, NULL,
	    NULL), SQLITE_OK);
	nloaded_svc = nloaded_job = 0;
	ck_assert_int_eq(db_load(db, load_svc, load_job, &done, NULL), 0);
	ck_assert_uint_eq(strlen(loaded_jobs[0].reason),
	    sizeof(loaded_jobs[0].reason) - 1);
	db_close(db);
}
END_TEST

START_TEST(test_job_upsert)
{
	struct db		*db;
	struct m_store_job	 j;
	struct m_store_service	 s;
	struct m_store_load_done done;
	uint32_t		 rc;

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	for (rc = 0; rc < 5; rc++) {
		mkjob(&j, "web", "server", 7, rc, 100 + rc);
		snprintf(j.status_text, sizeof(j.status_text), "serving %u",
		    rc);
		strlcpy(j.reason, "probe health failing", sizeof(j.reason));
		db_job_put(db, &j);
		ck_assert_int_eq(db_flush(db), 0);
	}
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM jobs"), 1);
	ck_assert_int_eq(sql_int(db, "SELECT restart_count FROM jobs"), 4);
	ck_assert_int_eq(sql_int(db, "SELECT pid FROM jobs"), 104);

	/* An older job of the same action, stopped: not loaded. */
	mkjob(&j, "web", "server", 3, 0, 0);
	db_job_put(db, &j);
	/* An older job still running: loaded. */
	mkjob(&j, "web", "worker", 2, 0, 555);
	db_job_put(db, &j);
	/* The latest job of another action, stopped: loaded. */
	mkjob(&j, "web", "worker", 8, 1, 0);
	j.run_id = 11;
	db_job_put(db, &j);
	memset(&s, 0, sizeof(s));
	strlcpy(s.name, "web", sizeof(s.name));
	s.run_id = 4;
	db_service_put(db, &s, 1);
	db_close(db);

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	nloaded_svc = nloaded_job = 0;
	ck_assert_int_eq(db_load(db, load_svc, load_job, &done, NULL), 0);
	ck_assert_int_eq(nloaded_svc, 1);
	ck_assert_int_eq(nloaded_job, 3);
	ck_assert_uint_eq(loaded_jobs[0].ref.job_id, 2);
	ck_assert_int_eq(loaded_jobs[0].pid, 555);
	ck_assert_uint_eq(loaded_jobs[1].ref.job_id, 7);
	ck_assert_uint_eq(loaded_jobs[1].ref.restart_count, 4);
	ck_assert_str_eq(loaded_jobs[1].status_text, "serving 4");
	ck_assert_str_eq(loaded_jobs[1].reason, "probe health failing");
	ck_assert_str_eq(loaded_jobs[0].status_text, "");
	ck_assert_str_eq(loaded_jobs[1].ref.action, "server");
	ck_assert_uint_eq(loaded_jobs[1].starttime, 12345);
	ck_assert_uint_eq(loaded_jobs[2].ref.job_id, 8);
	ck_assert_uint_eq(done.max_job_id, 8);
	ck_assert_uint_eq(done.max_run_id, 11);
	db_close(db);
}
END_TEST

START_TEST(test_retention_restarts)
{
	struct db		*db;
	struct db_action	*a;
	static struct collect	 c;
	char			 line[64];
	uint32_t		 rc;
	int			 i, n;

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	db_logconf(db, "web", 1 << 20, 2);
	a = db_action_get(db, "web", "server");
	for (rc = 0; rc < 4; rc++) {
		for (i = 0; i < 10; i++) {
			n = snprintf(line, sizeof(line), "gen %u line %d", rc,
			    i);
			ck_assert_int_eq(db_log_append(db, a, 1000 + rc, 7,
			    rc, LS_STDOUT, line, n), 0);
		}
		ck_assert_int_eq(db_flush(db), 0);
		check_invariant(db, a);
	}
	all_logs(db, "web", &c);
	ck_assert_int_eq(c.n, 20);
	ck_assert_uint_eq(c.rcs[0], 2);
	ck_assert_str_eq(c.lines[0], "gen 2 line 0");
	ck_assert_uint_eq(c.rcs[19], 3);
	ck_assert_str_eq(c.lines[19], "gen 3 line 9");
	ck_assert_uint_eq(a->acct.deleted, 20);
	ck_assert_uint_eq(a->written, 40);

	/* Generations are re-read from the table at open. */
	db_close(db);
	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	a = db_action_get(db, "web", "server");
	ck_assert_uint_eq(a->written, 40);
	ck_assert_uint_eq(a->acct.ngens, 2);
	check_invariant(db, a);
	/* A lower keep_restarts applies at the next flush. */
	db_logconf(db, "web", 1 << 20, 1);
	ck_assert_int_eq(db_flush(db), 0);
	all_logs(db, "web", &c);
	ck_assert_int_eq(c.n, 10);
	ck_assert_uint_eq(c.rcs[0], 3);
	check_invariant(db, a);
	db_close(db);
}
END_TEST

START_TEST(test_retention_bytes)
{
	struct db		*db;
	struct db_action	*a, *b;
	static struct collect	 c;
	char			 line[64];
	int			 i;

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	db_logconf(db, "web", 1000, 5);
	a = db_action_get(db, "web", "server");
	b = db_action_get(db, "web", "other");
	for (i = 0; i < 100; i++) {
		snprintf(line, sizeof(line), "%049d", i);	/* 49 bytes */
		db_log_append(db, a, i, 1, 0, i % 2 ? LS_STDERR : LS_STDOUT,
		    line, 49);
		db_log_append(db, b, i, 1, 0, LS_STDOUT, line, 10);
		if (i % 7 == 0)
			ck_assert_int_eq(db_flush(db), 0);
	}
	ck_assert_int_eq(db_flush(db), 0);
	check_invariant(db, a);
	check_invariant(db, b);
	ck_assert_uint_le(a->acct.bytes, 1000);
	ck_assert_uint_eq(a->acct.bytes, 20 * 49);
	ck_assert_uint_eq(a->acct.stored, 20);
	ck_assert_uint_eq(a->acct.deleted, 80);
	ck_assert_uint_eq(b->acct.stored, 100);

	/* Oldest deleted first: what is left is the newest, in order. */
	{
		struct log_filter	 f;
		int64_t			 last = 0;

		memset(&f, 0, sizeof(f));
		strlcpy(f.service, "web", sizeof(f.service));
		strlcpy(f.action, "server", sizeof(f.action));
		f.restart = -1;
		memset(&c, 0, sizeof(c));
		ck_assert_int_eq(db_logs_query(db, &f, 0, 0, 1000, collect_cb,
		    &c, &last), 20);
		snprintf(line, sizeof(line), "%049d", 80);
		ck_assert_str_eq(c.lines[0], line);
		snprintf(line, sizeof(line), "%049d", 99);
		ck_assert_str_eq(c.lines[19], line);
		for (i = 1; i < 20; i++)
			ck_assert_int_gt(c.ids[i], c.ids[i - 1]);

		/* The last 5, then from the cursor. */
		memset(&c, 0, sizeof(c));
		last = db_logs_start(db, &f, 5);
		ck_assert_int_eq(db_logs_query(db, &f, last, 0, 1000,
		    collect_cb, &c, &last), 5);
		snprintf(line, sizeof(line), "%049d", 95);
		ck_assert_str_eq(c.lines[0], line);
	}
	db_close(db);
}
END_TEST

START_TEST(test_drop_invariant)
{
	struct db		*db;
	struct db_action	*a;
	static struct collect	 c;
	static char		 line[LOG_LINE_MAX];
	uint64_t		 dropped = 0, markers = 0;
	int			 i, j;

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	a = db_action_get(db, "flood", "main");
	memset(line, 'x', sizeof(line));
	/* 4 MiB of queue: 1000 lines of 8 KiB cannot all fit. */
	for (i = 0; i < 1000; i++)
		dropped += db_log_append(db, a, i, 1, 0, LS_STDOUT, line,
		    sizeof(line));
	ck_assert_uint_gt(dropped, 0);
	ck_assert_uint_eq(a->dropped, dropped);
	ck_assert_uint_eq(a->written, 1000);
	ck_assert_uint_le(db_pending_log_bytes(db), LOG_QUEUE_MAX);
	ck_assert_int_eq(db_flush(db), 0);
	/* The marker is queued once there is room, written next flush. */
	ck_assert_int_gt(db_pending(db), 0);
	ck_assert_int_eq(db_flush(db), 0);
	check_invariant(db, a);
	ck_assert_uint_le(a->acct.bytes, LOG_DEFAULT_MAX_BYTES);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM logs WHERE"
	    " stream = 0"), 1);

	/* More rounds: written = kept + deleted + dropped throughout. */
	for (j = 0; j < 3; j++) {
		for (i = 0; i < 700; i++)
			db_log_append(db, a, i, 1, j + 1, LS_STDERR, line,
			    i % 3 == 0 ? 5 : sizeof(line));
		ck_assert_int_eq(db_flush(db), 0);
		ck_assert_int_eq(db_flush(db), 0);
		check_invariant(db, a);
	}
	/* Markers may have been aged out by retention meanwhile. */
	markers = sql_int(db, "SELECT count(*) FROM logs WHERE stream = 0");
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM logs"),
	    a->acct.stored + markers);
	all_logs(db, "flood", &c);
	for (i = 0; i < c.n && i < NCOLLECT; i++)
		if (c.streams[i] == LS_HEROD)
			ck_assert_ptr_nonnull(strstr(c.lines[i],
			    " lines dropped"));
	/* Counters persist. */
	db_close(db);
	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	a = db_action_get(db, "flood", "main");
	check_invariant(db, a);
	ck_assert_uint_gt(a->dropped, 0);
	db_close(db);
}
END_TEST

START_TEST(test_marker_text)
{
	struct db		*db;
	struct db_action	*a;
	static struct collect	 c;
	static char		 line[LOG_LINE_MAX];
	char			 want[64];
	uint64_t		 dropped = 0;
	int			 i;

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	db_logconf(db, "m", UINT64_C(1) << 40, 5);
	a = db_action_get(db, "m", "a");
	memset(line, 'y', sizeof(line));
	for (i = 0; i < 600; i++)
		dropped += db_log_append(db, a, i, 4, 2, LS_STDOUT, line,
		    sizeof(line));
	ck_assert_uint_gt(dropped, 0);
	ck_assert_int_eq(db_flush(db), 0);
	ck_assert_int_eq(db_log_append(db, a, 9, 4, 2, LS_STDOUT, "after",
	    5), 0);
	ck_assert_int_eq(db_flush(db), 0);
	check_invariant(db, a);
	ck_assert_uint_eq(a->acct.stored, 600 - dropped + 1);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM logs WHERE"
	    " stream = 0"), 1);
	snprintf(want, sizeof(want), "%llu lines dropped",
	    (unsigned long long)dropped);
	all_logs(db, "m", &c);
	ck_assert_int_eq(c.streams[c.n - 2], LS_HEROD);
	ck_assert_str_eq(c.lines[c.n - 2], want);
	ck_assert_str_eq(c.lines[c.n - 1], "after");
	db_close(db);
}
END_TEST

/* Decode a JSON string body back to bytes: \u00XX -> one byte. */
static size_t
json_unescape(const char *s, unsigned char *out)
{
	size_t		 n = 0;
	unsigned int	 v;

	ck_assert_int_eq(*s, '"');
	for (s++; *s != '"'; s++) {
		if (*s != '\\') {
			out[n++] = *s;
			continue;
		}
		s++;
		switch (*s) {
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'u':
			ck_assert_int_eq(sscanf(s + 1, "%4x", &v), 1);
			ck_assert_uint_le(v, 0xff);
			out[n++] = v;
			s += 4;
			break;
		default:
			out[n++] = *s;
			break;
		}
	}
	return n;
}

START_TEST(test_binary_roundtrip)
{
	static const unsigned char raw[] =
	    "a\0b\xff\xfe\xc3\xa9 \"q\" \\ \x01\x7f \xed\xa0\x80"
	    " \xf0\x9f\x98\x80 \xe2\x82 \xc0\xaf \xf4\x90\x80\x80 \n\t\r end";
	size_t			 rawlen = sizeof(raw) - 1;
	struct db		*db;
	struct db_action	*a;
	static struct collect	 c;
	const char		*j, *p;
	unsigned char		 back[512];
	char			 err[256];
	size_t			 len, n;
	yajl_val		 tree, v;
	const char		*path[] = { "line", NULL };
	const char		*path2[] = { "stream", NULL };
	struct log_row		 r;

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	a = db_action_get(db, "bin", "a");
	ck_assert_int_eq(db_log_append(db, a, 5, 1, 0, LS_STDOUT, raw,
	    rawlen), 0);
	ck_assert_int_eq(db_log_append(db, a, 6, 1, 0, LS_STDOUT, "", 0), 0);
	ck_assert_int_eq(db_flush(db), 0);
	db_close(db);
	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);

	all_logs(db, "bin", &c);
	ck_assert_int_eq(c.n, 2);
	ck_assert_uint_eq(c.lens[0], rawlen);
	ck_assert_mem_eq(c.lines[0], raw, rawlen);
	ck_assert_uint_eq(c.lens[1], 0);

	memset(&r, 0, sizeof(r));
	r.ts = 5;
	r.service = "bin";
	r.action = "a";
	r.job_id = 1;
	r.stream = LS_STDOUT;
	r.line = raw;
	r.len = rawlen;
	j = log_row_json(&r, &len);
	ck_assert_int_eq(j[len - 1], '\n');
	ck_assert_uint_eq(strlen(j), len);	/* no raw NUL */
	/* Valid JSON (yajl checks UTF-8), with the expected keys. */
	tree = yajl_tree_parse(j, err, sizeof(err));
	ck_assert_msg(tree != NULL, "parse: %s: %s", err, j);
	v = yajl_tree_get(tree, path2, yajl_t_string);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(YAJL_GET_STRING(v), "stdout");
	ck_assert_ptr_nonnull(yajl_tree_get(tree, path, yajl_t_string));
	yajl_tree_free(tree);
	ck_assert_ptr_nonnull(strstr(j, "\"ts\":5,\"service\":\"bin\","
	    "\"action\":\"a\",\"job_id\":1,\"restart_count\":0,"
	    "\"stream\":\"stdout\",\"line\":\""));
	ck_assert_ptr_nonnull(strstr(j, "\\u0000"));
	ck_assert_ptr_nonnull(strstr(j, "\\u00ff\\u00fe\xc3\xa9"));
	ck_assert_ptr_nonnull(strstr(j, "\xf0\x9f\x98\x80"));
	ck_assert_ptr_nonnull(strstr(j, "\\u00ed\\u00a0\\u0080"));

	/* Every byte comes back. */
	p = strstr(j, "\"line\":") + 7;
	n = json_unescape(p, back);
	ck_assert_uint_eq(n, rawlen);
	ck_assert_mem_eq(back, raw, rawlen);

	ck_assert(utf8_valid((const unsigned char *)"\xc3\xa9", 2));
	ck_assert(!utf8_valid((const unsigned char *)"\xc3", 1));
	ck_assert(!utf8_valid((const unsigned char *)"\xed\xa0\x80", 3));

	j = dropped_json(7, 3, &len);
	ck_assert_str_eq(j, "{\"ts\":7,\"event\":\"dropped\",\"count\":3}\n");
	db_close(db);
}
END_TEST

static int
count_corrupt(void)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	ck_assert_ptr_nonnull(d = opendir(tmpdir));
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "herod.db.corrupt-", 17) == 0 &&
		    strchr(de->d_name + 17, '-') == NULL)
			n++;
	closedir(d);
	return n;
}

START_TEST(test_corrupt_garbage)
{
	struct db	*db;
	char		 junk[4096];
	int		 fd;

	memset(junk, 'Z', sizeof(junk));
	ck_assert_int_ge(fd = open(dbpath, O_WRONLY | O_CREAT, 0600), 0);
	ck_assert_int_eq(write(fd, junk, sizeof(junk)), sizeof(junk));
	close(fd);

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(count_corrupt(), 1);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM logs"), 0);
	db_close(db);
	/* The new one is fine: nothing more set aside. */
	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(count_corrupt(), 1);
	db_close(db);
}
END_TEST

START_TEST(test_corrupt_pages)
{
	struct db		*db;
	struct db_action	*a;
	char			 line[200], junk[4096];
	struct stat		 sb;
	int			 fd, i;

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	a = db_action_get(db, "web", "server");
	memset(line, 'q', sizeof(line));
	for (i = 0; i < 2000; i++)
		db_log_append(db, a, i, 1, 0, LS_STDOUT, line, sizeof(line));
	ck_assert_int_eq(db_flush(db), 0);
	ck_assert_int_eq(sqlite3_exec(db_sqlite(db),
	    "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
	db_close(db);

	/* Scribble over pages in the middle of the b-trees. */
	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_int_gt(sb.st_size, 8 * 4096);
	memset(junk, 0xa5, sizeof(junk));
	ck_assert_int_ge(fd = open(dbpath, O_WRONLY), 0);
	for (i = 2; i < 8; i++)
		ck_assert_int_eq(pwrite(fd, junk, sizeof(junk),
		    (off_t)i * 4096 + 100), sizeof(junk));
	close(fd);

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(count_corrupt(), 1);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM logs"), 0);
	db_close(db);
}
END_TEST

static int
event_cb(const struct event_row *r, void *arg)
{
	int64_t	*last = arg;

	ck_assert_int_gt(r->id, *last);
	*last = r->id;
	ck_assert_str_eq(r->json + r->len - 1, "}");
	return 0;
}

START_TEST(test_events)
{
	struct db	*db;
	char		 json[128];
	int64_t		 cur, last = 0, seen = 0, total;
	int		 i, n;

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	for (i = 0; i < DB_EVENTS_KEEP + 2 * DB_EVENTS_SLACK + 10; i++) {
		n = snprintf(json, sizeof(json),
		    "{\"ts\":%d,\"event\":\"state\",\"n\":%d}", i, i);
		db_event_put(db, i, json, n);
		if (i % 1000 == 999)
			ck_assert_int_eq(db_flush(db), 0);
	}
	ck_assert_int_eq(db_flush(db), 0);
	total = sql_int(db, "SELECT count(*) FROM events");
	ck_assert_int_ge(total, DB_EVENTS_KEEP);
	ck_assert_int_le(total, DB_EVENTS_KEEP + DB_EVENTS_SLACK);
	/* Newest kept. */
	ck_assert_int_eq(sql_int(db, "SELECT ts FROM events ORDER BY id DESC"
	    " LIMIT 1"), DB_EVENTS_KEEP + 2 * DB_EVENTS_SLACK + 9);
	cur = db_events_start(db, 3);
	ck_assert_int_eq(db_events_query(db, cur, db_events_max_id(db), 100,
	    event_cb, &seen, &last), 3);
	ck_assert_int_eq(last, db_events_max_id(db));
	db_close(db);
}
END_TEST

START_TEST(test_disk_full)
{
	struct db		*db;
	struct db_action	*a;
	struct m_store_job	 j;
	static char		 line[LOG_LINE_MAX];
	int64_t			 pages;
	char			 sql[128];
	int			 i, r = 0;

	db = db_open(dbpath);
	ck_assert_ptr_nonnull(db);
	db_logconf(db, "full", UINT64_C(1) << 40, 100);
	a = db_action_get(db, "full", "a");
	pages = sql_int(db, "PRAGMA page_count");
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
	    (long long)pages + 40);
	ck_assert_int_eq(sqlite3_exec(db_sqlite(db), sql, NULL, NULL, NULL),
	    SQLITE_OK);
	memset(line, 'f', sizeof(line));
	mkjob(&j, "full", "a", 1, 0, 42);
	db_job_put(db, &j);
	for (i = 0; i < 200; i++)
		db_log_append(db, a, i, 1, 0, LS_STDOUT, line, sizeof(line));
	/* Too big for the file: the batch's lines are dropped, counted. */
	r = db_flush(db);
	ck_assert_int_eq(r, -1);
	ck_assert_uint_eq(a->dropped, 200);
	/* Only the "200 lines dropped" marker is queued. */
	ck_assert_int_eq(db_pending(db), 1);
	ck_assert_int_lt(db_pending_log_bytes(db), 1024);
	/* The job row was retried alone and written. */
	ck_assert_int_eq(sql_int(db, "SELECT pid FROM jobs WHERE job_id = 1"),
	    42);
	ck_assert_uint_eq(a->acct.stored, 0);

	/* Some room: the marker and later lines go in. */
	ck_assert_int_eq(sqlite3_exec(db_sqlite(db),
	    "PRAGMA max_page_count = 1000000", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(db_log_append(db, a, 1, 1, 0, LS_STDOUT, "ok", 2),
	    0);
	ck_assert_int_eq(db_flush(db), 0);
	check_invariant(db, a);
	ck_assert_uint_eq(a->acct.stored, 1);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM logs WHERE"
	    " stream = 0"), 1);
	db_close(db);
}
END_TEST

static Suite *
store_db_suite(void)
{
	Suite	*s = suite_create("store_db");
	TCase	*tc = tcase_create("db");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_schema_reopen);
	tcase_add_test(tc, test_job_upsert);
	tcase_add_test(tc, test_schema_migrate_job_text);
	tcase_add_test(tc, test_retention_restarts);
	tcase_add_test(tc, test_retention_bytes);
	tcase_add_test(tc, test_drop_invariant);
	tcase_add_test(tc, test_marker_text);
	tcase_add_test(tc, test_binary_roundtrip);
	tcase_add_test(tc, test_corrupt_garbage);
	tcase_add_test(tc, test_corrupt_pages);
	tcase_add_test(tc, test_events);
	tcase_add_test(tc, test_disk_full);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(store_db_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
