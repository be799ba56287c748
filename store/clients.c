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
 * heroctl logs / events: the parent authorizes the request and passes
 * the client's socket (M_STORE_CLIENT); from then on the store answers
 * the client directly with CTL_M_DATA (JSON lines) and CTL_M_END.
 *
 * The backlog is read from the database in batches, never faster than
 * the client takes it (at most CLIENT_HIGHWAT queued), so memory does
 * not grow with the size of what is stored.  A follower (-f) then gets
 * every new line or event as it arrives, before it is committed; if it
 * does not keep up (more than CLIENT_FOLLOW_MAX queued) lines are
 * dropped for it alone and counted, and once it has drained it gets one
 * line saying how many: for logs a row with "stream":"herod" and
 * "line":"N lines dropped", for events {"ts":..,"event":"dropped",
 * "count":N}.
 *
 * Any local user may follow the events, so a non-admin uid has at most
 * CLIENTS_PER_UID clients and all non-admins together leave
 * CLIENTS_ADMIN_RESERVE of the CLIENTS_MAX to the admins (the parent
 * says who the client is, struct m_store_client).  A client counts until
 * its connection is closed: once answered it lingers while its output
 * drains, and is dropped when it reads nothing of it for CLIENT_STALL_S.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "ctl.h"
#include "log.h"
#include "msg.h"
#include "ratelim.h"
#include "store.h"
#include "util.h"

#define CLIENTS_MAX		128
#define CLIENTS_ADMIN_RESERVE	32	/* of CLIENTS_MAX, admins only */
#define CLIENTS_PER_UID		16	/* of one non-admin uid */
#define CLIENT_STALL_S		10	/* answered, reading nothing */
#define CLIENT_DEFAULT_LINES	100
#define CLIENT_BATCH		256		/* rows per query */
#define CLIENT_HIGHWAT		(1024 * 1024)	/* backlog pacing */
#define CLIENT_FOLLOW_MAX	(4 * 1024 * 1024) /* then drop */
#define CLIENT_MAXQUEUE		(16 * 1024 * 1024)
#define CLIENT_RETRY_MS		20

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct msgev		*mev;
	uint32_t		 uid;
	int			 admin;
	int			 ended;		/* answered, output drains */
	struct msgev_drain	 drain;		/* ended: taking its answer */
	uint32_t		 cmd;		/* CTL_LOGS or CTL_EVENTS */
	int			 follow;
	int			 live;		/* backlog sent */
	int			 failed;	/* a send failed */
	struct log_filter	 f;
	int64_t			 cursor;	/* last id sent */
	int64_t			 upto;		/* 0: until caught up */
	uint64_t		 dropped;	/* for this follower */
	struct event		*tick;
	size_t			 outlen;
	char			 out[CTL_DATA_CHUNK];
};
TAILQ_HEAD(clients, client);

static struct clients	 clients = TAILQ_HEAD_INITIALIZER(clients);
static size_t		 nclients;
static size_t		 nusers;	/* of them, non-admin */
static struct ratelim	 rl_clients = RATELIM_INIT(10, 10000);

static void	 client_dispatch(struct msgev *, struct msg *, void *);
static void	 client_closed(struct msgev *, void *);
static void	 client_tickcb(evutil_socket_t, short, void *);
static void	 client_free(struct client *);
static void	 client_end(struct client *, int, const char *);
static void	 client_backlog(struct client *);

static void
client_free(struct client *c)
{
	TAILQ_REMOVE(&clients, c, entry);
	nclients--;
	if (!c->admin)
		nusers--;
	if (c->tick != NULL)
		event_free(c->tick);
	if (c->mev != NULL)
		msgev_free(c->mev);
	free(c);
}

static void
client_closed(struct msgev *mev, void *arg)
{
	struct client	*c = arg;

	/* The library frees the msgev after we return. */
	c->mev = NULL;
	client_free(c);
}

static void
client_dispatch(struct msgev *mev, struct msg *m, void *arg)
{
	struct client	*c = arg;

	/* The client has nothing more to say after its request. */
	log_debug("%s: unexpected message %u, closing", __func__,
	    m->hdr.type);
	if (m->fd != -1)
		close(m->fd);
	client_free(c);
}

