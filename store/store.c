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
 * herod: store.  Unprivileged, chrooted into the state directory; the
 * only process that touches the SQLite database.  Everything it gets
 * from the parent is an asynchronous message: writes are queued in
 * memory and committed in one transaction every DB_FLUSH_MS (or as soon
 * as DB_FLUSH_ENTRIES are queued), so the parent never waits on disk.
 *
 * Messages are handled in the order they arrive; M_STORE_LOAD flushes
 * first, so it sees every update sent before it.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "ctl.h"
#include "herod.h"
#include "log.h"
#include "msg.h"
#include "proto.h"
#include "state.h"
#include "store.h"
#include "util.h"

struct db		*store_db;
struct event_base	*store_base;

static struct msgev	*store_parent;
static struct event	*store_flush_ev;
static struct event	*store_stats_ev;
static struct event	*store_term_ev;
static int		 store_chrooted;

static void	 store_dispatch(struct msgev *, struct msg *, void *);
static void	 store_parent_closed(struct msgev *, void *);
static void	 store_flushcb(evutil_socket_t, short, void *);
static void	 store_statscb(evutil_socket_t, short, void *);
static void	 store_termcb(evutil_socket_t, short, void *);
__attribute__((noreturn)) static void	store_exit(void);

static void
store_timer(struct event *ev, int ms)
{
	struct timeval	 tv;

	if (evtimer_pending(ev, NULL))
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

void
store_main(struct herod_env *env)
{
	struct db_action	*a;

	setproctitle("%s", "store");
	log_procinit("store");
	sandbox_die_with_parent();

	/* The parent handles ^C; we go when it closes our socket. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	/* Logs may hold secrets: the database is for the worker user. */
	umask(077);

	if ((store_base = event_base_new()) == NULL)
		fatalx("%s: event_base_new", __func__);

	/*
	 * The database is opened by a relative path from inside the state
	 * directory: that works chrooted (root) and not (user mode), and
	 * files are created by the worker user.  Nothing in it is touched
	 * as root: the directory is the worker user's (the parent checked
	 * it and the ownership of the database files).
	 */
	if (chdir(env->statedir) == -1)
		fatal("%s: chdir %s", __func__, env->statedir);
	if (geteuid() == 0)
		store_chrooted = 1;
	sandbox_drop(env, env->statedir);
	sandbox_fs_store(env, store_chrooted);
	if ((store_db = db_open(STATE_DB)) == NULL)
		fatalx("%s: cannot open %s/%s", __func__, env->statedir,
		    STATE_DB);
	sandbox_seccomp("store");

	/* Counters survive store restarts: tell the parent again. */
	for (a = db_action_first(store_db); a != NULL;
	    a = db_action_next(store_db, a))
		a->stats_dirty = 1;

	store_flush_ev = evtimer_new(store_base, store_flushcb, NULL);
	store_stats_ev = evtimer_new(store_base, store_statscb, NULL);
	store_term_ev = evsignal_new(store_base, SIGTERM, store_termcb, NULL);
	if (store_flush_ev == NULL || store_stats_ev == NULL ||
	    store_term_ev == NULL || evsignal_add(store_term_ev, NULL) == -1)
		fatalx("%s: events", __func__);

	store_parent = proto_msgev_new(store_base, WORKER_FD, PROC_STORE,
	    PROC_PARENT, 0, store_dispatch, store_parent_closed, NULL);
	if (store_parent == NULL)
		fatal("%s: msgev_new", __func__);
	if (msgev_send(store_parent, M_WORKER_READY, 0, 0, -1, NULL, 0) == -1)
		fatal("%s: send ready", __func__);
	store_timer(store_stats_ev, STATS_INTERVAL_MS);

	log_debug("%s: ready", __func__);
	event_base_dispatch(store_base);
	store_exit();
}

/* Save what we have and go. */
static void
store_exit(void)
{
	logs_shutdown();
	clients_shutdown();
	db_close(store_db);
	store_db = NULL;
	log_debug("%s: exiting", __func__);
	/*
	 * Everything is saved.  Chrooted there is no /proc, where atexit
	 * handlers such as LeakSanitizer's would fail and turn a clean
	 * exit into status 1.
	 */
	if (store_chrooted)
		_exit(0);
	exit(0);
}

static void
store_parent_closed(struct msgev *mev, void *arg)
{
	/* The parent is trusted, but a bug of its must not go unseen. */
	if (msgev_protocol_error(mev))
		fatalx("%s: bad message from the parent", __func__);
	store_parent = NULL;
	store_exit();
}

static void
store_termcb(evutil_socket_t sig, short what, void *arg)
{
	store_exit();
}

/* Something was queued: flush now if the queue is long, else soon. */
void
store_queued(void)
{
	if (db_pending(store_db) >= DB_FLUSH_ENTRIES)
		(void)db_flush(store_db);
	if (db_needs_flush(store_db))
		store_timer(store_flush_ev, DB_FLUSH_MS);
	store_timer(store_stats_ev, STATS_INTERVAL_MS);
}

static void
store_flushcb(evutil_socket_t fd, short what, void *arg)
{
	(void)db_flush(store_db);
	/* Markers of dropped lines, or a retry after a failure. */
	if (db_needs_flush(store_db))
		store_timer(store_flush_ev, DB_FLUSH_MS);
}

void
store_send_stats(struct db_action *a)
{
	struct m_log_stats	 st;

	if (store_parent == NULL)
		return;
	memset(&st, 0, sizeof(st));
	(void)strlcpy(st.service, a->service, sizeof(st.service));
	(void)strlcpy(st.action, a->action, sizeof(st.action));
	st.written = a->written;
	st.dropped = a->dropped;
	if (msgev_send(store_parent, M_LOG_STATS, 0, 0, -1, &st,
	    sizeof(st)) == -1)
		fatal("%s: send", __func__);
	a->stats_dirty = 0;
	a->stats_sent_ms = now_ms();
}

static void
store_statscb(evutil_socket_t fd, short what, void *arg)
{
	struct db_action	*a;
	int64_t			 now = now_ms();
	int			 again = 0;

	for (a = db_action_first(store_db); a != NULL;
	    a = db_action_next(store_db, a)) {
		if (!a->stats_dirty)
			continue;
		if (now - a->stats_sent_ms >= STATS_INTERVAL_MS)
			store_send_stats(a);
		else
			again = 1;
	}
	if (again)
		store_timer(store_stats_ev, STATS_INTERVAL_MS);
}

static void
store_load_service(const struct m_store_service *s, void *arg)
{
	if (msgev_send(store_parent, M_STORE_LOAD_SERVICE, 0, 0, -1, s,
	    sizeof(*s)) == -1)
		fatal("%s: send", __func__);
}

static void
store_load_job(const struct m_store_job *j, void *arg)
{
	if (msgev_send(store_parent, M_STORE_LOAD_JOB, 0, 0, -1, j,
	    sizeof(*j)) == -1)
		fatal("%s: send", __func__);
}

/*
 * Everything here passed the message table (proto_msgev_new): size, fd,
 * NUL-terminated names, sender.  A message the table refused closed the
 * channel and we died in store_parent_closed.  The values are still
 * checked before they go to the database.
 */
static void
store_check_ref(const struct m_ref *ref, const char *what)
{
	if (!config_valid_name(ref->service) ||
	    !config_valid_name(ref->action))
		fatalx("%s: %s: invalid name", __func__, what);
}

static void
store_dispatch(struct msgev *mev, struct msg *m, void *arg)
{
	struct m_store_service	 s;
	struct m_store_job	 j;
	struct m_store_logconf	 lc;
	struct m_logfd		 lf;
	struct m_store_load_done done;
	const unsigned char	*p;
	uint32_t		 i;
	int			 fd = m->fd;

	m->fd = -1;
	switch (m->hdr.type) {
	case M_STORE_SERVICE:
		proto_copy(m, &s, sizeof(s));
		if (!config_valid_name(s.name) || s.intent > INTENT_FAILED)
			fatalx("%s: M_STORE_SERVICE: invalid", __func__);
		db_service_put(store_db, &s, wall_ms());
		store_queued();
		break;
	case M_STORE_JOB:
		proto_copy(m, &j, sizeof(j));
		store_check_ref(&j.ref, "M_STORE_JOB");
		if (j.ref.job_id == 0 || j.state >= AS_MAX)
			fatalx("%s: M_STORE_JOB: invalid", __func__);
		db_job_put(store_db, &j);
		store_queued();
		break;
	case M_STORE_EVENT:
		p = m->data;
		for (i = 0; i < m->hdr.len; i++)
			if (p[i] < 0x20 || p[i] == 0x7f)
				fatalx("%s: M_STORE_EVENT: not printable",
				    __func__);
		db_event_put(store_db, wall_ms(), m->data, m->hdr.len);
		clients_event(wall_ms(), m->data, m->hdr.len);
		store_queued();
		break;
	case M_STORE_LOAD:
		if (db_load(store_db, store_load_service, store_load_job,
		    &done, NULL) == -1)
			log_warnx("%s: load incomplete", __func__);
		if (msgev_send(store_parent, M_STORE_LOAD_DONE, 0, 0, -1,
		    &done, sizeof(done)) == -1)
			fatal("%s: send", __func__);
		break;
	case M_STORE_LOGCONF:
		proto_copy(m, &lc, sizeof(lc));
		if (!config_valid_name(lc.service))
			fatalx("%s: M_STORE_LOGCONF: invalid", __func__);
		db_logconf(store_db, lc.service, lc.max_bytes,
		    lc.keep_restarts);
		store_queued();
		break;
	case M_LOGFD:
		proto_copy(m, &lf, sizeof(lf));
		store_check_ref(&lf.ref, "M_LOGFD");
		if (lf.stream != LS_STDOUT && lf.stream != LS_STDERR)
			fatalx("%s: M_LOGFD: bad stream %u", __func__,
			    lf.stream);
		logs_add_fd(&lf, fd);
		break;
	case M_STORE_CLIENT:
		/* as heroctl sent it: clients_new parses it */
		clients_new(m->data, m->hdr.len, fd);
		break;
	default:
		fatalx("%s: %s passed the table", __func__,
		    msg_type_name(m->hdr.type));
	}
}
