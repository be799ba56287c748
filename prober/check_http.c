/*
 * http probes: GET path, decided on the status line alone (the body is
 * never waited for).  The transport is check_tcp.c.
 */
#include <sys/types.h>

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
	    "Connection: close\r\n"
	    "User-Agent: herod-probe\r\n"
	    "Accept: */*\r\n"
	    "\r\n", path, p->host);
	if (len == -1)
		fatal("%s: asprintf", __func__);
	run->wlen = (size_t)len;
	return 0;
}

/* Returns 1 once decided (the run is then freed), 0 for more bytes. */
int
check_http_validate(struct probe_run *run, int eof)
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
	if (status < pc->expect_lo || status > pc->expect_hi)
		probe_done(run, 0, "status %d not in %d-%d", status,
		    pc->expect_lo, pc->expect_hi);
	else
		probe_ok(run);
	return 1;
}
