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
 * Pure parsing helpers of the prober: HTTP/1.x status line and headers,
 * chunked bodies, error text sanitizing and a JSON nesting bound.  They
 * touch no global state and are unit tested (tests/test_http_parse.c).
 * Every input is untrusted: arbitrary bytes, NULs, any length.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prober.h"

#define SAMPLE_MAX	60	/* bytes of a bad reply quoted in errors */

static int	 lc_prefix(const char *, size_t, const char *);

void
sanitize_text(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t		 i, o = 0;
	unsigned char	 c;
	int		 lastbad = 0;

	if (dstlen == 0)
		return;
	for (i = 0; i < srclen; i++) {
		c = (unsigned char)src[i];
		if (c == '"')
			c = '\'';
		else if (c == '\\')
			c = '/';
		if (c < 0x20 || c > 0x7e) {
			if (lastbad)
				continue;
			c = '?';
			lastbad = 1;
		} else
			lastbad = 0;
		if (o + 1 >= dstlen) {
			/* no room: end with "..." if it fits */
			if (dstlen >= 4) {
				o = dstlen - 4;
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

static void
status_error(char *err, size_t errlen, const char *buf, size_t len)
{
	char	 sample[SAMPLE_MAX + 4];
	size_t	 n;

	if (err == NULL || errlen == 0)
		return;
	for (n = 0; n < len && n < SAMPLE_MAX; n++)
		if (buf[n] == '\r' || buf[n] == '\n')
			break;
	sanitize_text(sample, sizeof(sample), buf, n);
	snprintf(err, errlen, "malformed status line: %s", sample);
}

int
http_parse_status(const char *buf, size_t len, int *status,
    size_t *linelen, char *err, size_t errlen)
{
	static const char	 proto[] = "HTTP/1.";
	size_t			 i, n;
	unsigned char		 c;
	int			 code;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	/* "HTTP/1." DIGIT SP 3DIGIT, checked as far as we have bytes */
	if (len == 0)
		return HTTP_PARSE_MORE;
	n = len < 7 ? len : 7;
	if (memcmp(buf, proto, n) != 0)
		goto bad;
	if (len > 7 && !isdigit((unsigned char)buf[7]))
		goto bad;
	if (len > 8 && buf[8] != ' ')
		goto bad;
	for (i = 9; i < 12 && i < len; i++)
		if (!isdigit((unsigned char)buf[i]) ||
		    (i == 9 && buf[i] == '0'))
			goto bad;
	if (len > 12 && buf[12] != ' ' && buf[12] != '\r' &&
	    buf[12] != '\n')
		goto bad;
	/* reason phrase: HTAB, SP, VCHAR, obs-text; CR only before LF */
	for (i = 12; i < len; i++) {
		c = (unsigned char)buf[i];
		if (c == '\n')
			break;
		if (c == '\r') {
			if (i + 1 < len && buf[i + 1] != '\n')
				goto bad;
			continue;
		}
		if (c != '\t' && (c < 0x20 || c == 0x7f))
			goto bad;
	}
	if (i >= len) {
		if (len >= HTTP_STATUS_LINE_MAX) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "status line too long");
			return HTTP_PARSE_ERROR;
		}
		return HTTP_PARSE_MORE;
	}
	if (i + 1 > HTTP_STATUS_LINE_MAX) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "status line too long");
		return HTTP_PARSE_ERROR;
	}
	code = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (status != NULL)
		*status = code;
	if (linelen != NULL)
		*linelen = i + 1;
	return HTTP_PARSE_OK;
 bad:
	status_error(err, errlen, buf, len);
	return HTTP_PARSE_ERROR;
}

/* Case-insensitive "name:" at the start of a header line. */
static int
lc_prefix(const char *line, size_t len, const char *name)
{
	size_t	 n = strlen(name);

	if (len < n + 1 || strncasecmp(line, name, n) != 0)
		return 0;
	return line[n] == ':';
}

