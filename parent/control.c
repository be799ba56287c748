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
 * The control socket: heroctl connects, is identified by SO_PEERCRED,
 * sends one request and gets CTL_M_DATA + CTL_M_END back.  Admins (uid 0,
 * herod's uid, members of -G group) may do everything; others may only
 * list, status, events and version.  A bad request closes only that
 * connection.
 *
 * Any local user may connect, so what a connection costs is bounded: a
 * connection counts against its uid until it is closed, not until it is
 * answered (an answer the client does not read stays queued here); a
 * non-admin uid has at most CLIENTS_PER_UID, all non-admins together
 * leave a quarter of the connections to admins, and the unread output
 * of non-admins is bounded per uid and in total (beyond it a request is
 * refused with a short error).  A client that reads nothing of its
 * answer for CLIENT_STALL_S is dropped; one that sends no request
 * within CLIENT_REQUEST_S too.  Out of descriptors (EMFILE), accepting
 * goes on with a descriptor kept in reserve: an admin is served with
 * it, anyone else is closed at once, and when even that is not possible
 * accepting pauses until a descriptor is freed or ACCEPT_RETRY_MS pass;
 * it never spins.  Names in a request are deduplicated, and a status
 * asked by a non-admin runs the probes of a service afresh at most once
 * per PROBE_FRESH_MS, whoever asks: others share the run in progress or
 * get the last result.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/tree.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <yajl/yajl_gen.h>

#include "build_config.h"
#include "herod.h"
#include "log.h"
#include "msg.h"
#include "parent.h"
#include "ratelim.h"
#include "util.h"

#define CLIENTS_MAX		512	/* connections, at most */
#define CLIENTS_PER_UID		32	/* of one non-admin uid */
#define FD_HEADROOM		64	/* descriptors left for the rest */
#define CLIENT_QUEUE_MAX	(64 * 1024 * 1024)	/* one connection */
#define UID_QUEUE_MAX		(4 * 1024 * 1024)	/* unread, per uid */
#define USERS_QUEUE_MAX		(16 * 1024 * 1024)	/* all non-admins */
#define CLIENT_REQUEST_S	10	/* to send the request */
#define CLIENT_STALL_S		10	/* reading nothing of the answer */
#define ACCEPT_BATCH		64	/* connections per wakeup */
#define ACCEPT_RETRY_MS		200	/* paused at EMFILE */
#define PROBE_FRESH_MS		1000	/* fresh probe runs of a service */
#define WAIT_DEFAULT_S		90
#define NAMES_MAX		4096

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct msgev		*mev;
	uid_t			 uid;
	pid_t			 pid;
	int			 admin;
	int			 done;		/* answered, output queued */
	int			 got_request;
	struct msgev_drain	 drain;		/* done: taking its answer */
	struct ctl_request	 req;
	char			**names;
	size_t			 nnames;
	int			 waiting;	/* WAIT_* */
#define WAIT_NO		0
#define WAIT_YES	1
#define WAIT_TIMEOUT	2
#define WAIT_NOWAIT	3
	void			*deferred;	/* request kept until started */
	size_t			 deferred_len;
	uint32_t		*runs;		/* status: probe runs awaited */
	size_t			 nruns;
	int			 probes_pending;
	struct event		*ev_timer;
};
static TAILQ_HEAD(, client) clients = TAILQ_HEAD_INITIALIZER(clients);
static size_t		 nclients;
static size_t		 nusers;	/* of them, non-admin */
static size_t		 clients_max;	/* from RLIMIT_NOFILE */
static size_t		 users_max;
static size_t		 per_uid_max;
static int		 ctl_fd = -1;
static int		 reserve_fd = -1;	/* for EMFILE */
static int		 accept_paused;
static struct event	*ev_accept;
static struct event	*ev_accept_retry;
static char		 ctl_path[PATH_MAX];
static gid_t		 admin_gid;
static int		 have_admin_gid;

/* The last fresh probe run of a service asked for by status. */
struct fresh {
	RB_ENTRY(fresh)		 entry;
	char			 service[NAME_BUF];
	uint32_t		 seq;		/* run in progress, 0 none */
	int64_t			 started_ms;
};
RB_HEAD(fresh_tree, fresh);
static int	fresh_cmp(struct fresh *, struct fresh *);
RB_PROTOTYPE(fresh_tree, fresh, entry, fresh_cmp);
RB_GENERATE(fresh_tree, fresh, entry, fresh_cmp);
static struct fresh_tree fresh_runs = RB_INITIALIZER(&fresh_runs);

/* Log lines any local user can cause. */
static struct ratelim	 rl_refused = RATELIM_INIT(10, 10000);
static struct ratelim	 rl_accept = RATELIM_INIT(10, 10000);
static struct ratelim	 rl_output = RATELIM_INIT(10, 10000);

static void	client_free(struct client *);
static void	client_reply_status(struct client *);
static void	client_run(struct client *, void *, size_t);
static void	client_timer(struct client *, uint32_t);
static void	accept_resume(void);
static void	reserve_refill(void);

static int
fresh_cmp(struct fresh *a, struct fresh *b)
{
	return strcmp(a->service, b->service);
}

