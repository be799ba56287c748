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
 * Fuzz harness: herod's control requests (parent/control.c), from a
 * heroctl peer that may be any local user.
 *
 * The request decoder (client_request(), client_names()) is static and
 * reached only through the control socket's accept callback, so this
 * file includes control.c itself and does what accept_cb() does on a
 * socketpair: a client (admin or not) whose msgev reads the fuzzed frame
 * in the real event loop, with the parent's state machine (svc.c and
 * friends, as in tests/test_state.c) holding two services and the
 * workers replaced by stubs.  docs/FUZZING.md says what small export of
 * control.c would let a harness call the decoder directly.
 *
 * Input: byte 0: bit 0 the peer is an admin, bit 1 the services are
 * started, bit 2 the frame is not a CTL_M_REQUEST; the rest is the
 * frame's payload (struct ctl_request, then names).  Requests that would
 * change the services (start, stop, restart, reset-failed, reload,
 * shutdown) are decoded and checked in full but, as before the services
 * are started, kept rather than run, so that every input meets the same
 * state.  Checked besides memory safety and leaks:
 *  - the peer gets at most one CTL_M_END, with a known exit code and a
 *    terminated message, and nothing after it;
 *  - a request that is not well formed (version, length, names, command)
 *    is answered with exit 2, one from a non-admin for an admin command
 *    with exit 5, and neither reaches the store;
 *  - once the peer hangs up, no client is left.
 */
#include "../../parent/control.c"

#include <sys/socket.h>

#include <stddef.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct herod_env	 herod_env;
struct parent		 pt;

static int	 store_clients;		/* M_STORE_CLIENT handed off */

int
proc_send(enum proc_id id, uint32_t type, int fd, const void *data,
    size_t len)
{
	if (type == M_STORE_CLIENT)
		store_clients++;
	if (fd != -1)
		close(fd);	/* the real one passes it on */
	return 0;
}
int proc_ready(enum proc_id id) { return 1; }
void proc_flush(enum proc_id id) { }
int proc_info(enum proc_id id, struct proc_info *pi) { return -1; }
void proc_stop_all(void) { }
void proc_push_service(struct service_conf *sc) { }
void proc_push_remove(const char *n) { }
void herod_ready(void) { }
void herod_stopping(void) { }
void herod_status_changed(void) { }

static const char *services[] = {
	"{\"name\":\"web\",\"actions\":[{\"name\":\"server\","
	    "\"exec\":[\"/bin/true\"]}],\"probes\":[{\"name\":\"health\","
	    "\"kind\":\"tcp\",\"target\":\"127.0.0.1:1\"}]}",
	"{\"name\":\"db\",\"after\":[\"web\"],\"actions\":[{\"name\":\"d\","
	    "\"exec\":[\"/bin/true\"]}]}",
};

static void
init(void)
{
	struct config_errors	 errs;
	struct service_conf	*sc;
	size_t			 i;

	log_init(1, 0);
	pt.base = event_base_new();
	RB_INIT(&pt.svcs);
	pt.next_job_id = pt.next_run_id = 1;
	strlcpy(herod_env.confdir, "/nonexistent/herod-fuzz",
	    sizeof(herod_env.confdir));
	memset(&errs, 0, sizeof(errs));
	for (i = 0; i < nitems(services); i++) {
		sc = config_parse_service("t.json", NULL, services[i],
		    strlen(services[i]), &errs);
		if (sc == NULL)
			abort();
		svc_add(sc);
	}
}

static int
read_only(uint32_t cmd)
{
	return cmd == CTL_LIST || cmd == CTL_STATUS || cmd == CTL_LOGS ||
	    cmd == CTL_EVENTS || cmd == CTL_VERSION_CMD;
}