static void
client_arm(struct client *c, int ms)
{
	struct timeval	 tv;

	if (evtimer_pending(c->tick, NULL))
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->tick, &tv);
}

static void
client_send(struct client *c, uint32_t type, const void *data, size_t len)
{
	if (c->failed)
		return;
	if (msgev_send(c->mev, type, 0, 0, -1, data, len) == -1) {
		log_debug("%s: send: %s", __func__, strerror(errno));
		c->failed = 1;
	}
}

static void
client_out_flush(struct client *c)
{
	if (c->outlen == 0)
		return;
	client_send(c, CTL_M_DATA, c->out, c->outlen);
	c->outlen = 0;
}

/* Output bytes, in CTL_M_DATA chunks of at most CTL_DATA_CHUNK. */
static void
client_write(struct client *c, const char *p, size_t len)
{
	size_t	 take;

	while (len > 0) {
		take = sizeof(c->out) - c->outlen;
		if (take > len)
			take = len;
		memcpy(c->out + c->outlen, p, take);
		c->outlen += take;
		p += take;
		len -= take;
		if (c->outlen == sizeof(c->out))
			client_out_flush(c);
	}
}

static void
client_end(struct client *c, int code, const char *message)
{
	struct ctl_end	 end;

	client_out_flush(c);
	memset(&end, 0, sizeof(end));
	end.version = CTL_VERSION;
	end.exitcode = code;
	(void)strlcpy(end.message, message, sizeof(end.message));
	client_send(c, CTL_M_END, &end, sizeof(end));
	if (c->failed) {
		client_free(c);
		return;
	}
	/* Counted until the client has it all (or reads nothing). */
	c->ended = 1;
	c->live = 0;
	msgev_pause(c->mev, 1);
	if (msgev_drain_start(c->mev, &c->drain) == DRAIN_DONE) {
		client_free(c);
		return;
	}
	evtimer_del(c->tick);
	client_arm(c, 1000);
}

/* An answered client, once a second: gone when drained or stalled. */
static void
client_linger(struct client *c)
{
	switch (msgev_drain_tick(c->mev, &c->drain, CLIENT_STALL_S)) {
	case DRAIN_DONE:
		client_free(c);
		return;
	case DRAIN_STALLED:
		if (ratelim_ok(&rl_clients, __func__))
			log_warnx("%s: uid %u reads nothing of its answer "
			    "(%zu bytes), dropped", __func__,
			    (unsigned)c->uid, msgev_queued(c->mev));
		client_free(c);
		return;
	case DRAIN_WAIT:
		break;
	}
	client_arm(c, 1000);
}

static int
client_logcb(const struct log_row *r, void *arg)
{
	struct client	*c = arg;
	const char	*j;
	size_t		 len;

	j = log_row_json(r, &len);
	client_write(c, j, len);
	return c->failed ? -1 : 0;
}

static int
client_eventcb(const struct event_row *r, void *arg)
{
	struct client	*c = arg;

	client_write(c, r->json, r->len);
	client_write(c, "\n", 1);
	return c->failed ? -1 : 0;
}

/* The "N lines dropped" notice for a follower that has drained. */
static void
client_dropped_notice(struct client *c)
{
	struct log_row	 r;
	const char	*j;
	char		 text[64];
	size_t		 len;
	int		 n;

	if (c->cmd == CTL_EVENTS)
		j = dropped_json(wall_ms(), c->dropped, &len);
	else {
		n = snprintf(text, sizeof(text), "%" PRIu64 " lines dropped",
		    c->dropped);
		memset(&r, 0, sizeof(r));
		r.ts = wall_ms();
		r.service = c->f.service;
		r.action = c->f.action;
		r.stream = LS_HEROD;
		r.line = text;
		r.len = n;
		j = log_row_json(&r, &len);
	}
	client_write(c, j, len);
	c->dropped = 0;
}

/*
 * Send stored rows until the client's queue is full (then retry from the
 * timer) or everything is sent: then end, or go live when following.
 */