static void
client_send_data(struct client *c, const void *buf, size_t len)
{
	const char	*p = buf;
	size_t		 n;

	while (len > 0) {
		n = len > CTL_DATA_CHUNK ? CTL_DATA_CHUNK : len;
		if (msgev_send(c->mev, CTL_M_DATA, 0, 0, -1, p, n) == -1)
			return;
		p += n;
		len -= n;
	}
}

static void
client_end(struct client *c, int code, const char *fmt, ...)
{
	struct ctl_end	 e;
	va_list		 ap;

	if (c->done)
		return;
	memset(&e, 0, sizeof(e));
	e.version = CTL_VERSION;
	e.exitcode = code;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(e.message, sizeof(e.message), fmt, ap);
		va_end(ap);
	}
	c->done = 1;
	c->probes_pending = 0;
	if (c->ev_timer != NULL)
		evtimer_del(c->ev_timer);
	msgev_send(c->mev, CTL_M_END, 0, 0, -1, &e, sizeof(e));
	/* Nothing more to read; counted until the output is taken. */
	msgev_pause(c->mev, 1);
	if (msgev_drain_start(c->mev, &c->drain) == DRAIN_DONE) {
		client_free(c);
		return;
	}
	client_timer(c, 1);
}

/* A done client: closed once its output has gone or it reads nothing. */
static void
client_linger(struct client *c)
{
	switch (msgev_drain_tick(c->mev, &c->drain, CLIENT_STALL_S)) {
	case DRAIN_DONE:
		client_free(c);
		return;
	case DRAIN_STALLED:
		if (ratelim_ok(&rl_output, __func__))
			log_warnx("%s: uid %u pid %d reads nothing of its "
			    "answer (%zu bytes), dropped", __func__,
			    (unsigned)c->uid, (int)c->pid,
			    msgev_queued(c->mev));
		client_free(c);
		return;
	case DRAIN_WAIT:
		break;
	}
	client_timer(c, 1);
}

/*
 * Output the non-admins have not read yet: of uid (excluding c), and of
 * all of them.
 */
static void
users_queued(struct client *c, size_t *of_uid, size_t *all)
{
	struct client	*o;
	size_t		 q;

	*of_uid = *all = 0;
	TAILQ_FOREACH(o, &clients, entry) {
		if (o == c || o->admin || o->mev == NULL)
			continue;
		q = msgev_queued(o->mev);
		*all += q;
		if (o->uid == c->uid)
			*of_uid += q;
	}
}

static void
client_gen_end(struct client *c, yajl_gen g, int code, const char *msg)
{
	const unsigned char	*buf;
	size_t			 len, of_uid, all;

	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		len = 0;
	if (!c->admin && len > 0) {
		/* One answer goes whatever its size if nothing waits. */
		users_queued(c, &of_uid, &all);
		if ((of_uid > 0 && of_uid + len > UID_QUEUE_MAX) ||
		    (all > 0 && all + len > USERS_QUEUE_MAX)) {
			yajl_gen_free(g);
			if (ratelim_ok(&rl_output, __func__))
				log_warnx("%s: uid %u has %zu bytes unread "
				    "(all users %zu), request refused",
				    __func__, (unsigned)c->uid, of_uid, all);
			client_end(c, EXIT_FAILED, "too much output not yet "
			    "read by uid %u (or by all users): try again "
			    "later", (unsigned)c->uid);
			return;
		}
	}
	if (len > 0) {
		client_send_data(c, buf, len);
		client_send_data(c, "\n", 1);
	}
	yajl_gen_free(g);
	client_end(c, code, msg && *msg ? "%s" : NULL, msg);
}

static void
client_free(struct client *c)
{
	size_t	 i;

	TAILQ_REMOVE(&clients, c, entry);
	nclients--;
	if (!c->admin)
		nusers--;
	if (c->ev_timer != NULL)
		event_free(c->ev_timer);
	for (i = 0; i < c->nnames; i++)
		free(c->names[i]);
	free(c->names);
	free(c->runs);
	free(c->deferred);
	if (c->mev != NULL)
		msgev_free(c->mev);
	free(c);
	/* a descriptor is free (or soon is): accept again */
	reserve_refill();
	accept_resume();
}

static int
peer_is_admin(uid_t uid)
{
	struct passwd	*pw;
	gid_t		 groups[256];
	int		 n = nitems(groups), i;

	if (uid == 0 || uid == geteuid())
		return 1;
	if (!have_admin_gid || (pw = getpwuid(uid)) == NULL)
		return 0;
	if (pw->pw_gid == admin_gid)
		return 1;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (groups[i] == admin_gid)
			return 1;
	return 0;
}

static yajl_gen
gen_new(void)
{
	yajl_gen	 g;

	if ((g = yajl_gen_alloc(NULL)) == NULL)
		fatalx("%s: yajl_gen_alloc", __func__);
	return g;
}

static void
cmd_list(struct client *c)
{
	yajl_gen	 g = gen_new();
	struct svc	*s;

	yajl_gen_map_open(g);
	gen_str(g, "services");
	yajl_gen_array_open(g);
	RB_FOREACH(s, svc_tree, &pt.svcs)
		status_service(g, s);
	yajl_gen_array_close(g);
	status_workers(g);
	yajl_gen_map_close(g);
	client_gen_end(c, g, EXIT_OK, NULL);
}

