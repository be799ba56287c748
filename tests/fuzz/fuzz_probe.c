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
 * Fuzz harness: the verdict of http and jsonrpc probes on a hostile
 * server's reply (prober/check_http.c, prober/check_jsonrpc.c and the
 * parsers of prober/http_parse.c), driven the way check_tcp.c's reader
 * drives them: the reply arrives in pieces into a buffer that grows as
 * probe_read() grows it, the validator is called after each piece and
 * once more at EOF.  probe_done()/probe_ok() are replaced by a recorder
 * (the real ones send the result to the parent and free the run).
 *
 * Input: byte 0 picks the probe (bit 0-1: http, http keep-alive,
 * jsonrpc line, jsonrpc http; bit 2: a jsonrpc http probe may keep its
 * connection), byte 1 the size of each read (0: all at once), byte 2 the
 * request id; the rest is the reply.  Checked besides memory safety:
 *  - a validator that returns 1 has given exactly one verdict, one that
 *    returns 0 none, and at EOF it always decides;
 *  - a connection is kept only after a good verdict on one complete
 *    response with nothing after it and no "Connection: close"
 *    (anything else would let the next check read this reply's tail).
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "prober.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	 nverdicts;
static int	 verdict_ok;

static void
record(struct probe_run *run, int ok)
{
	/* as probe_report(): after a good status line only the
	 * connection is lost, the verdict stays good */
	if (run->passed && !ok)
		ok = 1;
	if (!ok)
		run->keep = 0;
	nverdicts++;
	verdict_ok = ok;
}

void
probe_done(struct probe_run *run, int ok, const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	record(run, ok);
}

void
probe_ok(struct probe_run *run)
{
	record(run, 1);
}

/* probe_read() of prober/probe.c, reading from the input. */
static int
sim_read(struct probe_run *run, const uint8_t **p, size_t *left,
    size_t piece)
{
	size_t	 ncap, n;
	char	*nb;

	if (run->rlen >= PROBE_READ_MAX)
		return -2;
	if (run->rcap < PROBE_READ_MAX + 1 &&
	    run->rcap - run->rlen < 1024 + 1) {
		ncap = run->rcap == 0 ? 4096 : run->rcap * 2;
		if (ncap > PROBE_READ_MAX + 1)
			ncap = PROBE_READ_MAX + 1;
		if ((nb = realloc(run->rbuf, ncap)) == NULL)
			abort();
		run->rbuf = nb;
		run->rcap = ncap;
	}
	n = run->rcap - 1 - run->rlen;
	if (piece > 0 && n > piece)
		n = piece;
	if (n > *left)
		n = *left;
	memcpy(run->rbuf + run->rlen, *p, n);
	*p += n;
	*left -= n;
	run->rlen += n;
	run->rbuf[run->rlen] = '\0';
	return (int)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct probe_conf	 pc;
	struct probe		 pr;
	struct probe_run	 run;
	struct http_frame	 f;
	const uint8_t		*p;
	size_t			 left, piece;
	int			 kind, n, r, jsonrpc, before;

	if (size < 3)
		return 0;
	memset(&pc, 0, sizeof(pc));
	memset(&pr, 0, sizeof(pr));
	memset(&run, 0, sizeof(run));
	kind = data[0] & 3;
	piece = data[1];
	jsonrpc = kind >= 2;
	pc.kind = jsonrpc ? PROBE_JSONRPC : PROBE_HTTP;
	pc.expect_lo = 200;
	pc.expect_hi = 399;
	pc.transport = kind == 2 ? TRANSPORT_LINE : TRANSPORT_HTTP;
	pr.conf = &pc;
	run.probe = &pr;
	run.fd = -1;
	run.rpc_id = data[2];
	run.may_keep = kind == 1 || (kind == 3 && (data[0] & 4));
	p = data + 3;
	left = size - 3;

	nverdicts = 0;
	for (;;) {
		n = sim_read(&run, &p, &left, piece);
		before = nverdicts;
		r = jsonrpc ? check_jsonrpc_validate(&run, n == 0) :
		    check_http_validate(&run, n == 0);
		if (r != 0 && r != 1)
			abort();
		if (nverdicts != before + r)
			abort();	/* no verdict, or two */
		if (r == 1)
			break;
		if (n == 0)
			abort();	/* EOF must decide */
		if (n == -2 || run.rlen >= PROBE_READ_MAX)
			break;		/* "reply too long" */
	}
	if (run.keep) {
		if (!run.may_keep || !verdict_ok || run.rlen == 0)
			abort();
		/* what was received (the validator may dechunk in place) */
		if (http_frame((const char *)data + 3, run.rlen, &f, NULL,
		    0) !=
		    HTTP_PARSE_OK || f.until_eof || f.close ||
		    f.end != run.rlen) {
			fprintf(stderr, "kept a connection after %zu bytes, "
			    "response framed at %zu\n", run.rlen, f.end);
			abort();
		}
	}
	free(run.rbuf);
	return 0;
}
