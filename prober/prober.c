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
 * The prober worker ("herod: prober"): unprivileged, it parses untrusted
 * bytes from services.  It answers "does it work": readiness (ready.c),
 * watchdogs and periodic or on-demand probes (probe.c, check_*.c).  It
 * talks only to the parent, over WORKER_FD.
 */
#include <sys/types.h>
#include <sys/tree.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "herod.h"
#include "log.h"
#include "msg.h"
#include "proto.h"
#include "util.h"
#include "prober.h"

#define PROBER_MAXQUEUE	(8 * 1024 * 1024)
#define RESULT_HOLD_MAX	64	/* periodic results sent together */
#define RESULT_HOLD_MS	10	/* at most this late */

struct event_base	*prober_base;
struct herod_env	*prober_env;

static struct msgev	*parent_ev;

/*
 * Periodic results are held back a little and go to the parent together
 * (see probe_report), so that checks that run at the same moment cost it
 * one wakeup.  Any other message sends them first: order is kept.
 */
static struct m_probe_result	 held[RESULT_HOLD_MAX];
static size_t			 nheld;
static struct event		*held_ev;

static int	 psvc_cmp(struct psvc *, struct psvc *);
RB_HEAD(psvc_tree, psvc);
RB_PROTOTYPE(psvc_tree, psvc, entry, psvc_cmp)
RB_GENERATE(psvc_tree, psvc, entry, psvc_cmp)

static struct psvc_tree	 services = RB_INITIALIZER(&services);

static void	 prober_dispatch(struct msgev *, struct msg *, void *);
static void	 prober_closed(struct msgev *, void *);
static void	 prober_conf_service(struct msg *);
static void	 prober_conf_remove(struct msg *);
static void	 prober_held_timeout(int, short, void *);

static int
psvc_cmp(struct psvc *a, struct psvc *b)
{
	return strcmp(a->name, b->name);
}

struct psvc *
psvc_find(const char *name)
{
	struct psvc	 key;

	if (strlcpy(key.name, name, sizeof(key.name)) >= sizeof(key.name))
		return NULL;
	return RB_FIND(psvc_tree, &services, &key);
}

void
prober_main(struct herod_env *env)
{
	prober_env = env;
	setproctitle("prober");
	log_procinit("prober");
	sandbox_die_with_parent();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	if ((prober_base = event_base_new()) == NULL)
		fatalx("%s: event_base_new", __func__);
	if (ready_init() == -1)
		fatal("%s: inotify_init1", __func__);
	conn_init();
	if ((held_ev = evtimer_new(prober_base, prober_held_timeout, NULL)) ==
	    NULL)
		fatalx("%s: evtimer_new", __func__);

	/* no chroot: /proc and the rundir are needed */
	sandbox_drop(env, NULL);
	sandbox_fs_prober(env);
	sandbox_seccomp("prober");

	parent_ev = proto_msgev_new(prober_base, WORKER_FD, PROC_PROBER,
	    PROC_PARENT, PROBER_MAXQUEUE, prober_dispatch, prober_closed,
	    NULL);
	if (parent_ev == NULL)
		fatal("%s: msgev_new", __func__);
	if (prober_send(M_WORKER_READY, NULL, 0) == -1)
		fatalx("%s: cannot send M_WORKER_READY", __func__);
	log_debug("%s: ready", __func__);

	event_base_dispatch(prober_base);
	fatalx("%s: event loop ended", __func__);
}

int
prober_send(uint32_t type, const void *data, size_t len)
{
	if (parent_ev == NULL)
		return -1;
	if (nheld > 0)
		prober_flush_results();
	if (msgev_send(parent_ev, type, 0, 0, -1, data, len) == -1) {
		log_warn("%s: message %u to parent dropped", __func__, type);
		return -1;
	}
	return 0;
}

/* A periodic result, sent with the others of the moment. */
void
prober_hold_result(const struct m_probe_result *r)
{
	struct timeval	 tv;

	held[nheld++] = *r;
	if (nheld == nitems(held)) {
		prober_flush_results();
		return;
	}
	if (nheld == 1) {
		tv.tv_sec = 0;
		tv.tv_usec = RESULT_HOLD_MS * 1000;
		evtimer_add(held_ev, &tv);
	}
}

/* Forget the held results of a service (disabled or reconfigured). */
void
prober_drop_results(const char *service)
{
	size_t	 i, n = 0;

	for (i = 0; i < nheld; i++)
		if (strcmp(held[i].service, service) != 0)
			held[n++] = held[i];
	nheld = n;
	if (nheld == 0)
		evtimer_del(held_ev);
}