static void
client_backlog(struct client *c)
{
	int	 n, flushed = 0;

	for (;;) {
		if (msgev_queued(c->mev) >= CLIENT_HIGHWAT) {
			client_arm(c, CLIENT_RETRY_MS);
			return;
		}
		if (c->cmd == CTL_LOGS)
			n = db_logs_query(store_db, &c->f, c->cursor, c->upto,
			    CLIENT_BATCH, client_logcb, c, &c->cursor);
		else
			n = db_events_query(store_db, c->cursor, c->upto,
			    CLIENT_BATCH, client_eventcb, c, &c->cursor);
		client_out_flush(c);
		if (c->failed) {
			client_free(c);
			return;
		}
		if (n == -1) {
			client_end(c, EXIT_FAILED, "cannot read the database");
			return;
		}
		if (n == CLIENT_BATCH)
			continue;
		if (!c->follow) {
			client_end(c, EXIT_OK, "");
			return;
		}
		/* Commit what was read meanwhile, then catch up with it. */
		if (!flushed && db_pending(store_db) > 0) {
			(void)db_flush(store_db);
			flushed = 1;
			continue;
		}
		c->live = 1;
		return;
	}
}

static void
client_tickcb(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;

	if (c->ended) {
		client_linger(c);
		return;
	}
	if (!c->live) {
		client_backlog(c);
		return;
	}
	if (c->dropped > 0) {
		if (msgev_queued(c->mev) >= CLIENT_HIGHWAT) {
			client_arm(c, CLIENT_RETRY_MS);
			return;
		}
		client_dropped_notice(c);
	}
	client_out_flush(c);
	if (c->failed)
		client_free(c);
}

/*
 * May a live line or event go to this follower?  -1 dropped, 0 yes,
 * 1 yes after the dropped notice (which reused the JSON buffer).
 */
static int
client_push_ok(struct client *c)
{
	size_t	 q = msgev_queued(c->mev) + c->outlen;

	if (c->failed)
		return -1;
	if (q >= CLIENT_FOLLOW_MAX || (c->dropped > 0 &&
	    q >= CLIENT_HIGHWAT)) {
		c->dropped++;
		client_arm(c, CLIENT_RETRY_MS);
		return -1;
	}
	if (c->dropped == 0)
		return 0;
	client_dropped_notice(c);
	return 1;
}

void
clients_log_line(const struct log_row *r)
{
	struct client	*c;
	const char	*j = NULL;
	size_t		 len = 0;
	int		 ok;

	TAILQ_FOREACH(c, &clients, entry) {
		if (c->cmd != CTL_LOGS || !c->live ||
		    !log_filter_match(&c->f, r))
			continue;
		if ((ok = client_push_ok(c)) == -1)
			continue;
		if (j == NULL || ok == 1)
			j = log_row_json(r, &len);
		client_write(c, j, len);
		client_arm(c, 0);
	}
}

void
clients_event(int64_t ts, const char *json, size_t len)
{
	struct client	*c;

	TAILQ_FOREACH(c, &clients, entry) {
		if (c->cmd != CTL_EVENTS || !c->live)
			continue;
		if (client_push_ok(c) == -1)
			continue;
		client_write(c, json, len);
		client_write(c, "\n", 1);
		client_arm(c, 0);
	}
}

/* Check the request: struct ctl_request, then nnames names. */
static const char *
client_parse(struct client *c, const unsigned char *data, size_t len,
    struct ctl_request *req, const char **name)
{
	const char	*p;
	size_t		 left, l;
	uint32_t	 i;

	*name = NULL;
	if (len < sizeof(*req))
		return "short request";
	memcpy(req, data, sizeof(*req));
	if (req->version != CTL_VERSION)
		return "protocol version mismatch";
	if (req->cmd != CTL_LOGS && req->cmd != CTL_EVENTS)
		return "not a logs or events request";
	proto_terminate(req->action);
	if (req->action[0] != '\0' && !config_valid_name(req->action))
		return "invalid action name";
	if (req->restart < -1)
		return "invalid restart";
	p = (const char *)data + sizeof(*req);
	left = len - sizeof(*req);
	if (left > CTL_MAX_NAMES_LEN || req->nnames > left)
		return "invalid names";
	for (i = 0; i < req->nnames; i++) {
		if ((l = strnlen(p, left)) == left)
			return "name not terminated";
		if (!config_valid_name(p))
			return "invalid service name";
		if (*name == NULL)
			*name = p;
		p += l + 1;
		left -= l + 1;
	}
	if (left != 0)
		return "trailing bytes after the names";
	if (req->cmd == CTL_LOGS && req->nnames != 1)
		return "logs takes exactly one service";
	return NULL;
}

