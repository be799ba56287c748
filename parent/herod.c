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
 * herod: the parent.  Parses flags, decides system or user mode and the
 * paths, starts the workers, owns the control socket and the service
 * state machine.  "herod -W NAME" runs a worker instead (re-exec).
 */
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <paths.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>

#include "build_config.h"
#include "herod.h"
#include "log.h"
#include "msg.h"
#include "parent.h"
#include "sdnotify.h"
#include "util.h"

struct herod_env	 herod_env;
struct parent		 pt;

static struct event	*ev_sigs[7];
static struct event	*ev_status;		/* STATUS= to the manager */
static int		 start_pipe = -1;	/* to the waiting launcher */
static int		 keep_stderr;		/* the log goes there */
static int		 lock_fd[2] = { -1, -1 };	/* state, run */
static int		 pidfile_made;

#define PIDFILE		"herod.pid"

__attribute__((noreturn)) static void
usage(void)
{
	fprintf(stderr, "usage: herod [-dnVv] [-c confdir] [-s statedir] "
	    "[-r rundir] [-u user] [-G group]\n");
	exit(2);
}

static void
path_default(char *buf, size_t len, const char *flag, const char *sys,
    const char *xdg, const char *home_rel, int runtime)
{
	const char	*x, *home;
	int		 n;

	if (flag != NULL)
		n = snprintf(buf, len, "%s", flag);
	else if (herod_env.sysmode)
		n = snprintf(buf, len, "%s", sys);
	else if ((x = getenv(xdg)) != NULL && x[0] == '/')
		n = snprintf(buf, len, "%s/herod%s", x, runtime ? "" :
		    (strcmp(xdg, "XDG_CONFIG_HOME") == 0 ? "/services" : ""));
	else if (runtime)
		n = snprintf(buf, len, "/tmp/herod-%u", (unsigned)getuid());
	else {
		if ((home = getenv("HOME")) == NULL)
			errx(1, "HOME is not set; use -c and -s");
		n = snprintf(buf, len, "%s/%s", home, home_rel);
	}
	if (n < 0 || (size_t)n >= len)
		errx(1, "path too long");
}

/*
 * The workers get the paths on their command line and the store
 * changes into the state directory before it chroots there: a relative
 * path would be resolved twice.  Every path is made absolute (against
 * the directory herod was started in) before anything uses it.
 */
static void
path_absolute(char *buf, size_t len, const char *what)
{
	char	 cwd[PATH_MAX], tmp[PATH_MAX];
	int	 n;

	if (buf[0] == '/')
		return;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		err(1, "%s: %s is relative and the current directory is "
		    "unknown", what, buf);
	n = snprintf(tmp, sizeof(tmp), "%s/%s", cwd, buf);
	if (n < 0 || (size_t)n >= sizeof(tmp) || (size_t)n >= len)
		errx(1, "%s: %s/%s: path too long", what, cwd, buf);
	(void)strlcpy(buf, tmp, len);
}

/* Once it exists: its canonical name, which is what we checked. */
static void
path_canonical(char *buf, size_t len, const char *what)
{
	char	 real[PATH_MAX];

	if (realpath(buf, real) == NULL)
		err(1, "%s: %s", what, buf);
	if (strlcpy(buf, real, len) >= len)
		errx(1, "%s: %s: path too long", what, real);
}

static void
env_setup(const char *c, const char *s, const char *r, const char *u,
    const char *g, int check)
{
	struct passwd	*pw;
	struct group	*gr;

	herod_env.sysmode = geteuid() == 0;
	path_default(herod_env.confdir, sizeof(herod_env.confdir), c,
	    HEROD_CONFDIR, "XDG_CONFIG_HOME", ".config/herod/services", 0);
	path_default(herod_env.statedir, sizeof(herod_env.statedir), s,
	    HEROD_STATEDIR, "XDG_STATE_HOME", ".local/state/herod", 0);
	path_default(herod_env.rundir, sizeof(herod_env.rundir), r,
	    HEROD_RUNDIR, "XDG_RUNTIME_DIR", NULL, 1);
	path_absolute(herod_env.confdir, sizeof(herod_env.confdir),
	    "service directory");
	path_absolute(herod_env.statedir, sizeof(herod_env.statedir),
	    "state directory");
	path_absolute(herod_env.rundir, sizeof(herod_env.rundir),
	    "run directory");
	if (g != NULL) {
		if (getgrnam(g) == NULL)
			errx(1, "-G %s: no such group", g);
		strlcpy(herod_env.group, g, sizeof(herod_env.group));
	}
	if (!herod_env.sysmode || check) {
		herod_env.worker_uid = getuid();
		herod_env.worker_gid = getgid();
		pw = getpwuid(getuid());
		strlcpy(herod_env.user, pw ? pw->pw_name : "?",
		    sizeof(herod_env.user));
		return;
	}
	if (u == NULL)
		u = HEROD_USER;
	if ((pw = getpwnam(u)) == NULL)
		errx(1, "worker user %s does not exist (create it, or pick "
		    "another with -u)", u);
	if (pw->pw_uid == 0)
		errx(1, "worker user %s must not be root", u);
	strlcpy(herod_env.user, u, sizeof(herod_env.user));
	herod_env.worker_uid = pw->pw_uid;
	herod_env.worker_gid = pw->pw_gid;
	(void)gr;
}

