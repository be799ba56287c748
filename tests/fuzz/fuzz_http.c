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
 * Fuzz harness: the prober's HTTP response parsers (prober/http_parse.c)
 * on a hostile server's reply.  Every function gets the whole input
 * (exactly sized, so ASan sees any read past it).  Checked besides
 * memory safety:
 *  - http_parse_status decides as early as it can: a prefix of a good
 *    status line needs more bytes, and a longer reply with the same line
 *    gives the same code and length;
 *  - headers and framing agree, lengths stay inside the input, and
 *    bytes past a framed response's end change nothing;
 *  - http_dechunk and http_chunked_end agree, and decoding never grows;
 *  - error texts and sanitize_text output are printable and bounded;
 *  - json_depth stays within [0, max + 1].
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prober.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_text(const char *s, size_t cap, int strict)
{
	const unsigned char	*p;
	size_t			 n;

	n = strnlen(s, cap);
	if (n == cap)
		abort();	/* not terminated within its buffer */
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e)
			abort();
		if (strict && (*p == '"' || *p == '\\'))
			abort();
	}
}

static void
check_status(const char *buf, size_t len)
{
	char	 err[REASON_BUF] = "";
	size_t	 ll, ll2, cut;
	int	 r, r2, code, code2;

	r = http_parse_status(buf, len, &code, &ll, err, sizeof(err));
	check_text(err, sizeof(err), 0);
	if (r == HTTP_PARSE_ERROR)
		return;
	if (r == HTTP_PARSE_MORE) {
		/* nothing shorter can be decided either */
		cut = len / 2;
		if (http_parse_status(buf, cut, NULL, NULL, NULL, 0) !=
		    HTTP_PARSE_MORE)
			abort();
		return;
	}
	if (code < 100 || code > 999 || ll == 0 || ll > len ||
	    ll > HTTP_STATUS_LINE_MAX || buf[ll - 1] != '\n')
		abort();
	if (http_parse_status(buf, ll - 1, NULL, NULL, err, sizeof(err)) !=
	    HTTP_PARSE_MORE)
		abort();
	r2 = http_parse_status(buf, ll, &code2, &ll2, err, sizeof(err));
	if (r2 != HTTP_PARSE_OK || code2 != code || ll2 != ll)
		abort();
}

static void
check_frame(const char *buf, size_t len)
{
	struct http_frame	 f, f2;
	char			 err[REASON_BUF] = "";
	size_t			 hdrlen;
	int64_t			 clen;
	int			 r, rh, chunked;

	rh = http_parse_headers(buf, len, &hdrlen, &clen, &chunked, err,
	    sizeof(err));
	check_text(err, sizeof(err), 0);
	if (rh == HTTP_PARSE_OK && (hdrlen == 0 || hdrlen > len ||
	    clen < -1 || (chunked != 0 && chunked != 1)))
		abort();

	r = http_frame(buf, len, &f, err, sizeof(err));
	check_text(err, sizeof(err), 0);
	if (rh == HTTP_PARSE_ERROR && r != HTTP_PARSE_ERROR)
		abort();
	if (rh == HTTP_PARSE_MORE && (r != HTTP_PARSE_MORE || f.hdrlen != 0))
		abort();
	if (r == HTTP_PARSE_ERROR || rh != HTTP_PARSE_OK)
		return;
	if (f.hdrlen != hdrlen || f.clen != clen || f.chunked != chunked)
		abort();
	if (r == HTTP_PARSE_MORE)
		return;
	if (f.until_eof) {
		if (!f.close || f.chunked || f.clen != -1)
			abort();
		return;
	}
	if (f.end < f.hdrlen || f.end > len)
		abort();
	/* bytes past the end are not looked at */
	if (http_frame(buf, f.end, &f2, NULL, 0) != HTTP_PARSE_OK ||
	    f2.end != f.end || f2.hdrlen != f.hdrlen || f2.close != f.close ||
	    f2.status != f.status)
		abort();
}

static void
check_chunked(const uint8_t *data, size_t len)
{
	char	*copy;
	size_t	 outlen = 0, end = 0;
	int	 rd, re;

	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	memcpy(copy, data, len);
	rd = http_dechunk(copy, len, &outlen);
	re = http_chunked_end((const char *)data, len, &end);
	if (rd != HTTP_PARSE_OK) {
		/* incomplete or bad: left untouched, same answer */
		if (memcmp(copy, data, len) != 0 || re != rd)
			abort();
	} else if (outlen > len)
		abort();
	if (re == HTTP_PARSE_OK) {
		if (end == 0 || end > len || rd != HTTP_PARSE_OK)
			abort();
		memcpy(copy, data, len);
		if (http_dechunk(copy, end, &outlen) != HTTP_PARSE_OK ||
		    outlen > end)
			abort();
	}
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*buf = (const char *)data;
	char		 out[128];
	size_t		 dstlen;
	int		 max, d;

	check_status(buf, size);
	check_frame(buf, size);
	check_chunked(data, size);

	dstlen = size % sizeof(out);
	memset(out, 'x', sizeof(out));
	sanitize_text(out, dstlen, buf, size);
	if (dstlen > 0)
		check_text(out, dstlen, 1);

	max = size > 0 ? data[0] % 64 : 0;
	/* -1: refused (a comment, a stray '/', an unbalanced bracket) */
	d = json_depth(buf, size, max);
	if (d < -1 || d > max + 1)
		abort();
	return 0;
}
