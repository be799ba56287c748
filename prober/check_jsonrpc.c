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
 * jsonrpc probes: {"jsonrpc":"2.0","method":M,"id":N} over a line
 * (newline-delimited) or an HTTP POST.  Ok only for a JSON object with
 * the same id, a "result" and no (non-null) "error".  Replies are bounded
 * by PROBE_READ_MAX and their nesting is bounded before yajl sees them.
 * Over http the connection may be kept, as for http probes; a line
 * protocol says nothing of a second request on one connection, so line
 * probes always connect afresh.
 */
#include <sys/types.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "log.h"
#include "prober.h"

#define JSON_MAX_DEPTH	32

static int	 rpc_line_validate(struct probe_run *, int);
static int	 rpc_http_validate(struct probe_run *, int);
static int	 rpc_http_more(struct probe_run *, const struct http_frame *,
		    int);
static void	 rpc_check(struct probe_run *, char *, size_t);

/* method as a JSON string; the name comes from root's own config. */
static void
json_quote(char *dst, size_t dstlen, const char *s)
{
	size_t		 o = 0;
	unsigned char	 c;
	char		 esc[8];

	if (dstlen < 3) {
		dst[0] = '\0';
		return;
	}
	dst[o++] = '"';
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c < 0x20)
			snprintf(esc, sizeof(esc), "\\u%04x", c);
		else {
			esc[0] = (char)c;
			esc[1] = '\0';
		}
		if (o + strlen(esc) + 2 > dstlen)
			break;
		memcpy(dst + o, esc, strlen(esc));
		o += strlen(esc);
	}
	dst[o++] = '"';
	dst[o] = '\0';
}

int
check_jsonrpc_request(struct probe_run *run)
{
	struct probe	*p = run->probe;
	const char	*path = p->conf->path != NULL ? p->conf->path :
			    "/rpc";
	const char	*method = p->conf->method != NULL ? p->conf->method :
			    "rpc.ping";
	char		 qm[512], body[640];
	int		 len;

	run->rpc_id = p->rpc_next_id++;
	if (p->rpc_next_id == 0 || p->rpc_next_id > 2000000000)
		p->rpc_next_id = 1;
	json_quote(qm, sizeof(qm), method);
	snprintf(body, sizeof(body),
	    "{\"jsonrpc\":\"2.0\",\"method\":%s,\"id\":%u}", qm, run->rpc_id);

	if (p->conf->transport == TRANSPORT_LINE) {
		len = asprintf(&run->wbuf, "%s\n", body);
		run->validate = rpc_line_validate;
	} else {
		if (path[0] != '/' || strpbrk(path, " \r\n\t") != NULL) {
			probe_done(run, 0, "bad request path");
			return -1;
		}
		len = asprintf(&run->wbuf, "POST %s HTTP/1.1\r\n"
		    "Host: %s\r\n"
		    "Content-Type: application/json\r\n"
		    "Accept: application/json\r\n"
		    "Content-Length: %zu\r\n"
		    "%s"
		    "User-Agent: herod-probe\r\n"
		    "\r\n%s", path, p->host, strlen(body),
		    run->may_keep ? "" : "Connection: close\r\n", body);
		run->validate = rpc_http_validate;
	}
	if (len == -1)
		fatal("%s: asprintf", __func__);
	run->wlen = (size_t)len;
	return 0;
}

/* The validate pointer is set by check_jsonrpc_request. */
int
check_jsonrpc_validate(struct probe_run *run, int eof)
{
	if (run->probe->conf->transport == TRANSPORT_LINE)
		return rpc_line_validate(run, eof);
	return rpc_http_validate(run, eof);
}

static int
rpc_line_validate(struct probe_run *run, int eof)
{
	char	*nl;

	if ((nl = memchr(run->rbuf, '\n', run->rlen)) != NULL) {
		rpc_check(run, run->rbuf, (size_t)(nl - run->rbuf));
		return 1;
	}
	if (eof) {
		if (run->rlen == 0)
			probe_done(run, 0, "empty reply");
		else
			rpc_check(run, run->rbuf, run->rlen);
		return 1;
	}
	if (run->rlen >= PROBE_READ_MAX) {
		probe_done(run, 0, "line too long");
		return 1;
	}
	return 0;
}

static int
rpc_http_validate(struct probe_run *run, int eof)
{
	struct http_frame	 f;
	char			 err[REASON_BUF];
	size_t			 blen;
	int			 r, status;

	if (run->rlen == 0) {
		if (!eof)
			return 0;
		probe_done(run, 0, "empty reply");
		return 1;
	}
	r = http_parse_status(run->rbuf, run->rlen, &status, NULL, err,
	    sizeof(err));
	if (r == HTTP_PARSE_ERROR) {
		probe_done(run, 0, "%s", err);
		return 1;
	}
	if (r == HTTP_PARSE_MORE) {
		if (!eof)
			return 0;
		sanitize_text(err, 61, run->rbuf, run->rlen);
		probe_done(run, 0, "incomplete status line: %s", err);
		return 1;
	}
	if (status < 200 || status > 299) {
		probe_done(run, 0, "status %d not in 200-299", status);
		return 1;
	}

	r = check_http_frame(run, &f, err, sizeof(err));
	if (r == HTTP_PARSE_ERROR) {
		probe_done(run, 0, "%s", err);
		return 1;
	}
	if (r == HTTP_PARSE_MORE)
		return rpc_http_more(run, &f, eof);
	if (f.until_eof) {
		/* the body ends at EOF (tcp_read bounds it) */
		if (!eof)
			return 0;
		rpc_check(run, run->rbuf + f.hdrlen, run->rlen - f.hdrlen);
		return 1;
	}
	run->keep = run->may_keep && !f.close && !eof && f.end == run->rlen;
	blen = f.end - f.hdrlen;
	if (f.chunked && http_dechunk(run->rbuf + f.hdrlen, blen, &blen) !=
	    HTTP_PARSE_OK) {
		probe_done(run, 0, "malformed chunked body");
		return 1;
	}
	rpc_check(run, run->rbuf + f.hdrlen, blen);
	return 1;
}