static int
check_config(void)
{
	struct service_conf_list	 list;
	struct config_errors		 errs;
	size_t				 i, n = 0;
	struct service_conf		*sc;

	TAILQ_INIT(&list);
	memset(&errs, 0, sizeof(errs));
	if (config_load_dir(herod_env.confdir, &list, &errs) == -1) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		if (errs.dropped > 0)
			fprintf(stderr, "(%zu more errors)\n", errs.dropped);
		config_errors_clear(&errs);
		return 1;
	}
	TAILQ_FOREACH(sc, &list, entry)
		n++;
	printf("configuration OK (%zu services)\n", n);
	service_conf_list_free(&list);
	return 0;
}

/*
 * The directories herod uses.  As root, herod must never follow a link
 * or trust a name in a directory another uid can write; in user mode,
 * whoever can write the run directory can replace the control socket.
 * So every directory on the way must belong to root or to us (and be
 * writable by no one else, unless sticky), and the run and state
 * directories themselves are checked through a descriptor opened with
 * O_NOFOLLOW.  Errors go to stderr before herod detaches: exit 1.
 */
static const char *const db_files[] = { STATE_DB, STATE_DB "-wal",
	STATE_DB "-shm", STATE_DB "-journal" };

static int
dir_owner_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

static void
dir_check_ancestor(const char *what, const char *p, const struct stat *sb)
{
	if (!S_ISDIR(sb->st_mode))
		errx(1, "%s: %s is not a directory", what, p);
	if (!dir_owner_trusted(sb->st_uid))
		errx(1, "%s: %s is owned by uid %u, not by root or uid %u: "
		    "refusing to use a directory below it", what, p,
		    (unsigned)sb->st_uid, (unsigned)geteuid());
	if ((sb->st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (sb->st_mode & S_ISVTX) == 0)
		errx(1, "%s: %s is writable by group or others (mode %03o): "
		    "refusing to use a directory below it", what, p,
		    (unsigned)(sb->st_mode & 07777));
}

/*
 * Create the missing ancestors of path (0755) and check each one:
 * a symbolic link on the way must belong to root or us, and what it
 * leads to, like every other ancestor, must pass dir_check_ancestor().
 * Then the same for the canonical path, so that a link cannot lead
 * through a directory nobody checked.
 */
static void
dir_ancestors(const char *what, const char *path)
{
	char		 buf[PATH_MAX], real[PATH_MAX], *p, c;
	struct stat	 sb;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
		errx(1, "%s: %s: path too long", what, path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (lstat(buf, &sb) == -1 && errno == ENOENT &&
		    mkdir(buf, 0755) == -1 && errno != EEXIST)
			err(1, "%s: mkdir %s", what, buf);
		if (lstat(buf, &sb) == -1)
			err(1, "%s: %s", what, buf);
		if (S_ISLNK(sb.st_mode) && !dir_owner_trusted(sb.st_uid))
			errx(1, "%s: %s is a symbolic link owned by uid %u: "
			    "refusing to follow it", what, buf,
			    (unsigned)sb.st_uid);
		if (stat(buf, &sb) == -1)
			err(1, "%s: %s", what, buf);
		dir_check_ancestor(what, buf, &sb);
		*p = '/';
	}
	/* the canonical path of the parent, now that it exists */
	if ((p = strrchr(buf, '/')) == NULL)
		(void)strlcpy(buf, ".", sizeof(buf));
	else if (p == buf)
		buf[1] = '\0';
	else
		*p = '\0';
	if (realpath(buf, real) == NULL)
		err(1, "%s: %s", what, buf);
	if (lstat("/", &sb) == -1)
		err(1, "%s: /", what);
	dir_check_ancestor(what, "/", &sb);
	for (p = real + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (real[1] != '\0') {
			if (lstat(real, &sb) == -1)
				err(1, "%s: %s", what, real);
			dir_check_ancestor(what, real, &sb);
		}
		if (c == '\0')
			break;
		*p = c;
	}
}

/*
 * mkdir path (mode) if missing, below checked ancestors, and open it
 * with O_NOFOLLOW.  *created tells whether this call made it.
 */
static int
dir_open(const char *what, const char *path, mode_t mode, int *created,
    struct stat *sb)
{
	int	 fd;

	dir_ancestors(what, path);
	*created = mkdir(path, mode) == 0;
	if (!*created && errno != EEXIST)
		err(1, "%s: mkdir %s", what, path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && lstat(path, sb) == 0) {
		if (S_ISLNK(sb->st_mode))
			errx(1, "%s: %s is a symbolic link: refusing to use "
			    "it", what, path);
		err(1, "%s: %s (owned by uid %u, mode %03o)", what, path,
		    (unsigned)sb->st_uid, (unsigned)(sb->st_mode & 07777));
	}
	if (fd == -1)
		err(1, "%s: %s", what, path);
	if (fstat(fd, sb) == -1)
		err(1, "%s: fstat %s", what, path);
	return fd;
}

/* Owned by uid (unless uid is -1) and writable by no one else. */
static void
dir_owned_by(const char *what, const char *path, const struct stat *sb,
    uid_t uid, const char *user)
{
	if (uid != (uid_t)-1 && sb->st_uid != uid)
		errx(1, "%s: %s is owned by uid %u, not by %s (uid %u): "
		    "refusing to use it", what, path, (unsigned)sb->st_uid,
		    user, (unsigned)uid);
	if ((sb->st_mode & (S_IWGRP | S_IWOTH)) != 0)
		errx(1, "%s: %s is writable by group or others (mode %03o): "
		    "refusing to use it", what, path,
		    (unsigned)(sb->st_mode & 07777));
}

/* A subdirectory of the run directory, made and checked through rfd. */
static void
rundir_sub(int rfd, const char *sub, mode_t mode, uid_t uid, gid_t gid)
{
	char		 p[PATH_MAX];
	struct stat	 sb;
	int		 fd, created, empty = 1;
	DIR		*d;
	struct dirent	*de;

	snprintf(p, sizeof(p), "%s/%s", herod_env.rundir, sub);
	created = mkdirat(rfd, sub, mode) == 0;
	if (!created && errno != EEXIST)
		err(1, "run directory: mkdir %s", p);
	fd = openat(rfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1)
		err(1, "run directory: %s (a symbolic link is not accepted)",
		    p);
	if (fstat(fd, &sb) == -1)
		err(1, "run directory: fstat %s", p);
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		errx(1, "run directory: %s is writable by group or others "
		    "(mode %03o): refusing to use it", p,
		    (unsigned)(sb.st_mode & 07777));
	if (sb.st_uid == uid) {
		close(fd);
		return;
	}
	/* root's, so nobody else could put anything in it: give it away */
	if (sb.st_uid == 0 && !created) {
		if ((d = fdopendir(dup(fd))) == NULL)
			err(1, "run directory: %s", p);
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				empty = 0;
		closedir(d);
	}
	if (sb.st_uid != 0 || !empty)
		errx(1, "run directory: %s is owned by uid %u, not by %s "
		    "(uid %u)%s: refusing to use it (remove it)", p,
		    (unsigned)sb.st_uid, herod_env.user, (unsigned)uid,
		    sb.st_uid == 0 ? " and not empty" : "");
	if (fchown(fd, uid, gid) == -1)
		err(1, "run directory: chown %s", p);
	close(fd);
}

/*
 * A root-owned state directory (made now, or left by an older herod)
 * is given to the worker user.  Being root's and writable by no one
 * else, nothing in it can change under us; it may hold only the
 * database files, each a regular file with one link, which are given
 * away too (never following a link).
 */
static void
statedir_give(int fd)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	size_t		 i;

	if ((d = fdopendir(dup(fd))) == NULL)
		err(1, "state directory: %s", herod_env.statedir);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		for (i = 0; i < nitems(db_files); i++)
			if (strcmp(de->d_name, db_files[i]) == 0)
				break;
		if (i == nitems(db_files))
			errx(1, "state directory: %s is owned by root and "
			    "holds %s: refusing to give it to %s (chown -R "
			    "it, or use another -s)", herod_env.statedir,
			    de->d_name, herod_env.user);
		if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
			err(1, "state directory: %s/%s", herod_env.statedir,
			    de->d_name);
		if (!S_ISREG(sb.st_mode) || sb.st_nlink != 1)
			errx(1, "state directory: %s/%s is not a regular "
			    "file with one link: refusing to give it to %s",
			    herod_env.statedir, de->d_name, herod_env.user);
		if (fchownat(fd, de->d_name, herod_env.worker_uid,
		    herod_env.worker_gid, AT_SYMLINK_NOFOLLOW) == -1)
			err(1, "state directory: chown %s/%s",
			    herod_env.statedir, de->d_name);
	}
	closedir(d);
	if (fchown(fd, herod_env.worker_uid, herod_env.worker_gid) == -1)
		err(1, "state directory: chown %s", herod_env.statedir);
}

