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
 * Every message between the parent and its workers, described once: the
 * size of its payload, its fd, the char arrays that must hold a NUL and
 * who may send it to whom.  Every process reads its peer through
 * proto_check(), so a message is validated the same way everywhere and
 * nothing reaches a dispatch function that the table does not allow.
 *
 * The table is sorted by type (a unit test checks it) and looked up by
 * bisection.  docs/ARCHITECTURE.md's message table is printed from it
 * (tests/proto_table.c) and a test keeps the two equal.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "msg.h"
#include "proto.h"

#define L(f, t)		PROTO_LINK(PROC_##f, PROC_##t)
#define FIXED(s)	#s, sizeof(struct s), sizeof(struct s)
#define NONE		"none", 0, 0
#define S(st, f)	{ offsetof(struct st, f),			\
			    sizeof(((struct st *)0)->f), #f }
#define SREF(st)	S(st, ref.service), S(st, ref.action)

#define W2P(w)		L(w, PARENT)
#define P2W(w)		L(PARENT, w)

const struct proto_msg proto_msgs[] = {
	{ M_WORKER_READY, "M_WORKER_READY", NONE, PROTO_FD_NEVER, 0,
	    W2P(SPAWNER) | W2P(PROBER) | W2P(STORE), -1, { { 0 } },
	    "sandboxed, listening" },
	{ M_CONF_SERVICE, "M_CONF_SERVICE", "service file text", 1,
	    CONFIG_MAX_FILE, PROTO_FD_NEVER, 1, P2W(SPAWNER) | P2W(PROBER),
	    -1, { { 0 } }, "one service's configuration" },
	{ M_CONF_REMOVE, "M_CONF_REMOVE", FIXED(m_name), PROTO_FD_NEVER, 0,
	    P2W(SPAWNER) | P2W(PROBER), -1, { S(m_name, name) },
	    "a service is gone" },
	{ M_CONF_DONE, "M_CONF_DONE", NONE, PROTO_FD_NEVER, 0,
	    P2W(SPAWNER) | P2W(PROBER), -1, { { 0 } },
	    "configuration pushed, ack please" },
	{ M_CONF_ACK, "M_CONF_ACK", NONE, PROTO_FD_NEVER, 0,
	    W2P(SPAWNER) | W2P(PROBER), -1, { { 0 } },
	    "configuration applied" },

	{ M_SPAWN, "M_SPAWN", FIXED(m_spawn), PROTO_FD_NEVER, 0,
	    P2W(SPAWNER), -1, { SREF(m_spawn) }, "start this instance" },
	{ M_SPAWNED, "M_SPAWNED", FIXED(m_spawned), PROTO_FD_NEVER, 0,
	    W2P(SPAWNER), -1, { SREF(m_spawned) },
	    "exec happened: pid, pgid, start time" },
	{ M_SPAWN_FAILED, "M_SPAWN_FAILED", FIXED(m_failed), PROTO_FD_NEVER,
	    0, W2P(SPAWNER), -1, { SREF(m_failed), S(m_failed, reason) },
	    "could not start: errno and reason" },
	{ M_EXITED, "M_EXITED", FIXED(m_exited), PROTO_FD_NEVER, 0,
	    W2P(SPAWNER), -1, { SREF(m_exited) },
	    "the instance's leader is gone: wait status" },
	{ M_STOP, "M_STOP", FIXED(m_stop), PROTO_FD_NEVER, 0, P2W(SPAWNER),
	    -1, { SREF(m_stop) },
	    "signal the group, SIGKILL after the timeout" },
	{ M_ADOPT, "M_ADOPT", FIXED(m_spawned), PROTO_FD_NEVER, 0,
	    P2W(SPAWNER), -1, { SREF(m_spawned) },
	    "take over a recorded pid and start time" },
	{ M_ADOPTED, "M_ADOPTED", FIXED(m_adopted), PROTO_FD_NEVER, 0,
	    W2P(SPAWNER), -1, { SREF(m_adopted) },
	    "adopted, or the process is gone" },
	{ M_LOGFD, "M_LOGFD", FIXED(m_logfd), PROTO_FD_MUST, 0,
	    W2P(SPAWNER) | P2W(STORE), PROC_STORE, { SREF(m_logfd) },
	    "read end of an output fifo" },
	{ M_READYFD, "M_READYFD", FIXED(m_ref), PROTO_FD_MUST, 0,
	    W2P(SPAWNER) | P2W(PROBER), PROC_PROBER,
	    { S(m_ref, service), S(m_ref, action) },
	    "read end of a readiness pipe" },
	{ M_EXEC_PROBE, "M_EXEC_PROBE", FIXED(m_exec_probe), PROTO_FD_NEVER,
	    0, W2P(PROBER) | P2W(SPAWNER), PROC_SPAWNER,
	    { S(m_exec_probe, service), S(m_exec_probe, probe) },
	    "run an exec probe" },
	{ M_EXEC_PROBE_RESULT, "M_EXEC_PROBE_RESULT", FIXED(m_probe_result),
	    PROTO_FD_NEVER, 0, W2P(SPAWNER) | P2W(PROBER), PROC_PROBER,
	    { S(m_probe_result, service), S(m_probe_result, probe),
	    S(m_probe_result, error) }, "its result" },
	{ M_REOPEN_LOGS, "M_REOPEN_LOGS", FIXED(m_ref), PROTO_FD_NEVER, 0,
	    P2W(SPAWNER), -1, { S(m_ref, service), S(m_ref, action) },
	    "send the fifos' read ends again" },
	{ M_CONNECT_REQ, "M_CONNECT_REQ", FIXED(m_connect), PROTO_FD_NEVER,
	    0, W2P(PROBER) | P2W(SPAWNER), PROC_SPAWNER,
	    { S(m_connect, service), S(m_connect, probe),
	    S(m_connect, path) },
	    "connect to a socket the prober may not open" },
	{ M_CONNECT_FD, "M_CONNECT_FD", FIXED(m_connect), PROTO_FD_MAY, 0,
	    W2P(SPAWNER) | P2W(PROBER), PROC_PROBER,
	    { S(m_connect, service), S(m_connect, probe),
	    S(m_connect, path) }, "the connected socket, or an errno" },
	{ M_KILLED, "M_KILLED", FIXED(m_killed), PROTO_FD_NEVER, 0,
	    W2P(SPAWNER), -1, { SREF(m_killed), S(m_killed, why) },
	    "a signal it sent: who, which, why (events)" },

	{ M_WATCH, "M_WATCH", FIXED(m_watch), PROTO_FD_NEVER, 0, P2W(PROBER),
	    -1, { SREF(m_watch) }, "watch readiness of this instance" },
	{ M_UNWATCH, "M_UNWATCH", FIXED(m_ref), PROTO_FD_NEVER, 0,
	    P2W(PROBER), -1, { S(m_ref, service), S(m_ref, action) },
	    "stop watching it" },
	{ M_READY, "M_READY", FIXED(m_ready), PROTO_FD_NEVER, 0, W2P(PROBER),
	    -1, { SREF(m_ready), S(m_ready, reason) },
	    "ready, or no longer ready" },
	{ M_NOTIFY, "M_NOTIFY", FIXED(m_notify), PROTO_FD_NEVER, 0,
	    W2P(PROBER), -1, { SREF(m_notify), S(m_notify, text) },
	    "STATUS=, watchdog, ... of an instance" },
	{ M_PROBES_ENABLE, "M_PROBES_ENABLE", FIXED(m_probes_enable),
	    PROTO_FD_NEVER, 0, P2W(PROBER), -1,
	    { S(m_probes_enable, service) }, "periodic probes on or off" },
	{ M_PROBE_RESULT, "M_PROBE_RESULT", FIXED(m_probe_result),
	    PROTO_FD_NEVER, 0, W2P(PROBER), -1,
	    { S(m_probe_result, service), S(m_probe_result, probe),
	    S(m_probe_result, error) }, "one probe run" },
	{ M_PROBE_NOW, "M_PROBE_NOW", FIXED(m_probe_now), PROTO_FD_NEVER, 0,
	    P2W(PROBER), -1, { S(m_probe_now, service) },
	    "run a service's probes now" },
	{ M_PROBE_NOW_DONE, "M_PROBE_NOW_DONE", FIXED(m_probe_now),
	    PROTO_FD_NEVER, 0, W2P(PROBER), -1, { S(m_probe_now, service) },
	    "those runs are reported" },

	{ M_STORE_SERVICE, "M_STORE_SERVICE", FIXED(m_store_service),
	    PROTO_FD_NEVER, 0, P2W(STORE), -1,
	    { S(m_store_service, name) }, "record a service's intent" },
	{ M_STORE_JOB, "M_STORE_JOB", FIXED(m_store_job), PROTO_FD_NEVER, 0,
	    P2W(STORE), -1, { SREF(m_store_job), S(m_store_job, status_text),
	    S(m_store_job, reason) }, "record a job row" },
	{ M_STORE_EVENT, "M_STORE_EVENT", "JSON object text", 1,
	    STORE_EVENT_MAX, PROTO_FD_NEVER, 1, P2W(STORE), -1, { { 0 } },
	    "record an event" },
	{ M_STORE_LOAD, "M_STORE_LOAD", NONE, PROTO_FD_NEVER, 0, P2W(STORE),
	    -1, { { 0 } }, "send the recorded state" },
	{ M_STORE_LOAD_SERVICE, "M_STORE_LOAD_SERVICE",
	    FIXED(m_store_service), PROTO_FD_NEVER, 0, W2P(STORE), -1,
	    { S(m_store_service, name) },
	    "a recorded service (only while loading)" },
	{ M_STORE_LOAD_JOB, "M_STORE_LOAD_JOB", FIXED(m_store_job),
	    PROTO_FD_NEVER, 0, W2P(STORE), -1, { SREF(m_store_job),
	    S(m_store_job, status_text), S(m_store_job, reason) },
	    "a recorded job (only while loading)" },
	{ M_STORE_LOAD_DONE, "M_STORE_LOAD_DONE", FIXED(m_store_load_done),
	    PROTO_FD_NEVER, 0, W2P(STORE), -1, { { 0 } },
	    "end of the load: highest ids" },
	{ M_STORE_CLIENT, "M_STORE_CLIENT",
	    "m_store_client + ctl_request + names",
	    sizeof(struct m_store_client) + sizeof(struct ctl_request),
	    CTL_MAX_REQUEST, PROTO_FD_MUST, 0,
	    P2W(STORE), -1, { { 0 } },
	    "a heroctl logs/events connection: the peer's uid and rank, "
	    "then its request as received (the store parses it)" },
	{ M_LOG_STATS, "M_LOG_STATS", FIXED(m_log_stats), PROTO_FD_NEVER, 0,
	    W2P(STORE), -1, { S(m_log_stats, service),
	    S(m_log_stats, action) }, "per-action log counters" },
	{ M_STORE_LOGCONF, "M_STORE_LOGCONF", FIXED(m_store_logconf),
	    PROTO_FD_NEVER, 0, P2W(STORE), -1,
	    { S(m_store_logconf, service) }, "log retention of a service" },
};
const size_t	proto_nmsgs = sizeof(proto_msgs) / sizeof(proto_msgs[0]);

