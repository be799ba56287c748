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
 * Probe scheduling: targets resolved at config time, periodic runs every
 * interval_ms (overlapping when one outlives the interval, at most
 * PERIODIC_OVERLAP_MAX of one probe at once), on-demand
 * runs (M_PROBE_NOW) and exec probes delegated to the spawner through
 * the parent.  One result per run; thresholds, grace and restarts are
 * the parent's business.
 *
 * Many probes must not fire in bursts: the first run comes at a random
 * time within FIRST_RUN_SPREAD_MS (soon, for readiness by probe), the
 * second at a random time between half an interval and one and a half
 * after it, so that the periodic runs of all probes are spread evenly
 * over their interval, whatever it is.
 *
 * Periodic runs are kept in one tree by due time, under a single timer.
 * A run may start up to TICK_SLACK_MAX_MS (1/32 of its interval, if
 * less) before it is due, with the first one due, so that the runs due
 * within a few milliseconds of each other start together and cost one
 * wakeup; the next one is due one interval after this one was, so the
 * interval holds on average.
 *
 * Only periodic http runs (and jsonrpc over http) keep connections:
 * an on-demand run, asked for by an operator, always connects afresh.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "herod.h"
#include "log.h"
#include "proto.h"
#include "util.h"
#include "prober.h"

#define EXEC_ANSWER_SLACK_MS	1000
#define FIRST_RUN_SPREAD_MS	1000
#define TICK_SLACK_MAX_MS	10

/* An M_PROBE_NOW in progress: DONE once every run has reported. */
struct probe_now {
	char		service[NAME_BUF];
	uint32_t	seq;
	int		pending;
};

static TAILQ_HEAD(, probe_run)	 runs = TAILQ_HEAD_INITIALIZER(runs);
static uint32_t			 exec_token_last;
#define PERIODIC_OVERLAP_MAX	8	/* periodic runs of one probe */

static size_t			 nperiodic;	/* periodic runs going */

static int	 tick_cmp(struct probe *, struct probe *);
RB_HEAD(tick_tree, probe);
RB_PROTOTYPE(tick_tree, probe, tick_entry, tick_cmp)
RB_GENERATE(tick_tree, probe, tick_entry, tick_cmp)

static struct tick_tree		 ticks = RB_INITIALIZER(&ticks);
static struct event		*tick_ev;