/* An incomplete reply: wait for more, or say what is missing. */
static int
rpc_http_more(struct probe_run *run, const struct http_frame *f, int eof)
{
	size_t	 blen = run->rlen - f->hdrlen;

	if (f->hdrlen == 0) {
		if (eof)
			probe_done(run, 0, "incomplete headers");
		return eof;
	}
	if (f->chunked) {
		if (eof)
			probe_done(run, 0, "incomplete chunked body");
		return eof;
	}
	if (f->clen > (int64_t)(PROBE_READ_MAX - f->hdrlen)) {
		probe_done(run, 0, "reply too long (Content-Length %" PRId64
		    ")", f->clen);
		return 1;
	}
	if (eof)
		probe_done(run, 0, "incomplete body (%zu of %" PRId64
		    " bytes)", blen, f->clen);
	return eof;
}

static yajl_val
json_member(yajl_val obj, const char *name, int *present)
{
	size_t	 i;

	*present = 0;
	for (i = 0; i < obj->u.object.len; i++)
		if (strcmp(obj->u.object.keys[i], name) == 0) {
			*present = 1;
			return obj->u.object.values[i];
		}
	return NULL;
}

/* Render a JSON value briefly for an error message. */
static void
json_brief(char *dst, size_t dstlen, yajl_val v)
{
	const char	*str;
	char		 tmp[64];

	if (v == NULL)
		snprintf(dst, dstlen, "none");
	else if (YAJL_IS_STRING(v)) {
		str = YAJL_GET_STRING(v);
		sanitize_text(tmp, sizeof(tmp), str, strlen(str));
		snprintf(dst, dstlen, "'%s'", tmp);
	} else if (YAJL_IS_NUMBER(v)) {
		str = YAJL_GET_NUMBER(v);
		sanitize_text(tmp, sizeof(tmp), str, strlen(str));
		snprintf(dst, dstlen, "%s", tmp);
	} else if (YAJL_IS_NULL(v))
		snprintf(dst, dstlen, "null");
	else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		snprintf(dst, dstlen, YAJL_IS_TRUE(v) ? "true" : "false");
	else if (YAJL_IS_OBJECT(v))
		snprintf(dst, dstlen, "an object");
	else
		snprintf(dst, dstlen, "an array");
}

/* Decide on one JSON reply in buf[0..len) (buf[len] may be clobbered). */
static void
rpc_check(struct probe_run *run, char *buf, size_t len)
{
	yajl_val	 root, id, e, msg;
	const char	*str;
	char		 yerr[256], brief[80], *nl;
	int		 has_id, has_res, has_err, depth;

	while (len > 0 && isspace((unsigned char)buf[len - 1]))
		len--;
	while (len > 0 && isspace((unsigned char)*buf)) {
		buf++;
		len--;
	}
	if (len == 0) {
		probe_done(run, 0, "empty reply");
		return;
	}
	if (memchr(buf, '\0', len) != NULL) {
		probe_done(run, 0, "malformed JSON: NUL byte");
		return;
	}
	if ((depth = json_depth(buf, len, JSON_MAX_DEPTH)) == -1) {
		probe_done(run, 0, "malformed JSON: comment, stray '/' or "
		    "unbalanced bracket");
		return;
	}
	if (depth > JSON_MAX_DEPTH) {
		probe_done(run, 0, "malformed JSON: nested too deep");
		return;
	}
	buf[len] = '\0';	/* within rbuf: rcap > PROBE_READ_MAX */
	yerr[0] = '\0';
	if ((root = yajl_tree_parse(buf, yerr, sizeof(yerr))) == NULL) {
		if ((nl = strchr(yerr, '\n')) != NULL)
			*nl = '\0';
		probe_done(run, 0, "malformed JSON: %.80s",
		    yerr[0] != '\0' ? yerr : "parse error");
		return;
	}
	if (!YAJL_IS_OBJECT(root)) {
		probe_done(run, 0, "reply is not a JSON object");
		goto done;
	}
	e = json_member(root, "error", &has_err);
	if (has_err && !YAJL_IS_NULL(e)) {
		msg = NULL;
		if (YAJL_IS_OBJECT(e)) {
			const char	*mpath[] = { "message", NULL };

			msg = yajl_tree_get(e, mpath, yajl_t_string);
		} else if (YAJL_IS_STRING(e))
			msg = e;
		if (msg != NULL && (str = YAJL_GET_STRING(msg)) != NULL) {
			sanitize_text(yerr, 120, str, strlen(str));
			probe_done(run, 0, "error response: %s", yerr);
		} else {
			json_brief(brief, sizeof(brief), e);
			probe_done(run, 0, "error response: %s", brief);
		}
		goto done;
	}
	id = json_member(root, "id", &has_id);
	if (!has_id || !YAJL_IS_INTEGER(id) ||
	    YAJL_GET_INTEGER(id) != (long long)run->rpc_id) {
		json_brief(brief, sizeof(brief), has_id ? id : NULL);
		probe_done(run, 0, "wrong id (got %s, want %u)", brief,
		    run->rpc_id);
		goto done;
	}
	(void)json_member(root, "result", &has_res);
	if (!has_res) {
		probe_done(run, 0, "no result in reply");
		goto done;
	}
	probe_ok(run);
 done:
	yajl_tree_free(root);
}
