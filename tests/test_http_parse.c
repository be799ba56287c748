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
 * Unit tests of the prober's pure parsers (prober/http_parse.c): HTTP
 * status lines and headers, chunked bodies, response framing (for
 * keep-alive), error text sanitizing and the JSON nesting bound.  Inputs
 * are hostile on purpose.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <yajl/yajl_tree.h>

#include "prober.h"

static int
status_of(const char *s, size_t len, int *code, size_t *ll, char *err,
    size_t errlen)
{
	return http_parse_status(s, len, code, ll, err, errlen);
}

#define STATUS(s, code, ll, err) \
	status_of((s), sizeof(s) - 1, (code), (ll), (err), sizeof(err))

START_TEST(test_status_good)
{
	char	 err[REASON_BUF];
	size_t	 ll;
	int	 code;

	ck_assert_int_eq(STATUS("HTTP/1.1 200 OK\r\n", &code, &ll, err),
	    HTTP_PARSE_OK);
	ck_assert_int_eq(code, 200);
	ck_assert_uint_eq(ll, 17);
	ck_assert_int_eq(STATUS("HTTP/1.0 404 Not Found\n", &code, &ll,
	    err), HTTP_PARSE_OK);
	ck_assert_int_eq(code, 404);
	ck_assert_uint_eq(ll, 23);
	/* empty reason, no reason */
	ck_assert_int_eq(STATUS("HTTP/1.1 204 \r\n", &code, &ll, err),
	    HTTP_PARSE_OK);
	ck_assert_int_eq(code, 204);
	ck_assert_int_eq(STATUS("HTTP/1.1 500\r\nServer: x\r\n", &code,
	    &ll, err), HTTP_PARSE_OK);
	ck_assert_int_eq(code, 500);
	ck_assert_uint_eq(ll, 14);
	/* obs-text and tabs in the reason are fine */
	ck_assert_int_eq(STATUS("HTTP/1.1 301 Moved\tPermanently \xc3\xa9\r\n",
	    &code, &ll, err), HTTP_PARSE_OK);
	ck_assert_int_eq(code, 301);
	/* followed by anything: only the line counts */
	ck_assert_int_eq(STATUS("HTTP/1.1 200 OK\r\n\0\0\0garbage", &code,
	    &ll, err), HTTP_PARSE_OK);
}
END_TEST

START_TEST(test_status_bad)
{
	char	 err[REASON_BUF];
	int	 code;

	ck_assert_int_eq(STATUS("HTTP/2 200 OK\r\n", &code, NULL, err),
	    HTTP_PARSE_ERROR);
	ck_assert_str_eq(err, "malformed status line: HTTP/2 200 OK");
	ck_assert_int_eq(STATUS("http/1.1 200 OK\r\n", &code, NULL, err),
	    HTTP_PARSE_ERROR);
	ck_assert_int_eq(STATUS("HTTP/1.1 20 OK\r\n", &code, NULL, err),
	    HTTP_PARSE_ERROR);
	ck_assert_int_eq(STATUS("HTTP/1.1 2000 OK\r\n", &code, NULL, err),
	    HTTP_PARSE_ERROR);
	ck_assert_int_eq(STATUS("HTTP/1.1 099 OK\r\n", &code, NULL, err),
	    HTTP_PARSE_ERROR);
	ck_assert_int_eq(STATUS("HTTP/1.1  200 OK\r\n", &code, NULL, err),
	    HTTP_PARSE_ERROR);
	ck_assert_int_eq(STATUS("HTTP/1.x 200 OK\r\n", &code, NULL, err),
	    HTTP_PARSE_ERROR);
	ck_assert_int_eq(STATUS("HTTP/1.1 200 O\rK\r\n", &code, NULL, err),
	    HTTP_PARSE_ERROR);
	ck_assert_int_eq(STATUS("SSH-2.0-OpenSSH_9.2\r\n", &code, NULL, err),
	    HTTP_PARSE_ERROR);
	ck_assert_str_eq(err, "malformed status line: SSH-2.0-OpenSSH_9.2");
	ck_assert_int_eq(STATUS("\r\n", &code, NULL, err), HTTP_PARSE_ERROR);
	/* quotes and backslashes never reach the error text */
	ck_assert_int_eq(STATUS("\"hello\\world\"\n", &code, NULL, err),
	    HTTP_PARSE_ERROR);
	ck_assert_str_eq(err, "malformed status line: 'hello/world'");
}
END_TEST