/* What the peer got; returns the exit code of CTL_M_END or -1. */
static int
peer_replies(struct msgchan *pc)
{
	struct ctl_end	 e;
	struct msg	 m;
	ssize_t		 n;
	int		 r, code = -1;

	for (;;) {
		while ((r = msgchan_get(pc, &m)) == 1) {
			if (code != -1)
				abort();	/* something after the end */
			if (m.hdr.type == CTL_M_DATA)
				continue;
			if (m.hdr.type != CTL_M_END ||
			    msg_get_exact(&m, &e, sizeof(e)) == -1)
				abort();
			if (e.version != CTL_VERSION || e.exitcode < 0 ||
			    e.exitcode > EXIT_DENIED ||
			    memchr(e.message, '\0', sizeof(e.message)) == NULL)
				abort();
			code = e.exitcode;
		}
		if (r == -1)
			abort();
		if ((n = msgchan_read(pc)) <= 0)
			break;
	}
	return code;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request	 req;
	struct client		*c;
	struct msgchan		*pc;
	const uint8_t		*payload;
	size_t			 len, i;
	int			 sp[2], code, wellformed, admincmd;

	if (size < 1)
		return 0;
	if (pt.base == NULL)
		init();
	payload = data + 1;
	len = size - 1;
	memset(&req, 0, sizeof(req));
	memcpy(&req, payload, len < sizeof(req) ? len : sizeof(req));
	pt.started = (data[0] & 2) && read_only(req.cmd);
	pt.shutting_down = 0;
	store_clients = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		abort();
	if ((c = calloc(1, sizeof(*c))) == NULL)
		abort();
	c->uid = (data[0] & 1) ? 0 : 65534;
	c->pid = 1;
	c->admin = data[0] & 1;
	if ((c->mev = msgev_new(pt.base, sp[0], CTL_MAX_REQUEST,
	    CLIENT_QUEUE_MAX, client_dispatch, client_closed, c)) == NULL)
		abort();
	TAILQ_INSERT_TAIL(&clients, c, entry);
	nclients++;

	if ((pc = msgchan_new(sp[1], MSG_MAX_PAYLOAD, 0)) == NULL)
		abort();
	if (len <= MSG_MAX_PAYLOAD) {
		if (msgchan_queue(pc, (data[0] & 4) ? CTL_M_DATA :
		    CTL_M_REQUEST, 0, 0, -1, payload, len) == -1)
			abort();
		/* the socket takes it all before herod reads: 64 KiB + */
		while (msgchan_flush(pc) == 1)
			event_base_loop(pt.base, EVLOOP_NONBLOCK);
	}
	for (i = 0; i < 8; i++)
		event_base_loop(pt.base, EVLOOP_NONBLOCK);
	code = peer_replies(pc);

	/* what a well-formed request is, said plainly */
	wellformed = !(data[0] & 4) && len >= sizeof(req) &&
	    len <= CTL_MAX_REQUEST && req.version == CTL_VERSION &&
	    req.cmd >= CTL_LIST && req.cmd <= CTL_VERSION_CMD;
	if (wellformed) {
		const char	*p = (const char *)payload + sizeof(req);
		size_t		 left = len - sizeof(req), l, k;

		if (req.nnames > 4096)
			wellformed = 0;
		for (k = 0; wellformed && k < req.nnames; k++) {
			l = strnlen(p, left);
			if (l == left || !config_valid_name(p))
				wellformed = 0;
			else {
				p += l + 1;
				left -= l + 1;
			}
		}
		if (wellformed && left != 0)
			wellformed = 0;
	}
	admincmd = cmd_needs_admin(req.cmd);
	if (!wellformed && len <= CTL_MAX_REQUEST && code != EXIT_USAGE) {
		fprintf(stderr, "malformed request answered with %d\n", code);
		abort();
	}
	if (wellformed && admincmd && !(data[0] & 1) && code != EXIT_DENIED)
		abort();
	if ((!wellformed || (admincmd && !(data[0] & 1))) &&
	    store_clients != 0)
		abort();

	/* the peer hangs up: every client must go */
	msgchan_free(pc);
	for (i = 0; i < 8 && nclients > 0; i++)
		event_base_loop(pt.base, EVLOOP_NONBLOCK);
	if (nclients != 0) {
		fprintf(stderr, "%zu clients left\n", nclients);
		abort();
	}
	return 0;
}
