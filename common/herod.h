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
 * What every herod process knows about the daemon it belongs to, and the
 * entry points of the workers (re-exec'd as "herod -W NAME").
 */
#ifndef HEROD_HEROD_H
#define HEROD_HEROD_H

#include <sys/types.h>
#include <limits.h>

struct herod_env {
	int		 foreground;		/* -d */
	int		 verbose;		/* -v count */
	int		 sysmode;		/* started as root */
	char		 confdir[PATH_MAX];	/* -c */
	char		 statedir[PATH_MAX];	/* -s */
	char		 rundir[PATH_MAX];	/* -r */
	char		 user[64];		/* -u worker user */
	char		 group[64];		/* -G admin group, "" none */
	uid_t		 worker_uid;		/* resolved from user */
	gid_t		 worker_gid;
};

/* Paths below rundir. */
#define RUN_SOCK	"herod.sock"
#define RUN_SOCKETS	"sockets"	/* sockets/SERVICE/ per service */
#define RUN_PIDS	"pids"		/* pids/SERVICE.ACTION.pid */
#define RUN_NOTIFY	"notify"	/* notify/SERVICE.ACTION (prober) */
#define RUN_FIFO	"fifo"		/* fifo/SERVICE.ACTION.{out,err} */
#define STATE_DB	"herod.db"

/* parent/ */
extern struct herod_env	 herod_env;

/* spawner/spawner.c, prober/prober.c, store/store.c */
__attribute__((noreturn)) void	spawner_main(struct herod_env *);
__attribute__((noreturn)) void	prober_main(struct herod_env *);
__attribute__((noreturn)) void	store_main(struct herod_env *);

/*
 * common/sandbox.c: drop to the worker user (when root), chroot first if
 * dir != NULL (root only), then PR_SET_NO_NEW_PRIVS.  fatal() on error.
 */
void	sandbox_drop(const struct herod_env *, const char *chroot_dir);
/*
 * common/seccomp.c: the worker's syscall allowlist ("prober", "store");
 * a no-op without libseccomp or in sanitizer builds.
 */
void	sandbox_seccomp(const char *who);
/*
 * common/sandbox.c: each worker's Landlock rules, after sandbox_drop();
 * one warning and no restriction on a kernel without Landlock.
 */
void	sandbox_fs_prober(const struct herod_env *);
void	sandbox_fs_store(const struct herod_env *, int chrooted);
/* common/sandbox.c: PR_SET_PDEATHSIG so a worker dies with its parent. */
#define HEROD_PARENT_ENV	"HEROD_PARENT_PID"	/* for the workers */
void	sandbox_die_with_parent(void);

#endif
