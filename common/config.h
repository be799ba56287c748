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
 * Service files (herod.service(5)): parsed with yajl into these
 * structures.  Every field of the schema is represented.
 */
#ifndef HEROD_CONFIG_H
#define HEROD_CONFIG_H

#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/types.h>
#include <stdint.h>

#define NAME_MAXLEN		64	/* [a-z0-9][a-z0-9_.-]{0,63} */
#define CONFIG_MAX_FILE		(256 * 1024)
#define CONFIG_MAX_ERRORS	64

enum action_kind	{ KIND_PROCESS, KIND_ONESHOT };
enum restart_policy	{ RESTART_ON_FAILURE, RESTART_ALWAYS, RESTART_NEVER };
enum ready_mode		{ READY_NONE, READY_FILE, READY_NOTIFY, READY_FD,
			  READY_PROBE };
enum probe_kind		{ PROBE_TCP, PROBE_HTTP, PROBE_JSONRPC, PROBE_EXEC };
enum probe_onfail	{ ONFAIL_RESTART, ONFAIL_WARN };
enum rpc_transport	{ TRANSPORT_LINE, TRANSPORT_HTTP };

struct strlist {
	char		**v;		/* NULL terminated, may be NULL if n=0 */
	size_t		  n;
};

struct kv {
	char		*key;
	char		*val;
};

struct rlimit_conf {
	int		 resource;	/* RLIMIT_* */
	uint64_t	 value;		/* RLIM_INFINITY for "infinity" */
};

struct action_conf {
	char			 name[NAME_MAXLEN + 1];
	enum action_kind	 kind;			/* default process */
	struct strlist		 exec;			/* required, n >= 1 */
	char			*user;			/* NULL = default */
	char			*group;			/* NULL = user's */
	char			*workdir;		/* NULL = / (sys) or $HOME */
	struct kv		*env;
	size_t			 nenv;
	int			 umask;			/* -1 = inherit 022 */
	struct rlimit_conf	*rlimits;
	size_t			 nrlimits;
	struct strlist		 after;			/* action names */

	enum restart_policy	 restart_policy;	/* on-failure */
	uint32_t		 restart_delay_ms;	/* 100 */
	uint32_t		 restart_max_delay_ms;	/* 30000 */
	uint32_t		 restart_max;		/* 0 = unlimited */
	uint32_t		 restart_window_s;	/* 60 */

	int			 stop_signal;		/* SIGTERM */
	uint32_t		 stop_timeout_ms;	/* 10000 */

	int			 singleton;		/* false */
	char			*pidfile;		/* NULL = default */
	int			 kill_others;		/* false */
	struct strlist		 sockets;		/* unexpanded */
	uint16_t		*tcp_ports;
	size_t			 ntcp_ports;

	enum ready_mode		 ready_mode;		/* see config.c */
	int			 ready_mode_set;	/* given in the file */
	uint32_t		 ready_timeout_ms;	/* 30000 */
	int			 ready_fd;		/* 3 */
	uint32_t		 settle_ms;		/* 1000, mode none */
	int			 settle_set;		/* given in the file */
	uint32_t		 watchdog_ms;		/* 0 = off */
};

struct probe_conf {
	char			 name[NAME_MAXLEN + 1];
	enum probe_kind		 kind;			/* required */
	char			*target;		/* tcp/http/jsonrpc */
	char			*path;			/* "/" http, "/rpc" */
	int			 expect_lo;		/* 200 */
	int			 expect_hi;		/* 399 */
	char			*method;		/* "rpc.ping" */
	enum rpc_transport	 transport;		/* line */
	int			 keepalive;		/* true (http) */
	struct strlist		 exec;			/* exec probes */
	uint32_t		 interval_ms;		/* 5000 */
	uint32_t		 timeout_ms;		/* 1000 */
	uint32_t		 grace_ms;		/* 0 */
	uint32_t		 failure_threshold;	/* 3 */
	uint32_t		 success_threshold;	/* 1 */
	enum probe_onfail	 on_failure;		/* restart */
	struct strlist		 actions;		/* empty = all processes */
};

struct service_conf {
	char			 name[NAME_MAXLEN + 1];
	char			*description;
	int			 autostart;		/* true */
	struct strlist		 after;			/* service names */
	struct action_conf	*actions;
	size_t			 nactions;		/* >= 1 */
	struct probe_conf	*probes;
	size_t			 nprobes;
	uint64_t		 logs_max_bytes;	/* 4 MiB */
	uint32_t		 logs_keep_restarts;	/* 5 */

