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
 * Rate limit for log lines a less privileged party can cause (one per
 * datagram, per connection...): at most burst lines per window; the
 * first line allowed after a window in which some were suppressed is
 * preceded by a summary of how many.
 *
 *	static struct ratelim rl = RATELIM_INIT(10, 10000);
 *
 *	if (ratelim_ok(&rl, __func__))
 *		log_warnx(...);
 */
#ifndef HEROD_RATELIM_H
#define HEROD_RATELIM_H

#include <stdint.h>

#include "log.h"
#include "util.h"

struct ratelim {
	unsigned int	 burst;		/* lines per window */
	int64_t		 window_ms;
	int64_t		 start_ms;	/* of the current window */
	unsigned int	 n;		/* lines in the current window */
	uint64_t	 suppressed;	/* since the last line */
};

#define RATELIM_INIT(burst, ms)	{ (burst), (ms), 0, 0, 0 }

static inline int
ratelim_ok(struct ratelim *rl, const char *who)
{
	int64_t	 now = now_ms();

	if (rl->start_ms == 0 || now - rl->start_ms >= rl->window_ms) {
		rl->start_ms = now;
		rl->n = 0;
	}
	if (rl->n >= rl->burst) {
		rl->suppressed++;
		return 0;
	}
	rl->n++;
	if (rl->suppressed > 0) {
		log_warnx("%s: %llu similar messages suppressed", who,
		    (unsigned long long)rl->suppressed);
		rl->suppressed = 0;
	}
	return 1;
}

#endif
