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
 * Stopping an instance: the stop signal to its whole process group (and
 * to its orphans), then SIGKILL after stop.timeout_ms.  The parent learns
 * the end from M_EXITED, sent when the leader is reaped, and every
 * signal sent from M_KILLED (its events say who asked and why).
 */
#include <sys/types.h>

#include <errno.h>
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

/*
 * The leader is signalled first: through its pidfd when adopted, else
 * as our child, not yet reaped (its instance is freed only when it is).
 * Its group is signalled only if that worked: the group is the one
 * the leader made at its spawn (setsid), or the one the kernel showed
 * at adoption, and its id cannot belong to another group while the
 * leader is there, even as a zombie.  1 when the leader was signalled.
 */
int
stop_kill_group(struct inst *in, int sig)
{
	int	 leader = 0;

	if (in->pidfd != -1)
		leader = pidfd_signal(in->pidfd, sig) == 0;
	else if (!in->adopted && in->pid > 1)
		leader = kill(in->pid, sig) == 0;
	if (leader && in->pgid > 1) {
		if (killpg(in->pgid, sig) == -1 && errno != ESRCH)
			log_warn("%s: killpg %d", __func__, (int)in->pgid);
		if (sig != SIGKILL && sig != SIGCONT)
			killpg(in->pgid, SIGCONT);
	} else if (leader && sig != SIGKILL && sig != SIGCONT) {
		if (in->pidfd != -1)
			pidfd_signal(in->pidfd, SIGCONT);
		else
			kill(in->pid, SIGCONT);
	}
	kill_job_orphans(in->ref.job_id, sig);
	return leader;
}

/* Tell the parent about a signal sent (M_KILLED, for its events). */
void
report_kill(const struct m_ref *ref, pid_t pid, int sig, uint32_t cause,
    const char *fmt, ...)
{
	struct m_killed	 k;
	va_list		 ap;

	memset(&k, 0, sizeof(k));
	k.ref = *ref;
	k.pid = pid;
	k.signal = sig;
	k.cause = cause;
	va_start(ap, fmt);
	(void)vsnprintf(k.why, sizeof(k.why), fmt, ap);
	va_end(ap);
	spawner_send(M_KILLED, -1, &k, sizeof(k));
}

static void
kill_timer_cb(int fd, short ev, void *arg)
{
	struct inst	*in = arg;

	log_info("%s/%s: pid %d did not stop in time, killing its group",
	    in->ref.service, in->ref.action, (int)in->pid);
	if (stop_kill_group(in, SIGKILL))
		report_kill(&in->ref, in->pid, SIGKILL, KILLED_STOP_TIMEOUT,
		    "pid %d did not stop within %u ms", (int)in->pid,
		    in->stop_timeout_ms);
}

static void
report_gone(const struct m_ref *ref, pid_t pid)
{
	struct m_exited	 e;

	memset(&e, 0, sizeof(e));
	e.ref = *ref;
	e.pid = pid;
	e.known = 0;
	spawner_send(M_EXITED, -1, &e, sizeof(e));
}

void
stop_inst(const struct m_stop *req)
{
	struct inst	*in;
	struct timeval	 tv;
	int		 sig;

	in = inst_find_ref(&req->ref);
	if (in == NULL || (req->pid > 0 && in->pid != req->pid)) {
		/* nothing of ours: make sure a recorded pid is not left */
		report_gone(&req->ref, req->pid);
		return;
	}
	if (in->pid == 0) {		/* still in pre-spawn */
		inst_free(in);
		report_gone(&req->ref, 0);
		return;
	}
	if (in->stopping == 1)
		return;
	in->stopping = 1;
	in->stop_timeout_ms = req->timeout_ms;
	sig = req->signal > 0 ? req->signal : SIGTERM;
	if (stop_kill_group(in, sig))
		report_kill(&in->ref, in->pid, sig, KILLED_STOP, "stop");
	tv.tv_sec = req->timeout_ms / 1000;
	tv.tv_usec = (req->timeout_ms % 1000) * 1000;
	if (in->ev_kill == NULL)
		in->ev_kill = evtimer_new(sp->base, kill_timer_cb, in);
	if (in->ev_kill == NULL || evtimer_add(in->ev_kill, &tv) == -1)
		fatalx("%s: evtimer", __func__);
}