/*
 * The store opens the database as the worker user: a file of it owned
 * by someone else, or a link, would only make it fail in a loop.
 * Looked at, never followed nor changed: the directory is the worker's.
 */
static void
statedir_check_db(int fd)
{
	struct stat	 sb;
	size_t		 i;

	for (i = 0; i < nitems(db_files); i++) {
		if (fstatat(fd, db_files[i], &sb, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (!S_ISREG(sb.st_mode))
			errx(1, "state directory: %s/%s is not a regular file: "
			    "refusing to start (remove it)", herod_env.statedir,
			    db_files[i]);
		if (sb.st_uid != herod_env.worker_uid)
			errx(1, "state directory: %s/%s is owned by uid %u, "
			    "not by %s (uid %u): chown it", herod_env.statedir,
			    db_files[i], (unsigned)sb.st_uid, herod_env.user,
			    (unsigned)herod_env.worker_uid);
	}
}

static void
dirs_setup(void)
{
	struct stat	 sb;
	uid_t		 me = geteuid();
	int		 fd, created;

	/*
	 * run directory: root's, or in user mode the user's, writable by
	 * no one else; searchable by all, so that other users may run the
	 * read-only heroctl commands and reach the notify sockets
	 */
	fd = dir_open("run directory", herod_env.rundir, 0755, &created,
	    &sb);
	dir_owned_by("run directory", herod_env.rundir, &sb, me,
	    herod_env.sysmode ? "root" : herod_env.user);
	rundir_sub(fd, RUN_SOCKETS, 0755, me, getegid());
	rundir_sub(fd, RUN_PIDS, 0755, me, getegid());
	rundir_sub(fd, RUN_FIFO, 0700, me, getegid());
	/* the prober makes the notify sockets */
	rundir_sub(fd, RUN_NOTIFY, 0755, herod_env.worker_uid,
	    herod_env.worker_gid);
	close(fd);

	/* state directory: the store's (the worker user's) */
	fd = dir_open("state directory", herod_env.statedir, 0700, &created,
	    &sb);
	if (herod_env.sysmode && sb.st_uid == 0) {
		dir_owned_by("state directory", herod_env.statedir, &sb,
		    (uid_t)-1, "root");
		statedir_give(fd);
	} else
		dir_owned_by("state directory", herod_env.statedir, &sb,
		    herod_env.worker_uid, herod_env.user);
	statedir_check_db(fd);
	close(fd);

	/* checked and made: from now on by their canonical names */
	path_canonical(herod_env.rundir, sizeof(herod_env.rundir),
	    "run directory");
	path_canonical(herod_env.statedir, sizeof(herod_env.statedir),
	    "state directory");
	if (access(herod_env.confdir, F_OK) == 0)
		path_canonical(herod_env.confdir, sizeof(herod_env.confdir),
		    "service directory");
}

/*
 * The workers learn our pid from their environment: as pid 1 of a
 * container, a parent of pid 1 is us, not a parent that is gone.
 */
static void
parent_pid_export(void)
{
	char	 buf[16];

	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	if (setenv(HEROD_PARENT_ENV, buf, 1) == -1)
		fatal("%s: setenv", __func__);
	if (getpid() == 1)
		log_info("running as pid 1: reaping every orphan, SIGTERM, "
		    "SIGINT and SIGPWR stop all services");
}

/*
 * Who holds the flock(2) on the directory open as fd: its line in
 * /proc/locks ("1: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INODE 0 EOF").
 */
static pid_t
lock_holder(int fd)
{
	struct stat	 sb;
	FILE		*f;
	char		 line[256], kind[16];
	unsigned int	 maj, mnr;
	unsigned long	 ino;
	int		 pid, found = -1;

	if (fstat(fd, &sb) == -1 || (f = fopen("/proc/locks", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%*d: %15s %*s %*s %d %x:%x:%lu", kind, &pid,
		    &maj, &mnr, &ino) != 5 || strcmp(kind, "FLOCK") != 0)
			continue;
		if (maj == major(sb.st_dev) && mnr == minor(sb.st_dev) &&
		    ino == sb.st_ino && pid > 0) {
			found = pid;
			break;
		}
	}
	fclose(f);
	return found;
}

/*
 * One herod per state directory and per run directory: an exclusive
 * flock(2) on each directory itself (nothing is created in the worker
 * user's state directory), held until herod exits.  Taken after
 * detaching, so that the lock names the daemon; refused with the
 * holder's pid on stderr, exit 1.  Then RUNDIR/herod.pid, for rc
 * scripts: the run directory is root's (or the user's), so the name
 * is ours, and it is opened without following a link.
 */
static void
herod_lock(void)
{
	const char	*dirs[2] = { herod_env.statedir, herod_env.rundir };
	struct stat	 sb, first = { 0 };
	pid_t		 pid;
	int		 i, fd;

	for (i = 0; i < 2; i++) {
		fd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd == -1 || fstat(fd, &sb) == -1)
			err(1, "%s", dirs[i]);
		if (i == 1 && sb.st_dev == first.st_dev &&
		    sb.st_ino == first.st_ino) {
			lock_fd[i] = fd;	/* locked already */
			break;
		}
		first = sb;
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno != EWOULDBLOCK)
				err(1, "flock %s", dirs[i]);
			if ((pid = lock_holder(fd)) > 0)
				fprintf(stderr, "herod already running (pid "
				    "%d): %s is in use\n", (int)pid, dirs[i]);
			else
				fprintf(stderr, "herod already running: %s is "
				    "in use\n", dirs[i]);
			exit(1);
		}
		lock_fd[i] = fd;
	}
	fd = openat(lock_fd[1], PIDFILE, O_WRONLY | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd == -1 || fstat(fd, &sb) == -1)
		err(1, "%s/%s", herod_env.rundir, PIDFILE);
	if (!S_ISREG(sb.st_mode) || sb.st_nlink != 1 ||
	    sb.st_uid != geteuid())
		errx(1, "%s/%s is not a regular file of ours with one link: "
		    "remove it", herod_env.rundir, PIDFILE);
	if (ftruncate(fd, 0) == -1 || dprintf(fd, "%d\n", (int)getpid()) < 0)
		err(1, "%s/%s", herod_env.rundir, PIDFILE);
	close(fd);
	pidfile_made = 1;
}

