/*
 * The control socket: heroctl connects, is identified by SO_PEERCRED,
 * sends one request and gets CTL_M_DATA + CTL_M_END back.  Admins (uid 0,
 * herod's uid, members of -G group) may do everything; others may only
 * list, status, events and version.  A bad request closes only that
 * connection.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <yajl/yajl_gen.h>

#include "herod.h"
#include "log.h"
#include "msg.h"
#include "parent.h"
#include "util.h"

#define CLIENTS_MAX		512
#define CLIENTS_PER_UID		32
#define CLIENT_QUEUE_MAX	(64 * 1024 * 1024)
#define WAIT_DEFAULT_S		90
#define NAMES_MAX		4096

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct msgev		*mev;
	uid_t			 uid;
	pid_t			 pid;
	int			 admin;
	int			 done;		/* answered */
	struct ctl_request	 req;
	char			**names;
	size_t			 nnames;
	int			 waiting;	/* WAIT_* */
#define WAIT_NO		0
#define WAIT_YES	1
#define WAIT_TIMEOUT	2
#define WAIT_NOWAIT	3
	void			*deferred;	/* request kept until started */
	size_t			 deferred_len;
	uint32_t		 probe_seq;
	int			 probes_pending;
	struct event		*ev_timer;
};
static TAILQ_HEAD(, client) clients = TAILQ_HEAD_INITIALIZER(clients);
static size_t		 nclients;
static int		 ctl_fd = -1;
static struct event	*ev_accept;
static char		 ctl_path[PATH_MAX];
static gid_t		 admin_gid;
static int		 have_admin_gid;

static void	client_free(struct client *);
static void	client_reply_status(struct client *);
static void	client_run(struct client *, void *, size_t);

static void
client_send_data(struct client *c, const void *buf, size_t len)
{
	const char	*p = buf;
	size_t		 n;

	while (len > 0) {
		n = len > CTL_DATA_CHUNK ? CTL_DATA_CHUNK : len;
		if (msgev_send(c->mev, CTL_M_DATA, 0, 0, -1, p, n) == -1)
			return;
		p += n;
		len -= n;
	}
}

static void
client_end(struct client *c, int code, const char *fmt, ...)
{
	struct ctl_end	 e;
	va_list		 ap;

	if (c->done)
		return;
	memset(&e, 0, sizeof(e));
	e.version = CTL_VERSION;
	e.exitcode = code;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(e.message, sizeof(e.message), fmt, ap);
		va_end(ap);
	}
	c->done = 1;
	msgev_send(c->mev, CTL_M_END, 0, 0, -1, &e, sizeof(e));
	msgev_close_when_flushed(c->mev);
	c->mev = NULL;		/* the library frees it once flushed */
	client_free(c);
}

static void
client_gen_end(struct client *c, yajl_gen g, int code, const char *msg)
{
	const unsigned char	*buf;
	size_t			 len;

	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok) {
		client_send_data(c, buf, len);
		client_send_data(c, "\n", 1);
	}
	yajl_gen_free(g);
	client_end(c, code, msg && *msg ? "%s" : NULL, msg);
}

static void
client_free(struct client *c)
{
	size_t	 i;

	TAILQ_REMOVE(&clients, c, entry);
	nclients--;
	if (c->ev_timer != NULL)
		event_free(c->ev_timer);
	for (i = 0; i < c->nnames; i++)
		free(c->names[i]);
	free(c->names);
	free(c->deferred);
	if (c->mev != NULL)
		msgev_free(c->mev);
	free(c);
}

static int
peer_is_admin(uid_t uid)
{
	struct passwd	*pw;
	gid_t		 groups[256];
	int		 n = nitems(groups), i;

	if (uid == 0 || uid == geteuid())
		return 1;
	if (!have_admin_gid || (pw = getpwuid(uid)) == NULL)
		return 0;
	if (pw->pw_gid == admin_gid)
		return 1;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (groups[i] == admin_gid)
			return 1;
	return 0;
}

static yajl_gen
gen_new(void)
{
	yajl_gen	 g;

	if ((g = yajl_gen_alloc(NULL)) == NULL)
		fatalx("%s: yajl_gen_alloc", __func__);
	return g;
}

static void
cmd_list(struct client *c)
{
	yajl_gen	 g = gen_new();
	struct svc	*s;

	yajl_gen_map_open(g);
	gen_str(g, "services");
	yajl_gen_array_open(g);
	RB_FOREACH(s, svc_tree, &pt.svcs)
		status_service(g, s, 0);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	client_gen_end(c, g, EXIT_OK, NULL);
}

