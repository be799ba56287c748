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

#include "state.h"

static const char *action_names[AS_MAX] = {
	[AS_STOPPED] = "stopped",
	[AS_WAITING] = "waiting",
	[AS_STARTING] = "starting",
	[AS_RUNNING] = "running",
	[AS_UNHEALTHY] = "unhealthy",
	[AS_BACKOFF] = "backoff",
	[AS_STOPPING] = "stopping",
	[AS_EXITED] = "exited",
	[AS_FAILED] = "failed",
};

static const char *service_names[SS_MAX] = {
	[SS_STOPPED] = "stopped",
	[SS_STARTING] = "starting",
	[SS_RUNNING] = "running",
	[SS_DEGRADED] = "degraded",
	[SS_FAILED] = "failed",
	[SS_STOPPING] = "stopping",
};

const char *
action_state_name(enum action_state s)
{
	if ((unsigned)s >= AS_MAX)
		return "unknown";
	return action_names[s];
}

const char *
service_state_name(enum service_state s)
{
	if ((unsigned)s >= SS_MAX)
		return "unknown";
	return service_names[s];
}
