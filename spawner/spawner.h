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

/* herod: spawner, the root worker that owns process lifecycles. */
#ifndef HEROD_SPAWNER_H
#define HEROD_SPAWNER_H

#include <sys/stat.h>
#include <sys/tree.h>
#include <sys/types.h>
#include <sys/un.h>

#include <limits.h>

#include <event2/event.h>

#include "config.h"
#include "proto.h"

struct msgev;

/* A running (or being started) instance of an action. */
struct inst {
	RB_ENTRY(inst)		 by_pid;
	RB_ENTRY(inst)		 by_ref;
	uint64_t		 seq;		/* insertion order */
	struct m_ref		 ref;
	pid_t			 pid;		/* 0 while pre-spawn runs */
	pid_t			 pgid;
	uint64_t		 starttime;
	int			 adopted;	/* not our child: pidfd */
	int			 pidfd;
	struct event		*ev_pidfd;
	struct event		*ev_kill;	/* stop escalation timer */
	int			 stopping;
	uint32_t		 stop_timeout_ms;	/* of the M_STOP */
	int			 stop_signal;
	char			*pidfile;	/* written by us, or NULL */
	int			 pidfile_side;	/* with PATH.start beside */
	/* pre-spawn: pids we wait to see gone before fork */
	struct prewait		*prewait;
};
RB_HEAD(inst_pids, inst);
RB_PROTOTYPE(inst_pids, inst, by_pid, inst_cmp);
RB_HEAD(inst_refs, inst);
RB_PROTOTYPE(inst_refs, inst, by_ref, inst_ref_cmp);

struct spawner {
	struct herod_env	*env;
	struct event_base	*base;
	struct msgev		*parent;
	struct service_conf_tree services;
	struct inst_pids	 pids;
	struct inst_refs	 insts;
	uint64_t		 inst_seq;
	struct event		*ev_sigchld;
	pid_t			 self;
	size_t			 nforked;	/* our children not yet reaped */
};
extern struct spawner	*sp;

/* What launch() starts, and how it went. */
enum {
	LAUNCH_ST_NONE, LAUNCH_ST_FDS, LAUNCH_ST_RLIMIT, LAUNCH_ST_GROUPS,
	LAUNCH_ST_GID, LAUNCH_ST_UID, LAUNCH_ST_CHDIR, LAUNCH_ST_EXEC
};
struct launch {
	char *const		*argv;
	char *const		*envp;
	const char		*path;		/* PATH to search argv[0] in */
	int			 fd0, fd1, fd2;
	int			 extra_fd;	/* -1: none */
	int			 extra_target;
	const struct rlimit_conf *rlimits;
	size_t			 nrlimits;
	mode_t			 umask;
	int			 change_cred;
	uid_t			 uid;
	gid_t			 gid;
	const gid_t		*groups;
	size_t			 ngroups;
	const char		*workdir;	/* NULL: stay */
	int			 maxfd;		/* close up to, w/o close_range */
	int			 chdir_fallback; /* workdir failing: "/" */
	char			*pid_env;	/* the child writes its pid here */
	struct sockaddr_un	 connect_to;	/* launch_connect() */
	volatile int		 sock;		/* its connected socket */
	/* written by the child before it exits 127 */
	volatile int		 failed;
	volatile int		 stage;
	volatile int		 error;
};

/* launch.c */
pid_t		 launch(struct launch *);
int		 launch_connect(struct launch *);
void		 launch_strerror(const struct launch *, char *, size_t);

/* spawner.c */
void		 spawner_send(uint32_t, int, const void *, size_t);
struct inst	*inst_find_ref(const struct m_ref *);
void		 inst_insert(struct inst *);
void		 inst_free(struct inst *);
void		 send_failed(const struct m_ref *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* spawn.c */
void		 spawn_start(const struct m_spawn *);
void		 spawn_do(struct inst *);
int		 spawn_paths(const struct m_ref *, const char *, char *,
		    size_t);
int		 spawn_fifo_dir_open(void);
void		 spawn_reopen_logs(const struct m_ref *);
void		 spawn_cred_flush(void);
struct action_conf *spawn_probe_action(struct service_conf *,
		    struct probe_conf *);
int		 spawn_connect_as(struct action_conf *, int,
		    const struct stat *, int *);

/*
 * What the kernel says about a process, read from /proc/PID/stat and
 * /proc/PID/status: never from a message or the store.
 */
struct proc_ident {
	uint64_t		 starttime;
	pid_t			 pgid;
	pid_t			 sid;
	uid_t			 uids[4];	/* real, effective, saved, fs */
};

/* reap.c */
int		 pidfd_open_pid(pid_t);
int		 pidfd_signal(int, int);
int		 pidfd_exited(int);
int		 proc_ident_read(pid_t, struct proc_ident *);
int		 proc_env_match(pid_t, const struct m_ref *, uint64_t);
int		 proc_is_action(int, pid_t, const struct m_ref *, uid_t,
		    uint64_t, uint64_t, struct proc_ident *, char *, size_t);
void		 reap_init(void);
void		 reap_adopt(const struct m_spawned *);
void		 reap_watch_pidfd(struct inst *);
void		 reap_inst_gone(struct inst *, int, int);
int		 reap_exec_probe_pid(pid_t, int);
void		 kill_job_orphans(uint64_t, int);

/* stop.c */
void		 stop_inst(const struct m_stop *);
int		 stop_kill_group(struct inst *, int);
void		 report_kill(const struct m_ref *, pid_t, int, uint32_t,
		    const char *, ...) __attribute__((format(printf, 5, 6)));

/* prespawn.c */
void		 prespawn_run(struct inst *, struct service_conf *,
		    struct action_conf *);
void		 prespawn_cancel(struct inst *);
int		 inst_pidfile_path(const struct m_ref *, struct action_conf *,
		    char *, size_t);
void		 inst_pidfile_write(struct inst *);
void		 inst_pidfile_remove(struct inst *);
int		 action_uid(struct action_conf *, uid_t *);

/* sockown.c */
int		 sock_listening(const char *);
pid_t		 sock_owner_unix(unsigned long, const char *, char *, size_t);
pid_t		 port_owner_tcp(unsigned int, char *, size_t);

void		 connect_for_prober(struct m_connect *);

/* execprobe.c */
void		 execprobe_run(const struct m_exec_probe *);

#endif