START_TEST(test_status_nul)
{
	char	 err[REASON_BUF];
	int	 code;

	ck_assert_int_eq(STATUS("HTTP/1.1 200 O\0K\r\n", &code, NULL, err),
	    HTTP_PARSE_ERROR);
	ck_assert_str_eq(err, "malformed status line: HTTP/1.1 200 O?K");
	ck_assert_int_eq(STATUS("HTTP/1.1\0" "200 OK\r\n", &code, NULL, err),
	    HTTP_PARSE_ERROR);
	ck_assert_int_eq(STATUS("\0\0\0\0\0\0\0\0\0\0\0\0\0\0", &code, NULL,
	    err), HTTP_PARSE_ERROR);
	ck_assert_str_eq(err, "malformed status line: ?");
	ck_assert_int_eq(STATUS("HTTP/1.1 2\0" "0 OK\r\n", &code, NULL, err),
	    HTTP_PARSE_ERROR);
}
END_TEST

START_TEST(test_status_partial)
{
	const char	*line = "HTTP/1.1 503 Service Unavailable\r\n";
	char		 err[REASON_BUF];
	size_t		 i, ll;
	int		 code;

	/* every strict prefix asks for more, the whole line is accepted */
	for (i = 0; i < strlen(line); i++)
		ck_assert_int_eq(http_parse_status(line, i, &code, &ll, err,
		    sizeof(err)), HTTP_PARSE_MORE);
	ck_assert_int_eq(http_parse_status(line, strlen(line), &code, &ll,
	    err, sizeof(err)), HTTP_PARSE_OK);
	ck_assert_int_eq(code, 503);
	ck_assert_uint_eq(ll, strlen(line));
	/* a bad prefix is known to be bad before the line ends */
	ck_assert_int_eq(http_parse_status("HTTX", 4, &code, &ll, err,
	    sizeof(err)), HTTP_PARSE_ERROR);
	ck_assert_int_eq(http_parse_status("<html>", 6, &code, &ll, err,
	    sizeof(err)), HTTP_PARSE_ERROR);
	ck_assert_int_eq(http_parse_status("HTTP/1.1 2x", 11, &code, &ll, err,
	    sizeof(err)), HTTP_PARSE_ERROR);
}
END_TEST

START_TEST(test_status_huge)
{
	char	 err[REASON_BUF];
	char	*buf;
	size_t	 len = 1024 * 1024;
	int	 code;

	buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, "HTTP/1.1 200 ", 13);
	memset(buf + 13, 'a', len - 13);
	/* an endless reason phrase */
	ck_assert_int_eq(http_parse_status(buf, HTTP_STATUS_LINE_MAX - 1,
	    &code, NULL, err, sizeof(err)), HTTP_PARSE_MORE);
	ck_assert_int_eq(http_parse_status(buf, HTTP_STATUS_LINE_MAX,
	    &code, NULL, err, sizeof(err)), HTTP_PARSE_ERROR);
	ck_assert_str_eq(err, "status line too long");
	ck_assert_int_eq(http_parse_status(buf, len, &code, NULL, err,
	    sizeof(err)), HTTP_PARSE_ERROR);
	buf[len - 1] = '\n';
	ck_assert_int_eq(http_parse_status(buf, len, &code, NULL, err,
	    sizeof(err)), HTTP_PARSE_ERROR);
	/* garbage: error text stays bounded */
	memset(buf, 0xff, len);
	ck_assert_int_eq(http_parse_status(buf, len, &code, NULL, err,
	    sizeof(err)), HTTP_PARSE_ERROR);
	ck_assert_str_eq(err, "malformed status line: ?");
	memset(buf, 'X', len);
	ck_assert_int_eq(http_parse_status(buf, len, &code, NULL, err,
	    sizeof(err)), HTTP_PARSE_ERROR);
	ck_assert_uint_le(strlen(err), strlen("malformed status line: ") +
	    60);
	free(buf);
}
END_TEST