static int
parse_clen(const char *v, size_t len, int64_t *out)
{
	size_t	 i;
	int64_t	 n = 0;
	int	 digits = 0;

	for (i = 0; i < len && (v[i] == ' ' || v[i] == '\t'); i++)
		;
	for (; i < len && isdigit((unsigned char)v[i]); i++) {
		if (n > (INT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (v[i] - '0');
		digits++;
	}
	for (; i < len && (v[i] == ' ' || v[i] == '\t'); i++)
		;
	if (digits == 0 || i != len)
		return -1;
	*out = n;
	return 0;
}

static int
has_token(const char *v, size_t len, const char *tok)
{
	size_t	 n = strlen(tok), i;

	for (i = 0; i + n <= len; i++)
		if (strncasecmp(v + i, tok, n) == 0)
			return 1;
	return 0;
}

/* What the prober needs of a header block. */
struct http_head {
	size_t		 len;		/* status line + headers + blank */
	int64_t		 clen;		/* -1 absent */
	int		 chunked;
	int		 close;		/* "Connection: close" */
	int		 keepalive;	/* "Connection: keep-alive" */
};

static int
head_error(char *err, size_t errlen, const char *what)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", what);
	return HTTP_PARSE_ERROR;
}

/* One header line (without its line end) into h. */
static int
head_line(const char *line, size_t llen, struct http_head *h, char *err,
    size_t errlen)
{
	const char	*colon, *v;
	size_t		 vlen;
	int64_t		 n;

	if (memchr(line, '\0', llen) != NULL ||
	    memchr(line, '\r', llen) != NULL ||
	    (colon = memchr(line, ':', llen)) == NULL || colon == line)
		return head_error(err, errlen, "malformed header");
	v = colon + 1;
	vlen = llen - (size_t)(v - line);
	if (lc_prefix(line, llen, "content-length")) {
		if (parse_clen(v, vlen, &n) == -1 ||
		    (h->clen != -1 && h->clen != n))
			return head_error(err, errlen, "bad Content-Length");
		h->clen = n;
	} else if (lc_prefix(line, llen, "transfer-encoding")) {
		if (has_token(v, vlen, "chunked"))
			h->chunked = 1;
	} else if (lc_prefix(line, llen, "connection")) {
		if (has_token(v, vlen, "close"))
			h->close = 1;
		if (has_token(v, vlen, "keep-alive"))
			h->keepalive = 1;
	}
	return HTTP_PARSE_OK;
}

static int
parse_head(const char *buf, size_t len, struct http_head *h, char *err,
    size_t errlen)
{
	const char	*line, *nl;
	size_t		 off, llen;
	int		 r, st;

	memset(h, 0, sizeof(*h));
	h->clen = -1;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	r = http_parse_status(buf, len, &st, &off, err, errlen);
	if (r != HTTP_PARSE_OK)
		return r;
	while (off < len) {
		line = buf + off;
		if ((nl = memchr(line, '\n', len - off)) == NULL)
			break;
		llen = (size_t)(nl - line);
		off += llen + 1;
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (llen == 0) {
			h->len = off;
			return HTTP_PARSE_OK;
		}
		if (head_line(line, llen, h, err, errlen) == HTTP_PARSE_ERROR)
			return HTTP_PARSE_ERROR;
	}
	if (len >= PROBE_READ_MAX)
		return head_error(err, errlen, "headers too long");
	return HTTP_PARSE_MORE;
}

int
http_parse_headers(const char *buf, size_t len, size_t *hdrlen,
    int64_t *clen, int *chunked, char *err, size_t errlen)
{
	struct http_head	 h;
	int			 r;

	if ((r = parse_head(buf, len, &h, err, errlen)) != HTTP_PARSE_OK)
		return r;
	if (hdrlen != NULL)
		*hdrlen = h.len;
	if (clen != NULL)
		*clen = h.clen;
	if (chunked != NULL)
		*chunked = h.chunked;
	return HTTP_PARSE_OK;
}

/*
 * One pass over a chunked body; moves the data together into out (which
 * may be buf) if not NULL.  On OK, *outlen is the decoded length and
 * *endoff the offset just after the last-chunk line (where the trailers
 * begin).
 */
static int
dechunk_pass(const char *buf, size_t len, char *out, size_t *outlen,
    size_t *endoff)
{
	size_t		 off = 0, o = 0, i, sz;
	int		 digits;
	unsigned char	 c;

	for (;;) {
		/* chunk-size [; ext] CRLF */
		sz = 0;
		digits = 0;
		for (i = off; i < len && isxdigit((unsigned char)buf[i]);
		    i++) {
			if (sz > (SIZE_MAX >> 5))
				return HTTP_PARSE_ERROR;
			c = (unsigned char)buf[i];
			sz = sz * 16 + (size_t)(isdigit(c) ? c - '0' :
			    tolower(c) - 'a' + 10);
			digits++;
		}
		if (i >= len)
			return HTTP_PARSE_MORE;
		if (digits == 0)
			return HTTP_PARSE_ERROR;
		for (; i < len && buf[i] != '\n'; i++)
			if (buf[i] == '\0')
				return HTTP_PARSE_ERROR;
		if (i >= len)
			return HTTP_PARSE_MORE;
		off = i + 1;
		if (sz == 0) {
			/* last chunk; the trailers follow */
			*outlen = o;
			*endoff = off;
			return HTTP_PARSE_OK;
		}
		if (sz > len || off > len - sz)
			return HTTP_PARSE_MORE;
		if (out != NULL)
			memmove(out + o, buf + off, sz);
		o += sz;
		off += sz;
		/* CRLF (or a bare LF) after the data */
		if (off < len && buf[off] == '\r')
			off++;
		if (off >= len)
			return HTTP_PARSE_MORE;
		if (buf[off] != '\n')
			return HTTP_PARSE_ERROR;
		off++;
	}
}

int
http_dechunk(char *buf, size_t len, size_t *outlen)
{
	size_t	 n, off;
	int	 r;

	/* check first, so an incomplete body is left untouched */
	if ((r = dechunk_pass(buf, len, NULL, &n, &off)) != HTTP_PARSE_OK)
		return r;
	return dechunk_pass(buf, len, buf, outlen, &off);
}

int
http_chunked_end(const char *buf, size_t len, size_t *end)
{
	const char	*nl;
	size_t		 n, off;
	int		 r;

	if ((r = dechunk_pass(buf, len, NULL, &n, &off)) != HTTP_PARSE_OK)
		return r;
	/* trailer lines, then an empty line */
	for (;;) {
		if (off >= len ||
		    (nl = memchr(buf + off, '\n', len - off)) == NULL)
			return HTTP_PARSE_MORE;
		n = (size_t)(nl - (buf + off));
		if (memchr(buf + off, '\0', n) != NULL)
			return HTTP_PARSE_ERROR;
		off += n + 1;
		if (n == 0 || (n == 1 && buf[off - 2] == '\r')) {
			*end = off;
			return HTTP_PARSE_OK;
		}
	}
}

/* The body of a response with this status is empty, whatever it says. */
static int
status_no_body(int status)
{
	return (status >= 100 && status <= 199) || status == 204 ||
	    status == 304;
}

int
http_frame(const char *buf, size_t len, struct http_frame *f, char *err,
    size_t errlen)
{
	struct http_head	 h;
	size_t			 n;
	int			 r;

	memset(f, 0, sizeof(*f));
	f->clen = -1;
	if ((r = parse_head(buf, len, &h, err, errlen)) != HTTP_PARSE_OK)
		return r;
	/* parse_head checked the status line: "HTTP/1.x NNN" */
	f->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 +
	    (buf[11] - '0');
	f->hdrlen = h.len;
	f->clen = h.clen;
	f->chunked = h.chunked;
	/* HTTP/1.0 keeps the connection only when it says so */
	f->close = h.close || (buf[7] == '0' && !h.keepalive);
	if (status_no_body(f->status)) {
		f->end = h.len;
		return HTTP_PARSE_OK;
	}
	if (h.chunked) {
		/* both lengths: framing is ambiguous, do not reuse */
		if (h.clen != -1)
			f->close = 1;
		r = http_chunked_end(buf + h.len, len - h.len, &n);
		if (r == HTTP_PARSE_ERROR)
			return head_error(err, errlen,
			    "malformed chunked body");
		if (r == HTTP_PARSE_OK)
			f->end = h.len + n;
		return r;
	}
	if (h.clen >= 0) {
		if ((uint64_t)h.clen > SIZE_MAX - h.len)
			return head_error(err, errlen, "bad Content-Length");
		f->end = h.len + (size_t)h.clen;
		return len >= f->end ? HTTP_PARSE_OK : HTTP_PARSE_MORE;
	}
	f->until_eof = 1;
	f->close = 1;
	return HTTP_PARSE_OK;
}

/*
 * yajl_tree_parse() accepts comments, so a count that did not know them
 * would be fooled by brackets inside one: JSON has no '/' outside a
 * string, so any is refused here, as is a closing bracket with nothing
 * open.
 */
int
json_depth(const char *s, size_t len, int max)
{
	size_t	 i;
	int	 depth = 0, maxdepth = 0, instr = 0;

	for (i = 0; i < len; i++) {
		if (instr) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				instr = 0;
			continue;
		}
		switch (s[i]) {
		case '"':
			instr = 1;
			break;
		case '/':
			return -1;
		case '[':
		case '{':
			if (++depth > maxdepth)
				maxdepth = depth;
			if (maxdepth > max)
				return maxdepth;
			break;
		case ']':
		case '}':
			if (--depth < 0)
				return -1;
			break;
		}
	}
	return maxdepth;
}