static void
client_reply_status(struct client *c)
{
	yajl_gen	 g = gen_new();
	struct svc	*s;
	size_t		 i;
	int		 code = EXIT_OK;

	yajl_gen_map_open(g);
	gen_str(g, "services");
	yajl_gen_array_open(g);
	for (i = 0; i < c->nnames; i++) {
		if ((s = svc_find(c->names[i])) == NULL) {
			code = EXIT_FAILED;
			continue;
		}
		status_service(g, s);
		if (s->state != SS_RUNNING)
			code = EXIT_FAILED;
	}
	yajl_gen_array_close(g);
	status_workers(g);
	yajl_gen_map_close(g);
	client_gen_end(c, g, code, NULL);
}

static void
timer_cb(int fd, short ev, void *arg)
{
	struct client	*c = arg;

	if (c->done) {
		client_linger(c);
		return;
	}
	if (!c->got_request) {
		client_end(c, EXIT_USAGE, "no request within %d seconds",
		    CLIENT_REQUEST_S);
		return;
	}
	if (c->req.cmd == CTL_STATUS) {
		client_reply_status(c);
		return;
	}
	/* start/stop wait timed out: answer with what there is */
	c->waiting = WAIT_TIMEOUT;
	control_state_changed(NULL);
}

static void
client_timer(struct client *c, uint32_t secs)
{
	struct timeval	 tv = { secs, 0 };

	if (c->ev_timer == NULL &&
	    (c->ev_timer = evtimer_new(pt.base, timer_cb, c)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	evtimer_add(c->ev_timer, &tv);
}

static struct fresh *
fresh_get(const char *service)
{
	struct fresh	 key, *f;

	strlcpy(key.service, service, sizeof(key.service));
	if ((f = RB_FIND(fresh_tree, &fresh_runs, &key)) != NULL)
		return f;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	strlcpy(f->service, service, sizeof(f->service));
	RB_INSERT(fresh_tree, &fresh_runs, f);
	return f;
}

/* Forget the runs that are over and too old to matter. */
static void
fresh_expire(int64_t now)
{
	struct fresh	*f, *next;

	RB_FOREACH_SAFE(f, fresh_tree, &fresh_runs, next) {
		if (f->seq != 0 && svc_find(f->service) != NULL)
			continue;
		if (f->seq == 0 && now - f->started_ms < PROBE_FRESH_MS)
			continue;
		RB_REMOVE(fresh_tree, &fresh_runs, f);
		free(f);
	}
}

/*
 * Run the probes of the named services afresh, or share a run in
 * progress; a non-admin gets the last result of a run started less than
 * PROBE_FRESH_MS ago.  The answer comes when all runs waited for are
 * done, or at the longest probe timeout.
 */
static void
cmd_status(struct client *c)
{
	struct m_probe_now	 pn;
	struct svc		*s;
	struct fresh		*f;
	uint32_t		 wait_ms = 0, svc_wait;
	int64_t			 now = now_ms();
	size_t			 i, j;

	fresh_expire(now);
	if ((c->runs = calloc(c->nnames + 1, sizeof(*c->runs))) == NULL) {
		client_end(c, EXIT_FAILED, "out of memory");
		return;
	}
	for (i = 0; i < c->nnames; i++) {
		s = svc_find(c->names[i]);
		if (s == NULL || s->nprobes == 0 || !proc_ready(PROC_PROBER))
			continue;
		if ((f = fresh_get(s->name)) == NULL)
			continue;
		svc_wait = 0;
		for (j = 0; j < s->nprobes; j++)
			if (s->probes[j].conf->timeout_ms > svc_wait)
				svc_wait = s->probes[j].conf->timeout_ms;
		if (svc_wait > wait_ms)
			wait_ms = svc_wait;
		/* a run never reported is given up after its timeout */
		if (f->seq != 0 && now - f->started_ms > svc_wait + 3000)
			f->seq = 0;
		if (f->seq == 0) {
			if (!c->admin && f->started_ms != 0 &&
			    now - f->started_ms < PROBE_FRESH_MS)
				continue;	/* the last result will do */
			memset(&pn, 0, sizeof(pn));
			strlcpy(pn.service, s->name, sizeof(pn.service));
			if (++pt.probe_seq == 0)
				++pt.probe_seq;
			pn.seq = pt.probe_seq;
			if (proc_send(PROC_PROBER, M_PROBE_NOW, -1, &pn,
			    sizeof(pn)) == -1)
				continue;
			f->seq = pn.seq;
			f->started_ms = now;
		}
		c->runs[c->nruns++] = f->seq;
		c->probes_pending++;
	}
	if (c->probes_pending == 0) {
		client_reply_status(c);
		return;
	}
	client_timer(c, wait_ms / 1000 + 3);
}

void
control_probe_done(const struct m_probe_now *pn)
{
	struct client	*c, *next;
	struct fresh	 key, *f;
	size_t		 i;

	if (pn->seq == 0)
		return;
	strlcpy(key.service, pn->service, sizeof(key.service));
	if ((f = RB_FIND(fresh_tree, &fresh_runs, &key)) != NULL &&
	    f->seq == pn->seq)
		f->seq = 0;
	TAILQ_FOREACH_SAFE(c, &clients, entry, next) {
		if (c->done || c->req.cmd != CTL_STATUS ||
		    c->probes_pending <= 0)
			continue;
		for (i = 0; i < c->nruns; i++) {
			if (c->runs[i] != pn->seq)
				continue;
			c->runs[i] = 0;
			if (--c->probes_pending <= 0)
				client_reply_status(c);
			break;
		}
	}
}

void
control_worker_lost(enum proc_id id)
{
	struct client	*c, *next;
	struct fresh	*f;

	if (id != PROC_PROBER)
		return;
	RB_FOREACH(f, fresh_tree, &fresh_runs)
		f->seq = 0;
	TAILQ_FOREACH_SAFE(c, &clients, entry, next)
		if (!c->done && c->req.cmd == CTL_STATUS &&
		    c->probes_pending > 0)
			client_reply_status(c);
}

/* 1 done ok, 0 pending, -1 done failed */
static int
wait_outcome(struct client *c, struct svc *s)
{
	switch (c->req.cmd) {
	case CTL_STOP:
		if (s->state == SS_STOPPED || (s->state == SS_FAILED &&
		    s->intent != INTENT_UP))
			return 1;
		return 0;
	default:
		if (s->state == SS_RUNNING)
			return 1;
		/* an action that exited while it started is a failed start */
		if (svc_in_backoff(s))
			return -1;
		if (s->state == SS_FAILED ||
		    (s->state == SS_STOPPED && s->intent == INTENT_UP))
			return -1;
		if (s->state == SS_STOPPED && !s->replacing)
			return -1;
		return 0;
	}
}

static void
wait_check(struct client *c)
{
	yajl_gen	 g;
	struct svc	*s;
	char		 msg[1024];
	size_t		 i, ml = 0;
	int		 r, pending = 0, failed = 0;

	for (i = 0; i < c->nnames; i++) {
		if ((s = svc_find(c->names[i])) == NULL)
			continue;
		if ((r = wait_outcome(c, s)) == 0)
			pending = 1;
		if (r == -1)
			failed = 1;
	}
	if (pending && c->waiting == WAIT_YES)
		return;
	if (c->waiting == WAIT_NOWAIT)
		pending = 0;
	g = gen_new();
	msg[0] = '\0';
	yajl_gen_map_open(g);
	gen_str(g, "results");
	yajl_gen_array_open(g);
	for (i = 0; i < c->nnames; i++) {
		const char *st = "removed", *why = "";

		if ((s = svc_find(c->names[i])) != NULL) {
			st = service_state_name(s->state);
			why = s->reason;
			r = wait_outcome(c, s);
			/* --no-wait: only a failure is worth a message */
			if (r != 1 && !(r == 0 && c->waiting == WAIT_NOWAIT) &&
			    ml < sizeof(msg))
				ml += snprintf(msg + ml, sizeof(msg) - ml,
				    "%s%s: %s%s%s%s", ml ? "; " : "",
				    s->name, r == 0 ? "timeout, still " : "",
				    st, *why ? ": " : "", why);
		}
		yajl_gen_map_open(g);
		gen_kv(g, "name", c->names[i]);
		gen_kv(g, "state", st);
		gen_kv(g, "reason", why);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	client_gen_end(c, g, (pending || failed) ? EXIT_FAILED : EXIT_OK,
	    msg);
}

void
control_state_changed(struct svc *changed)
{
	struct client	*c, *next;

	herod_status_changed();
	TAILQ_FOREACH_SAFE(c, &clients, entry, next)
		if (!c->done && c->waiting)
			wait_check(c);
}

static int
client_named(struct client *c, const char *name)
{
	size_t	 i;

	for (i = 0; i < c->nnames; i++)
		if (strcmp(c->names[i], name) == 0)
			return 1;
	return 0;
}

/*
 * A start or restart of a service whose "after" names a service that is
 * stopped or failed, and not started by the same request, would wait
 * for it in vain: refused at once, naming it (after orders, it does not
 * pull in).  0 or -1 with msg.
 */
static int
deps_stopped(struct client *c, char *msg, size_t len)
{
	struct svc	*s, *d;
	size_t		 i, j, ml = 0;

	msg[0] = '\0';
	for (i = 0; i < c->nnames; i++) {
		if ((s = svc_find(c->names[i])) == NULL)
			continue;
		if (c->req.cmd == CTL_START && s->intent == INTENT_UP &&
		    s->state != SS_FAILED && s->state != SS_STOPPED)
			continue;	/* on its way already */
		for (j = 0; j < s->conf->after.n; j++) {
			d = svc_find(s->conf->after.v[j]);
			if (d == NULL || client_named(c, d->name))
				continue;
			if (d->intent == INTENT_UP && d->state != SS_FAILED &&
			    d->state != SS_STOPPED)
				continue;
			if (ml < len)
				ml += snprintf(msg + ml, len - ml, "%s%s: "
				    "waits for %s, which is %s; start it too",
				    ml ? "; " : "", s->name, d->name,
				    d->intent == INTENT_UP || d->state ==
				    SS_FAILED ? service_state_name(d->state) :
				    "stopped");
		}
	}
	return ml > 0 ? -1 : 0;
}

static void
cmd_lifecycle(struct client *c)
{
	struct svc	*s;
	size_t		 i;

	for (i = 0; i < c->nnames; i++) {
		s = svc_find(c->names[i]);
		switch (c->req.cmd) {
		case CTL_START:
			svc_start(s);
			break;
		case CTL_STOP:
			svc_stop(s);
			break;
		default:
			svc_restart(s);
			break;
		}
	}
	c->waiting = (c->req.flags & CTLF_NOWAIT) ? WAIT_NOWAIT : WAIT_YES;
	client_timer(c, c->req.timeout_s ? c->req.timeout_s : WAIT_DEFAULT_S);
	wait_check(c);
}

static int
reset_selected(struct client *c, struct svc *s)
{
	size_t	 i;

	if (c->nnames == 0)
		return 1;
	for (i = 0; i < c->nnames; i++)
		if (strcmp(c->names[i], s->name) == 0)
			return 1;
	return 0;
}

/* Restart failed and degraded services (all with --force), decided
 * from the states before any restart. */
static void
cmd_reset_failed(struct client *c)
{
	yajl_gen	  g = gen_new();
	struct svc	 *s, **todo;
	size_t		  n = 0, i;

	if ((todo = calloc(pt.nsvcs + 1, sizeof(*todo))) == NULL) {
		yajl_gen_free(g);
		client_end(c, EXIT_FAILED, "out of memory");
		return;
	}
	yajl_gen_map_open(g);
	gen_str(g, "left_alone");
	yajl_gen_array_open(g);
	RB_FOREACH(s, svc_tree, &pt.svcs) {
		if (!reset_selected(c, s))
			continue;
		if (s->state == SS_FAILED || s->state == SS_DEGRADED ||
		    svc_in_backoff(s) || (c->req.flags & CTLF_FORCE)) {
			todo[n++] = s;
			continue;
		}
		yajl_gen_map_open(g);
		gen_kv(g, "name", s->name);
		gen_kv(g, "state", service_state_name(s->state));
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gen_str(g, "restarted");
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++)
		gen_str(g, todo[i]->name);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	for (i = 0; i < n; i++)
		svc_restart(todo[i]);
	free(todo);
	client_gen_end(c, g, EXIT_OK, NULL);
}

static void
cmd_reload(struct client *c)
{
	yajl_gen	 g = gen_new();
	char		 err[1024];

	if (reload_config(g, err, sizeof(err)) == -1) {
		yajl_gen_free(g);
		client_end(c, EXIT_FAILED, "reload failed, nothing applied:"
		    "\n%s", err);
		return;
	}
	client_gen_end(c, g, EXIT_OK, NULL);
}

static void
cmd_handoff(struct client *c, const void *data, size_t len)
{
	static unsigned char	 buf[CTL_MAX_REQUEST];
	struct m_store_client	 sc;
	int			 fd;

	if (!proc_ready(PROC_STORE)) {
		client_end(c, EXIT_FAILED, "the store is restarting, try "
		    "again");
		return;
	}
	/* the store caps its clients by uid, keeping room for admins */
	if (len > CTL_MAX_REQUEST - sizeof(sc)) {
		client_end(c, EXIT_USAGE, "request too long");
		return;
	}
	memset(&sc, 0, sizeof(sc));
	sc.uid = c->uid;
	sc.admin = c->admin ? 1 : 0;
	memcpy(buf, &sc, sizeof(sc));
	memcpy(buf + sizeof(sc), data, len);
	if (c->req.flags & CTLF_FOLLOW) {
		/*
		 * An empty CTL_M_DATA: the request is accepted, so heroctl
		 * ends its bound on the first answer and follows.  It goes
		 * out before the store may write to the connection.
		 */
		msgev_send(c->mev, CTL_M_DATA, 0, 0, -1, NULL, 0);
		msgev_flush(c->mev);
		if (msgev_queued(c->mev) != 0) {
			client_end(c, EXIT_FAILED, "cannot answer");
			return;
		}
	}
	if ((fd = dup(msgchan_fd(msgev_chan(c->mev)))) == -1) {
		client_end(c, EXIT_FAILED, "dup: %s", strerror(errno));
		return;
	}
	if (proc_send(PROC_STORE, M_STORE_CLIENT, fd, buf,
	    sizeof(sc) + len) == -1) {
		client_end(c, EXIT_FAILED, "the store is unavailable");
		return;
	}
	c->done = 1;
	client_free(c);
}

static void
cmd_simple(struct client *c, int cmd)
{
	yajl_gen	 g = gen_new();
	int		 keep = (c->req.flags & CTLF_KEEP) != 0;

	yajl_gen_map_open(g);
	if (cmd == CTL_VERSION_CMD) {
		gen_kv(g, "version", HEROD_VERSION);
		gen_kint(g, "protocol", CTL_VERSION);
		gen_kv(g, "build", HEROD_BUILDTYPE);
		gen_kv(g, "mode", herod_env.sysmode ? "system" : "user");
		gen_kv(g, "confdir", herod_env.confdir);
		gen_kv(g, "statedir", herod_env.statedir);
		gen_kv(g, "rundir", herod_env.rundir);
	} else {
		gen_str(g, "shutdown");
		yajl_gen_bool(g, 1);
		gen_str(g, "keep_services");
		yajl_gen_bool(g, keep);
	}
	yajl_gen_map_close(g);
	client_gen_end(c, g, EXIT_OK, NULL);	/* c is gone */
	if (cmd == CTL_SHUTDOWN) {
		log_info("shutdown requested%s", keep ?
		    ", services keep running" : "");
		pt.shutting_down = 1;
		pt.keep_services = keep;
		herod_stopping();
		svc_stop_all();
	}
}

static const char *
cmd_name(uint32_t cmd)
{
	static const char *names[] = { "", "list", "status", "start", "stop",
	    "restart", "reset-failed", "reload", "logs", "events",
	    "shutdown", "version" };

	return cmd < nitems(names) ? names[cmd] : "?";
}

struct nameref {
	const char	*name;
	size_t		 idx;
	int		 dup;
};

static int
nameref_cmp(const void *a, const void *b)
{
	const struct nameref	*x = a, *y = b;
	int			 r;

	if ((r = strcmp(x->name, y->name)) != 0)
		return r;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Parse the names that follow struct ctl_request; a name given more than
 * once is kept once, where it came first.
 */
static int
client_names(struct client *c, const char *p, size_t len)
{
	struct nameref	*refs;
	char		*dup;
	size_t		 i, l, n = 0;

	if (c->req.nnames > NAMES_MAX)
		return -1;
	if ((c->names = calloc(c->req.nnames + 1, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < c->req.nnames; i++) {
		l = strnlen(p, len);
		if (l == len || !config_valid_name(p))
			return -1;
		if ((c->names[i] = strdup(p)) == NULL)
			return -1;
		c->nnames++;
		p += l + 1;
		len -= l + 1;
	}
	if (len != 0)
		return -1;
	if (c->nnames < 2)
		return 0;
	if ((refs = calloc(c->nnames, sizeof(*refs))) == NULL)
		return -1;
	for (i = 0; i < c->nnames; i++) {
		refs[i].name = c->names[i];
		refs[i].idx = i;
	}
	qsort(refs, c->nnames, sizeof(*refs), nameref_cmp);
	for (i = 1; i < c->nnames; i++)
		if (strcmp(refs[i].name, refs[i - 1].name) == 0)
			refs[i].dup = 1;	/* a later copy */
	for (i = 0; i < c->nnames; i++) {
		if (!refs[i].dup)
			continue;
		dup = c->names[refs[i].idx];
		c->names[refs[i].idx] = NULL;
		free(dup);
	}
	free(refs);
	for (i = 0; i < c->nnames; i++)
		if (c->names[i] != NULL)
			c->names[n++] = c->names[i];
	c->nnames = n;
	return 0;
}

static int
cmd_needs_admin(uint32_t cmd)
{
	return cmd != CTL_LIST && cmd != CTL_STATUS && cmd != CTL_EVENTS &&
	    cmd != CTL_VERSION_CMD;
}

static void
client_request(struct client *c, struct msg *m)
{
	size_t	 i;

	if (m->hdr.type != CTL_M_REQUEST || m->hdr.len < sizeof(c->req) ||
	    c->names != NULL) {
		client_end(c, EXIT_USAGE, "malformed request");
		return;
	}
	c->got_request = 1;
	if (c->ev_timer != NULL)
		evtimer_del(c->ev_timer);
	memcpy(&c->req, m->data, sizeof(c->req));
	proto_terminate(c->req.action);
	if (c->req.version != CTL_VERSION) {
		client_end(c, EXIT_USAGE, "protocol version %u, herod speaks "
		    "%u", c->req.version, CTL_VERSION);
		return;
	}
	if (client_names(c, (char *)m->data + sizeof(c->req),
	    m->hdr.len - sizeof(c->req)) == -1) {
		client_end(c, EXIT_USAGE, "malformed names in request");
		return;
	}
	if (c->req.cmd < (uint32_t)CTL_LIST ||
	    c->req.cmd > (uint32_t)CTL_VERSION_CMD) {
		client_end(c, EXIT_USAGE, "unknown command %u", c->req.cmd);
		return;
	}
	if (cmd_needs_admin(c->req.cmd) && !c->admin) {
		client_end(c, EXIT_DENIED, "%s: permission denied for uid %u",
		    cmd_name(c->req.cmd), (unsigned)c->uid);
		return;
	}
	for (i = 0; i < c->nnames; i++) {
		if (svc_find(c->names[i]) == NULL) {
			client_end(c, EXIT_NOSUCH, "no such service: %s",
			    c->names[i]);
			return;
		}
	}
	if (!pt.started && c->req.cmd != CTL_VERSION_CMD) {
		/* answered once the services are started or adopted */
		if ((c->deferred = malloc(m->hdr.len)) == NULL) {
			client_end(c, EXIT_FAILED, "out of memory");
			return;
		}
		memcpy(c->deferred, m->data, m->hdr.len);
		c->deferred_len = m->hdr.len;
		return;
	}
	client_run(c, m->data, m->hdr.len);
}

void
control_started(void)
{
	struct client	*c, *next;

	TAILQ_FOREACH_SAFE(c, &clients, entry, next)
		if (!c->done && c->deferred != NULL)
			client_run(c, c->deferred, c->deferred_len);
	herod_ready();
}

/*
 * An administrative command is recorded as an event, and what it stops
 * is asked by its client (saved: for event_actor_restore()).
 */
static void
client_as_actor(struct client *c, struct actor *saved)
{
	struct actor	 a;

	memset(&a, 0, sizeof(a));
	a.by = ACTOR_HEROCTL;
	a.uid = c->uid;
	a.pid = c->pid;
	strlcpy(a.what, cmd_name(c->req.cmd), sizeof(a.what));
	event_command(&a, a.what, c->names, c->nnames,
	    (c->req.flags & CTLF_FORCE) != 0, (c->req.flags & CTLF_KEEP) != 0);
	event_actor_set(&a, saved);
}

static void
client_run(struct client *c, void *data, size_t len)
{
	struct actor	 saved;
	char		 msg[1024];

	switch (c->req.cmd) {
	case CTL_LIST:
		cmd_list(c);
		break;
	case CTL_STATUS:
		if (c->nnames == 0) {
			client_end(c, EXIT_USAGE, "status needs a name");
			return;
		}
		cmd_status(c);
		break;
	case CTL_START:
	case CTL_STOP:
	case CTL_RESTART:
		if (c->nnames == 0) {
			client_end(c, EXIT_USAGE, "%s needs a name",
			    cmd_name(c->req.cmd));
			return;
		}
		if (pt.shutting_down) {
			client_end(c, EXIT_FAILED, "herod is shutting down");
			return;
		}
		if (c->req.cmd != CTL_STOP &&
		    deps_stopped(c, msg, sizeof(msg)) == -1) {
			client_end(c, EXIT_FAILED, "%s", msg);
			return;
		}
		client_as_actor(c, &saved);
		cmd_lifecycle(c);
		event_actor_restore(&saved);
		break;
	case CTL_RESET_FAILED:
		client_as_actor(c, &saved);
		cmd_reset_failed(c);
		event_actor_restore(&saved);
		break;
	case CTL_RELOAD:
		client_as_actor(c, &saved);
		cmd_reload(c);
		event_actor_restore(&saved);
		break;
	case CTL_LOGS:
		if (c->nnames != 1) {
			client_end(c, EXIT_USAGE, "logs needs one name");
			return;
		}
		/* FALLTHROUGH */
	case CTL_EVENTS:
		cmd_handoff(c, data, len);
		break;
	case CTL_SHUTDOWN:
		client_as_actor(c, &saved);
		cmd_simple(c, c->req.cmd);	/* c is gone */
		event_actor_restore(&saved);
		break;
	default:
		cmd_simple(c, c->req.cmd);
		break;
	}
}

static void
client_dispatch(struct msgev *mev, struct msg *m, void *arg)
{
	struct client	*c = arg;

	if (m->fd != -1) {
		close(m->fd);
		m->fd = -1;
		client_end(c, EXIT_USAGE, "unexpected fd");
		return;
	}
	if (c->done)
		return;
	client_request(c, m);
}

static void
client_closed(struct msgev *mev, void *arg)
{
	struct client	*c = arg;

	c->mev = NULL;		/* freed by the library */
	client_free(c);
}

static size_t
clients_of(uid_t uid)
{
	struct client	*c;
	size_t		 n = 0;

	TAILQ_FOREACH(c, &clients, entry)
		if (c->uid == uid)
			n++;
	return n;
}

/* Tell a refused client why, if its socket takes it, and close. */
static void
refuse(int s, uid_t uid, const char *why)
{
	struct {
		struct msg_hdr	 hdr;
		struct ctl_end	 e;
	} __attribute__((packed))	 m;

	if (ratelim_ok(&rl_refused, __func__))
		log_warnx("%s: connection of uid %u refused: %s", __func__,
		    (unsigned)uid, why);
	memset(&m, 0, sizeof(m));
	m.hdr.type = CTL_M_END;
	m.hdr.len = sizeof(m.e);
	m.e.version = CTL_VERSION;
	m.e.exitcode = EXIT_FAILED;
	snprintf(m.e.message, sizeof(m.e.message), "herod refused the "
	    "connection: %s", why);
	(void)send(s, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL);
	close(s);
}

/*
 * A new connection: kept (1) or refused and closed (0).  lastfd: it was
 * accepted with the reserved descriptor, only an admin may keep it.
 */
static int
client_accept(int s, int lastfd)
{
	struct client	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 admin;

	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		if (ratelim_ok(&rl_accept, __func__))
			log_warn("%s: SO_PEERCRED", __func__);
		close(s);
		return 0;
	}
	admin = peer_is_admin(cred.uid);
	if (!admin && lastfd) {
		refuse(s, cred.uid, "out of file descriptors");
		return 0;
	}
	if (nclients >= clients_max) {
		refuse(s, cred.uid, "too many connections");
		return 0;
	}
	if (!admin && (nusers >= users_max ||
	    clients_of(cred.uid) >= per_uid_max)) {
		refuse(s, cred.uid, "too many connections of this user");
		return 0;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(s);
		return 0;
	}
	c->uid = cred.uid;
	c->pid = cred.pid;
	c->admin = admin;
	c->mev = msgev_new(pt.base, s, CTL_MAX_REQUEST, CLIENT_QUEUE_MAX,
	    client_dispatch, client_closed, c);
	if (c->mev == NULL) {
		close(s);
		free(c);
		return 0;
	}
	TAILQ_INSERT_TAIL(&clients, c, entry);
	nclients++;
	if (!admin)
		nusers++;
	client_timer(c, CLIENT_REQUEST_S);
	return 1;
}

static void
reserve_refill(void)
{
	if (reserve_fd == -1)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Stop accepting until a descriptor is freed or a little later. */
static void
accept_pause(void)
{
	struct timeval	 tv = { 0, ACCEPT_RETRY_MS * 1000 };

	if (accept_paused)
		return;
	accept_paused = 1;
	event_del(ev_accept);
	evtimer_add(ev_accept_retry, &tv);
}

static void
accept_resume(void)
{
	if (!accept_paused)
		return;
	accept_paused = 0;
	evtimer_del(ev_accept_retry);
	event_add(ev_accept, NULL);
}

static void
accept_retry_cb(int fd, short ev, void *arg)
{
	reserve_refill();
	accept_resume();
}

/*
 * Out of descriptors: take one connection with the reserved descriptor
 * (an admin keeps it; anyone else is closed at once).  0 when one was
 * taken, -1 when accepting must pause, 1 when none was waiting.
 */
static int
accept_last(int fd)
{
	int	 s, saved;

	reserve_refill();
	if (reserve_fd == -1)
		return -1;
	close(reserve_fd);
	reserve_fd = -1;
	s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (s == -1) {
		saved = errno;
		reserve_refill();
		if (saved == EAGAIN || saved == EWOULDBLOCK)
			return 1;
		return saved == EINTR || saved == ECONNABORTED ? 0 : -1;
	}
	if (client_accept(s, 1) == 0)
		reserve_refill();
	return 0;
}

static void
accept_cb(int fd, short ev, void *arg)
{
	int	 s, i, r;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s != -1) {
			client_accept(s, 0);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE) {
			if (ratelim_ok(&rl_accept, __func__))
				log_warn("%s: accept", __func__);
			if ((r = accept_last(fd)) == 0)
				continue;
			if (r == 1)
				return;
		} else if (ratelim_ok(&rl_accept, __func__))
			log_warn("%s: accept", __func__);
		accept_pause();
		return;
	}
}

void
control_init(void)
{
	struct sockaddr_un	 sun;
	struct rlimit		 rl;
	struct group		*gr;
	int			 s, r;

	if (herod_env.group[0] != '\0' &&
	    (gr = getgrnam(herod_env.group)) != NULL) {
		admin_gid = gr->gr_gid;
		have_admin_gid = 1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(ctl_path, sizeof(ctl_path), "%s/%s",
	    herod_env.rundir, RUN_SOCK) >= sizeof(sun.sun_path))
		fatalx("%s: control socket path too long: %s/%s", __func__,
		    herod_env.rundir, RUN_SOCK);
	strlcpy(sun.sun_path, ctl_path, sizeof(sun.sun_path));
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s == -1)
		fatal("%s: socket", __func__);
	r = connect(s, (struct sockaddr *)&sun, sizeof(sun));
	if (r == 0 || errno == EAGAIN)
		fatalx("another herod answers on %s", ctl_path);
	if (errno == ECONNREFUSED)
		unlink(ctl_path);	/* stale, from a dead herod */
	if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("%s: bind %s", __func__, ctl_path);
	if (chmod(ctl_path, 0666) == -1)
		fatal("%s: chmod %s", __func__, ctl_path);
	if (listen(s, 128) == -1)
		fatal("%s: listen", __func__);
	ctl_fd = s;
	ev_accept = event_new(pt.base, s, EV_READ | EV_PERSIST, accept_cb,
	    NULL);
	ev_accept_retry = evtimer_new(pt.base, accept_retry_cb, NULL);
	if (ev_accept == NULL || ev_accept_retry == NULL ||
	    event_add(ev_accept, NULL) == -1)
		fatalx("%s: event", __func__);
	reserve_refill();
	if (reserve_fd == -1)
		fatal("%s: /dev/null", __func__);

	/* Connections never take the descriptors the rest needs. */
	clients_max = CLIENTS_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur !=
	    RLIM_INFINITY && rl.rlim_cur < CLIENTS_MAX + FD_HEADROOM)
		clients_max = rl.rlim_cur > FD_HEADROOM + 8 ?
		    rl.rlim_cur - FD_HEADROOM : 8;
	users_max = clients_max - clients_max / 4;
	per_uid_max = users_max < CLIENTS_PER_UID ? users_max :
	    CLIENTS_PER_UID;
	log_debug("%s: at most %zu connections, %zu of non-admins, %zu per "
	    "non-admin uid", __func__, clients_max, users_max, per_uid_max);
}

void
control_cleanup(void)
{
	if (ctl_fd != -1) {
		close(ctl_fd);
		unlink(ctl_path);
		ctl_fd = -1;
	}
	if (reserve_fd != -1) {
		close(reserve_fd);
		reserve_fd = -1;
	}
}
