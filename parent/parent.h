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

/* herod: parent.  Control socket, configuration, the state machine. */
#ifndef HEROD_PARENT_H
#define HEROD_PARENT_H

#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/types.h>

#include <event2/event.h>
#include <yajl/yajl_gen.h>

#include "config.h"
#include "ctl.h"
#include "herod.h"
#include "proto.h"
#include "state.h"

struct msgev;
struct client;
struct msg;

/* Who asked for what herod does (events.c): for the audit trail. */
struct actor {
	int			 by;
#define ACTOR_HEROD	0	/* herod's own decision */
#define ACTOR_HEROCTL	1	/* an admin over the control socket */
#define ACTOR_SIGNAL	2	/* a signal herod received */
	uid_t			 uid;	/* heroctl: SO_PEERCRED */
	pid_t			 pid;
	int			 signal;	/* signal: which */
	char			 what[32];	/* the command: "stop", ... */
};

struct act {
	struct svc		*svc;
	struct action_conf	*conf;
	enum action_state	 state;
	char			 reason[REASON_BUF];
	uint64_t		 job_id;
	uint32_t		 restart_count;
	pid_t			 pid;
	pid_t			 pgid;
	uint64_t		 starttime;
	int64_t			 started_ms;	/* monotonic, last spawn */
	int64_t			 running_since;	/* monotonic, 0 = not */
	int			 ready;
	int			 spawn_pending;	/* M_SPAWN sent */
	char			 status_text[REASON_BUF];
	int			 has_exit;
	int			 exit_known;
	int			 wstatus;
	uint32_t		 cur_delay_ms;
	int64_t			*restart_times;	/* ring, monotonic ms */
	size_t			 nrestart_times;
	int			 then;		/* after stop: THEN_* */
#define THEN_NOTHING	0
#define THEN_RESTART	1	/* respawn, restart_count + 1 */
#define THEN_FAIL	2	/* watchdog etc.: apply policy */
	char			 then_reason[REASON_BUF];
	struct event		*ev_timer;	/* backoff / ready timeout */
	int			 timer_kind;
#define TIMER_NONE	0
#define TIMER_BACKOFF	1
#define TIMER_READY	2
#define TIMER_SETTLE	3	/* mode none: alive long enough? */
	uint64_t		 logs_written;
	uint64_t		 logs_dropped;
	pid_t			 main_pid;	/* MAINPID=, 0: none */
	int			 main_pidfd;	/* -1, or on main_pid */
	struct event		*ev_main;	/* main_pidfd readable */
	int			 reloading;	/* RELOADING=1 until READY=1 */
	int			 adopting;	/* M_ADOPT sent */
	int			 live;		/* counted: pid or spawn pending */
	struct actor		 kill_by;	/* who asked for the stop */
	const char		*kill_cause;	/* events: "stop", "watchdog" */
};

struct probe_st {
	struct probe_conf	*conf;
	int			 ok;		/* -1 unknown */
	uint32_t		 failures;	/* consecutive, counted */
	uint32_t		 successes;	/* consecutive */
	int			 at_threshold;
	int			 failing;	/* reached it, not recovered */
	int64_t			 grace_until;	/* monotonic ms */
	char			*last_error;	/* NULL: none (most probes) */
};
#define PROBE_ERROR(p)	((p)->last_error != NULL ? (p)->last_error : "")

/* One name in a service's "after" list (deps.c). */
struct dep_edge {
	TAILQ_ENTRY(dep_edge)	 entry;
	struct svc		*from;		/* the service that waits */
	struct dep_node		*to;
};

/* A service name with the services that wait for it (deps.c). */
struct dep_node {
	RB_ENTRY(dep_node)	 entry;
	char			 name[NAME_MAXLEN + 1];
	struct svc		*svc;		/* NULL: no such service */
	TAILQ_HEAD(, dep_edge)	 dependents;
	size_t			 nedges;
	size_t			 nlive;		/* edges from live services */
};

struct svc {
	RB_ENTRY(svc)		 entry;
	char			 name[NAME_MAXLEN + 1];
	struct service_conf	*conf;
	struct act		*acts;
	size_t			 nacts;
	struct probe_st		*probes;
	size_t			 nprobes;
	enum service_state	 state;
	char			 reason[REASON_BUF];
	enum intent		 intent;
	uint64_t		 run_id;
	int			 was_running;
	int			 probes_enabled;
	int			 removing;	/* reload: stop, then drop */
	int			 replacing;	/* reload: stop, then start */
	int			 shutdown_sent;
	struct service_conf	*next_conf;	/* reload: after stop */
	struct dep_node		*node;		/* its name in the index */
	struct dep_edge		*deps;		/* one per conf->after */
	size_t			 ndeps;
	size_t			 nlive;		/* live actions */
	TAILQ_ENTRY(svc)	 stopq;		/* shutdown: to look at */
	int			 in_stopq;
};
RB_HEAD(svc_tree, svc);
RB_PROTOTYPE(svc_tree, svc, entry, svc_cmp);

