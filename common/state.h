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

/* Action and service states (herod(8), SPEC "States"). */
#ifndef HEROD_STATE_H
#define HEROD_STATE_H

enum action_state {
	AS_STOPPED = 0,
	AS_WAITING,
	AS_STARTING,
	AS_RUNNING,
	AS_UNHEALTHY,
	AS_BACKOFF,
	AS_STOPPING,
	AS_EXITED,
	AS_FAILED,
	AS_MAX
};

enum service_state {
	SS_STOPPED = 0,
	SS_STARTING,
	SS_RUNNING,
	SS_DEGRADED,
	SS_FAILED,
	SS_STOPPING,
	SS_MAX
};

const char	*action_state_name(enum action_state);
const char	*service_state_name(enum service_state);

#endif