static void
herod_unlock(void)
{
	if (pidfile_made && lock_fd[1] != -1)
		(void)unlinkat(lock_fd[1], PIDFILE, 0);
	pidfile_made = 0;
}

/* "N services: R running, F failed" for STATUS=. */
static void
status_text(char *buf, size_t len)
{
	struct svc	*s;
	size_t		 n[SS_MAX], i;
	const char	*sep = ": ";
	int		 w;

	memset(n, 0, sizeof(n));
	RB_FOREACH(s, svc_tree, &pt.svcs)
		if ((size_t)s->state < SS_MAX)
			n[s->state]++;
	w = snprintf(buf, len, "%s%zu services", pt.shutting_down ?
	    "stopping, " : "", pt.nsvcs);
	for (i = 0; i < SS_MAX; i++) {
		if (n[i] == 0)
			continue;
		if (w < 0 || (size_t)w >= len)
			break;
		w += snprintf(buf + w, len - w, "%s%zu %s", sep, n[i],
		    service_state_name((enum service_state)i));
		sep = ", ";
	}
}

static void
status_cb(int fd, short ev, void *arg)
{
	char	 buf[512];

	(void)strlcpy(buf, "STATUS=", sizeof(buf));
	status_text(buf + 7, sizeof(buf) - 7);
	(void)sdnotify_send(buf);
}