static size_t
clients_of(uint32_t uid)
{
	struct client	*c;
	size_t		 n = 0;

	TAILQ_FOREACH(c, &clients, entry)
		if (c->uid == uid)
			n++;
	return n;
}

/*
 * M_STORE_CLIENT: fd is the heroctl connection; we own it.  data is
 * struct m_store_client, then the request as heroctl sent it.
 */
void
clients_new(const void *data, size_t len, int fd)
{
	struct m_store_client	 sc;
	struct ctl_request	 req;
	struct client		*c;
	const char		*err, *name, *full = NULL;
	uint32_t		 lines;

	if (len < sizeof(sc))
		fatalx("%s: M_STORE_CLIENT: short", __func__);
	memcpy(&sc, data, sizeof(sc));
	if (sc.admin > 1)
		fatalx("%s: M_STORE_CLIENT: invalid", __func__);
	data = (const unsigned char *)data + sizeof(sc);
	len -= sizeof(sc);
	if (nclients >= CLIENTS_MAX)
		full = "too many log clients";
	else if (!sc.admin && (nusers >= CLIENTS_MAX - CLIENTS_ADMIN_RESERVE
	    || clients_of(sc.uid) >= CLIENTS_PER_UID))
		full = "too many log clients of this user";

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s", __func__);
		close(fd);
		return;
	}
	c->mev = msgev_new(store_base, fd, CTL_MAX_REQUEST, CLIENT_MAXQUEUE,
	    client_dispatch, client_closed, c);
	c->tick = evtimer_new(store_base, client_tickcb, c);
	if (c->mev == NULL || c->tick == NULL) {
		log_warnx("%s: cannot set up the connection", __func__);
		if (c->mev != NULL)
			msgev_free(c->mev);
		else
			close(fd);
		if (c->tick != NULL)
			event_free(c->tick);
		free(c);
		return;
	}
	c->uid = sc.uid;
	c->admin = sc.admin;
	TAILQ_INSERT_TAIL(&clients, c, entry);
	nclients++;
	if (!c->admin)
		nusers++;

	if (full != NULL) {
		if (ratelim_ok(&rl_clients, __func__))
			log_warnx("%s: uid %u refused: %s", __func__,
			    (unsigned)sc.uid, full);
		client_end(c, EXIT_FAILED, full);
		return;
	}
	if ((err = client_parse(c, data, len, &req, &name)) != NULL) {
		if (ratelim_ok(&rl_clients, __func__))
			log_warnx("%s: bad request: %s", __func__, err);
		client_end(c, EXIT_USAGE, err);
		return;
	}
	c->cmd = req.cmd;
	c->follow = (req.flags & CTLF_FOLLOW) != 0;
	lines = req.lines != 0 ? req.lines : CLIENT_DEFAULT_LINES;

	/* Everything received so far is visible to the query. */
	(void)db_flush(store_db);
	if (c->cmd == CTL_LOGS) {
		(void)strlcpy(c->f.service, name, sizeof(c->f.service));
		(void)strlcpy(c->f.action, req.action, sizeof(c->f.action));
		c->f.restart = req.restart;
		if (req.restart >= 0)
			c->f.job_id = db_logs_newest_job(store_db,
			    c->f.service, c->f.action);
		c->cursor = db_logs_start(store_db, &c->f, lines);
		c->upto = c->follow ? 0 : db_logs_max_id(store_db);
	} else {
		c->cursor = db_events_start(store_db, lines);
		c->upto = c->follow ? 0 : db_events_max_id(store_db);
	}
	if (!c->follow && c->upto == 0) {
		/* Nothing stored at all. */
		client_end(c, EXIT_OK, "");
		return;
	}
	client_backlog(c);
}

void
clients_shutdown(void)
{
	struct client	*c;

	while ((c = TAILQ_FIRST(&clients)) != NULL)
		client_free(c);
}
