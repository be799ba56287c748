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
 * Messages between the parent and its workers (spawner, prober, store).
 * Every payload is a fixed-layout struct without pointers, except where
 * noted (raw text).  common/proto.c describes each message once: its
 * size, whether it carries an fd, which of its fixed char arrays must
 * hold a NUL and which process may send it to which.  Every process reads
 * its peer through that table (proto_msgev_new, proto_get): a message
 * that does not match is never dispatched.
 */
#ifndef HEROD_PROTO_H
#define HEROD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "msg.h"

#define NAME_BUF	72		/* NAME_MAXLEN + NUL, padded */
#define REASON_BUF	256
#define WORKER_FD	3		/* parent socket of a re-exec'd worker */
#define STORE_EVENT_MAX	4096		/* M_STORE_EVENT text */

enum proc_id {
	PROC_PARENT = 0,
	PROC_SPAWNER,
	PROC_PROBER,
	PROC_STORE,
	PROC_MAX
};

enum m_type {
	/* any worker <-> parent */
	M_WORKER_READY = 1,	/* w->p: sandboxed and listening, no payload */
	M_CONF_SERVICE,		/* p->spawner,prober: raw service file text */
	M_CONF_REMOVE,		/* p->spawner,prober: struct m_name */
	M_CONF_DONE,		/* p->w: all M_CONF_SERVICE sent, no payload */
	M_CONF_ACK,		/* w->p: reply to M_CONF_DONE, no payload */

	/* spawner */
	M_SPAWN = 20,		/* p->s: struct m_spawn */
	M_SPAWNED,		/* s->p: struct m_spawned */
	M_SPAWN_FAILED,		/* s->p: struct m_failed */
	M_EXITED,		/* s->p: struct m_exited */
	M_STOP,			/* p->s: struct m_stop */
	M_ADOPT,		/* p->s: struct m_spawned (what was recorded) */
	M_ADOPTED,		/* s->p: struct m_adopted */
	M_LOGFD,		/* s->p->store: struct m_logfd + fd */
	M_READYFD,		/* s->p->prober: struct m_ref + fd */
	M_EXEC_PROBE,		/* prober->p->s: struct m_exec_probe */
	M_EXEC_PROBE_RESULT,	/* s->p->prober: struct m_probe_result */
	M_REOPEN_LOGS,		/* p->s: struct m_ref: send M_LOGFDs again */
	M_CONNECT_REQ,		/* prober->p->s: struct m_connect */
	M_CONNECT_FD,		/* s->p->prober: struct m_connect (+ fd) */
	M_KILLED,		/* s->p: struct m_killed */

	/* prober */
	M_WATCH = 40,		/* p->prober: struct m_watch */
	M_UNWATCH,		/* p->prober: struct m_ref */
	M_READY,		/* prober->p: struct m_ready */
	M_NOTIFY,		/* prober->p: struct m_notify */
	M_PROBES_ENABLE,	/* p->prober: struct m_probes_enable */
	M_PROBE_RESULT,		/* prober->p: struct m_probe_result */
	M_PROBE_NOW,		/* p->prober: struct m_probe_now */
	M_PROBE_NOW_DONE,	/* prober->p: struct m_probe_now */

	/* store */
	M_STORE_SERVICE = 60,	/* p->store: struct m_store_service */
	M_STORE_JOB,		/* p->store: struct m_store_job */
	M_STORE_EVENT,		/* p->store: raw JSON object text (<= 4 KiB) */
	M_STORE_LOAD,		/* p->store: no payload */
	M_STORE_LOAD_SERVICE,	/* store->p: struct m_store_service */
	M_STORE_LOAD_JOB,	/* store->p: struct m_store_job */
	M_STORE_LOAD_DONE,	/* store->p: struct m_store_load_done */
	M_STORE_CLIENT,		/* p->store: fd of a heroctl connection +
				   struct m_store_client, then struct
				   ctl_request + names (as received) */
	M_LOG_STATS,		/* store->p: struct m_log_stats */
	M_STORE_LOGCONF,	/* p->store: struct m_store_logconf */
};

struct m_name {
	char		name[NAME_BUF];
};

/* One instance of an action: service, action, job, restart generation. */
struct m_ref {
	char		service[NAME_BUF];
	char		action[NAME_BUF];
	uint64_t	job_id;
	uint32_t	restart_count;
	uint32_t	pad;
};

struct m_spawn {
	struct m_ref	ref;
	uint32_t	flags;
#define SPAWN_F_ADOPTING	0x1
	uint32_t	pad;
};

struct m_spawned {
	struct m_ref	ref;
	int32_t		pid;
	int32_t		pgid;
	uint64_t	starttime;	/* field 22 of /proc/PID/stat */
};

