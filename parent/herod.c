/*
 * herod: the parent.  Parses flags, decides system or user mode and the
 * paths, starts the workers, owns the control socket and the service
 * state machine.  "herod -W NAME" runs a worker instead (re-exec).
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "herod.h"
#include "log.h"
#include "msg.h"
#include "parent.h"
#include "util.h"

struct herod_env	 herod_env;
struct parent		 pt;

static struct event	*ev_sigs[6];

__attribute__((noreturn)) static void
usage(void)
{
	fprintf(stderr, "usage: herod [-dnv] [-c confdir] [-s statedir] "
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

static void
env_setup(const char *c, const char *s, const char *r, const char *u,
    const char *g, int check)
{
	struct passwd	*pw;
	struct group	*gr;

	herod_env.sysmode = geteuid() == 0;
	path_default(herod_env.confdir, sizeof(herod_env.confdir), c,
	    "/etc/herod/services", "XDG_CONFIG_HOME",
	    ".config/herod/services", 0);
	path_default(herod_env.statedir, sizeof(herod_env.statedir), s,
	    "/var/lib/herod", "XDG_STATE_HOME", ".local/state/herod", 0);
	path_default(herod_env.rundir, sizeof(herod_env.rundir), r,
	    "/run/herod", "XDG_RUNTIME_DIR", NULL, 1);
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
		u = "_herod";
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

static void
mkdirs(void)
{
	const char	*subs[] = { RUN_SOCKETS, RUN_PIDS, RUN_NOTIFY,
			    RUN_FIFO };
	char		 p[PATH_MAX];
	size_t		 i;

	if (mkdir_p(herod_env.rundir, 0755) == -1)
		fatal("%s: %s", __func__, herod_env.rundir);
	if (mkdir_p(herod_env.statedir, 0700) == -1)
		fatal("%s: %s", __func__, herod_env.statedir);
	for (i = 0; i < nitems(subs); i++) {
		snprintf(p, sizeof(p), "%s/%s", herod_env.rundir, subs[i]);
		if (mkdir_p(p, strcmp(subs[i], RUN_FIFO) == 0 ? 0700 :
		    0755) == -1)
			fatal("%s: %s", __func__, p);
	}
	if (!herod_env.sysmode)
		return;
	/* the unprivileged workers own what they write */
	if (chown(herod_env.statedir, herod_env.worker_uid,
	    herod_env.worker_gid) == -1)
		fatal("%s: chown %s", __func__, herod_env.statedir);
	snprintf(p, sizeof(p), "%s/%s", herod_env.statedir, STATE_DB);
	if (chown(p, herod_env.worker_uid, herod_env.worker_gid) == -1 &&
	    errno != ENOENT)
		log_warn("%s: chown %s", __func__, p);
	snprintf(p, sizeof(p), "%s/%s", herod_env.rundir, RUN_NOTIFY);
	if (chown(p, herod_env.worker_uid, herod_env.worker_gid) == -1)
		fatal("%s: chown %s", __func__, p);
}

static void
sig_cb(int sig, short ev, void *arg)
{
	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP: reloading service files");
		if (reload_config(NULL, NULL, 0) == -1)
			log_warnx("reload failed: nothing applied");
		break;
	case SIGTERM:
	case SIGINT:
		log_info("%s: stopping all services, then exiting",
		    strsignal(sig));
		pt.shutting_down = 1;
		svc_stop_all();
		break;
	case SIGUSR1:
		log_info("SIGUSR1: exiting, services keep running");
		pt.shutting_down = 1;
		pt.keep_services = 1;
		svc_stop_all();
		break;
	case SIGCHLD:
		proc_reap();
		break;
	case SIGPIPE:
		break;
	}
}

static void
signals_init(void)
{
	int	 sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGCHLD,
		    SIGPIPE };
	size_t	 i;

	for (i = 0; i < nitems(sigs); i++) {
		ev_sigs[i] = evsignal_new(pt.base, sigs[i], sig_cb, NULL);
		if (ev_sigs[i] == NULL || evsignal_add(ev_sigs[i], NULL))
			fatalx("%s: evsignal", __func__);
	}
}

static void
daemonize(void)
{
	int	 fd;

	switch (fork()) {
	case -1:
		err(1, "fork");
	case 0:
		break;
	default:
		_exit(0);
	}
	if (setsid() == -1)
		err(1, "setsid");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
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
	while ((ch = getopt(argc, argv, "c:dG:nr:s:u:vW:")) != -1) {
		switch (ch) {
		case 'c': c = optarg; break;
		case 'd': debug = 1; break;
		case 'G': g = optarg; break;
		case 'n': check = 1; break;
		case 'r': r = optarg; break;
		case 's': s = optarg; break;
		case 'u': u = optarg; break;
		case 'v': verbose++; break;
		case 'W': worker = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
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

	if (!debug)
		daemonize();
	log_init(debug, verbose);
	log_procinit("parent");
	setproctitle("parent");
	signal(SIGPIPE, SIG_IGN);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == -1)
		fatal("PR_SET_CHILD_SUBREAPER");
	umask(022);
	mkdirs();
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
	log_info("started in %s mode: services %s, state %s, run %s",
	    herod_env.sysmode ? "system" : "user", herod_env.confdir,
	    herod_env.statedir, herod_env.rundir);
	event_base_dispatch(pt.base);
	control_cleanup();
	log_info("exiting");
	return 0;
}