struct parent {
	struct event_base	*base;
	struct svc_tree		 svcs;
	size_t			 nsvcs;
	uint64_t		 next_job_id;
	uint64_t		 next_run_id;
	int			 started;	/* services started */
	int			 shutting_down;
	int			 keep_services;
	uint32_t		 probe_seq;
	size_t			 nlive;		/* live actions, all services */
};
extern struct parent	 pt;

/* proc.c: workers */
void		 proc_init(char *argv0);
void		 proc_start_all(void);
int		 proc_send(enum proc_id, uint32_t, int, const void *, size_t);
void		 proc_flush(enum proc_id);
int		 proc_ready(enum proc_id);
void		 proc_reap(void);
void		 proc_stop_all(void);
void		 proc_kill_all(void);
void		 proc_push_service(struct service_conf *);
void		 proc_push_remove(const char *);

/* What list and status say of a worker (proc_info). */
struct proc_info {
	const char	*name;
	const char	*state;		/* running starting restarting stopped */
	pid_t		 pid;
	uint32_t	 deaths;	/* in a row, without staying up */
	uint32_t	 deaths_total;
	char		 last_exit[64];	/* "exit 1", "signal KILL", "" */
	int64_t		 next_try_ms;	/* restarting: in this many ms */
	int64_t		 uptime_ms;
};
int		 proc_info(enum proc_id, struct proc_info *);

/* herod.c: the end of the start, the service manager told */
void		 herod_started(void);
void		 herod_ready(void);
void		 herod_stopping(void);
void		 herod_status_changed(void);
__attribute__((noreturn)) void	herod_start_failed(const char *);

/* svc.c: the state machine */
struct svc	*svc_find(const char *);
struct svc	*svc_add(struct service_conf *);
void		 svc_remove(struct svc *);
void		 svc_start(struct svc *);
void		 svc_stop(struct svc *);
void		 svc_restart(struct svc *);
int		 svc_in_backoff(struct svc *);
void		 svc_update(struct svc *);
void		 svc_start_autostart(void);
int		 svc_all_stopped(void);
void		 svc_stop_all(void);
struct act	*act_find_ref(const struct m_ref *, int exact);
struct act	*act_find_pid(pid_t);
void		 act_spawned(const struct m_spawned *);
void		 act_spawn_failed(const struct m_failed *);
void		 act_exited(const struct m_exited *);
void		 act_adopted(const struct m_adopted *);
void		 act_ready(const struct m_ready *);
void		 act_notify(const struct m_notify *);
void		 svc_probe_result(const struct m_probe_result *);
void		 svc_log_stats(const struct m_log_stats *);
void		 svc_resync(enum proc_id);
void		 svc_load_record(const struct m_store_service *);
void		 svc_load_job(const struct m_store_job *);
void		 svc_load_done(const struct m_store_load_done *);
void		 act_store(struct act *);
void		 svc_store(struct svc *);
void		 act_ref(struct act *, struct m_ref *);
void		 svc_dependents_down(struct svc *);
void		 svc_kick_name(const char *);
int		 svc_check(void);

/* deps.c: who waits for whom */
struct dep_node	*dep_find(const char *);
void		 deps_attach(struct svc *);
void		 deps_detach(struct svc *);
void		 deps_link(struct svc *);
void		 deps_unlink(struct svc *);
void		 deps_live(struct svc *, int);
int		 deps_check(void);

/* events.c */
void		 event_state(struct act *);
void		 event_service(struct svc *);
void		 event_emit(yajl_gen);
yajl_gen	 event_begin(const char *, const char *);
void		 event_probe(struct svc *, struct probe_st *, int);
void		 event_spawn(struct act *);
void		 event_exit(struct act *, int, int);
void		 event_command(const struct actor *, const char *,
		    char **, size_t, int, int);
void		 event_actor_set(const struct actor *, struct actor *);
void		 event_actor_restore(const struct actor *);
const struct actor *event_actor(void);
void		 event_signal(int, struct actor *);
void		 event_killed(struct msg *);

/* control.c */
void		 control_init(void);
void		 control_started(void);
void		 control_cleanup(void);
void		 control_state_changed(struct svc *);
void		 control_probe_done(const struct m_probe_now *);
void		 control_worker_lost(enum proc_id);

/* status.c */
void		 status_service(yajl_gen, struct svc *);
void		 status_workers(yajl_gen);
void		 gen_str(yajl_gen, const char *);
void		 gen_int(yajl_gen, long long);
void		 gen_key_kv(yajl_gen, const char *, size_t, const char *);
void		 gen_key_kint(yajl_gen, const char *, size_t, long long);
/* A key and its value; the key is a string literal (its size is known). */
#define gen_kv(g, k, v)		gen_key_kv((g), "" k "", sizeof(k) - 1, (v))
#define gen_kint(g, k, v)	gen_key_kint((g), "" k "", sizeof(k) - 1, (v))

/* reload.c */
int		 reload_config(yajl_gen, char *, size_t);
int		 config_initial(void);

#endif