/* Workers up, services started or adopted: READY=1. */
void
herod_ready(void)
{
	char	 buf[512];

	if (!sdnotify_enabled())
		return;
	(void)strlcpy(buf, "READY=1\nSTATUS=", sizeof(buf));
	status_text(buf + 15, sizeof(buf) - 15);
	if (sdnotify_send(buf) == -1)
		log_warn("%s: READY=1 to NOTIFY_SOCKET", __func__);
	else
		log_info("told the service manager: READY=1");
}

void
herod_stopping(void)
{
	if (!sdnotify_enabled())
		return;
	if (sdnotify_send(pt.keep_services ? "STOPPING=1\nSTATUS=exiting, "
	    "services keep running" : "STOPPING=1\nSTATUS=stopping all "
	    "services") == -1)
		log_warn("%s: STOPPING=1 to NOTIFY_SOCKET", __func__);
}

/* A service changed state: STATUS= within 200 ms, once per burst. */
void
herod_status_changed(void)
{
	struct timeval	 tv = { 0, 200000 };

	if (!sdnotify_enabled() || !pt.started || pt.base == NULL)
		return;
	if (ev_status == NULL &&
	    (ev_status = evtimer_new(pt.base, status_cb, NULL)) == NULL)
		return;
	if (!evtimer_pending(ev_status, NULL))
		evtimer_add(ev_status, &tv);
}