static void	 probe_target(struct probe *, struct service_conf *);
static void	 probe_target_error(struct probe *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 probe_start(struct probe *, struct probe_now *, uint32_t);
static void	 probe_free_run(struct probe_run *);
static void	 probe_group_release(struct probe_now *);
static void	 tick_insert(struct probe *, int64_t);
static void	 tick_remove(struct probe *);
static void	 tick_arm(int64_t);
static void	 tick_run(int, short, void *);
static void	 probe_tick(struct probe *, int64_t);
static void	 probe_timeout(int, short, void *);
static void	 probe_exec(struct probe_run *);
static void	 probe_report(struct probe_run *, int, const char *);

static void
timer_add_ms(struct event *ev, uint32_t ms)
{
	struct timeval	 tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

static int
tick_cmp(struct probe *a, struct probe *b)
{
	if (a->tick_due_us != b->tick_due_us)
		return a->tick_due_us < b->tick_due_us ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* How early a run of p may start, in microseconds. */
static int64_t
tick_slack_us(struct probe *p)
{
	int64_t	 slack = (int64_t)p->conf->interval_ms * 1000 / 32;

	return slack < TICK_SLACK_MAX_MS * 1000 ? slack :
	    TICK_SLACK_MAX_MS * 1000;
}

static void
tick_insert(struct probe *p, int64_t due_us)
{
	p->tick_due_us = due_us;
	RB_INSERT(tick_tree, &ticks, p);
	p->tick_on = 1;
}

static void
tick_remove(struct probe *p)
{
	if (!p->tick_on)
		return;
	RB_REMOVE(tick_tree, &ticks, p);
	p->tick_on = 0;
}

/* The timer for the first probe due. */
static void
tick_arm(int64_t now)
{
	struct probe	*p;
	struct timeval	 tv;
	int64_t		 d;

	if (tick_ev == NULL &&
	    (tick_ev = evtimer_new(prober_base, tick_run, NULL)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	if ((p = RB_MIN(tick_tree, &ticks)) == NULL) {
		evtimer_del(tick_ev);
		return;
	}
	d = p->tick_due_us - now;
	if (d < 0)
		d = 0;
	tv.tv_sec = d / 1000000;
	tv.tv_usec = d % 1000000;
	evtimer_add(tick_ev, &tv);
}

/*
 * Start the periodic runs due now, and those due within their slack:
 * the timer is for the first one due, so there is at most one wakeup
 * per TICK_SLACK_MAX_MS for all the probes with a long interval.
 */
static void
tick_run(int fd, short ev, void *arg)
{
	struct probe	*p;
	int64_t		 now = now_us();

	while ((p = RB_MIN(tick_tree, &ticks)) != NULL &&
	    p->tick_due_us - tick_slack_us(p) <= now) {
		tick_remove(p);
		probe_tick(p, now);
	}
	tick_arm(now);
}

void
probe_conf_apply(struct psvc *svc, struct service_conf *conf)
{
	struct probe	*p;
	size_t		 i;

	probe_svc_clear(svc);
	if (conf->nprobes == 0)
		return;
	svc->probes = calloc(conf->nprobes, sizeof(*svc->probes));
	if (svc->probes == NULL)
		fatal("%s: calloc", __func__);
	svc->nprobes = conf->nprobes;
	for (i = 0; i < conf->nprobes; i++) {
		p = &svc->probes[i];
		p->svc = svc;
		p->conf = &conf->probes[i];
		p->rpc_next_id = 1;
		p->conn_fd = -1;
		probe_target(p, conf);
		if (p->target_err != NULL)
			log_warnx("%s: %s/%s: %s", __func__, svc->name,
			    p->conf->name, p->target_err);
	}
	if (svc->enabled)
		probe_enable(svc, 1);
}

/*
 * Stop everything of a service's probes.  Periodic runs are dropped
 * silently; runs of an M_PROBE_NOW still report (as failed), so that the
 * parent always gets its M_PROBE_NOW_DONE.
 */
void
probe_svc_clear(struct psvc *svc)
{
	struct probe_run	*run, *trun;
	struct probe		*p;
	size_t			 i;

	TAILQ_FOREACH_SAFE(run, &runs, entry, trun) {
		if (run->probe->svc != svc)
			continue;
		if (run->group != NULL)
			probe_done(run, 0, "probe cancelled: "
			    "configuration changed");
		else
			probe_free_run(run);
	}
	prober_drop_results(svc->name);
	for (i = 0; i < svc->nprobes; i++) {
		p = &svc->probes[i];
		conn_close(p);
		if (p->conn_ev != NULL)
			event_free(p->conn_ev);
		tick_remove(p);
		free(p->host);
		free(p->target_err);
	}
	free(svc->probes);
	svc->probes = NULL;
	svc->nprobes = 0;
}

/* The action a probe's target is expanded for. */
static const char *
probe_action(struct probe *p, struct service_conf *conf)
{
	size_t	 i;

	if (p->conf->actions.n > 0)
		return p->conf->actions.v[0];
	for (i = 0; i < conf->nactions; i++)
		if (conf->actions[i].kind == KIND_PROCESS)
			return conf->actions[i].name;
	return conf->nactions > 0 ? conf->actions[0].name : "";
}

/*
 * "unix:/path", "host:port" or "[v6]:port".  Numeric addresses are used
 * as they are; a host name (e.g. "localhost") is resolved once here, at
 * config time, never while probing.
 */
static void
probe_target(struct probe *p, struct service_conf *conf)
{
	struct sockaddr_un	*sun;
	struct addrinfo		 hints, *res;
	char			 sockdir[PATH_MAX], hostbuf[256];
	char			*t, *host, *port, *e;
	int			 r;

	if (p->conf->kind == PROBE_EXEC)
		return;
	if (p->conf->target == NULL) {
		probe_target_error(p, "no target");
		return;
	}
	if ((size_t)snprintf(sockdir, sizeof(sockdir), "%s/%s/%s",
	    prober_env->rundir, RUN_SOCKETS, conf->name) >= sizeof(sockdir)) {
		probe_target_error(p, "socket directory path too long");
		return;
	}
	t = config_expand(p->conf->target, sockdir, conf->name,
	    probe_action(p, conf));
	if (t == NULL) {
		probe_target_error(p, "target: %s", strerror(errno));
		return;
	}
	if (strncmp(t, "unix:", 5) == 0) {
		sun = (struct sockaddr_un *)&p->ss;
		sun->sun_family = AF_UNIX;
		if (t[5] == '\0' || strlcpy(sun->sun_path, t + 5,
		    sizeof(sun->sun_path)) >= sizeof(sun->sun_path)) {
			probe_target_error(p, "unix socket path too long "
			    "(max %zu bytes)", sizeof(sun->sun_path) - 1);
			goto done;
		}
		p->sslen = sizeof(*sun);
		if ((p->host = strdup("localhost")) == NULL)
			fatal("%s: strdup", __func__);
		goto done;
	}
	if (strlcpy(hostbuf, t, sizeof(hostbuf)) >= sizeof(hostbuf))
		goto bad;
	if (hostbuf[0] == '[') {
		host = hostbuf + 1;
		if ((e = strchr(host, ']')) == NULL || e[1] != ':')
			goto bad;
		*e = '\0';
		port = e + 2;
	} else {
		if ((e = strrchr(hostbuf, ':')) == NULL ||
		    strchr(hostbuf, ':') != e)
			goto bad;
		*e = '\0';
		host = hostbuf;
		port = e + 1;
	}
	if (*host == '\0' || *port == '\0')
		goto bad;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	r = getaddrinfo(host, port, &hints, &res);
	if (r == EAI_NONAME) {
		hints.ai_flags = AI_NUMERICSERV;
		r = getaddrinfo(host, port, &hints, &res);
	}
	if (r != 0) {
		probe_target_error(p, "target %.100s: %s", t, gai_strerror(r));
		goto done;
	}
	if (res->ai_addrlen > sizeof(p->ss)) {
		freeaddrinfo(res);
		goto bad;
	}
	memcpy(&p->ss, res->ai_addr, res->ai_addrlen);
	p->sslen = res->ai_addrlen;
	freeaddrinfo(res);
	/* Host: header as written in the target */
	p->host = t;
	return;
 bad:
	probe_target_error(p, "bad target %.100s: expected unix:PATH, "
	    "HOST:PORT or [V6]:PORT", t);
 done:
	free(t);
}

static void
probe_target_error(struct probe *p, const char *fmt, ...)
{
	char	 buf[REASON_BUF];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	free(p->target_err);
	if ((p->target_err = strdup(buf)) == NULL)
		fatal("%s: strdup", __func__);
}

void
probe_enable(struct psvc *svc, int on)
{
	struct probe		*p;
	struct probe_run	*run, *trun;
	uint32_t		 spread;
	int64_t			 now = now_us();
	size_t			 i;

	svc->enabled = on;
	if (!on) {
		/* results of a disabled probe would only confuse the parent */
		TAILQ_FOREACH_SAFE(run, &runs, entry, trun)
			if (run->probe->svc == svc && run->group == NULL)
				probe_free_run(run);
		prober_drop_results(svc->name);
	}
	for (i = 0; i < svc->nprobes; i++) {
		p = &svc->probes[i];
		if (!on) {
			tick_remove(p);
			conn_close(p);
			continue;
		}
		if (p->tick_on)
			continue;
		spread = p->conf->interval_ms;
		if (spread == 0 || spread > FIRST_RUN_SPREAD_MS)
			spread = FIRST_RUN_SPREAD_MS;
		p->first_run = 1;
		tick_insert(p, now + (int64_t)rand_below(spread) * 1000);
	}
	tick_arm(now);
}

/* A periodic run of p is due: start it, and schedule the next one. */
static void
probe_tick(struct probe *p, int64_t now)
{
	uint32_t	 ival = p->conf->interval_ms;
	int64_t		 next;

	if (ival == 0)
		ival = 1000;
	if (p->first_run) {
		/* from now on at a random phase of the interval */
		p->first_run = 0;
		next = now + (int64_t)(ival / 2 + rand_below(ival)) * 1000;
	} else {
		next = p->tick_due_us + (int64_t)ival * 1000;
		if (next <= now)	/* late by a whole interval */
			next = now + (int64_t)ival * 1000;
	}
	tick_insert(p, next);
	/*
	 * Checks overlap when timeout_ms is over interval_ms: a check that
	 * hangs does not delay the next, so a hung handler is found within
	 * failure_threshold intervals plus one timeout.
	 */
	if (p->nperiodic >= PERIODIC_OVERLAP_MAX) {
		log_debug("%s: %s/%s: %u checks still running, tick skipped",
		    __func__, p->svc->name, p->conf->name, p->nperiodic);
		return;
	}
	probe_start(p, NULL, 0);
}

void
probe_now(struct psvc *svc, const char *name, uint32_t seq)
{
	struct probe_now	*g;
	struct m_probe_now	 done;
	size_t			 i;

	if (svc == NULL || svc->nprobes == 0) {
		if (svc == NULL)
			log_warnx("%s: unknown service %s", __func__, name);
		memset(&done, 0, sizeof(done));
		strlcpy(done.service, name, sizeof(done.service));
		done.seq = seq;
		prober_send(M_PROBE_NOW_DONE, &done, sizeof(done));
		return;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		fatal("%s: calloc", __func__);
	strlcpy(g->service, svc->name, sizeof(g->service));
	g->seq = seq;
	g->pending = 1;		/* held until every run is started */
	for (i = 0; i < svc->nprobes; i++)
		probe_start(&svc->probes[i], g, seq);
	probe_group_release(g);
}

static void
probe_group_release(struct probe_now *g)
{
	struct m_probe_now	 done;

	if (--g->pending > 0)
		return;
	memset(&done, 0, sizeof(done));
	strlcpy(done.service, g->service, sizeof(done.service));
	done.seq = g->seq;
	prober_send(M_PROBE_NOW_DONE, &done, sizeof(done));
	free(g);
}

static void
probe_start(struct probe *p, struct probe_now *g, uint32_t seq)
{
	struct probe_run	*run;
	uint32_t		 deadline;

	if ((run = calloc(1, sizeof(*run))) == NULL)
		fatal("%s: calloc", __func__);
	run->probe = p;
	run->group = g;
	run->seq = seq;
	run->fd = -1;
	run->start_us = now_us();
	run->timeout_ms = p->conf->timeout_ms > 0 ? p->conf->timeout_ms : 1;
	run->phase = "connecting";
	/* periodic http runs may keep their connection */
	run->may_keep = g == NULL && p->conf->keepalive &&
	    (p->conf->kind == PROBE_HTTP || (p->conf->kind == PROBE_JSONRPC &&
	    p->conf->transport == TRANSPORT_HTTP));
	TAILQ_INSERT_TAIL(&runs, run, entry);
	if (g != NULL)
		g->pending++;
	else {
		p->nperiodic++;
		nperiodic++;
	}

	if (p->target_err != NULL) {
		probe_done(run, 0, "%s", p->target_err);
		return;
	}
	if ((run->deadline = evtimer_new(prober_base, probe_timeout, run)) ==
	    NULL)
		fatalx("%s: evtimer_new", __func__);
	deadline = run->timeout_ms;
	if (p->conf->kind == PROBE_EXEC)
		deadline += EXEC_ANSWER_SLACK_MS;
	timer_add_ms(run->deadline, deadline);

	switch (p->conf->kind) {
	case PROBE_TCP:
		check_tcp(run);
		break;
	case PROBE_HTTP:
		if (check_http_request(run) == -1)
			return;
		run->validate = check_http_validate;
		check_tcp(run);
		break;
	case PROBE_JSONRPC:
		if (check_jsonrpc_request(run) == -1)
			return;
		run->validate = check_jsonrpc_validate;
		check_tcp(run);
		break;
	case PROBE_EXEC:
		probe_exec(run);
		break;
	default:
		probe_done(run, 0, "unknown probe kind %d",
		    (int)p->conf->kind);
		break;
	}
}

static void
probe_timeout(int fd, short ev, void *arg)
{
	struct probe_run	*run = arg;

	if (run->probe->conf->kind == PROBE_EXEC)
		probe_done(run, 0, "exec probe: no answer from spawner");
	else
		probe_done(run, 0, "timeout after %u ms %s", run->timeout_ms,
		    run->phase);
}

/*
 * The spawner runs exec probes.  The seq of M_EXEC_PROBE is our own
 * token, unique among runs, echoed in M_EXEC_PROBE_RESULT; the result
 * goes to the parent with the seq of the run.
 */
static void
probe_exec(struct probe_run *run)
{
	struct m_exec_probe	 ep;
	struct probe		*p = run->probe;

	if (++exec_token_last == 0)
		exec_token_last = 1;
	run->exec_token = exec_token_last;
	run->phase = "waiting for spawner";
	memset(&ep, 0, sizeof(ep));
	strlcpy(ep.service, p->svc->name, sizeof(ep.service));
	strlcpy(ep.probe, p->conf->name, sizeof(ep.probe));
	ep.seq = run->exec_token;
	ep.timeout_ms = run->timeout_ms;
	if (prober_send(M_EXEC_PROBE, &ep, sizeof(ep)) == -1)
		probe_done(run, 0, "exec probe: cannot reach spawner");
}

void
probe_exec_result(struct m_probe_result *pr)
{
	struct probe_run	*run;

	TAILQ_FOREACH(run, &runs, entry) {
		if (run->exec_token == 0 || run->exec_token != pr->seq)
			continue;
		if (strcmp(run->probe->svc->name, pr->service) != 0 ||
		    strcmp(run->probe->conf->name, pr->probe) != 0)
			continue;
		probe_done(run, pr->ok != 0, "%s", pr->error);
		return;
	}
	log_debug("%s: late or unknown exec probe result %s/%s %u",
	    __func__, pr->service, pr->probe, pr->seq);
}

struct probe_run *
probe_run_by_connect_token(uint32_t token)
{
	struct probe_run	*run;

	TAILQ_FOREACH(run, &runs, entry)
		if (token != 0 && run->connect_token == token)
			return run;
	return NULL;
}

/* Report a failed run and free it. */
void
probe_done(struct probe_run *run, int ok, const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	probe_report(run, ok, buf);
}

static void
probe_report(struct probe_run *run, int ok, const char *error)
{
	struct m_probe_result	 r;
	struct probe		*p = run->probe;
	int64_t			 d;

	if (run->passed && !ok) {
		/* the status line was good: only the connection is lost */
		log_debug("%s: %s/%s: after the status line: %s", __func__,
		    p->svc->name, p->conf->name, error);
		ok = 1;
		error = "";
	}
	if (!ok)
		run->keep = 0;
	memset(&r, 0, sizeof(r));
	strlcpy(r.service, p->svc->name, sizeof(r.service));
	strlcpy(r.probe, p->conf->name, sizeof(r.probe));
	r.seq = run->seq;
	r.ok = ok ? 1 : 0;
	d = now_us() - run->start_us;
	r.duration_us = d > 0 ? (uint64_t)d : 0;
	if (!ok) {
		sanitize_text(r.error, sizeof(r.error), error, strlen(error));
		log_debug("%s: %s/%s failed: %s", __func__, r.service,
		    r.probe, r.error);
	}
	if (run->group != NULL) {
		prober_send(M_PROBE_RESULT, &r, sizeof(r));
		probe_free_run(run);
		return;
	}
	/* periodic: held until no other periodic run is going */
	prober_hold_result(&r);
	probe_free_run(run);
	if (nperiodic == 0)
		prober_flush_results();
}

void
probe_ok(struct probe_run *run)
{
	probe_report(run, 1, "");
}

/* A failure from an errno, worded as people read it. */
void
probe_errno(struct probe_run *run, const char *what, int error)
{
	char	 msg[128];

	switch (error) {
	case ECONNREFUSED:
		strlcpy(msg, "connection refused", sizeof(msg));
		what = NULL;
		break;
	case ECONNRESET:
	case EPIPE:
		strlcpy(msg, "connection reset", sizeof(msg));
		what = NULL;
		break;
	default:
		strlcpy(msg, strerror(error), sizeof(msg));
		if (msg[0] >= 'A' && msg[0] <= 'Z' &&
		    !(msg[1] >= 'A' && msg[1] <= 'Z'))
			msg[0] = msg[0] - 'A' + 'a';
		break;
	}
	if (what != NULL)
		probe_done(run, 0, "%s: %s", what, msg);
	else
		probe_done(run, 0, "%s", msg);
}

/*
 * Read what is there into the run's buffer, which grows up to
 * PROBE_READ_MAX (plus one byte kept for a NUL).  Returns bytes read, 0
 * on EOF, -1 on error (errno; EAGAIN = nothing yet), -2 buffer full.
 */
int
probe_read(struct probe_run *run)
{
	size_t	 ncap;
	ssize_t	 n;
	char	*nb;

	if (run->rlen >= PROBE_READ_MAX)
		return -2;
	if (run->rcap < PROBE_READ_MAX + 1 &&
	    run->rcap - run->rlen < 1024 + 1) {
		ncap = run->rcap == 0 ? 4096 : run->rcap * 2;
		if (ncap > PROBE_READ_MAX + 1)
			ncap = PROBE_READ_MAX + 1;
		if ((nb = realloc(run->rbuf, ncap)) == NULL)
			fatal("%s: realloc", __func__);
		run->rbuf = nb;
		run->rcap = ncap;
	}
	n = read(run->fd, run->rbuf + run->rlen,
	    run->rcap - 1 - run->rlen);
	if (n == -1)
		return -1;
	run->rlen += (size_t)n;
	run->rbuf[run->rlen] = '\0';
	return (int)n;
}

void
probe_set_event(struct probe_run *run, short what,
    void (*cb)(int, short, void *))
{
	if (run->ev != NULL)
		event_free(run->ev);
	if ((run->ev = event_new(prober_base, run->fd, what, cb, run)) ==
	    NULL)
		fatalx("%s: event_new", __func__);
	if (event_add(run->ev, NULL) == -1)
		fatalx("%s: event_add", __func__);
}

static void
probe_free_run(struct probe_run *run)
{
	struct probe_now	*g = run->group;

	TAILQ_REMOVE(&runs, run, entry);
	if (g == NULL) {
		run->probe->nperiodic--;
		nperiodic--;
	}
	if (run->ev != NULL)
		event_free(run->ev);
	if (run->deadline != NULL)
		event_free(run->deadline);
	if (run->fd != -1)
		conn_release(run);
	free(run->wbuf);
	free(run->rbuf);
	free(run);
	if (g != NULL)
		probe_group_release(g);
}
