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
 * Starting action instances: environment, credentials and fds are
 * prepared here, launch.c starts the process; whether the exec happened
 * is known when launch() returns.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
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

/* the PATH of every action, whatever herod's own (herod.service(5)) */
#define DEFAULT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct cred {
	uid_t		 uid;
	gid_t		 gid;
	char		 user[64];
	char		 home[PATH_MAX];
	int		 change;		/* setuid needed */
	const gid_t	*groups;		/* supplementary, if change */
	size_t		 ngroups;
};

struct spawn_ctx {
	char		**argv;
	char		**envp;
	size_t		  nenv;
	const char	 *path;			/* PATH in envp */
	struct cred	  cred;
	int		  outfd, errfd;		/* fifo write ends */
	int		  readyw;		/* ready pipe write end */
	char		 *pid_env;		/* WATCHDOG_PID's value */
};

/* room for the digits of any pid, written by the child (launch.c) */
#define PID_ENV_ROOM	"            "


static int	 spawn_nullfd = -1;

int
spawn_paths(const struct m_ref *ref, const char *what, char *buf,
    size_t len)
{
	int	 n;

	if (strcmp(what, "sockdir") == 0)
		n = snprintf(buf, len, "%s/%s/%s", sp->env->rundir,
		    RUN_SOCKETS, ref->service);
	else if (strcmp(what, "notify") == 0)
		n = snprintf(buf, len, "%s/%s/%s.%s", sp->env->rundir,
		    RUN_NOTIFY, ref->service, ref->action);
	else if (strcmp(what, "out") == 0 || strcmp(what, "err") == 0)
		n = snprintf(buf, len, "%s/%s/%llu.%u.%s", sp->env->rundir,
		    RUN_FIFO, (unsigned long long)ref->job_id,
		    ref->restart_count, what);
	else
		return -1;
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * getpwnam(3) and getgrouplist(3) read /etc: remember the last answers
 * until the next configuration push (users may have changed with it).
 */
#define CRED_CACHE	16
static struct cred_cache {
	char		 name[64];
	uid_t		 uid;
	gid_t		 gid;
	char		 home[PATH_MAX];
	gid_t		*groups;	/* supplementary groups for groups_gid */
	int		 ngroups;
	gid_t		 groups_gid;
} cred_cache[CRED_CACHE];
static size_t		 cred_cache_next;

void
spawn_cred_flush(void)
{
	size_t	 i;

	for (i = 0; i < CRED_CACHE; i++) {
		free(cred_cache[i].groups);
		memset(&cred_cache[i], 0, sizeof(cred_cache[i]));
	}
}

static struct cred_cache *
pw_lookup(const char *name, uid_t uid)
{
	struct cred_cache	*cc;
	struct passwd		*pw;
	size_t			 i;

	for (i = 0; i < CRED_CACHE; i++) {
		cc = &cred_cache[i];
		if (cc->name[0] == '\0')
			continue;
		if ((name != NULL && strcmp(cc->name, name) == 0) ||
		    (name == NULL && cc->uid == uid))
			return cc;
	}
	errno = 0;
	pw = name != NULL ? getpwnam(name) : getpwuid(uid);
	if (pw == NULL)
		return NULL;
	if (strlen(pw->pw_name) >= sizeof(cc->name) ||
	    strlen(pw->pw_dir) >= sizeof(cc->home)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	cc = &cred_cache[cred_cache_next++ % CRED_CACHE];
	free(cc->groups);
	memset(cc, 0, sizeof(*cc));
	strlcpy(cc->name, pw->pw_name, sizeof(cc->name));
	cc->uid = pw->pw_uid;
	cc->gid = pw->pw_gid;
	strlcpy(cc->home, pw->pw_dir, sizeof(cc->home));
	return cc;
}

/* The supplementary groups of cc's user with gid as its group. */
static int
cred_groups(struct cred_cache *cc, gid_t gid)
{
	gid_t	*g;
	int	 n = 32;

	if (cc->groups != NULL && cc->groups_gid == gid)
		return 0;
	free(cc->groups);
	cc->groups = NULL;
	for (;;) {
		if ((g = reallocarray(NULL, (size_t)n, sizeof(*g))) == NULL)
			return -1;
		if (getgrouplist(cc->name, gid, g, &n) != -1)
			break;
		free(g);
		if (n > 65536) {
			errno = E2BIG;
			return -1;
		}
		n *= 2;
	}
	cc->groups = g;
	cc->ngroups = n;
	cc->groups_gid = gid;
	return 0;
}

static int
resolve_cred(struct action_conf *ac, struct cred *c, char *err,
    size_t errlen)
{
	struct cred_cache	*pw;
	struct group		*gr;
	const char		*user = ac->user;

	memset(c, 0, sizeof(*c));
	if (!sp->env->sysmode) {
		pw = pw_lookup(NULL, getuid());
		if (user != NULL && (pw == NULL ||
		    strcmp(pw->name, user) != 0)) {
			snprintf(err, errlen, "user %s: only the invoking "
			    "user in user mode", user);
			return EPERM;
		}
		if (ac->group != NULL) {
			snprintf(err, errlen, "group %s: not in user mode",
			    ac->group);
			return EPERM;
		}
		c->uid = getuid();
		c->gid = getgid();
		strlcpy(c->user, pw ? pw->name : "", sizeof(c->user));
		strlcpy(c->home, pw ? pw->home : "/", sizeof(c->home));
		return 0;
	}
	if (user == NULL)
		user = "root";
	if ((pw = pw_lookup(user, 0)) == NULL) {
		snprintf(err, errlen, "unknown user %s", user);
		return errno ? errno : ENOENT;
	}
	c->uid = pw->uid;
	c->gid = pw->gid;
	c->change = 1;
	strlcpy(c->user, pw->name, sizeof(c->user));
	strlcpy(c->home, pw->home, sizeof(c->home));
	if (ac->group != NULL) {
		errno = 0;
		if ((gr = getgrnam(ac->group)) == NULL) {
			snprintf(err, errlen, "unknown group %s", ac->group);
			return errno ? errno : ENOENT;
		}
		c->gid = gr->gr_gid;
	}
	if (cred_groups(pw, c->gid) == -1) {
		snprintf(err, errlen, "groups of %s: %s", user,
		    strerror(errno));
		return errno;
	}
	c->groups = pw->groups;
	c->ngroups = (size_t)pw->ngroups;
	return 0;
}

static int
env_add(struct spawn_ctx *ctx, const char *key, const char *val)
{
	char	*s;
	size_t	 i, kl = strlen(key);

	if (asprintf(&s, "%s=%s", key, val) == -1)
		return -1;
	for (i = 0; i < ctx->nenv; i++) {
		if (strncmp(ctx->envp[i], key, kl) == 0 &&
		    ctx->envp[i][kl] == '=') {
			free(ctx->envp[i]);
			ctx->envp[i] = s;
			return 0;
		}
	}
	ctx->envp[ctx->nenv++] = s;
	ctx->envp[ctx->nenv] = NULL;
	return 0;
}

/*
 * The environment of an action (inst: its instance, not an exec probe).
 * The watchdog's variables are set last, over any of env: WATCHDOG_PID
 * is the pid of the child, known only to the child, which writes it into
 * the room left here before it executes the program.
 */
static int
build_env(struct spawn_ctx *ctx, const struct m_ref *ref,
    struct action_conf *ac, const char *sockdir, int inst)
{
	char		 buf[PATH_MAX + 32], *v;
	const char	*p;
	size_t		 i;

	ctx->envp = calloc(ac->nenv + 16, sizeof(char *));
	if (ctx->envp == NULL)
		return -1;
	if (env_add(ctx, "PATH", DEFAULT_PATH) == -1 ||
	    env_add(ctx, "HOME", ctx->cred.home) == -1 ||
	    env_add(ctx, "USER", ctx->cred.user) == -1)
		return -1;
	if ((p = getenv("LANG")) != NULL && env_add(ctx, "LANG", p) == -1)
		return -1;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)ref->job_id);
	if (env_add(ctx, "HERO_SERVICE", ref->service) == -1 ||
	    env_add(ctx, "HERO_ACTION", ref->action) == -1 ||
	    env_add(ctx, "HERO_JOB_ID", buf) == -1)
		return -1;
	snprintf(buf, sizeof(buf), "%u", ref->restart_count);
	if (env_add(ctx, "HERO_RESTART_COUNT", buf) == -1 ||
	    env_add(ctx, "HERO_SOCKET_DIR", sockdir) == -1)
		return -1;
	if (ac->ready_mode == READY_FILE) {
		snprintf(buf, sizeof(buf), "%s/.ready.%s", sockdir,
		    ref->action);
		if (env_add(ctx, "HERO_READY_FILE", buf) == -1)
			return -1;
	}
	if (ac->ready_mode == READY_NOTIFY) {
		if (spawn_paths(ref, "notify", buf, sizeof(buf)) == -1 ||
		    env_add(ctx, "NOTIFY_SOCKET", buf) == -1)
			return -1;
	}
	for (i = 0; i < ac->nenv; i++) {
		v = config_expand(ac->env[i].val, sockdir, ref->service,
		    ref->action);
		if (v == NULL)
			return -1;
		if (env_add(ctx, ac->env[i].key, v) == -1) {
			free(v);
			return -1;
		}
		free(v);
	}
	if (inst && ac->ready_mode == READY_NOTIFY && ac->watchdog_ms > 0) {
		snprintf(buf, sizeof(buf), "%llu",
		    (unsigned long long)ac->watchdog_ms * 1000);
		if (env_add(ctx, "WATCHDOG_USEC", buf) == -1 ||
		    env_add(ctx, "WATCHDOG_PID", PID_ENV_ROOM) == -1)
			return -1;
	}
	for (i = 0; i < ctx->nenv; i++) {
		if (strncmp(ctx->envp[i], "PATH=", 5) == 0)
			ctx->path = ctx->envp[i] + 5;
		if (inst && strncmp(ctx->envp[i], "WATCHDOG_PID=", 13) == 0)
			ctx->pid_env = ctx->envp[i] + 13;
	}
	return 0;
}