static void
sig_cb(int sig, short ev, void *arg)
{
	struct actor	 saved;

	event_signal(sig, &saved);	/* the audit trail: who asked */
	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP: reloading service files");
		if (reload_config(NULL, NULL, 0) == -1)
			log_warnx("reload failed: nothing applied");
		break;
	case SIGTERM:
	case SIGINT:
	case SIGPWR:
		log_info("%s: stopping all services, then exiting",
		    strsignal(sig));
		pt.shutting_down = 1;
		herod_stopping();
		svc_stop_all();
		break;
	case SIGUSR1:
		log_info("SIGUSR1: exiting, services keep running");
		pt.shutting_down = 1;
		pt.keep_services = 1;
		herod_stopping();
		svc_stop_all();
		break;
	case SIGCHLD:
		proc_reap();
		break;
	case SIGPIPE:
		break;
	}
	event_actor_restore(&saved);
}

static void
signals_init(void)
{
	int	 sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGPWR, SIGUSR1,
		    SIGCHLD, SIGPIPE };
	size_t	 i;

	for (i = 0; i < nitems(sigs); i++) {
		ev_sigs[i] = evsignal_new(pt.base, sigs[i], sig_cb, NULL);
		if (ev_sigs[i] == NULL || evsignal_add(ev_sigs[i], NULL))
			fatalx("%s: evsignal", __func__);
	}
}

/*
 * Detach, but let the command that started herod tell a start from a
 * failure: it waits until every worker has set itself up (exit 0) or
 * one could not (herod_start_failed: the reason on stderr, exit 1).
 * Until then the daemon keeps its stdout and stderr.
 */
static void
daemonize(void)
{
	struct stat	 sb;
	int		 fd, p[2];
	char		 c;
	ssize_t		 n;

	if (pipe2(p, O_CLOEXEC) == -1)
		err(1, "pipe");
	switch (fork()) {
	case -1:
		err(1, "fork");
	case 0:
		break;
	default:
		close(p[1]);
		while ((n = read(p[0], &c, 1)) == -1 && errno == EINTR)
			;
		_exit(n == 1 && c == 'S' ? 0 : 1);
	}
	close(p[0]);
	start_pipe = p[1];
	if (setsid() == -1)
		err(1, "setsid");
	/*
	 * Without syslog the log stays on stderr, unless it is a pipe or
	 * a socket: whoever reads it would wait for the daemon's end.
	 */
	if (!log_to_syslog()) {
		if (fstat(2, &sb) == 0 && !S_ISFIFO(sb.st_mode) &&
		    !S_ISSOCK(sb.st_mode))
			keep_stderr = 1;
		else
			fprintf(stderr, "herod: no syslog socket (%s) and "
			    "standard error is a pipe: the log is discarded "
			    "once herod has started (use -d, or send "
			    "standard error to a file)\n", _PATH_LOG);
	}
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 0);
		if (fd > 2)
			close(fd);
	}
}