struct m_failed {
	struct m_ref	ref;
	int32_t		error;		/* errno, or 0 */
	uint32_t	pad;
	char		reason[REASON_BUF];
};

struct m_exited {
	struct m_ref	ref;
	int32_t		pid;
	int32_t		wstatus;	/* as from waitpid(2) */
	uint32_t	known;		/* 0: adopted process, status unknown */
	uint32_t	pad;
};

struct m_stop {
	struct m_ref	ref;
	int32_t		pid;
	int32_t		signal;
	uint32_t	timeout_ms;
	uint32_t	pad;
};

/*
 * A signal the spawner sent: to an instance it stops (M_STOP, and the
 * SIGKILL after its timeout), or before a spawn to a process named by
 * the pid file or holding a declared socket or port.
 */
struct m_killed {
	struct m_ref	ref;		/* the instance stopped or spawned */
	int32_t		pid;		/* the process signalled */
	int32_t		signal;
	uint32_t	cause;		/* KILLED_* */
	uint32_t	pad;
	char		why[REASON_BUF];
};
#define KILLED_STOP		1	/* the stop signal of M_STOP */
#define KILLED_STOP_TIMEOUT	2	/* SIGKILL: not gone in time */
#define KILLED_SINGLETON	3	/* pre-spawn: a previous instance */
#define KILLED_KILL_OTHERS	4	/* pre-spawn: a holder of a socket/port */
#define KILLED_PRESPAWN_TIMEOUT	5	/* pre-spawn: SIGKILL, not gone */
#define KILLED_MAX		5

struct m_adopted {
	struct m_ref	ref;
	int32_t		pid;
	uint32_t	ok;		/* 1: alive with that start time */
};

struct m_logfd {
	struct m_ref	ref;
	uint32_t	stream;		/* 1 stdout, 2 stderr */
	uint32_t	pad;
};

struct m_exec_probe {
	char		service[NAME_BUF];
	char		probe[NAME_BUF];
	uint32_t	seq;
	uint32_t	timeout_ms;
};

/*
 * A unix socket the prober may not open (system mode, owned by the
 * service's user): the spawner connects and passes the connected fd.
 */
struct m_connect {
	char		service[NAME_BUF];
	char		probe[NAME_BUF];
	uint32_t	token;
	int32_t		error;		/* reply: 0 and an fd, or errno */
	char		path[112];
};

struct m_watch {
	struct m_ref	ref;
	int32_t		pid;
	int32_t		pgid;
	uint32_t	mode;		/* enum ready_mode */
	uint32_t	watchdog_ms;
	uint32_t	adopted;	/* 1: re-establish, do not expect fd */
	uint32_t	pad;
};

struct m_ready {
	struct m_ref	ref;
	uint32_t	ready;		/* 1 ready, 0 no longer ready */
	uint32_t	pad;
	char		reason[REASON_BUF];
};

enum notify_what {
	NOTIFY_STATUS = 1,	/* text */
	NOTIFY_STOPPING,
	NOTIFY_EXTEND_TIMEOUT,	/* value: microseconds */
	NOTIFY_ERRNO,		/* value: errno */
	NOTIFY_WATCHDOG_MISSED,	/* value: ms since last WATCHDOG=1 */
	NOTIFY_MAINPID,		/* value: a pid of the instance's group */
	NOTIFY_RELOADING,	/* value: 1 RELOADING=1, 0 READY=1 again */
	NOTIFY_WATCHDOG,	/* a WATCHDOG=1 was seen; stays the last */
};

struct m_notify {
	struct m_ref	ref;
	uint32_t	what;
	uint32_t	pad;
	uint64_t	value;
	char		text[REASON_BUF];
};

struct m_probes_enable {
	char		service[NAME_BUF];
	uint32_t	enable;
	uint32_t	pad;
};

struct m_probe_result {
	char		service[NAME_BUF];
	char		probe[NAME_BUF];
	uint32_t	seq;		/* 0 periodic, else M_PROBE_NOW seq */
	uint32_t	ok;
	uint64_t	duration_us;
	char		error[REASON_BUF];
};

struct m_probe_now {
	char		service[NAME_BUF];
	uint32_t	seq;
	uint32_t	pad;
};

enum intent {
	INTENT_DOWN = 0,	/* stopped by the operator, or never started */
	INTENT_UP = 1,		/* should be running */
	INTENT_FAILED = 2,	/* gave up; stays failed until start */
};

struct m_store_service {
	char		name[NAME_BUF];
	uint32_t	intent;
	uint32_t	pad;
	uint64_t	run_id;		/* current run, 0 if none */
};