/* Send the held results now, in one write. */
void
prober_flush_results(void)
{
	size_t	 i, n = nheld;

	if (n == 0)
		return;
	nheld = 0;
	evtimer_del(held_ev);
	for (i = 0; i < n; i++)
		if (msgev_send(parent_ev, M_PROBE_RESULT, 0, 0, -1, &held[i],
		    sizeof(held[i])) == -1)
			log_warn("%s: probe result to parent dropped",
			    __func__);
	msgev_flush(parent_ev);
}

static void
prober_held_timeout(int fd, short ev, void *arg)
{
	prober_flush_results();
}

static void
prober_closed(struct msgev *mev, void *arg)
{
	/* The parent is trusted, but a bug of its must not go unseen. */
	if (msgev_protocol_error(mev))
		fatalx("%s: bad message from the parent", __func__);
	log_debug("%s: parent socket closed, exiting", __func__);
	exit(0);
}

/*
 * Everything here passed the message table (proto_msgev_new): a message
 * the parent may not send us, of the wrong size, with a missing or an
 * unexpected fd or an unterminated string closed the channel and we died
 * in prober_closed.
 */
static void
prober_dispatch(struct msgev *mev, struct msg *m, void *arg)
{
	struct m_watch		 w;
	struct m_ref		 ref;
	struct m_probes_enable	 pe;
	struct m_probe_now	 pn;
	struct m_probe_result	 pr;
	struct m_connect	 c;
	struct psvc		*svc;
	int			 fd = m->fd;

	m->fd = -1;
	switch (m->hdr.type) {
	case M_CONF_SERVICE:
		prober_conf_service(m);
		break;
	case M_CONF_REMOVE:
		prober_conf_remove(m);
		break;
	case M_CONF_DONE:
		prober_send(M_CONF_ACK, NULL, 0);
		break;
	case M_WATCH:
		proto_copy(m, &w, sizeof(w));
		ready_watch(&w);
		break;
	case M_UNWATCH:
		proto_copy(m, &ref, sizeof(ref));
		ready_unwatch(&ref);
		break;
	case M_READYFD:
		proto_copy(m, &ref, sizeof(ref));
		ready_fd(&ref, fd);
		break;
	case M_PROBES_ENABLE:
		proto_copy(m, &pe, sizeof(pe));
		if ((svc = psvc_find(pe.service)) == NULL) {
			log_warnx("%s: probes of unknown service %s",
			    __func__, pe.service);
			break;
		}
		probe_enable(svc, pe.enable != 0);
		break;
	case M_PROBE_NOW:
		proto_copy(m, &pn, sizeof(pn));
		probe_now(psvc_find(pn.service), pn.service, pn.seq);
		break;
	case M_EXEC_PROBE_RESULT:
		proto_copy(m, &pr, sizeof(pr));
		probe_exec_result(&pr);
		break;
	case M_CONNECT_FD:
		proto_copy(m, &c, sizeof(c));
		check_tcp_connect_result(&c, fd);
		break;
	default:
		fatalx("%s: %s passed the table", __func__,
		    msg_type_name(m->hdr.type));
	}
}

static void
prober_conf_service(struct msg *m)
{
	struct config_errors	 errs;
	struct service_conf	*conf;
	struct psvc		*svc;

	memset(&errs, 0, sizeof(errs));
	conf = config_parse_service("service.json", NULL, m->data,
	    m->hdr.len, &errs);
	if (conf == NULL)
		fatalx("%s: invalid service file from parent: %s", __func__,
		    errs.n > 0 ? errs.msg[0] : "?");
	config_errors_clear(&errs);

	if ((svc = psvc_find(conf->name)) == NULL) {
		if ((svc = calloc(1, sizeof(*svc))) == NULL)
			fatal("%s: calloc", __func__);
		strlcpy(svc->name, conf->name, sizeof(svc->name));
		RB_INSERT(psvc_tree, &services, svc);
		log_debug("%s: new service %s", __func__, svc->name);
	} else
		log_debug("%s: service %s replaced", __func__, svc->name);

	/* probes first: they point into the old conf */
	probe_conf_apply(svc, conf);
	if (svc->conf != NULL)
		service_conf_free(svc->conf);
	svc->conf = conf;
	ready_conf_apply(svc);
}

static void
prober_conf_remove(struct msg *m)
{
	struct m_name	 n;
	struct psvc	*svc;

	proto_copy(m, &n, sizeof(n));
	ready_svc_remove(n.name);
	if ((svc = psvc_find(n.name)) == NULL)
		return;
	probe_svc_clear(svc);
	RB_REMOVE(psvc_tree, &services, svc);
	service_conf_free(svc->conf);
	free(svc);
	log_debug("%s: service %s removed", __func__, n.name);
}
