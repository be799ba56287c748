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
 * herod: spawner.  Keeps root (it starts actions as other users) and does
 * nothing but process lifecycle: pre-spawn cleanup, fork/exec, reaping,
 * stopping.  It is a child subreaper, so descendants that double-fork
 * away from their action are reparented here and can be killed with it.
 */
#include <sys/prctl.h>
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "herod.h"
#include "log.h"
#include "msg.h"
#include "spawner.h"
#include "util.h"

struct spawner	*sp;

static int
inst_cmp(struct inst *a, struct inst *b)
{
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}
RB_GENERATE(inst_pids, inst, by_pid, inst_cmp);

/* By job, service and action; several instances of one ref by age. */
static int
inst_ref_cmp(struct inst *a, struct inst *b)
{
	int	 r;

	if (a->ref.job_id != b->ref.job_id)
		return a->ref.job_id < b->ref.job_id ? -1 : 1;
	if ((r = strcmp(a->ref.service, b->ref.service)) != 0)
		return r;
	if ((r = strcmp(a->ref.action, b->ref.action)) != 0)
		return r;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}
RB_GENERATE(inst_refs, inst, by_ref, inst_ref_cmp);

/*
 * A burst of M_SPAWN is handled in one turn of the loop (every queued
 * request is dispatched before the loop writes anything): the outcome
 * of each spawn, and an exit, goes out at once, not after the whole
 * burst, so that the parent's status never lags a process that runs.
 */
void
spawner_send(uint32_t type, int fd, const void *data, size_t len)
{
	if (msgev_send(sp->parent, type, 0, 0, fd, data, len) == -1)
		fatal("%s: msgev_send type %u", __func__, type);
	switch (type) {
	case M_SPAWNED:
	case M_SPAWN_FAILED:
	case M_EXITED:
	case M_ADOPTED:
		msgev_flush(sp->parent);
		break;
	default:
		break;
	}
}

void
send_failed(const struct m_ref *ref, int error, const char *fmt, ...)
{
	struct m_failed	 f;
	va_list		 ap;

	memset(&f, 0, sizeof(f));
	f.ref = *ref;
	f.error = error;
	va_start(ap, fmt);
	vsnprintf(f.reason, sizeof(f.reason), fmt, ap);
	va_end(ap);
	log_debug("%s/%s: spawn failed: %s", ref->service, ref->action,
	    f.reason);
	spawner_send(M_SPAWN_FAILED, -1, &f, sizeof(f));
}

/* The oldest instance of ref's job, service and action. */
struct inst *
inst_find_ref(const struct m_ref *ref)
{
	struct inst	 key, *in;

	key.ref = *ref;
	key.seq = 0;
	in = RB_NFIND(inst_refs, &sp->insts, &key);
	if (in == NULL || in->ref.job_id != ref->job_id ||
	    strcmp(in->ref.service, ref->service) != 0 ||
	    strcmp(in->ref.action, ref->action) != 0)
		return NULL;
	return in;
}

void
inst_insert(struct inst *in)
{
	in->seq = ++sp->inst_seq;
	RB_INSERT(inst_refs, &sp->insts, in);
}

void
inst_free(struct inst *in)
{
	if (in->pid > 0)
		RB_REMOVE(inst_pids, &sp->pids, in);
	RB_REMOVE(inst_refs, &sp->insts, in);
	prespawn_cancel(in);
	if (in->ev_pidfd != NULL)
		event_free(in->ev_pidfd);
	if (in->pidfd != -1)
		close(in->pidfd);
	if (in->ev_kill != NULL)
		event_free(in->ev_kill);
	free(in->pidfile);
	free(in);
}

/* The parent sent a service it parsed itself: it must parse here too. */
static void
conf_service(struct msg *m)
{
	struct config_errors	 errs;
	struct service_conf	*sc, *old;

	memset(&errs, 0, sizeof(errs));
	sc = config_parse_service("pushed.json", NULL, m->data, m->hdr.len,
	    &errs);
	if (sc == NULL)
		fatalx("%s: parent sent an invalid service: %s", __func__,
		    errs.n > 0 ? errs.msg[0] : "?");
	config_errors_clear(&errs);
	if ((old = service_conf_insert(&sp->services, sc)) != NULL)
		service_conf_free(old);
}

/*
 * Everything here passed the message table (proto_msgev_new): a message
 * the parent may not send us, of the wrong size, with an fd or with an
 * unterminated string closed the channel and we died in
 * spawner_parent_closed.
 */
static void
spawner_dispatch(struct msgev *mev, struct msg *m, void *arg)
{
	struct m_name		 n;
	struct m_spawn		 spawn;
	struct m_stop		 stop;
	struct m_spawned	 adopt;
	struct m_ref		 ref;
	struct m_exec_probe	 ep;
	struct m_connect	 cn;
	struct service_conf	*sc;

	switch (m->hdr.type) {
	case M_CONF_SERVICE:
		conf_service(m);
		break;
	case M_CONF_REMOVE:
		proto_copy(m, &n, sizeof(n));
		if ((sc = service_conf_remove(&sp->services, n.name)) != NULL)
			service_conf_free(sc);
		break;
	case M_CONF_DONE:
		spawn_cred_flush();	/* users may have changed too */
		spawner_send(M_CONF_ACK, -1, NULL, 0);
		break;
	case M_SPAWN:
		proto_copy(m, &spawn, sizeof(spawn));
		spawn_start(&spawn);
		break;
	case M_STOP:
		proto_copy(m, &stop, sizeof(stop));
		stop_inst(&stop);
		break;
	case M_ADOPT:
		proto_copy(m, &adopt, sizeof(adopt));
		reap_adopt(&adopt);
		break;
	case M_REOPEN_LOGS:
		proto_copy(m, &ref, sizeof(ref));
		spawn_reopen_logs(&ref);
		break;
	case M_CONNECT_REQ:
		proto_copy(m, &cn, sizeof(cn));
		connect_for_prober(&cn);
		break;
	case M_EXEC_PROBE:
		proto_copy(m, &ep, sizeof(ep));
		execprobe_run(&ep);
		break;
	default:
		fatalx("%s: %s passed the table", __func__,
		    msg_type_name(m->hdr.type));
	}
}

static void
spawner_parent_closed(struct msgev *mev, void *arg)
{
	/* The parent is trusted, but a bug of its must not go unseen. */
	if (msgev_protocol_error(mev))
		fatalx("%s: bad message from the parent", __func__);
	/* Services keep running: they are in their own sessions. */
	log_debug("%s: parent gone, exiting", __func__);
	exit(0);
}

void
spawner_main(struct herod_env *env)
{
	static struct spawner	 s;

	sp = &s;
	s.env = env;
	s.self = getpid();
	RB_INIT(&s.services);
	RB_INIT(&s.insts);
	RB_INIT(&s.pids);
	setproctitle("spawner");
	log_procinit("spawner");
	sandbox_die_with_parent();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == -1)
		fatal("%s: PR_SET_CHILD_SUBREAPER", __func__);
	signal(SIGPIPE, SIG_IGN);
	if ((s.base = event_base_new()) == NULL)
		fatalx("%s: event_base_new", __func__);
	reap_init();
	s.parent = proto_msgev_new(s.base, WORKER_FD, PROC_SPAWNER,
	    PROC_PARENT, 0, spawner_dispatch, spawner_parent_closed, NULL);
	if (s.parent == NULL)
		fatal("%s: msgev_new", __func__);
	spawner_send(M_WORKER_READY, -1, NULL, 0);
	event_base_dispatch(s.base);
	fatalx("%s: event loop ended", __func__);
}