static const char	*proc_names[PROC_MAX] = {
	[PROC_PARENT] = "parent",
	[PROC_SPAWNER] = "spawner",
	[PROC_PROBER] = "prober",
	[PROC_STORE] = "store",
};

static const char	*errors[] = {
	[PROTO_OK] = "ok",
	[PROTO_E_TYPE] = "unknown message type",
	[PROTO_E_PEER] = "not allowed from this sender to this receiver",
	[PROTO_E_HEADER] = "bad header (flags, peerid or pid)",
	[PROTO_E_SIZE] = "bad payload size",
	[PROTO_E_FD] = "fd missing or not allowed",
	[PROTO_E_STRING] = "string not NUL terminated",
	[PROTO_E_TEXT] = "NUL byte in text",
};

const struct proto_msg *
proto_lookup(uint32_t type)
{
	size_t	 lo = 0, hi = proto_nmsgs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (proto_msgs[mid].type == type)
			return &proto_msgs[mid];
		if (proto_msgs[mid].type < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *
msg_type_name(uint32_t type)
{
	static char			 buf[32];
	const struct proto_msg		*pm;

	if ((pm = proto_lookup(type)) != NULL)
		return pm->name;
	(void)snprintf(buf, sizeof(buf), "M_??? (%u)", type);
	return buf;
}

const char *
proto_proc_name(int id)
{
	if (id < 0 || id >= PROC_MAX)
		return "?";
	return proc_names[id];
}

const char *
proto_strerror(int e)
{
	if (e < 0 || (size_t)e >= sizeof(errors) / sizeof(errors[0]))
		return "?";
	return errors[e];
}

size_t
proto_maxlen(int from, int to)
{
	size_t	 i, max = 0;

	if (from < 0 || from >= PROC_MAX || to < 0 || to >= PROC_MAX)
		return 0;
	for (i = 0; i < proto_nmsgs; i++)
		if ((proto_msgs[i].links & PROTO_LINK(from, to)) &&
		    proto_msgs[i].maxlen > max)
			max = proto_msgs[i].maxlen;
	return max;
}

int
proto_check(int from, int to, const struct msg_hdr *hdr,
    const void *payload, size_t len, int fd)
{
	const struct proto_msg	*pm;
	const struct proto_str	*ps;
	const unsigned char	*p = payload;
	size_t			 i;

	if (from < 0 || from >= PROC_MAX || to < 0 || to >= PROC_MAX)
		return PROTO_E_PEER;
	if ((pm = proto_lookup(hdr->type)) == NULL)
		return PROTO_E_TYPE;
	if ((pm->links & PROTO_LINK(from, to)) == 0)
		return PROTO_E_PEER;
	if ((hdr->flags & ~(uint32_t)MSG_F_FD) != 0 || hdr->peerid != 0 ||
	    hdr->pid != 0 || ((hdr->flags & MSG_F_FD) != 0) != (fd != -1))
		return PROTO_E_HEADER;
	if (hdr->len != len || len < pm->minlen || len > pm->maxlen ||
	    (len > 0 && p == NULL))
		return PROTO_E_SIZE;
	if ((pm->fd == PROTO_FD_MUST && fd == -1) ||
	    (pm->fd == PROTO_FD_NEVER && fd != -1))
		return PROTO_E_FD;
	for (i = 0; i < PROTO_MAX_STR; i++) {
		ps = &pm->str[i];
		if (ps->size == 0)
			break;
		/* the table guarantees off + size <= minlen */
		if ((size_t)ps->off + ps->size > len ||
		    memchr(p + ps->off, '\0', ps->size) == NULL)
			return PROTO_E_STRING;
	}
	if (pm->text && memchr(p, '\0', len) != NULL)
		return PROTO_E_TEXT;
	return PROTO_OK;
}

/* The one place a message is validated in every process. */
static int
proto_accept(const struct msg *m, int self, int peer)
{
	int	 e;

	e = proto_check(peer, self, &m->hdr, m->data, m->hdr.len, m->fd);
	if (e == PROTO_OK)
		return 0;
	log_warnx("%s: %s from %s to %s rejected: %s (%u bytes%s)",
	    __func__, msg_type_name(m->hdr.type), proto_proc_name(peer),
	    proto_proc_name(self), proto_strerror(e), m->hdr.len,
	    m->fd != -1 ? ", with an fd" : "");
	return -1;
}

int
proto_get(struct msgchan *c, struct msg *m, int self, int peer)
{
	int	 r;

	if ((r = msgchan_get(c, m)) <= 0)
		return r;
	if (proto_accept(m, self, peer) == 0)
		return 1;
	if (m->fd != -1) {
		close(m->fd);
		m->fd = -1;
	}
	errno = EBADMSG;
	return -1;
}

/* arg: self * PROC_MAX + peer */
static int
proto_msgev_check(const struct msg *m, void *arg)
{
	intptr_t	 v = (intptr_t)arg;

	return proto_accept(m, (int)(v / PROC_MAX), (int)(v % PROC_MAX));
}

struct msgev *
proto_msgev_new(struct event_base *base, int fd, int self, int peer,
    size_t maxqueue, msgev_dispatch_cb dispatch, msgev_closed_cb closed,
    void *arg)
{
	struct msgev	*mev;
	size_t		 in, out;

	if (self < 0 || self >= PROC_MAX || peer < 0 || peer >= PROC_MAX) {
		errno = EINVAL;
		return NULL;
	}
	in = proto_maxlen(peer, self);
	out = proto_maxlen(self, peer);
	mev = msgev_new(base, fd, in > out ? in : out, maxqueue, dispatch,
	    closed, arg);
	if (mev == NULL)
		return NULL;
	msgchan_set_maxread(msgev_chan(mev), in);
	msgev_set_check(mev, proto_msgev_check,
	    (void *)(intptr_t)(self * PROC_MAX + peer));
	return mev;
}

void
proto_copy(const struct msg *m, void *buf, size_t len)
{
	if (m->hdr.len != len)
		fatalx("%s: %s: %u bytes, struct of %zu: the message table "
		    "is wrong", __func__, msg_type_name(m->hdr.type),
		    m->hdr.len, len);
	if (len > 0)
		memcpy(buf, m->data, len);
}