/* Every worker got through its set-up once: herod has started. */
void
herod_started(void)
{
	int	 fd;

	log_info("started in %s mode: services %s, state %s, run %s",
	    herod_env.sysmode ? "system" : "user", herod_env.confdir,
	    herod_env.statedir, herod_env.rundir);
	if (start_pipe == -1)
		return;
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 1);
		if (!keep_stderr)
			dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	(void)write(start_pipe, "S", 1);
	close(start_pipe);
	start_pipe = -1;
}

/*
 * A worker could not set itself up while herod started: say so where
 * the operator looks (stderr, also when detached) and give up.  No
 * service was touched: they start only once every worker is ready.
 */
void
herod_start_failed(const char *why)
{
	log_warnx("%s: not starting", why);
	if (!herod_env.foreground)
		fprintf(stderr, "herod: %s: not starting (the %s is in the "
		    "system log; herod -d shows it here)\n", why,
		    "worker's own message");
	herod_unlock();
	control_cleanup();
	proc_kill_all();
	exit(1);
}

/* herod -V: what this binary is and the system-mode paths built in. */
__attribute__((noreturn)) static void
version(void)
{
	printf("herod %s\n", HEROD_VERSION);
	printf("build: %s%s\n", HEROD_BUILDTYPE,
	    HAVE_SECCOMP ? ", seccomp" : ", no seccomp");
	printf("prefix: %s\n", HEROD_PREFIX);
	printf("services: %s\n", HEROD_CONFDIR);
	printf("state: %s\n", HEROD_STATEDIR);
	printf("run: %s\n", HEROD_RUNDIR);
	printf("user: %s\n", HEROD_USER);
	exit(0);
}

/* herod -W NAME ...: a re-exec'd worker. */
__attribute__((noreturn)) static void
worker_run(const char *name)
{
	if (strcmp(name, "spawner") == 0)
		spawner_main(&herod_env);
	if (strcmp(name, "prober") == 0)
		prober_main(&herod_env);
	if (strcmp(name, "store") == 0)
		store_main(&herod_env);
	fatalx("unknown worker %s", name);
}

int
main(int argc, char *argv[], char *envp[])
{
	const char	*c = NULL, *s = NULL, *r = NULL, *u = NULL;
	const char	*g = NULL, *worker = NULL;
	int		 ch, debug = 0, check = 0, verbose = 0;

	setproctitle_init(argc, argv, envp);
	while ((ch = getopt(argc, argv, "c:dG:nr:s:u:VvW:")) != -1) {
		switch (ch) {
		case 'c': c = optarg; break;
		case 'd': debug = 1; break;
		case 'G': g = optarg; break;
		case 'n': check = 1; break;
		case 'r': r = optarg; break;
		case 's': s = optarg; break;
		case 'u': u = optarg; break;
		case 'V': version();
		case 'v': verbose++; break;
		case 'W': worker = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	/* taken out of the environment before any worker or service */
	if (worker == NULL && !check)
		(void)sdnotify_init();
	env_setup(c, s, r, u, g, check);
	herod_env.foreground = debug;
	herod_env.verbose = verbose;
	log_init(debug || check || worker != NULL ? 1 : 0, verbose);
	if (worker != NULL) {
		if (!debug)
			log_init(0, verbose);
		worker_run(worker);
	}
	if (check)
		return check_config();

	umask(022);
	dirs_setup();
	log_init(debug, verbose);
	if (!debug)
		daemonize();
	herod_lock();
	log_procinit("parent");
	log_info("herod %s: logging to %s", HEROD_VERSION, log_where());
	setproctitle("parent");
	signal(SIGPIPE, SIG_IGN);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == -1)
		fatal("PR_SET_CHILD_SUBREAPER");
	parent_pid_export();
	RB_INIT(&pt.svcs);
	pt.next_job_id = pt.next_run_id = 1;
	if (config_initial() == -1)
		fatalx("invalid service files, not starting (see above)");
	if ((pt.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	signals_init();
	control_init();
	proc_init(argv[0]);
	proc_start_all();
	event_base_dispatch(pt.base);
	herod_unlock();
	control_cleanup();
	log_info("exiting");
	return 0;
}
