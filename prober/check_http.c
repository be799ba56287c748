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
 * http probes: GET path, decided on the status line alone.  A run that
 * may keep its connection reads on to the end of that response (by
 * Content-Length or chunked framing) so that the connection is clean for
 * the next check; whatever happens then, the verdict stays, and only a
 * complete response without "Connection: close" and with nothing after
 * it leaves the connection open.  The transport is check_tcp.c.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "prober.h"

/* A request path must be one token of visible ASCII. */
static int
http_path_ok(const char *path)
{
	const unsigned char	*p;

	if (path[0] != '/')
		return 0;
	for (p = (const unsigned char *)path; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return 0;
	return 1;
}

int
check_http_request(struct probe_run *run)
{
	struct probe	*p = run->probe;
	const char	*path = p->conf->path != NULL ? p->conf->path : "/";
	int		 len;

	if (!http_path_ok(path)) {
		probe_done(run, 0, "bad request path");
		return -1;
	}
	len = asprintf(&run->wbuf, "GET %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "%s"
	    "User-Agent: herod-probe\r\n"
	    "Accept: */*\r\n"
	    "\r\n", path, p->host,
	    run->may_keep ? "" : "Connection: close\r\n");
	if (len == -1)
		fatal("%s: asprintf", __func__);
	run->wlen = (size_t)len;
	return 0;
}

/*
 * The verdict of the status line: 1 decided (the run is then freed), 0
 * for more bytes, -1 when the status is good.
 */
static int
http_status(struct probe_run *run, int eof)
{
	const struct probe_conf	*pc = run->probe->conf;
	char			 err[REASON_BUF];
	int			 r, status;

	if (run->rlen == 0) {
		if (!eof)
			return 0;
		probe_done(run, 0, "empty reply");
		return 1;
	}
	r = http_parse_status(run->rbuf, run->rlen, &status, NULL, err,
	    sizeof(err));
	switch (r) {
	case HTTP_PARSE_ERROR:
		probe_done(run, 0, "%s", err);
		return 1;
	case HTTP_PARSE_MORE:
		if (!eof)
			return 0;
		sanitize_text(err, 61, run->rbuf, run->rlen);
		probe_done(run, 0, "incomplete status line: %s", err);
		return 1;
	}
	if (status < pc->expect_lo || status > pc->expect_hi) {
		probe_done(run, 0, "status %d not in %d-%d", status,
		    pc->expect_lo, pc->expect_hi);
		return 1;
	}
	return -1;
}

/* Returns 1 once decided (the run is then freed), 0 for more bytes. */
int
check_http_validate(struct probe_run *run, int eof)
{
	struct http_frame	 f;
	int			 r;

	if (!run->passed && (r = http_status(run, eof)) != -1)
		return r;
	if (!run->may_keep) {
		probe_ok(run);
		return 1;
	}
	/* ok; a failure from now on only closes the connection */
	run->passed = 1;
	run->phase = "reading the rest of the reply";
	r = check_http_frame(run, &f, NULL, 0);
	if (r == HTTP_PARSE_MORE && !eof && run->rlen < PROBE_READ_MAX &&
	    f.end <= PROBE_READ_MAX)
		return 0;
	run->keep = r == HTTP_PARSE_OK && !f.close && !eof &&
	    f.end == run->rlen;
	probe_ok(run);
	return 1;
}

/*
 * http_frame() on the run's reply.  Until the blank line after the
 * headers is there, it is looked for only in what is new (the headers
 * may come in many small pieces).
 */
int
check_http_frame(struct probe_run *run, struct http_frame *f, char *err,
    size_t errlen)
{
	size_t	 from;

	if (run->scan != SIZE_MAX) {
		from = run->scan > 3 ? run->scan - 3 : 0;
		if (memmem(run->rbuf + from, run->rlen - from, "\n\n", 2) ==
		    NULL && memmem(run->rbuf + from, run->rlen - from,
		    "\n\r\n", 3) == NULL) {
			run->scan = run->rlen;
			memset(f, 0, sizeof(*f));
			f->clen = -1;
			if (run->rlen < PROBE_READ_MAX)
				return HTTP_PARSE_MORE;
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "headers too long");
			return HTTP_PARSE_ERROR;
		}
		run->scan = SIZE_MAX;
	}
	return http_frame(run->rbuf, run->rlen, f, err, errlen);
}