	char			*path;			/* file it came from */
	char			*text;			/* raw file contents */
	size_t			 textlen;
	TAILQ_ENTRY(service_conf) entry;	/* in a service_conf_list */
	RB_ENTRY(service_conf)	 node;		/* in a service_conf_tree */
};
TAILQ_HEAD(service_conf_list, service_conf);
RB_HEAD(service_conf_tree, service_conf);
RB_PROTOTYPE(service_conf_tree, service_conf, node, service_conf_cmp);

struct config_errors {
	char		*msg[CONFIG_MAX_ERRORS];	/* "web.json: key: why" */
	size_t		 n;
	size_t		 dropped;			/* beyond the cap */
};

/*
 * Parse one service file's text.  fname is used in error messages (the
 * base name, e.g. "web.json"); expect_name, if not NULL, is the name the
 * file must declare (its base name without ".json").  Returns NULL and
 * appends to errs on any error.  The result keeps a copy of the text.
 */
struct service_conf	*config_parse_service(const char *fname,
			    const char *expect_name, const char *text,
			    size_t len, struct config_errors *errs);
/*
 * Load every NAME.json in dir (other files are ignored, dotfiles too),
 * then check cross-service rules (service "after" names exist, no
 * cycles).  Returns 0 with list filled (sorted by name), or -1 with errs
 * filled and list empty.  A missing directory is an error.
 */
int			 config_load_dir(const char *dir,
			    struct service_conf_list *list,
			    struct config_errors *errs);
/*
 * config_canon.c: the file's parsed document as compact JSON with sorted
 * keys, without the top-level "description" (malloc'd, NULL on error);
 * config_same_effect() says if two versions of a service file differ in
 * nothing but comments, white space, key order or description.
 */
char			*config_canon(const char *, size_t);
int			 config_same_effect(const struct service_conf *,
			    const struct service_conf *);
/* The top-level keys whose values differ, as "actions, probes". */
void			 config_changed_keys(const struct service_conf *,
			    const struct service_conf *, char *, size_t);
/* Cross-service checks alone (used by config_load_dir). */
int			 config_check_set(struct service_conf_list *,
			    struct config_errors *);
void			 service_conf_free(struct service_conf *);
void			 service_conf_list_free(struct service_conf_list *);
/* A linear scan: for lists from config_load_dir(), not per message. */
struct service_conf	*service_conf_find(struct service_conf_list *,
			    const char *);
/*
 * Services indexed by name, for lookups per message (RB_INIT() the tree
 * first).  service_conf_insert() adds sc and returns the service of the
 * same name it replaces, taken out of the tree, or NULL;
 * service_conf_remove() takes the named service out and returns it, or
 * NULL.  service_conf_tree_free() frees every service in the tree.
 */
int			 service_conf_cmp(struct service_conf *,
			    struct service_conf *);
struct service_conf	*service_conf_lookup(struct service_conf_tree *,
			    const char *);
struct service_conf	*service_conf_insert(struct service_conf_tree *,
			    struct service_conf *);
struct service_conf	*service_conf_remove(struct service_conf_tree *,
			    const char *);
void			 service_conf_tree_free(struct service_conf_tree *);
struct action_conf	*action_conf_find(struct service_conf *,
			    const char *);
struct probe_conf	*probe_conf_find(struct service_conf *,
			    const char *);
/* Socket directory: used by the action?  Whose user owns it. */
int			 action_conf_uses_sockdir(const struct action_conf *);
struct action_conf	*service_conf_sockdir_owner(struct service_conf *);
void			 config_errors_add(struct config_errors *,
			    const char *fmt, ...)
			    __attribute__((format(printf, 2, 3)));
void			 config_errors_clear(struct config_errors *);

/* [a-z0-9][a-z0-9_.-]{0,63} */
int			 config_valid_name(const char *);
/*
 * Expand $HERO_SOCKET_DIR, $HERO_SERVICE, $HERO_ACTION (also in the
 * ${NAME} form) in s.  Other '$' are kept as is.  Returns a new string
 * or NULL (errno ENAMETOOLONG past 4096 bytes, ENOMEM).
 */
char			*config_expand(const char *s, const char *sockdir,
			    const char *service, const char *action);
/* "TERM", "SIGTERM" or a number -> signal number, -1 if unknown. */
int			 config_signal_byname(const char *);
const char		*config_signal_name(int);
const char		*config_ready_mode_name(enum ready_mode);
const char		*config_kind_name(enum action_kind);

#endif
