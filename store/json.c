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
 * JSON lines for heroctl logs/events (formats in docs/ARCHITECTURE.md).
 *
 * A log line is raw bytes.  yajl_gen would copy bytes that are not valid
 * UTF-8 through unchanged and produce invalid JSON, so the "line" value
 * is escaped here: valid UTF-8 sequences are copied, control characters
 * get the usual JSON escapes, and every byte that is not part of a valid
 * sequence becomes \u00XX of its value (so no byte is lost; a reader
 * maps \u0080..\u00ff back to single bytes).  The escaped string is put
 * in place with yajl_gen_number, which inserts its text verbatim.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "log.h"
#include "store.h"

static yajl_gen	 json_gen;
static char	*json_esc;
static size_t	 json_esccap;
static char	*json_out;
static size_t	 json_outcap;

const char *
log_stream_name(int stream)
{
	switch (stream) {
	case LS_HEROD:
		return "herod";
	case LS_STDOUT:
		return "stdout";
	case LS_STDERR:
		return "stderr";
	}
	return "unknown";
}

/* Length of the valid UTF-8 sequence at s, 0 if none starts there. */
static size_t
utf8_seqlen(const unsigned char *s, size_t n)
{
	unsigned char	 c = s[0], lo = 0x80, hi = 0xbf;
	size_t		 need, i;

	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0)
		need = 2;
	else if (c < 0xf0) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c < 0xf5) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;
	if (n < need)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return need;
}

int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t	 l;

	while (n > 0) {
		if ((l = utf8_seqlen(s, n)) == 0)
			return 0;
		s += l;
		n -= l;
	}
	return 1;
}

static char *
json_grow(char **buf, size_t *cap, size_t need)
{
	char	*p;

	if (need <= *cap)
		return *buf;
	if ((p = realloc(*buf, need)) == NULL)
		fatal("%s", __func__);
	*buf = p;
	*cap = need;
	return p;
}

const char *
json_escape_bytes(const void *data, size_t len, size_t *outlen)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*s = data;
	char			*o;
	size_t			 i, l;
	unsigned char		 c;

	/* Worst case: every byte as \u00XX, plus quotes and NUL. */
	o = json_grow(&json_esc, &json_esccap, len * 6 + 3);
	*o++ = '"';
	for (i = 0; i < len; ) {
		c = s[i];
		if (c >= 0x80) {
			if ((l = utf8_seqlen(s + i, len - i)) > 0) {
				memcpy(o, s + i, l);
				o += l;
				i += l;
				continue;
			}
		} else if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\') {
			*o++ = c;
			i++;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"':
		case '\\':
			*o++ = c;
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 0xf];
			break;
		}
		i++;
	}
	*o++ = '"';
	*o = '\0';
	*outlen = o - json_esc;
	return json_esc;
}

static yajl_gen
json_gen_get(void)
{
	if (json_gen == NULL) {
		if ((json_gen = yajl_gen_alloc(NULL)) == NULL)
			fatal("%s", __func__);
	} else {
		yajl_gen_clear(json_gen);
		yajl_gen_reset(json_gen, NULL);
	}
	return json_gen;
}

static void
json_key(yajl_gen g, const char *k)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}

static void
json_str(yajl_gen g, const char *k, const char *v)
{
	json_key(g, k);
	yajl_gen_string(g, (const unsigned char *)v, strlen(v));
}

static void
json_int(yajl_gen g, const char *k, long long v)
{
	json_key(g, k);
	yajl_gen_integer(g, v);
}

/* Copy the generated document and a newline to the output buffer. */
static const char *
json_finish(yajl_gen g, size_t *outlen)
{
	const unsigned char	*buf;
	size_t			 len;
	char			*o;

	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		fatalx("%s: yajl_gen_get_buf", __func__);
	o = json_grow(&json_out, &json_outcap, len + 2);
	memcpy(o, buf, len);
	o[len] = '\n';
	o[len + 1] = '\0';
	*outlen = len + 1;
	return o;
}

const char *
log_row_json(const struct log_row *r, size_t *outlen)
{
	yajl_gen	 g = json_gen_get();
	const char	*esc;
	size_t		 esclen;

	yajl_gen_map_open(g);
	json_int(g, "ts", r->ts);
	json_str(g, "service", r->service);
	json_str(g, "action", r->action);
	json_int(g, "job_id", (long long)r->job_id);
	json_int(g, "restart_count", r->restart_count);
	json_str(g, "stream", log_stream_name(r->stream));
	json_key(g, "line");
	esc = json_escape_bytes(r->line, r->len, &esclen);
	/* Already a complete JSON string: inserted verbatim. */
	if (yajl_gen_number(g, esc, esclen) != yajl_gen_status_ok)
		fatalx("%s: yajl_gen_number", __func__);
	yajl_gen_map_close(g);
	return json_finish(g, outlen);
}

const char *
dropped_json(int64_t ts, uint64_t count, size_t *outlen)
{
	yajl_gen	 g = json_gen_get();

	yajl_gen_map_open(g);
	json_int(g, "ts", ts);
	json_str(g, "event", "dropped");
	json_int(g, "count", (long long)count);
	yajl_gen_map_close(g);
	return json_finish(g, outlen);
}
