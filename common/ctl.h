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
 * Control protocol between heroctl and herod's parent over the control
 * socket, framed with msg.h.  Every message from heroctl carries
 * CTL_VERSION; a mismatch is answered with CTL_M_END exit 2.
 *
 * heroctl -> herod:  CTL_M_REQUEST: struct ctl_request, then nnames
 *                    NUL-terminated names (total <= CTL_MAX_NAMES_LEN).
 * herod -> heroctl:  any number of CTL_M_DATA (bytes for stdout: one JSON
 *                    document for list/status/..., or JSON lines for
 *                    logs/events), then one CTL_M_END.
 */
#ifndef HEROD_CTL_H
#define HEROD_CTL_H

#include <stdint.h>

#include "proto.h"

#define CTL_VERSION		1
#define CTL_MAX_NAMES_LEN	(64 * 1024)
#define CTL_MAX_REQUEST		(sizeof(struct ctl_request) + \
				    CTL_MAX_NAMES_LEN)
#define CTL_DATA_CHUNK		(32 * 1024)

enum ctl_msg {
	CTL_M_REQUEST = 1000,
	CTL_M_DATA,
	CTL_M_END,
};

enum ctl_cmd {
	CTL_LIST = 1,
	CTL_STATUS,
	CTL_START,
	CTL_STOP,
	CTL_RESTART,
	CTL_RESET_FAILED,
	CTL_RELOAD,
	CTL_LOGS,
	CTL_EVENTS,
	CTL_SHUTDOWN,
	CTL_VERSION_CMD,
};

#define CTLF_NOWAIT	0x01
#define CTLF_FORCE	0x02
#define CTLF_FOLLOW	0x04
#define CTLF_KEEP	0x08	/* shutdown --keep-services */

struct ctl_request {
	uint32_t	version;
	uint32_t	cmd;
	uint32_t	flags;
	uint32_t	timeout_s;	/* start/stop wait; 0 = default */
	uint32_t	lines;		/* logs/events -n; 0 = default */
	int32_t		restart;	/* logs -r; -1 = all kept */
	char		action[NAME_BUF];	/* logs -a; "" = all */
	uint32_t	nnames;
	uint32_t	pad;
};

/* exit codes (SPEC) */
#define EXIT_OK		0
#define EXIT_FAILED	1
#define EXIT_USAGE	2
#define EXIT_UNREACH	3
#define EXIT_NOSUCH	4
#define EXIT_DENIED	5
#define EXIT_TIMEOUT	6	/* no answer within heroctl's bound */

struct ctl_end {
	uint32_t	version;
	int32_t		exitcode;
	char		message[1024];	/* for stderr, may be empty */
};

#endif