static void
client_reply_status(struct client *c)
{
	yajl_gen	 g = gen_new();
	struct svc	*s;
	size_t		 i;
	int		 code = EXIT_OK;

	yajl_gen_map_open(g);
	gen_str(g, "services");
	yajl_gen_array_open(g);
	for (i = 0; i < c->nnames; i++) {
		if ((s = svc_find(c->names[i])) == NULL) {
			code = EXIT_FAILED;
			continue;
		}
		status_service(g, s, 1);
		if (s->state != SS_RUNNING)
			code = EXIT_FAILED;
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	client_gen_end(c, g, code, NULL);
}

static void
timer_cb(int fd, short ev, void *arg)
{
	struct client	*c = arg;

	if (c->req.cmd == CTL_STATUS) {
		client_reply_status(c);
		return;
	}
	/* start/stop wait timed out: answer with what there is */
	c->waiting = WAIT_TIMEOUT;
	control_state_changed(NULL);
}

static void
client_timer(struct client *c, uint32_t secs)
{
	struct timeval	 tv = { secs, 0 };

	if (c->ev_timer == NULL &&
	    (c->ev_timer = evtimer_new(pt.base, timer_cb, c)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	evtimer_add(c->ev_timer, &tv);
}

static void
cmd_status(struct client *c)
{
	struct m_probe_now	 pn;
	struct svc		*s;
	uint32_t		 wait_ms = 0;
	size_t			 i, j;

	c->probe_seq = ++pt.probe_seq;
	for (i = 0; i < c->nnames; i++) {
		s = svc_find(c->names[i]);
		if (s == NULL || s->nprobes == 0 || !proc_ready(PROC_PROBER))
			continue;
		memset(&pn, 0, sizeof(pn));
		strlcpy(pn.service, s->name, sizeof(pn.service));
		pn.seq = c->probe_seq;
		if (proc_send(PROC_PROBER, M_PROBE_NOW, -1, &pn,
		    sizeof(pn)) == 0)
			c->probes_pending++;
		for (j = 0; j < s->nprobes; j++)
			if (s->probes[j].conf->timeout_ms > wait_ms)
				wait_ms = s->probes[j].conf->timeout_ms;
	}
	if (c->probes_pending == 0) {
		client_reply_status(c);
		return;
	}
	client_timer(c, wait_ms / 1000 + 3);
}

void
control_probe_done(const struct m_probe_now *pn)
{
	struct client	*c;

	TAILQ_FOREACH(c, &clients, entry) {
		if (c->done || c->req.cmd != CTL_STATUS ||
		    c->probe_seq != pn->seq)
			continue;
		if (--c->probes_pending <= 0)
			client_reply_status(c);
		return;
	}
}

void
control_worker_lost(enum proc_id id)
{
	struct client	*c, *next;

	if (id != PROC_PROBER)
		return;
	TAILQ_FOREACH_SAFE(c, &clients, entry, next)
		if (!c->done && c->req.cmd == CTL_STATUS &&
		    c->probes_pending > 0)
			client_reply_status(c);
}

/* 1 done ok, 0 pending, -1 done failed */
static int
wait_outcome(struct client *c, struct svc *s)
{
	switch (c->req.cmd) {
	case CTL_STOP:
		if (s->state == SS_STOPPED || (s->state == SS_FAILED &&
		    s->intent != INTENT_UP))
			return 1;
		return 0;
	default:
		if (s->state == SS_RUNNING)
			return 1;
		/* an action that exited while it started is a failed start */
		if (svc_in_backoff(s))
			return -1;
		if (s->state == SS_FAILED ||
		    (s->state == SS_STOPPED && s->intent == INTENT_UP))
			return -1;
		if (s->state == SS_STOPPED && !s->replacing)
			return -1;
		return 0;
	}
}

static void
wait_check(struct client *c)
{
	yajl_gen	 g;
	struct svc	*s;
	char		 msg[1024];
	size_t		 i, ml = 0;
	int		 r, pending = 0, failed = 0;

	for (i = 0; i < c->nnames; i++) {
		if ((s = svc_find(c->names[i])) == NULL)
			continue;
		if ((r = wait_outcome(c, s)) == 0)
			pending = 1;
		if (r == -1)
			failed = 1;
	}
	if (pending && c->waiting == WAIT_YES)
		return;
	if (c->waiting == WAIT_NOWAIT)
		pending = 0;
	g = gen_new();
	msg[0] = '\0';
	yajl_gen_map_open(g);
	gen_str(g, "results");
	yajl_gen_array_open(g);
	for (i = 0; i < c->nnames; i++) {
		const char *st = "removed", *why = "";

		if ((s = svc_find(c->names[i])) != NULL) {
			st = service_state_name(s->state);
			why = s->reason;
			if ((r = wait_outcome(c, s)) != 1 && ml < sizeof(msg))
				ml += snprintf(msg + ml, sizeof(msg) - ml,
				    "%s%s: %s%s%s%s", ml ? "; " : "",
				    s->name, r == 0 ? "timeout, still " : "",
				    st, *why ? ": " : "", why);
		}
		yajl_gen_map_open(g);
		gen_kv(g, "name", c->names[i]);
		gen_kv(g, "state", st);
		gen_kv(g, "reason", why);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	client_gen_end(c, g, (pending || failed) ? EXIT_FAILED : EXIT_OK,
	    msg);
}

void
control_state_changed(struct svc *changed)
{
	struct client	*c, *next;

	TAILQ_FOREACH_SAFE(c, &clients, entry, next)
		if (!c->done && c->waiting)
			wait_check(c);
}

static void
cmd_lifecycle(struct client *c)
{
	struct svc	*s;
	size_t		 i;

	for (i = 0; i < c->nnames; i++) {
		s = svc_find(c->names[i]);
		switch (c->req.cmd) {
		case CTL_START:
			svc_start(s);
			break;
		case CTL_STOP:
			svc_stop(s);
			break;
		default:
			svc_restart(s);
			break;
		}
	}
	c->waiting = (c->req.flags & CTLF_NOWAIT) ? WAIT_NOWAIT : WAIT_YES;
	client_timer(c, c->req.timeout_s ? c->req.timeout_s : WAIT_DEFAULT_S);
	wait_check(c);
}

static int
reset_selected(struct client *c, struct svc *s)
{
	size_t	 i;

	if (c->nnames == 0)
		return 1;
	for (i = 0; i < c->nnames; i++)
		if (strcmp(c->names[i], s->name) == 0)
			return 1;
	return 0;
}

/* Restart failed and degraded services (all with --force), decided
 * from the states before any restart. */
static void
cmd_reset_failed(struct client *c)
{
	yajl_gen	  g = gen_new();
	struct svc	 *s, **todo;
	size_t		  n = 0, i;

	if ((todo = calloc(pt.nsvcs + 1, sizeof(*todo))) == NULL) {
		yajl_gen_free(g);
		client_end(c, EXIT_FAILED, "out of memory");
		return;
	}
	yajl_gen_map_open(g);
	gen_str(g, "left_alone");
	yajl_gen_array_open(g);
	RB_FOREACH(s, svc_tree, &pt.svcs) {
		if (!reset_selected(c, s))
			continue;
		if (s->state == SS_FAILED || s->state == SS_DEGRADED ||
		    svc_in_backoff(s) || (c->req.flags & CTLF_FORCE)) {
			todo[n++] = s;
			continue;
		}
		yajl_gen_map_open(g);
		gen_kv(g, "name", s->name);
		gen_kv(g, "state", service_state_name(s->state));
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gen_str(g, "restarted");
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++)
		gen_str(g, todo[i]->name);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	for (i = 0; i < n; i++)
		svc_restart(todo[i]);
	free(todo);
	client_gen_end(c, g, EXIT_OK, NULL);
}

static void
cmd_reload(struct client *c)
{
	yajl_gen	 g = gen_new();
	char		 err[1024];

	if (reload_config(g, err, sizeof(err)) == -1) {
		yajl_gen_free(g);
		client_end(c, EXIT_FAILED, "reload failed, nothing applied:"
		    "\n%s", err);
		return;
	}
	client_gen_end(c, g, EXIT_OK, NULL);
}

static void
cmd_handoff(struct client *c, const void *data, size_t len)
{
	int	 fd;

	if (!proc_ready(PROC_STORE)) {
		client_end(c, EXIT_FAILED, "the store is restarting, try "
		    "again");
		return;
	}
	if ((fd = dup(msgchan_fd(msgev_chan(c->mev)))) == -1) {
		client_end(c, EXIT_FAILED, "dup: %s", strerror(errno));
		return;
	}
	if (proc_send(PROC_STORE, M_STORE_CLIENT, fd, data, len) == -1) {
		client_end(c, EXIT_FAILED, "the store is unavailable");
		return;
	}
	c->done = 1;
	client_free(c);
}

static void
cmd_simple(struct client *c, int cmd)
{
	yajl_gen	 g = gen_new();
	int		 keep = (c->req.flags & CTLF_KEEP) != 0;

	yajl_gen_map_open(g);
	if (cmd == CTL_VERSION_CMD) {
		gen_kv(g, "version", HEROD_VERSION);
		gen_kint(g, "protocol", CTL_VERSION);
	} else {
		gen_str(g, "shutdown");
		yajl_gen_bool(g, 1);
		gen_str(g, "keep_services");
		yajl_gen_bool(g, keep);
	}
	yajl_gen_map_close(g);
	client_gen_end(c, g, EXIT_OK, NULL);	/* c is gone */
	if (cmd == CTL_SHUTDOWN) {
		log_info("shutdown requested%s", keep ?
		    ", services keep running" : "");
		pt.shutting_down = 1;
		pt.keep_services = keep;
		svc_stop_all();
	}
}

static const char *
cmd_name(uint32_t cmd)
{
	static const char *names[] = { "", "list", "status", "start", "stop",
	    "restart", "reset-failed", "reload", "logs", "events",
	    "shutdown", "version" };

	return cmd < nitems(names) ? names[cmd] : "?";
}

/* Parse the names that follow struct ctl_request. */
static int
client_names(struct client *c, const char *p, size_t len)
{
	size_t	 i, l;

	if (c->req.nnames > NAMES_MAX)
		return -1;
	if ((c->names = calloc(c->req.nnames + 1, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < c->req.nnames; i++) {
		l = strnlen(p, len);
		if (l == len || !config_valid_name(p))
			return -1;
		if ((c->names[i] = strdup(p)) == NULL)
			return -1;
		c->nnames++;
		p += l + 1;
		len -= l + 1;
	}
	return len == 0 ? 0 : -1;
}

static int
cmd_needs_admin(uint32_t cmd)
{
	return cmd != CTL_LIST && cmd != CTL_STATUS && cmd != CTL_EVENTS &&
	    cmd != CTL_VERSION_CMD;
}

static void
client_request(struct client *c, struct msg *m)
{
	size_t	 i;

	if (m->hdr.type != CTL_M_REQUEST || m->hdr.len < sizeof(c->req) ||
	    c->names != NULL) {
		client_end(c, EXIT_USAGE, "malformed request");
		return;
	}
	memcpy(&c->req, m->data, sizeof(c->req));
	proto_terminate(c->req.action);
	if (c->req.version != CTL_VERSION) {
		client_end(c, EXIT_USAGE, "protocol version %u, herod speaks "
		    "%u", c->req.version, CTL_VERSION);
		return;
	}
	if (client_names(c, (char *)m->data + sizeof(c->req),
	    m->hdr.len - sizeof(c->req)) == -1) {
		client_end(c, EXIT_USAGE, "malformed names in request");
		return;
	}
	if (c->req.cmd < (uint32_t)CTL_LIST ||
	    c->req.cmd > (uint32_t)CTL_VERSION_CMD) {
		client_end(c, EXIT_USAGE, "unknown command %u", c->req.cmd);
		return;
	}
	if (cmd_needs_admin(c->req.cmd) && !c->admin) {
		client_end(c, EXIT_DENIED, "%s: permission denied for uid %u",
		    cmd_name(c->req.cmd), (unsigned)c->uid);
		return;
	}
	for (i = 0; i < c->nnames; i++) {
		if (svc_find(c->names[i]) == NULL) {
			client_end(c, EXIT_NOSUCH, "no such service: %s",
			    c->names[i]);
			return;
		}
	}
	if (!pt.started && c->req.cmd != CTL_VERSION_CMD) {
		/* answered once the services are started or adopted */
		if ((c->deferred = malloc(m->hdr.len)) == NULL) {
			client_end(c, EXIT_FAILED, "out of memory");
			return;
		}
		memcpy(c->deferred, m->data, m->hdr.len);
		c->deferred_len = m->hdr.len;
		return;
	}
	client_run(c, m->data, m->hdr.len);
}

void
control_started(void)
{
	struct client	*c, *next;

	TAILQ_FOREACH_SAFE(c, &clients, entry, next)
		if (!c->done && c->deferred != NULL)
			client_run(c, c->deferred, c->deferred_len);
}

static void
client_run(struct client *c, void *data, size_t len)
{
	switch (c->req.cmd) {
	case CTL_LIST:
		cmd_list(c);
		break;
	case CTL_STATUS:
		if (c->nnames == 0) {
			client_end(c, EXIT_USAGE, "status needs a name");
			return;
		}
		cmd_status(c);
		break;
	case CTL_START:
	case CTL_STOP:
	case CTL_RESTART:
		if (c->nnames == 0) {
			client_end(c, EXIT_USAGE, "%s needs a name",
			    cmd_name(c->req.cmd));
			return;
		}
		if (pt.shutting_down) {
			client_end(c, EXIT_FAILED, "herod is shutting down");
			return;
		}
		cmd_lifecycle(c);
		break;
	case CTL_RESET_FAILED:
		cmd_reset_failed(c);
		break;
	case CTL_RELOAD:
		cmd_reload(c);
		break;
	case CTL_LOGS:
		if (c->nnames != 1) {
			client_end(c, EXIT_USAGE, "logs needs one name");
			return;
		}
		/* FALLTHROUGH */
	case CTL_EVENTS:
		cmd_handoff(c, data, len);
		break;
	default:
		cmd_simple(c, c->req.cmd);
		break;
	}
}

static void
client_dispatch(struct msgev *mev, struct msg *m, void *arg)
{
	struct client	*c = arg;

	if (m->fd != -1) {
		close(m->fd);
		m->fd = -1;
		client_end(c, EXIT_USAGE, "unexpected fd");
		return;
	}
	if (c->done)
		return;
	client_request(c, m);
}

static void
client_closed(struct msgev *mev, void *arg)
{
	struct client	*c = arg;

	c->mev = NULL;		/* freed by the library */
	client_free(c);
}

static size_t
clients_of(uid_t uid)
{
	struct client	*c;
	size_t		 n = 0;

	TAILQ_FOREACH(c, &clients, entry)
		if (c->uid == uid)
			n++;
	return n;
}

static void
accept_cb(int fd, short ev, void *arg)
{
	struct client	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 s;

	s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (s == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("%s: accept", __func__);
		return;
	}
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("%s: SO_PEERCRED", __func__);
		close(s);
		return;
	}
	if (nclients >= CLIENTS_MAX || (!peer_is_admin(cred.uid) &&
	    clients_of(cred.uid) >= CLIENTS_PER_UID)) {
		log_warnx("%s: too many connections, uid %u refused",
		    __func__, (unsigned)cred.uid);
		close(s);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(s);
		return;
	}
	c->uid = cred.uid;
	c->pid = cred.pid;
	c->admin = peer_is_admin(cred.uid);
	c->mev = msgev_new(pt.base, s, CTL_MAX_REQUEST, CLIENT_QUEUE_MAX,
	    client_dispatch, client_closed, c);
	if (c->mev == NULL) {
		close(s);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&clients, c, entry);
	nclients++;
}

void
control_init(void)
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	int			 s, r;

	if (herod_env.group[0] != '\0' &&
	    (gr = getgrnam(herod_env.group)) != NULL) {
		admin_gid = gr->gr_gid;
		have_admin_gid = 1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(ctl_path, sizeof(ctl_path), "%s/%s",
	    herod_env.rundir, RUN_SOCK) >= sizeof(sun.sun_path))
		fatalx("%s: control socket path too long: %s/%s", __func__,
		    herod_env.rundir, RUN_SOCK);
	strlcpy(sun.sun_path, ctl_path, sizeof(sun.sun_path));
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s == -1)
		fatal("%s: socket", __func__);
	r = connect(s, (struct sockaddr *)&sun, sizeof(sun));
	if (r == 0 || errno == EAGAIN)
		fatalx("another herod answers on %s", ctl_path);
	if (errno == ECONNREFUSED)
		unlink(ctl_path);	/* stale, from a dead herod */
	if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("%s: bind %s", __func__, ctl_path);
	if (chmod(ctl_path, 0666) == -1)
		fatal("%s: chmod %s", __func__, ctl_path);
	if (listen(s, 128) == -1)
		fatal("%s: listen", __func__);
	ctl_fd = s;
	ev_accept = event_new(pt.base, s, EV_READ | EV_PERSIST, accept_cb,
	    NULL);
	if (ev_accept == NULL || event_add(ev_accept, NULL) == -1)
		fatalx("%s: event", __func__);
}

void
control_cleanup(void)
{
	if (ctl_fd != -1) {
		close(ctl_fd);
		unlink(ctl_path);
		ctl_fd = -1;
	}
}