struct m_store_job {
	struct m_ref	ref;
	uint64_t	run_id;
	int32_t		pid;		/* 0 when not running */
	int32_t		pgid;
	uint64_t	starttime;
	uint32_t	state;		/* enum action_state (state.h) */
	int32_t		wstatus;	/* last exit, -1 none */
	int64_t		updated_ms;	/* wall clock, ms */
	/*
	 * Display text kept across herod restarts: the sd_notify STATUS=
	 * text and the reason of the state.  From the database, which the
	 * worker user can write: shown, never interpreted.
	 */
	char		status_text[REASON_BUF];
	char		reason[REASON_BUF];
};

struct m_store_load_done {
	uint64_t	max_job_id;
	uint64_t	max_run_id;
};

/* Who the heroctl client handed to the store is (SO_PEERCRED). */
struct m_store_client {
	uint32_t	uid;
	uint32_t	admin;		/* 1: may use the admins' reserve */
};

struct m_log_stats {
	char		service[NAME_BUF];
	char		action[NAME_BUF];
	uint64_t	written;	/* lines received */
	uint64_t	dropped;	/* lines dropped under pressure */
};

struct m_store_logconf {
	char		service[NAME_BUF];
	uint64_t	max_bytes;
	uint32_t	keep_restarts;
	uint32_t	pad;
};

/* Force NUL termination of a fixed buffer received from a peer. */
#define proto_terminate(buf)	((buf)[sizeof(buf) - 1] = '\0')

/*
 * The message table (common/proto.c).
 */
/* One bit per (sender, receiver) pair. */
#define PROTO_LINK(from, to)	(1U << ((from) * PROC_MAX + (to)))

enum proto_fd {
	PROTO_FD_NEVER = 0,
	PROTO_FD_MUST,
	PROTO_FD_MAY,
};

#define PROTO_MAX_STR	4

/* A char array in the payload (offset, size) that must hold a NUL. */
struct proto_str {
	uint16_t	 off;
	uint16_t	 size;
	const char	*name;
};

/*
 * payload: the struct's name, or a description.  The payload size is
 * minlen..maxlen.  text: the payload is text and holds no NUL.  links:
 * the PROTO_LINK()s allowed.  relay: where the parent forwards it, or -1.
 */
struct proto_msg {
	uint32_t		 type;
	const char		*name;
	const char		*payload;
	uint32_t		 minlen;
	uint32_t		 maxlen;
	enum proto_fd		 fd;
	int			 text;
	uint32_t		 links;
	int			 relay;
	struct proto_str	 str[PROTO_MAX_STR];
	const char		*desc;
};

/* Why proto_check refused a message (0: accepted). */
enum proto_error {
	PROTO_OK = 0,
	PROTO_E_TYPE,		/* no such type */
	PROTO_E_PEER,		/* not from this sender to this one */
	PROTO_E_HEADER,		/* flags, peerid or pid */
	PROTO_E_SIZE,		/* payload size */
	PROTO_E_FD,		/* fd missing, or not allowed */
	PROTO_E_STRING,		/* a char array without NUL */
	PROTO_E_TEXT,		/* a NUL byte in text */
};

extern const struct proto_msg	proto_msgs[];
extern const size_t		proto_nmsgs;

const struct proto_msg	*proto_lookup(uint32_t);
const char		*msg_type_name(uint32_t);
const char		*proto_proc_name(int);
const char		*proto_strerror(int);
/* Largest payload from may send to: the read limit of to's channel. */
size_t			 proto_maxlen(int from, int to);

/*
 * The whole validation of one received message, pure (no I/O, no
 * logging, fd only tested against -1): from sent it to to; hdr as
 * received, payload of len bytes (hdr->len must equal len), fd -1 or
 * the descriptor that came with it.  Returns PROTO_OK or a
 * PROTO_E_* code (proto_strerror()).
 */
int			 proto_check(int from, int to,
			    const struct msg_hdr *hdr, const void *payload,
			    size_t len, int fd);

/*
 * msgchan_get + proto_check: 1 and *m filled, 0 when more bytes are
 * needed, -1 on a framing error or a rejected message (logged; its fd
 * is closed; errno EBADMSG): the caller must close the channel.
 */
int			 proto_get(struct msgchan *, struct msg *,
			    int self, int peer);
/*
 * A msgev whose messages are checked against the table: a rejected
 * message is logged and closes the channel as a protocol error
 * (msgev_protocol_error() is 1 in the closed callback).  The payload
 * limits come from the table.
 */
struct msgev		*proto_msgev_new(struct event_base *, int fd,
			    int self, int peer, size_t maxqueue,
			    msgev_dispatch_cb, msgev_closed_cb, void *);
/*
 * Copy the payload of an accepted message of a fixed-size type into its
 * struct; the size was checked by the table, so a mismatch is a bug in
 * the table and fatal.
 */
void			 proto_copy(const struct msg *, void *, size_t);

#endif