START_TEST(test_headers)
{
	const char	*r1 = "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\n"
			    "content-length: 12\r\n\r\n{\"id\":1}";
	const char	*r2 = "HTTP/1.1 200 OK\nTransfer-Encoding: "
			    "Chunked\n\nabc";
	const char	*r3 = "HTTP/1.1 200 OK\r\nX: y\r\n";
	const char	*r4 = "HTTP/1.1 200 OK\r\nbroken header\r\n\r\n";
	const char	*r5 = "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n";
	const char	*r6 = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
			    "Content-Length: 2\r\n\r\n";
	const char	*r7 = "HTTP/1.1 200 OK\r\nA: \0\r\n\r\n";
	const char	*r8 = "HTTP/1.1 200 OK\r\nContent-Length: "
			    "99999999999999999999999\r\n\r\n";
	char		 err[REASON_BUF];
	size_t		 hl;
	int64_t		 cl;
	int		 ch;

	ck_assert_int_eq(http_parse_headers(r1, strlen(r1), &hl, &cl, &ch,
	    err, sizeof(err)), HTTP_PARSE_OK);
	ck_assert_uint_eq(hl, strlen(r1) - 8);
	ck_assert_int_eq(cl, 12);
	ck_assert_int_eq(ch, 0);
	ck_assert_int_eq(http_parse_headers(r2, strlen(r2), &hl, &cl, &ch,
	    err, sizeof(err)), HTTP_PARSE_OK);
	ck_assert_int_eq(cl, -1);
	ck_assert_int_eq(ch, 1);
	ck_assert_uint_eq(hl, strlen(r2) - 3);
	ck_assert_int_eq(http_parse_headers(r3, strlen(r3), &hl, &cl, &ch,
	    err, sizeof(err)), HTTP_PARSE_MORE);
	ck_assert_int_eq(http_parse_headers(r4, strlen(r4), &hl, &cl, &ch,
	    err, sizeof(err)), HTTP_PARSE_ERROR);
	ck_assert_int_eq(http_parse_headers(r5, strlen(r5), &hl, &cl, &ch,
	    err, sizeof(err)), HTTP_PARSE_ERROR);
	ck_assert_int_eq(http_parse_headers(r6, strlen(r6), &hl, &cl, &ch,
	    err, sizeof(err)), HTTP_PARSE_ERROR);
	ck_assert_int_eq(http_parse_headers(r7, 25, &hl, &cl, &ch,
	    err, sizeof(err)), HTTP_PARSE_ERROR);
	ck_assert_int_eq(http_parse_headers(r8, strlen(r8), &hl, &cl, &ch,
	    err, sizeof(err)), HTTP_PARSE_ERROR);
}
END_TEST

START_TEST(test_headers_huge)
{
	char	 err[REASON_BUF];
	char	*buf;
	size_t	 len = PROBE_READ_MAX, i, hl;
	int64_t	 cl;
	int	 ch;

	buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, "HTTP/1.1 200 OK\r\n", 17);
	for (i = 17; i + 8 <= len; i += 8)
		memcpy(buf + i, "X-a: b\r\n", 8);
	ck_assert_int_eq(http_parse_headers(buf, i, &hl, &cl, &ch, err,
	    sizeof(err)), HTTP_PARSE_MORE);
	memset(buf + i, 'z', len - i);
	ck_assert_int_eq(http_parse_headers(buf, len, &hl, &cl, &ch, err,
	    sizeof(err)), HTTP_PARSE_ERROR);
	ck_assert_str_eq(err, "headers too long");
	free(buf);
}
END_TEST