static void
ctx_free(struct spawn_ctx *ctx)
{
	size_t	 i;

	if (ctx->argv != NULL) {
		for (i = 0; ctx->argv[i] != NULL; i++)
			free(ctx->argv[i]);
		free(ctx->argv);
	}
	if (ctx->envp != NULL) {
		for (i = 0; i < ctx->nenv; i++)
			free(ctx->envp[i]);
		free(ctx->envp);
	}
	if (ctx->outfd != -1)
		close(ctx->outfd);
	if (ctx->errfd != -1)
		close(ctx->errfd);
	if (ctx->readyw != -1)
		close(ctx->readyw);
}

static int
build_argv(struct spawn_ctx *ctx, const struct m_ref *ref,
    struct strlist *exec, const char *sockdir)
{
	size_t	 i;

	if ((ctx->argv = calloc(exec->n + 1, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < exec->n; i++) {
		ctx->argv[i] = config_expand(exec->v[i], sockdir,
		    ref->service, ref->action);
		if (ctx->argv[i] == NULL)
			return -1;
	}
	return 0;
}

static int
null_fd(void)
{
	if (spawn_nullfd == -1)
		spawn_nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	return spawn_nullfd;
}

/* The launch of an action or exec probe as ctx prepared it. */
static void
launch_init(struct launch *l, struct spawn_ctx *ctx, struct action_conf *ac)
{
	memset(l, 0, sizeof(*l));
	l->argv = ctx->argv;
	l->envp = ctx->envp;
	l->path = ctx->path;
	l->extra_fd = -1;
	l->umask = ac->umask >= 0 ? (mode_t)ac->umask : 022;
	l->change_cred = ctx->cred.change;
	l->uid = ctx->cred.uid;
	l->gid = ctx->cred.gid;
	l->groups = ctx->cred.groups;
	l->ngroups = ctx->cred.ngroups;
	l->workdir = ac->workdir ? ac->workdir : ctx->cred.home;
	l->chdir_fallback = ac->workdir == NULL;
}

static void
spawn_spawned(struct inst *in)
{
	struct m_spawned	 s;

	memset(&s, 0, sizeof(s));
	s.ref = in->ref;
	s.pid = in->pid;
	s.pgid = in->pgid;
	if (proc_stat(in->pid, &in->starttime, NULL, NULL, NULL, 0) == -1)
		in->starttime = 0;
	s.starttime = in->starttime;
	inst_pidfile_write(in);
	spawner_send(M_SPAWNED, -1, &s, sizeof(s));
}

/*
 * RUNDIR/fifo, opened without following links; it must be ours and
 * writable by us alone (herod makes it 0700).
 */
int
spawn_fifo_dir_open(void)
{
	char		 path[PATH_MAX];
	struct stat	 sb;
	int		 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", sp->env->rundir,
	    RUN_FIFO) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = safe_dir_open(path)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || sb.st_uid != geteuid() ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		close(fd);
		log_warnx("%s: %s: not ours alone", __func__, path);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* A fifo of dfd opened with flags, not through a link. */
static int
fifo_open(int dfd, const char *name, int flags)
{
	struct stat	 sb;
	int		 fd;

	if ((fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISFIFO(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

static int
open_fifo(int dfd, const struct m_ref *ref, const char *what, int *rfd,
    int *wfd)
{
	char	 path[PATH_MAX], *name;

	if (spawn_paths(ref, what, path, sizeof(path)) == -1)
		return -1;
	name = strrchr(path, '/') + 1;
	/* the name is new for each restart: unlink only a leftover */
	if (mkfifoat(dfd, name, 0600) == -1 && (errno != EEXIST ||
	    unlinkat(dfd, name, 0) == -1 || mkfifoat(dfd, name, 0600) == -1))
		return -1;
	/* the writer first, so the reader never sees a premature EOF */
	if ((*wfd = fifo_open(dfd, name, O_RDWR)) == -1)
		return -1;
	if ((*rfd = fifo_open(dfd, name, O_RDONLY | O_NONBLOCK)) == -1) {
		close(*wfd);
		*wfd = -1;
		return -1;
	}
	return 0;
}

static void
send_logfd(const struct m_ref *ref, int stream, int fd)
{
	struct m_logfd	 l;

	memset(&l, 0, sizeof(l));
	l.ref = *ref;
	l.stream = stream;
	spawner_send(M_LOGFD, fd, &l, sizeof(l));
}

void
spawn_reopen_logs(const struct m_ref *ref)
{
	char	 path[PATH_MAX];
	int	 dfd, fd, stream;

	if ((dfd = spawn_fifo_dir_open()) == -1)
		return;
	for (stream = 1; stream <= 2; stream++) {
		if (spawn_paths(ref, stream == 1 ? "out" : "err", path,
		    sizeof(path)) == -1)
			continue;
		fd = fifo_open(dfd, strrchr(path, '/') + 1,
		    O_RDONLY | O_NONBLOCK);
		if (fd == -1)
			continue;
		send_logfd(ref, stream, fd);
	}
	close(dfd);
}

/* Remove everything below dfd, never following a link. */
static int
empty_dir(int dfd, int depth)
{
	DIR		*d;
	struct dirent	*dp;
	int		 fd, r = 0;

	if (depth > 16) {
		errno = ELOOP;
		return -1;
	}
	if ((fd = dup(dfd)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((dp = readdir(d)) != NULL) {
		if (strcmp(dp->d_name, ".") == 0 ||
		    strcmp(dp->d_name, "..") == 0)
			continue;
		if (unlinkat(dfd, dp->d_name, 0) == 0)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			r = -1;
			continue;
		}
		if ((fd = openat(dfd, dp->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1) {
			r = -1;
			continue;
		}
		if (empty_dir(fd, depth + 1) == -1)
			r = -1;
		close(fd);
		if (unlinkat(dfd, dp->d_name, AT_REMOVEDIR) == -1)
			r = -1;
	}
	closedir(d);
	return r;
}

/*
 * RUNDIR/sockets/SERVICE, owned by the user of the actions that use it
 * (config.c makes them one user), whichever action is spawned: a user
 * never owns a directory in which an action of another user, root above
 * all, would follow the links it planted.  Everything is done through
 * fds (no link is followed); a directory found with another owner (the
 * user of the service changed) is emptied before it changes hands.
 */
static int
prepare_sockdir(const char *service, const struct cred *c)
{
	char		 path[PATH_MAX];
	struct stat	 sb;
	int		 sfd, dfd = -1, saved;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", sp->env->rundir,
	    RUN_SOCKETS) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((sfd = safe_dir_open(path)) == -1)
		return -1;
	if (mkdirat(sfd, service, 0755) == -1 && errno != EEXIST)
		goto fail;
	if ((dfd = openat(sfd, service, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(dfd, &sb) == -1)
		goto fail;
	if (c->change && (sb.st_uid != c->uid || sb.st_gid != c->gid)) {
		if (sb.st_uid != c->uid) {
			log_info("%s: socket dir %s/%s: owner %u, now %u: "
			    "emptied", __func__, path, service,
			    (unsigned)sb.st_uid, (unsigned)c->uid);
			if (empty_dir(dfd, 0) == -1)
				goto fail;
		}
		if (fchown(dfd, c->uid, c->gid) == -1 ||
		    fchmod(dfd, 0755) == -1)
			goto fail;
	}
	close(dfd);
	close(sfd);
	return 0;
 fail:
	saved = errno;
	if (dfd != -1)
		close(dfd);
	close(sfd);
	errno = saved;
	return -1;
}

/*
 * The credentials the socket directory of sc is owned with: those of the
 * action config.c names its owner (the actions that use the directory
 * all run as its user; config.c refuses a service where they do not).
 */
static int
sockdir_cred(struct service_conf *sc, struct action_conf *ac,
    const struct cred *mine, struct cred *owner, char *err, size_t errlen)
{
	struct action_conf	*oac;

	if ((oac = service_conf_sockdir_owner(sc)) == NULL || oac == ac) {
		*owner = *mine;
		return 0;
	}
	return resolve_cred(oac, owner, err, errlen);
}

void
spawn_start(const struct m_spawn *req)
{
	struct inst		*in;
	struct service_conf	*sc;
	struct action_conf	*ac;

	if ((sc = service_conf_lookup(&sp->services, req->ref.service)) ==
	    NULL || (ac = action_conf_find(sc, req->ref.action)) == NULL) {
		send_failed(&req->ref, ENOENT, "unknown action");
		return;
	}
	if ((in = inst_find_ref(&req->ref)) != NULL && in->pid > 0 &&
	    !in->stopping) {
		send_failed(&req->ref, EBUSY, "already running as pid %d",
		    (int)in->pid);
		return;
	}
	if ((in = calloc(1, sizeof(*in))) == NULL)
		fatal("%s: calloc", __func__);
	in->ref = req->ref;
	in->pidfd = -1;
	inst_insert(in);
	prespawn_run(in, sc, ac);
}

/* Called by prespawn once the ground is clean. */
void
spawn_do(struct inst *in)
{
	struct spawn_ctx	 ctx;
	struct service_conf	*sc;
	struct action_conf	*ac;
	struct cred		 owner;
	char			 sockdir[PATH_MAX], err[REASON_BUF];
	struct launch		 l;
	int			 outr = -1, errr = -1, readyr = -1;
	int			 rp[2], e, fdir;
	struct m_ref		 ref = in->ref;
	pid_t			 pid;

	memset(&ctx, 0, sizeof(ctx));
	memset(&l, 0, sizeof(l));
	ctx.outfd = ctx.errfd = ctx.readyw = -1;
	if ((sc = service_conf_lookup(&sp->services, ref.service)) == NULL ||
	    (ac = action_conf_find(sc, ref.action)) == NULL) {
		inst_free(in);
		send_failed(&ref, ENOENT, "unknown action");
		return;
	}
	if ((e = resolve_cred(ac, &ctx.cred, err, sizeof(err))) != 0) {
		inst_free(in);
		send_failed(&ref, e, "%s", err);
		return;
	}
	if ((e = sockdir_cred(sc, ac, &ctx.cred, &owner, err,
	    sizeof(err))) != 0) {
		inst_free(in);
		send_failed(&ref, e, "socket dir owner: %s", err);
		return;
	}
	if (spawn_paths(&ref, "sockdir", sockdir, sizeof(sockdir)) == -1 ||
	    prepare_sockdir(ref.service, &owner) == -1) {
		e = errno;
		inst_free(in);
		send_failed(&ref, e, "socket dir %s: %s", sockdir,
		    strerror(e));
		return;
	}
	if (build_argv(&ctx, &ref, &ac->exec, sockdir) == -1 ||
	    build_env(&ctx, &ref, ac, sockdir, 1) == -1)
		goto syserr;
	if ((fdir = spawn_fifo_dir_open()) == -1)
		goto syserr;
	if (open_fifo(fdir, &ref, "out", &outr, &ctx.outfd) == -1 ||
	    open_fifo(fdir, &ref, "err", &errr, &ctx.errfd) == -1) {
		e = errno;
		close(fdir);
		errno = e;
		goto syserr;
	}
	close(fdir);
	if (ac->ready_mode == READY_FD) {
		if (pipe2(rp, O_CLOEXEC) == -1)
			goto syserr;
		readyr = rp[0];
		ctx.readyw = rp[1];
	}
	if (null_fd() == -1)
		goto syserr;
	launch_init(&l, &ctx, ac);
	l.fd0 = spawn_nullfd;
	l.fd1 = ctx.outfd;
	l.fd2 = ctx.errfd;
	l.extra_fd = ctx.readyw;
	l.extra_target = ac->ready_fd;
	l.rlimits = ac->rlimits;
	l.nrlimits = ac->nrlimits;
	l.pid_env = ctx.pid_env;
	if ((pid = launch(&l)) == -1)
		goto syserr;
	ctx_free(&ctx);
	in->pid = in->pgid = pid;
	RB_INSERT(inst_pids, &sp->pids, in);
	/* Hand the read ends over before M_SPAWNED is sent. */
	send_logfd(&ref, 1, outr);
	send_logfd(&ref, 2, errr);
	if (readyr != -1)
		spawner_send(M_READYFD, readyr, &ref, sizeof(ref));
	spawn_spawned(in);
	log_debug("%s/%s: started pid %d (job %llu restart %u)", ref.service,
	    ref.action, (int)pid, (unsigned long long)ref.job_id,
	    ref.restart_count);
	return;
 syserr:
	e = errno;
	if (l.failed)
		launch_strerror(&l, err, sizeof(err));
	else
		(void)snprintf(err, sizeof(err), "cannot spawn: %s",
		    strerror(e));
	ctx_free(&ctx);
	if (outr != -1)
		close(outr);
	if (errr != -1)
		close(errr);
	if (readyr != -1)
		close(readyr);
	inst_free(in);
	send_failed(&ref, e, "%s", err);
}

/*
 * Exec probes, run here on the prober's behalf (it holds no privilege):
 * argv of the probe as the user of the first action it covers, in its
 * own process group, killed as a group at the timeout.
 */
struct execprobe {
	TAILQ_ENTRY(execprobe)	 entry;
	struct m_exec_probe	 req;
	pid_t			 pid;
	int			 timedout;
	int64_t			 started_us;
	struct event		*ev_timer;
};
static TAILQ_HEAD(, execprobe) execprobes =
    TAILQ_HEAD_INITIALIZER(execprobes);

static void
execprobe_reply(struct execprobe *ep, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
execprobe_reply(struct execprobe *ep, int ok, const char *fmt, ...)
{
	struct m_probe_result	 r;
	va_list			 ap;

	memset(&r, 0, sizeof(r));
	strlcpy(r.service, ep->req.service, sizeof(r.service));
	strlcpy(r.probe, ep->req.probe, sizeof(r.probe));
	r.seq = ep->req.seq;
	r.ok = ok;
	r.duration_us = (uint64_t)(now_us() - ep->started_us);
	va_start(ap, fmt);
	vsnprintf(r.error, sizeof(r.error), fmt, ap);
	va_end(ap);
	spawner_send(M_EXEC_PROBE_RESULT, -1, &r, sizeof(r));
}

static void
execprobe_timer_cb(int fd, short ev, void *arg)
{
	struct execprobe	*ep = arg;

	ep->timedout = 1;
	killpg(ep->pid, SIGKILL);
}

/*
 * pid < 0: only ask whether -pid is an exec probe.  Else the probe pid
 * was reaped with status st; its group was killed while it was a zombie
 * (sigchld_cb()), when its id could not be another's.
 */
int
reap_exec_probe_pid(pid_t pid, int st)
{
	struct execprobe	*ep;
	pid_t			 want = pid < 0 ? -pid : pid;

	TAILQ_FOREACH(ep, &execprobes, entry)
		if (ep->pid == want)
			break;
	if (ep == NULL)
		return 0;
	if (pid < 0)
		return 1;
	TAILQ_REMOVE(&execprobes, ep, entry);
	if (ep->timedout)
		execprobe_reply(ep, 0, "timeout after %u ms",
		    ep->req.timeout_ms);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		execprobe_reply(ep, 1, "%s", "");
	else if (WIFEXITED(st))
		execprobe_reply(ep, 0, "exited with status %d",
		    WEXITSTATUS(st));
	else
		execprobe_reply(ep, 0, "killed by signal %s",
		    config_signal_name(WTERMSIG(st)));
	event_free(ep->ev_timer);
	free(ep);
	return 1;
}

/* The action a probe runs as and expands its target for. */
struct action_conf *
spawn_probe_action(struct service_conf *sc, struct probe_conf *pc)
{
	size_t	 i;

	if (pc->actions.n > 0)
		return action_conf_find(sc, pc->actions.v[0]);
	for (i = 0; i < sc->nactions; i++)
		if (sc->actions[i].kind == KIND_PROCESS)
			return &sc->actions[i];
	return sc->nactions > 0 ? &sc->actions[0] : NULL;
}

/*
 * Connect to the socket file pfd (O_PATH, sb its stat) for the prober,
 * as the user of ac.  A socket of an action that is not root's must be
 * that user's own.  Connecting with the action's credentials (in a
 * short-lived child sharing our fd table, launch_connect()) rather than
 * root's means the kernel's checks on the socket are the action's, and
 * the server sees the action's user as its peer: the prober can reach
 * through herod no more than the action could itself.  Returns the
 * connected socket, or -1 with *err set.
 */
int
spawn_connect_as(struct action_conf *ac, int pfd, const struct stat *sb,
    int *err)
{
	struct cred	 c;
	struct launch	 l;
	char		 msg[REASON_BUF];
	int		 s;

	if ((*err = resolve_cred(ac, &c, msg, sizeof(msg))) != 0) {
		log_warnx("%s: %s", __func__, msg);
		return -1;
	}
	if (c.change && c.uid != 0 && sb->st_uid != c.uid) {
		log_warnx("%s: socket owned by uid %u, not by %s",
		    __func__, (unsigned)sb->st_uid, c.user);
		*err = EPERM;
		return -1;
	}
	memset(&l, 0, sizeof(l));
	l.change_cred = c.change;
	l.uid = c.uid;
	l.gid = c.gid;
	l.groups = c.groups;
	l.ngroups = c.ngroups;
	l.connect_to.sun_family = AF_UNIX;
	(void)snprintf(l.connect_to.sun_path, sizeof(l.connect_to.sun_path),
	    "/proc/self/fd/%d", pfd);
	if ((s = launch_connect(&l)) == -1)
		*err = errno;
	return s;
}

void
execprobe_run(const struct m_exec_probe *req)
{
	struct execprobe	 tmp, *ep;
	struct service_conf	*sc;
	struct probe_conf	*pc;
	struct action_conf	*ac;
	struct spawn_ctx	 ctx;
	struct m_ref		 ref;
	char			 sockdir[PATH_MAX], err[REASON_BUF];
	struct launch		 l;
	struct timeval		 tv;
	int			 e;
	pid_t			 pid;

	memset(&tmp, 0, sizeof(tmp));
	tmp.req = *req;
	tmp.started_us = now_us();
	if ((sc = service_conf_lookup(&sp->services, req->service)) == NULL ||
	    (pc = probe_conf_find(sc, req->probe)) == NULL ||
	    pc->kind != PROBE_EXEC || (ac = spawn_probe_action(sc, pc)) ==
	    NULL) {
		execprobe_reply(&tmp, 0, "no such exec probe");
		return;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.outfd = ctx.errfd = ctx.readyw = -1;
	memset(&ref, 0, sizeof(ref));
	strlcpy(ref.service, sc->name, sizeof(ref.service));
	strlcpy(ref.action, ac->name, sizeof(ref.action));
	if ((e = resolve_cred(ac, &ctx.cred, err, sizeof(err))) != 0) {
		execprobe_reply(&tmp, 0, "%s", err);
		return;
	}
	if (spawn_paths(&ref, "sockdir", sockdir, sizeof(sockdir)) == -1 ||
	    build_argv(&ctx, &ref, &pc->exec, sockdir) == -1 ||
	    build_env(&ctx, &ref, ac, sockdir, 0) == -1) {
		ctx_free(&ctx);
		execprobe_reply(&tmp, 0, "cannot prepare exec probe");
		return;
	}
	launch_init(&l, &ctx, ac);
	l.fd0 = l.fd1 = l.fd2 = null_fd();
	l.chdir_fallback = 1;
	if (l.fd0 == -1 || (pid = launch(&l)) == -1) {
		e = errno;
		ctx_free(&ctx);
		if (l.failed)
			launch_strerror(&l, err, sizeof(err));
		else
			(void)snprintf(err, sizeof(err), "cannot start: %s",
			    strerror(e));
		execprobe_reply(&tmp, 0, "%s", err);
		return;
	}
	ctx_free(&ctx);
	if ((ep = calloc(1, sizeof(*ep))) == NULL)
		fatal("%s: calloc", __func__);
	*ep = tmp;
	ep->pid = pid;
	ep->ev_timer = evtimer_new(sp->base, execprobe_timer_cb, ep);
	tv.tv_sec = req->timeout_ms / 1000;
	tv.tv_usec = (req->timeout_ms % 1000) * 1000;
	if (ep->ev_timer == NULL || evtimer_add(ep->ev_timer, &tv) == -1)
		fatalx("%s: evtimer", __func__);
	TAILQ_INSERT_TAIL(&execprobes, ep, entry);
}