START_TEST(test_dechunk)
{
	char	 b1[] = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
	char	 b2[] = "5\r\nhel";
	char	 b3[] = "zz\r\nhello\r\n";
	char	 b4[] = "5\r\nhelloXX0\r\n\r\n";
	char	 b5[] = "fffffffffffffffffffffff\r\n";
	char	 b6[] = "3\nabc\n0\n";
	size_t	 n;

	ck_assert_int_eq(http_dechunk(b1, strlen(b1), &n), HTTP_PARSE_OK);
	ck_assert_uint_eq(n, 11);
	ck_assert(memcmp(b1, "hello world", 11) == 0);
	ck_assert_int_eq(http_dechunk(b2, strlen(b2), &n), HTTP_PARSE_MORE);
	ck_assert_str_eq(b2, "5\r\nhel");	/* untouched */
	ck_assert_int_eq(http_dechunk(b3, strlen(b3), &n), HTTP_PARSE_ERROR);
	ck_assert_int_eq(http_dechunk(b4, strlen(b4), &n), HTTP_PARSE_ERROR);
	ck_assert_int_eq(http_dechunk(b5, strlen(b5), &n), HTTP_PARSE_ERROR);
	ck_assert_int_eq(http_dechunk(b6, strlen(b6), &n), HTTP_PARSE_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(http_dechunk(b6, 0, &n), HTTP_PARSE_MORE);
}
END_TEST

START_TEST(test_chunked_end)
{
	const char	*c1 = "5\r\nhello\r\n0\r\n\r\nNEXT";
	const char	*c2 = "3\nabc\n0\nX-Trailer: 1\nY: 2\n\n";
	const char	*c3 = "5\r\nhello\r\n0\r\nX-T: 1\r\n";
	const char	*c4 = "5\r\nhello\r\n0\r\n";
	const char	*c5 = "3\r\nabcXY0\r\n\r\n";
	const char	 c6[] = "0\r\nA\0B\r\n\r\n";
	size_t		 end;

	ck_assert_int_eq(http_chunked_end(c1, strlen(c1), &end),
	    HTTP_PARSE_OK);
	ck_assert_uint_eq(end, strlen(c1) - 4);
	ck_assert_int_eq(http_chunked_end(c2, strlen(c2), &end),
	    HTTP_PARSE_OK);
	ck_assert_uint_eq(end, strlen(c2));
	ck_assert_int_eq(http_chunked_end(c3, strlen(c3), &end),
	    HTTP_PARSE_MORE);
	ck_assert_int_eq(http_chunked_end(c4, strlen(c4), &end),
	    HTTP_PARSE_MORE);
	ck_assert_int_eq(http_chunked_end(c5, strlen(c5), &end),
	    HTTP_PARSE_ERROR);
	ck_assert_int_eq(http_chunked_end(c6, sizeof(c6) - 1, &end),
	    HTTP_PARSE_ERROR);
	ck_assert_int_eq(http_chunked_end("", 0, &end), HTTP_PARSE_MORE);
}
END_TEST

/* http_frame() on every prefix of r must say MORE, then OK at full. */
static void
frame_prefixes(const char *r, size_t len, size_t want_end)
{
	struct http_frame	 f;
	char			 err[REASON_BUF];
	size_t			 i;

	for (i = 0; i < want_end; i++)
		ck_assert_int_eq(http_frame(r, i, &f, err, sizeof(err)),
		    HTTP_PARSE_MORE);
	ck_assert_int_eq(http_frame(r, len, &f, err, sizeof(err)),
	    HTTP_PARSE_OK);
	ck_assert_uint_eq(f.end, want_end);
}

START_TEST(test_frame)
{
	const char	*r1 = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
			    "ok\n";
	const char	*r2 = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			    "\r\n\r\n2\r\nok\r\n0\r\n\r\n";
	const char	*r3 = "HTTP/1.1 204 No Content\r\nContent-Length: 9"
			    "\r\n\r\n";
	const char	*r4 = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nbody";
	const char	*r5 = "HTTP/1.1 200 OK\r\nConnection: Close\r\n"
			    "Content-Length: 0\r\n\r\n";
	const char	*r6 = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
	const char	*r7 = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
			    "Content-Length: 0\r\n\r\n";
	const char	*r8 = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
			    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
	const char	*r9 = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			    "\r\n\r\nzz\r\n";
	const char	*r10 = "HTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.1";
	const char	*r11 = "HTTP/1.1 200 OK\r\nContent-Length: "
			    "99999999999\r\n\r\n";
	struct http_frame	 f;
	char			 err[REASON_BUF];

	frame_prefixes(r1, strlen(r1), strlen(r1));
	ck_assert_int_eq(http_frame(r1, strlen(r1), &f, err, sizeof(err)),
	    HTTP_PARSE_OK);
	ck_assert_int_eq(f.status, 200);
	ck_assert_int_eq(f.clen, 3);
	ck_assert_uint_eq(f.hdrlen, strlen(r1) - 3);
	ck_assert(!f.close && !f.until_eof && !f.chunked);
	/* once the headers are in, MORE says how long the whole is */
	ck_assert_int_eq(http_frame(r1, strlen(r1) - 1, &f, err,
	    sizeof(err)), HTTP_PARSE_MORE);
	ck_assert_uint_eq(f.end, strlen(r1));
	ck_assert_int_eq(http_frame(r1, 10, &f, err, sizeof(err)),
	    HTTP_PARSE_MORE);
	ck_assert_uint_eq(f.hdrlen, 0);

	frame_prefixes(r2, strlen(r2), strlen(r2));
	ck_assert_int_eq(http_frame(r2, strlen(r2), &f, err, sizeof(err)),
	    HTTP_PARSE_OK);
	ck_assert(f.chunked && !f.close);

	/* no body after 204 and 304, whatever the headers say */
	frame_prefixes(r3, strlen(r3), strlen(r3));
	ck_assert_int_eq(http_frame(r10, strlen(r10), &f, err, sizeof(err)),
	    HTTP_PARSE_OK);
	ck_assert_uint_eq(f.end, strlen(r10) - 8);

	/* no length: the body runs to EOF, and the connection ends */
	ck_assert_int_eq(http_frame(r4, strlen(r4), &f, err, sizeof(err)),
	    HTTP_PARSE_OK);
	ck_assert(f.until_eof && f.close);

	ck_assert_int_eq(http_frame(r5, strlen(r5), &f, err, sizeof(err)),
	    HTTP_PARSE_OK);
	ck_assert(f.close && !f.until_eof);
	ck_assert_int_eq(http_frame(r6, strlen(r6), &f, err, sizeof(err)),
	    HTTP_PARSE_OK);
	ck_assert(f.close);
	ck_assert_int_eq(http_frame(r7, strlen(r7), &f, err, sizeof(err)),
	    HTTP_PARSE_OK);
	ck_assert(!f.close);

	/* both lengths: framed by chunks, but never reused */
	ck_assert_int_eq(http_frame(r8, strlen(r8), &f, err, sizeof(err)),
	    HTTP_PARSE_OK);
	ck_assert(f.chunked && f.close);
	ck_assert_uint_eq(f.end, strlen(r8));

	ck_assert_int_eq(http_frame(r9, strlen(r9), &f, err, sizeof(err)),
	    HTTP_PARSE_ERROR);
	ck_assert_str_eq(err, "malformed chunked body");

	/* a huge length is no overflow, only a body never complete */
	ck_assert_int_eq(http_frame(r11, strlen(r11), &f, err, sizeof(err)),
	    HTTP_PARSE_MORE);
	ck_assert_uint_gt(f.end, PROBE_READ_MAX);

	ck_assert_int_eq(http_frame("HTTP/1.1 200 OK\r\nbad\r\n\r\n", 26,
	    &f, err, sizeof(err)), HTTP_PARSE_ERROR);
	ck_assert_int_eq(http_frame("\x1bxyz", 4, &f, err, sizeof(err)),
	    HTTP_PARSE_ERROR);
}
END_TEST

START_TEST(test_sanitize)
{
	char	 out[16];
	char	 big[REASON_BUF];
	char	 src[1000];

	sanitize_text(out, sizeof(out), "ok", 2);
	ck_assert_str_eq(out, "ok");
	sanitize_text(out, sizeof(out), "a\"b\\c", 5);
	ck_assert_str_eq(out, "a'b/c");
	sanitize_text(out, sizeof(out), "a\0\0\x01\x80z", 6);
	ck_assert_str_eq(out, "a?z");
	sanitize_text(out, sizeof(out), "a\nb\tc", 5);
	ck_assert_str_eq(out, "a?b?c");
	sanitize_text(out, sizeof(out), "0123456789abcdefghij", 20);
	ck_assert_str_eq(out, "0123456789ab...");
	sanitize_text(out, 1, "abc", 3);
	ck_assert_str_eq(out, "");
	memset(src, 'y', sizeof(src));
	sanitize_text(big, sizeof(big), src, sizeof(src));
	ck_assert_uint_eq(strlen(big), sizeof(big) - 1);
}
END_TEST

START_TEST(test_json_depth)
{
	char	*deep;
	size_t	 i, n = 100000;

	ck_assert_int_eq(json_depth("{\"a\":[1,{\"b\":2}]}", 17, 32), 3);
	ck_assert_int_eq(json_depth("\"[[[[[\"", 7, 32), 0);
	ck_assert_int_eq(json_depth("\"\\\"[[[\"", 7, 32), 0);
	ck_assert_int_eq(json_depth("42", 2, 32), 0);
	deep = malloc(n);
	ck_assert_ptr_nonnull(deep);
	for (i = 0; i < n; i++)
		deep[i] = '[';
	ck_assert_int_gt(json_depth(deep, n, 32), 32);
	free(deep);
}
END_TEST

/* Depth of a yajl tree, to show what the parser made of a text. */
static int
tree_depth(yajl_val v)
{
	size_t	 i;
	int	 d, max = 0;

	if (YAJL_IS_ARRAY(v)) {
		for (i = 0; i < v->u.array.len; i++)
			if ((d = tree_depth(v->u.array.values[i])) > max)
				max = d;
		return max + 1;
	}
	if (YAJL_IS_OBJECT(v)) {
		for (i = 0; i < v->u.object.len; i++)
			if ((d = tree_depth(v->u.object.values[i])) > max)
				max = d;
		return max + 1;
	}
	return 0;
}

/*
 * Brackets inside comments, which yajl_tree_parse() accepts, must not
 * make a deep document look shallow.
 */
START_TEST(test_json_depth_comments)
{
	char		 text[4096], err[128];
	const char	*pieces[] = { "[/*]*/", "[//]\n", "{\"a\"/*}*/:" };
	yajl_val	 v;
	size_t		 i, k, n;

	for (k = 0; k < 2; k++) {
		n = 0;
		for (i = 0; i < 100; i++)
			n += strlcpy(text + n, pieces[k], sizeof(text) - n);
		for (i = 0; i < 100; i++)
			text[n++] = ']';
		text[n] = '\0';
		/* what yajl builds of it: 100 levels */
		v = yajl_tree_parse(text, err, sizeof(err));
		ck_assert_ptr_nonnull(v);
		ck_assert_int_eq(tree_depth(v), 100);
		yajl_tree_free(v);
		ck_assert_int_eq(json_depth(text, n, 32), -1);
	}
	n = 0;
	for (i = 0; i < 40; i++)
		n += strlcpy(text + n, pieces[2], sizeof(text) - n);
	n += strlcpy(text + n, "1", sizeof(text) - n);
	for (i = 0; i < 40; i++)
		text[n++] = '}';
	text[n] = '\0';
	ck_assert_int_eq(json_depth(text, n, 32), -1);

	/* '/' inside strings is fine, escaped quotes too */
	ck_assert_int_eq(json_depth("{\"u\":\"http://x/*y*/\"}", 21, 32),
	    1);
	ck_assert_int_eq(json_depth("[\"\\\"/*\",[1]]", 12, 32), 2);
	/* a closer with nothing open */
	ck_assert_int_eq(json_depth("]]][[[[", 7, 32), -1);
	ck_assert_int_eq(json_depth("{}}", 3, 32), -1);
}
END_TEST

static Suite *
http_parse_suite(void)
{
	Suite	*s = suite_create("http_parse");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_status_good);
	tcase_add_test(tc, test_status_bad);
	tcase_add_test(tc, test_status_nul);
	tcase_add_test(tc, test_status_partial);
	tcase_add_test(tc, test_status_huge);
	tcase_add_test(tc, test_headers);
	tcase_add_test(tc, test_headers_huge);
	tcase_add_test(tc, test_dechunk);
	tcase_add_test(tc, test_chunked_end);
	tcase_add_test(tc, test_frame);
	tcase_add_test(tc, test_sanitize);
	tcase_add_test(tc, test_json_depth);
	tcase_add_test(tc, test_json_depth_comments);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(http_parse_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
