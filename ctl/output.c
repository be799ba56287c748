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
 * What heroctl prints: herod's JSON as received (-j), or a text made for
 * people from it.  Everything herod sends is checked before use: a
 * document that is not JSON, nests too deeply or has the wrong shape is
 * printed raw after a warning, and heroctl then exits 1.
 *
 * Much of it is text a service chose (log lines, status texts, probe
 * errors, reasons), so nothing of it may drive the operator's terminal:
 * control bytes (C0 but tab, DEL, C1 as UTF-8 and as lone bytes) come
 * out as a visible \xHH.  Log lines keep their bytes when stdout is not
 * a terminal; -j output to a terminal gets those characters as JSON
 * \u00XX escapes, which mean the same to a JSON reader.
 */

#include <sys/param.h>
#include <sys/types.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "heroctl.h"
#include "util.h"

#ifndef HEROD_VERSION
#define HEROD_VERSION	"unknown"
#endif

#define JSON_MAX_DEPTH	32	/* yajl_tree_free() recurses */

struct column {
	const char	*title;
	size_t		 width;
};

struct list_row {
	const char	*name;
	const char	*state;
	char		*pids;
	char		 uptime[32];
	char		 restarts[32];
	const char	*reason;
};

static int	 json_depth_ok(const char *, size_t);
static yajl_val	 json_parse(const char *, size_t, char *, size_t);
static yajl_val	 jget(yajl_val, const char *);
static const char *jstr(yajl_val, const char *, const char *);
static long long jint(yajl_val, const char *, long long);
static int	 stdout_tty(void);
static size_t	 esc_len(const unsigned char *, size_t);
static void	 put_safe(const char *);
static void	 put_raw(const char *, size_t);
static void	 put_json(const char *, size_t);
static void	 put_pad(const char *, size_t);
static void	 fmt_uptime(long long, char *, size_t);
static void	 fmt_ts(yajl_val, char *, size_t);
static int	 raw_member(const char *, size_t, const char *,
		    const char **, size_t *);
static size_t	 json_unescape(const char *, size_t, char *);
static void	 put_value(yajl_val);
static void	 gen_value(yajl_gen, yajl_val);
static int	 out_list(yajl_val);
static int	 out_services(yajl_val);
static int	 out_results(yajl_val);
static int	 out_reset(yajl_val);
static int	 out_reload(yajl_val);
static int	 out_names(yajl_val, const char *, const char *);
static int	 out_version(yajl_val);
static int	 out_shutdown(yajl_val);
static int	 out_log(const char *, size_t, yajl_val);
static int	 out_event(yajl_val);

/*
 * Reject NUL bytes (yajl reads C strings) and nesting deeper than
 * JSON_MAX_DEPTH before yajl builds a tree.  yajl_tree_parse() accepts
 * comments, whose brackets this count would not see: JSON has no '/'
 * outside a string, so one is refused, as is a closer with nothing open.
 */
static int
json_depth_ok(const char *s, size_t len)
{
	size_t	 i;
	int	 depth = 0, instr = 0, esc = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '\0')
			return (0);
		if (instr) {
			if (esc)
				esc = 0;
			else if (s[i] == '\\')
				esc = 1;
			else if (s[i] == '"')
				instr = 0;
			continue;
		}
		switch (s[i]) {
		case '"':
			instr = 1;
			break;
		case '/':
			return (0);
		case '{':
		case '[':
			if (++depth > JSON_MAX_DEPTH)
				return (0);
			break;
		case '}':
		case ']':
			if (--depth < 0)
				return (0);
			break;
		}
	}
	return (1);
}

static yajl_val
json_parse(const char *s, size_t len, char *errbuf, size_t errlen)
{
	if (!json_depth_ok(s, len)) {
		strlcpy(errbuf, "NUL byte, comment or nested too deeply",
		    errlen);
		return (NULL);
	}
	return (yajl_tree_parse(s, errbuf, errlen));
}

/* Member key of object o, or NULL. */
static yajl_val
jget(yajl_val o, const char *key)
{
	size_t	 i;

	if (!YAJL_IS_OBJECT(o))
		return (NULL);
	for (i = 0; i < o->u.object.len; i++)
		if (strcmp(o->u.object.keys[i], key) == 0)
			return (o->u.object.values[i]);
	return (NULL);
}

static const char *
jstr(yajl_val o, const char *key, const char *def)
{
	yajl_val	 v;

	if ((v = jget(o, key)) == NULL || !YAJL_IS_STRING(v))
		return (def);
	return (YAJL_GET_STRING(v));
}

static long long
jint(yajl_val o, const char *key, long long def)
{
	yajl_val	 v;

	if ((v = jget(o, key)) == NULL || !YAJL_IS_INTEGER(v))
		return (def);
	return (YAJL_GET_INTEGER(v));
}

static int
stdout_tty(void)
{
	static int	 tty = -1;

	if (tty == -1)
		tty = isatty(STDOUT_FILENO);
	return (tty);
}

/*
 * How many bytes starting at p[0] (a byte >= 0x80) make one valid UTF-8
 * character: 2 to 4, or 0.
 */
static size_t
utf8_len(const unsigned char *p, size_t len)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return (0);
	if (len < n || p[1] < lo || p[1] > hi)
		return (0);
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return (0);
	return (n);
}

/*
 * Length of the next piece of p: *esc set when it must not reach a
 * terminal as is: a C0 control but tab (newline too unless keepnl),
 * DEL, a C1 control as UTF-8 (U+0080..U+009F), or a byte 0x80..0x9F
 * that is no part of a UTF-8 character (C1 for an 8-bit terminal).
 */
static size_t
esc_next(const unsigned char *p, size_t len, int keepnl, int *esc)
{
	size_t	 n;

	*esc = 0;
	if (p[0] < 0x80) {
		*esc = (p[0] < 0x20 && p[0] != '\t' &&
		    !(keepnl && p[0] == '\n')) || p[0] == 0x7f;
		return (1);
	}
	if ((n = utf8_len(p, len)) == 0) {
		*esc = p[0] <= 0x9f;
		return (1);
	}
	*esc = n == 2 && p[0] == 0xc2 && p[1] <= 0x9f;
	return (n);
}

/* What put_text() writes for len bytes of s. */
static size_t
esc_len(const unsigned char *s, size_t len)
{
	size_t	 i, n, out = 0;
	int	 esc;

	for (i = 0; i < len; i += n) {
		n = esc_next(s + i, len - i, 0, &esc);
		out += esc ? n * 4 : n;
	}
	return (out);
}

/* Write len bytes of text from herod to fp, see esc_next(). */
void
put_text(FILE *fp, const char *s, size_t len, int keepnl)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, j, n, start = 0;
	int			 esc;

	for (i = 0; i < len; i += n) {
		n = esc_next(p + i, len - i, keepnl, &esc);
		if (!esc)
			continue;
		fwrite(p + start, 1, i - start, fp);	/* the safe run */
		for (j = 0; j < n; j++)
			fprintf(fp, "\\x%02x", p[i + j]);
		start = i + n;
	}
	fwrite(p + start, 1, len - start, fp);
}

/* Print a string from herod, see esc_next(). */
static void
put_safe(const char *s)
{
	put_text(stdout, s, strlen(s), 0);
}

/* Bytes as received: escaped when they go to a terminal. */
static void
put_raw(const char *s, size_t len)
{
	if (stdout_tty())
		put_text(stdout, s, len, 1);
	else
		fwrite(s, 1, len, stdout);
}

/*
 * herod's JSON (-j): as received, but to a terminal the characters of
 * esc_next() become \u00XX escapes (they can only be in strings).
 */
static void
put_json(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, n;
	int			 esc;

	if (!stdout_tty()) {
		fwrite(s, 1, len, stdout);
		return;
	}
	for (i = 0; i < len; i += n) {
		n = esc_next(p + i, len - i, 1, &esc);
		if (!esc)
			fwrite(p + i, 1, n, stdout);
		else if (n == 2)	/* U+0080..U+009F */
			printf("\\u%04x", (unsigned)((p[i] & 0x1f) << 6 |
			    (p[i + 1] & 0x3f)));
		else
			printf("\\u%04x", p[i]);
	}
}

static void
put_pad(const char *s, size_t width)
{
	size_t	 len;

	put_safe(s);
	for (len = esc_len((const unsigned char *)s, strlen(s)); len < width;
	    len++)
		putchar(' ');
}

/* 5s, 3m12s, 2h3m, 4d2h */
static void
fmt_uptime(long long ms, char *buf, size_t len)
{
	long long	 s;

	s = ms < 0 ? 0 : ms / 1000;
	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%lldh", s / 86400, s % 86400 / 3600);
}

/* Wall clock milliseconds as local time. */
static void
fmt_ts(yajl_val o, char *buf, size_t len)
{
	struct tm	 tm;
	long long	 ms;
	time_t		 t;
	size_t		 n;

	ms = jint(o, "ts", -1);
	t = (time_t)(ms / 1000);
	if (ms < 0 || localtime_r(&t, &tm) == NULL ||
	    (n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm)) == 0) {
		snprintf(buf, len, "%-23s", "-");
		return;
	}
	snprintf(buf + n, len - n, ".%03lld", ms % 1000);
}

/*
 * Find the string value of member key in the JSON object text s (already
 * validated by yajl) and give back its raw span, escapes undone by
 * json_unescape().  0 found, -1 not.
 */
static int
raw_member(const char *s, size_t len, const char *key, const char **val,
    size_t *vlen)
{
	size_t	 i = 0, kstart, klen, vstart;
	int	 depth, isstr;

#define SKIPWS()	while (i < len && (s[i] == ' ' || s[i] == '\t' || \
			    s[i] == '\n' || s[i] == '\r')) i++
#define SKIPSTR()	do {						\
		for (i++; i < len && s[i] != '"'; i++)			\
			if (s[i] == '\\')				\
				i++;					\
	} while (0)

	SKIPWS();
	if (i >= len || s[i] != '{')
		return (-1);
	i++;
	for (;;) {
		SKIPWS();
		if (i >= len || s[i] != '"')
			return (-1);
		kstart = i + 1;
		SKIPSTR();
		if (i >= len)
			return (-1);
		klen = i - kstart;
		i++;
		SKIPWS();
		if (i >= len || s[i] != ':')
			return (-1);
		i++;
		SKIPWS();
		if (i >= len)
			return (-1);
		vstart = i;
		isstr = s[i] == '"';
		if (isstr) {
			SKIPSTR();
			if (i >= len)
				return (-1);
			i++;
		} else {
			depth = 0;
			for (; i < len; i++) {
				if (s[i] == '"') {
					SKIPSTR();
					continue;
				}
				if (s[i] == '{' || s[i] == '[')
					depth++;
				else if (s[i] == '}' || s[i] == ']') {
					if (depth == 0)
						break;
					depth--;
				} else if (s[i] == ',' && depth == 0)
					break;
			}
		}
		if (isstr && klen == strlen(key) &&
		    memcmp(s + kstart, key, klen) == 0) {
			*val = s + vstart + 1;
			*vlen = i - vstart - 2;
			return (0);
		}
		SKIPWS();
		if (i >= len || s[i] != ',')
			return (-1);
		i++;
	}
#undef SKIPWS
#undef SKIPSTR
}

static int
hexval(const char *s, size_t len, unsigned int *v)
{
	size_t	 i;
	int	 c;

	if (len < 4)
		return (-1);
	*v = 0;
	for (i = 0; i < 4; i++) {
		c = s[i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if (c >= 'a' && c <= 'f')
			c -= 'a' - 10;
		else if (c >= 'A' && c <= 'F')
			c -= 'A' - 10;
		else
			return (-1);
		*v = *v << 4 | (unsigned int)c;
	}
	return (0);
}

/*
 * Undo JSON string escapes into out (at least len bytes).  \u0000 to
 * \u00ff give back the one byte herod escaped, so a log line keeps its
 * bytes even where they were not UTF-8; other code points become UTF-8.
 */
static size_t
json_unescape(const char *s, size_t len, char *out)
{
	unsigned int	 cp, lo;
	size_t		 i, o = 0;

	for (i = 0; i < len; i++) {
		if (s[i] != '\\' || i + 1 >= len) {
			out[o++] = s[i];
			continue;
		}
		i++;
		switch (s[i]) {
		case 'b':
			out[o++] = '\b';
			continue;
		case 'f':
			out[o++] = '\f';
			continue;
		case 'n':
			out[o++] = '\n';
			continue;
		case 'r':
			out[o++] = '\r';
			continue;
		case 't':
			out[o++] = '\t';
			continue;
		case 'u':
			break;
		default:	/* " \ / */
			out[o++] = s[i];
			continue;
		}
		if (hexval(s + i + 1, len - i - 1, &cp) == -1) {
			out[o++] = '?';
			continue;
		}
		i += 4;
		if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < len &&
		    s[i + 1] == '\\' && s[i + 2] == 'u' &&
		    hexval(s + i + 3, len - i - 3, &lo) == 0 &&
		    lo >= 0xdc00 && lo < 0xe000) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			i += 6;
		}
		if (cp <= 0xff)
			out[o++] = (char)cp;
		else if (cp < 0x800) {
			out[o++] = (char)(0xc0 | cp >> 6);
			out[o++] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			out[o++] = (char)(0xe0 | cp >> 12);
			out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		} else {
			out[o++] = (char)(0xf0 | cp >> 18);
			out[o++] = (char)(0x80 | (cp >> 12 & 0x3f));
			out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	return (o);
}

static void
gen_value(yajl_gen g, yajl_val v)
{
	size_t	 i;

	if (v == NULL) {
		yajl_gen_null(g);
		return;
	}
	switch (v->type) {
	case yajl_t_string:
		yajl_gen_string(g, (const unsigned char *)v->u.string,
		    strlen(v->u.string));
		break;
	case yajl_t_number:
		yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
		break;
	case yajl_t_object:
		yajl_gen_map_open(g);
		for (i = 0; i < v->u.object.len; i++) {
			yajl_gen_string(g,
			    (const unsigned char *)v->u.object.keys[i],
			    strlen(v->u.object.keys[i]));
			gen_value(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
		break;
	case yajl_t_array:
		yajl_gen_array_open(g);
		for (i = 0; i < v->u.array.len; i++)
			gen_value(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
		break;
	case yajl_t_true:
		yajl_gen_bool(g, 1);
		break;
	case yajl_t_false:
		yajl_gen_bool(g, 0);
		break;
	default:
		yajl_gen_null(g);
		break;
	}
}

/* A value of an events line: bare when it reads well, else quoted. */
static void
put_value(yajl_val v)
{
	const unsigned char	*buf;
	const char		*s;
	size_t			 len;
	yajl_gen		 g;

	if (YAJL_IS_STRING(v)) {
		s = YAJL_GET_STRING(v);
		if (*s != '\0' && strpbrk(s, " \"=\\") == NULL) {
			put_safe(s);
			return;
		}
		putchar('"');
		for (; *s != '\0'; s += len) {
			len = strcspn(s, "\"\\");
			put_text(stdout, s, len, 0);
			if (s[len] == '\0')
				break;
			putchar('\\');
			putchar(s[len]);
			len++;
		}
		putchar('"');
		return;
	}
	if ((g = yajl_gen_alloc(NULL)) == NULL)
		err(EXIT_FAILED, NULL);
	gen_value(g, v);
	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
		put_text(stdout, (const char *)buf, len, 0);
	yajl_gen_free(g);
}

static int
out_list(yajl_val doc)
{
	struct column	 cols[] = {
		{ "NAME", 0 }, { "STATE", 0 }, { "PIDS", 0 },
		{ "UPTIME", 0 }, { "RESTARTS", 0 }, { "REASON", 0 },
	};
	struct list_row	*rows = NULL, *r;
	yajl_val	 svcs, svc, acts, a;
	size_t		 i, j, n, len, plen;
	long long	 pid, up, maxup, restarts;
	int		 haveup;
	char		 num[32];

	if ((svcs = jget(doc, "services")) == NULL || !YAJL_IS_ARRAY(svcs))
		return (-1);
	n = svcs->u.array.len;
	if ((rows = calloc(n ? n : 1, sizeof(*rows))) == NULL)
		err(EXIT_FAILED, NULL);

	for (i = 0; i < nitems(cols); i++)
		cols[i].width = strlen(cols[i].title);
	for (i = 0; i < n; i++) {
		svc = svcs->u.array.values[i];
		r = &rows[i];
		r->name = jstr(svc, "name", "?");
		r->state = jstr(svc, "state", "?");
		r->reason = jstr(svc, "reason", "");
		if ((r->pids = strdup("")) == NULL)
			err(EXIT_FAILED, NULL);
		plen = 0;
		maxup = 0;
		haveup = 0;
		restarts = 0;
		acts = jget(svc, "actions");
		for (j = 0; YAJL_IS_ARRAY(acts) && j < acts->u.array.len;
		    j++) {
			a = acts->u.array.values[j];
			pid = jint(a, "pid", 0);
			up = jint(a, "uptime_ms", 0);
			restarts += jint(a, "restart_count", 0);
			if (pid > 0 || up > 0) {
				haveup = 1;
				if (up > maxup)
					maxup = up;
			}
			if (pid <= 0)
				continue;
			len = snprintf(num, sizeof(num), "%s%lld",
			    plen ? "," : "", pid);
			if ((r->pids = realloc(r->pids, plen + len + 1)) ==
			    NULL)
				err(EXIT_FAILED, NULL);
			memcpy(r->pids + plen, num, len + 1);
			plen += len;
		}
		if (plen == 0) {
			free(r->pids);
			if ((r->pids = strdup("-")) == NULL)
				err(EXIT_FAILED, NULL);
		}
		if (haveup)
			fmt_uptime(maxup, r->uptime, sizeof(r->uptime));
		else
			strlcpy(r->uptime, "-", sizeof(r->uptime));
		snprintf(r->restarts, sizeof(r->restarts), "%lld", restarts);

		cols[0].width = MAX(cols[0].width, strlen(r->name));
		cols[1].width = MAX(cols[1].width, strlen(r->state));
		cols[2].width = MAX(cols[2].width, strlen(r->pids));
		cols[3].width = MAX(cols[3].width, strlen(r->uptime));
		cols[4].width = MAX(cols[4].width, strlen(r->restarts));
	}

	for (i = 0; i < nitems(cols) - 1; i++) {
		put_pad(cols[i].title, cols[i].width);
		fputs("  ", stdout);
	}
	printf("%s\n", cols[i].title);
	for (i = 0; i < n; i++) {
		r = &rows[i];
		put_pad(r->name, cols[0].width + 2);
		put_pad(r->state, cols[1].width + 2);
		put_pad(r->pids, cols[2].width + 2);
		put_pad(r->uptime, cols[3].width + 2);
		if (*r->reason == '\0')
			put_safe(r->restarts);
		else {
			put_pad(r->restarts, cols[4].width + 2);
			put_safe(r->reason);
		}
		putchar('\n');
		free(r->pids);
	}
	free(rows);
	return (0);
}

static int
out_services(yajl_val doc)
{
	yajl_val	 svcs, svc, acts, a, probes, p, v;
	const char	*s;
	size_t		 i, j;
	long long	 pid, dropped, n;
	char		 up[32];

	if ((svcs = jget(doc, "services")) == NULL || !YAJL_IS_ARRAY(svcs))
		return (-1);
	for (i = 0; i < svcs->u.array.len; i++) {
		svc = svcs->u.array.values[i];
		if (i > 0)
			putchar('\n');
		put_safe(jstr(svc, "name", "?"));
		fputs(": ", stdout);
		put_safe(jstr(svc, "state", "?"));
		if (*(s = jstr(svc, "reason", "")) != '\0') {
			fputs(" (", stdout);
			put_safe(s);
			putchar(')');
		}
		putchar('\n');
		if (*(s = jstr(svc, "description", "")) != '\0') {
			fputs("  description: ", stdout);
			put_safe(s);
			putchar('\n');
		}

		acts = jget(svc, "actions");
		for (j = 0; YAJL_IS_ARRAY(acts) && j < acts->u.array.len;
		    j++) {
			a = acts->u.array.values[j];
			fputs("  action ", stdout);
			put_safe(jstr(a, "name", "?"));
			fputs(": ", stdout);
			put_safe(jstr(a, "state", "?"));
			if ((s = jstr(a, "kind", NULL)) != NULL) {
				fputs(", ", stdout);
				put_safe(s);
			}
			pid = jint(a, "pid", 0);
			if (pid > 0) {
				fmt_uptime(jint(a, "uptime_ms", 0), up,
				    sizeof(up));
				printf(", pid %lld, up %s", pid, up);
				if (jint(a, "main_pid", 0) > 0 &&
				    jint(a, "main_pid", 0) != pid)
					printf(", main pid %lld",
					    jint(a, "main_pid", 0));
			} else
				fputs(", no process", stdout);
			printf(", job %lld, restarts %lld",
			    jint(a, "job_id", 0), jint(a, "restart_count", 0));
			if ((v = jget(a, "ready")) != NULL)
				printf(", ready %s",
				    YAJL_IS_TRUE(v) ? "yes" : "no");
			if ((dropped = jint(a, "logs_dropped", 0)) > 0)
				printf(", %lld log lines dropped", dropped);
			putchar('\n');
			if (*(s = jstr(a, "status", "")) != '\0') {
				fputs("    status: ", stdout);
				put_safe(s);
				putchar('\n');
			}
			if (*(s = jstr(a, "reason", "")) != '\0') {
				fputs("    reason: ", stdout);
				put_safe(s);
				putchar('\n');
			}
			v = jget(a, "exit_status");
			if (YAJL_IS_OBJECT(v)) {
				fputs("    last exit: ", stdout);
				if (jget(v, "code") != NULL)
					printf("status %lld",
					    jint(v, "code", 0));
				else if ((s = jstr(v, "signal", NULL)) !=
				    NULL) {
					fputs("signal ", stdout);
					put_safe(s);
				} else
					fputs("unknown", stdout);
				putchar('\n');
			}
		}

		probes = jget(svc, "probes");
		for (j = 0; YAJL_IS_ARRAY(probes) &&
		    j < probes->u.array.len; j++) {
			p = probes->u.array.values[j];
			fputs("  probe ", stdout);
			put_safe(jstr(p, "name", "?"));
			v = jget(p, "ok");
			if (YAJL_IS_TRUE(v))
				fputs(": ok", stdout);
			else if (v == NULL || YAJL_IS_NULL(v))
				fputs(": not run yet", stdout);
			else
				fputs(": FAIL", stdout);
			/* counted failures only: none in a grace period */
			if ((n = jint(p, "consecutive_failures", 0)) > 0)
				printf(", %lld consecutive failure%s", n,
				    n == 1 ? "" : "s");
			if (*(s = jstr(p, "last_error", "")) != '\0') {
				fputs(", last error: ", stdout);
				put_safe(s);
			}
			putchar('\n');
		}
		if ((dropped = jint(svc, "logs_dropped", 0)) > 0)
			printf("  %lld log lines dropped\n", dropped);
	}
	return (0);
}

/*
 * herod: store restarting (died 5 times, last: exit 1), next try in 8 s
 * A line for each worker that is not running; none when all are.
 */
static void
out_workers(yajl_val doc)
{
	yajl_val	 ws, w;
	const char	*state;
	long long	 next;
	size_t		 i;

	if ((ws = jget(doc, "workers")) == NULL || !YAJL_IS_OBJECT(ws))
		return;
	for (i = 0; i < ws->u.object.len; i++) {
		w = ws->u.object.values[i];
		state = jstr(w, "state", "?");
		if (strcmp(state, "running") == 0)
			continue;
		fputs("herod: ", stdout);
		put_safe(ws->u.object.keys[i]);
		putchar(' ');
		put_safe(state);
		if (jint(w, "deaths", 0) > 0) {
			printf(" (died %lld time%s, last: ", jint(w, "deaths", 0),
			    jint(w, "deaths", 0) == 1 ? "" : "s");
			put_safe(jstr(w, "last_exit", "?"));
			putchar(')');
		}
		next = jint(w, "next_try_ms", 0);
		if (strcmp(state, "restarting") == 0)
			printf(", next try in %lld s", (next + 999) / 1000);
		putchar('\n');
	}
}

static int
out_results(yajl_val doc)
{
	yajl_val	 res, r;
	const char	*s;
	size_t		 i;

	if ((res = jget(doc, "results")) == NULL || !YAJL_IS_ARRAY(res))
		return (-1);
	for (i = 0; i < res->u.array.len; i++) {
		r = res->u.array.values[i];
		put_safe(jstr(r, "name", "?"));
		fputs(": ", stdout);
		put_safe(jstr(r, "state", "?"));
		if (*(s = jstr(r, "reason", "")) != '\0') {
			fputs(" (", stdout);
			put_safe(s);
			putchar(')');
		}
		putchar('\n');
	}
	return (0);
}

/* "title: a b c" for an array of names; nothing for an empty one. */
static int
out_names(yajl_val doc, const char *key, const char *title)
{
	yajl_val	 a;
	size_t		 i;

	if ((a = jget(doc, key)) == NULL)
		return (0);
	if (!YAJL_IS_ARRAY(a))
		return (-1);
	if (a->u.array.len == 0)
		return (0);
	fputs(title, stdout);
	putchar(':');
	for (i = 0; i < a->u.array.len; i++) {
		putchar(' ');
		if (YAJL_IS_STRING(a->u.array.values[i]))
			put_safe(YAJL_GET_STRING(a->u.array.values[i]));
		else
			putchar('?');
	}
	putchar('\n');
	return (0);
}

static int
out_reset(yajl_val doc)
{
	yajl_val	 a, v;
	size_t		 i;

	if (!YAJL_IS_OBJECT(doc) || out_names(doc, "restarted",
	    "restarted") == -1)
		return (-1);
	if ((a = jget(doc, "left_alone")) == NULL)
		return (0);
	if (!YAJL_IS_ARRAY(a))
		return (-1);
	if (a->u.array.len == 0)
		return (0);
	fputs("left alone:", stdout);
	for (i = 0; i < a->u.array.len; i++) {
		v = a->u.array.values[i];
		fputs(i > 0 ? ", " : " ", stdout);
		if (YAJL_IS_STRING(v)) {
			put_safe(YAJL_GET_STRING(v));
			continue;
		}
		put_safe(jstr(v, "name", "?"));
		fputs(" (", stdout);
		put_safe(jstr(v, "state", "?"));
		putchar(')');
	}
	putchar('\n');
	return (0);
}

/* An "errors" array of strings, if herod sends one, comes first. */
static int
out_reload(yajl_val doc)
{
	yajl_val	 a;
	size_t		 i;

	if (!YAJL_IS_OBJECT(doc))
		return (-1);
	if ((a = jget(doc, "errors")) != NULL) {
		if (!YAJL_IS_ARRAY(a))
			return (-1);
		for (i = 0; i < a->u.array.len; i++) {
			fputs("error: ", stdout);
			if (YAJL_IS_STRING(a->u.array.values[i]))
				put_safe(YAJL_GET_STRING(a->u.array.values[i]));
			else
				putchar('?');
			putchar('\n');
		}
	}
	if (out_names(doc, "added", "added") == -1 ||
	    out_names(doc, "removed", "removed") == -1 ||
	    out_names(doc, "changed", "changed") == -1 ||
	    out_names(doc, "unchanged", "unchanged") == -1 ||
	    out_names(doc, "updated", "updated without restart") == -1)
		return (-1);
	return (0);
}

static int
out_version(yajl_val doc)
{
	if (!YAJL_IS_OBJECT(doc))
		return (-1);
	printf("heroctl %s, herod ", HEROD_VERSION);
	put_safe(jstr(doc, "version", "?"));
	printf(" (protocol %lld)\n", jint(doc, "protocol", 0));
	return (0);
}

static int
out_shutdown(yajl_val doc)
{
	if (!YAJL_IS_OBJECT(doc))
		return (-1);
	if (YAJL_IS_TRUE(jget(doc, "keep_services")))
		printf("herod is shutting down, services keep running\n");
	else
		printf("herod is stopping all services and shutting down\n");
	return (0);
}

void
out_error(int code, const char *msg)
{
	const unsigned char	*buf;
	size_t			 len;
	yajl_gen		 g;

	if ((g = yajl_gen_alloc(NULL)) == NULL)
		err(EXIT_FAILED, NULL);
	yajl_gen_map_open(g);
	yajl_gen_string(g, (const unsigned char *)"error", 5);
	yajl_gen_string(g, (const unsigned char *)msg, strlen(msg));
	yajl_gen_string(g, (const unsigned char *)"exit_code", 9);
	yajl_gen_integer(g, code);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok) {
		put_json((const char *)buf, len);
		putchar('\n');
	}
	yajl_gen_free(g);
}

int
out_document(const struct parse_result *res, const char *buf, size_t len)
{
	yajl_val	 doc;
	char		 errbuf[256];
	int		 rv = -1;

	if (res->json) {
		put_json(buf, len);
		if (len > 0 && buf[len - 1] != '\n')
			putchar('\n');
		return (0);
	}

	errbuf[0] = '\0';
	if ((doc = json_parse(buf, len, errbuf, sizeof(errbuf))) != NULL) {
		switch (res->cmd) {
		case CTL_LIST:
			if ((rv = out_list(doc)) == 0)
				out_workers(doc);
			break;
		case CTL_STATUS:
			if ((rv = out_services(doc)) == 0)
				out_workers(doc);
			break;
		case CTL_START:
		case CTL_STOP:
		case CTL_RESTART:
			rv = out_results(doc);
			break;
		case CTL_RESET_FAILED:
			rv = out_reset(doc);
			break;
		case CTL_RELOAD:
			rv = out_reload(doc);
			break;
		case CTL_VERSION_CMD:
			rv = out_version(doc);
			break;
		case CTL_SHUTDOWN:
			rv = out_shutdown(doc);
			break;
		default:
			break;
		}
		yajl_tree_free(doc);
		if (rv == 0)
			return (0);
		strlcpy(errbuf, "unexpected document", sizeof(errbuf));
	}
	errbuf[strcspn(errbuf, "\n")] = '\0';
	fflush(stdout);
	warnx("bad JSON from herod (%s), printed as received", errbuf);
	put_raw(buf, len);
	if (len > 0 && buf[len - 1] != '\n')
		putchar('\n');
	return (-1);
}

/* 2024-01-02 03:04:05.678 server[0] out: text */
static int
out_log(const char *buf, size_t len, yajl_val o)
{
	const char	*raw, *stream;
	char		 ts[64], *text;
	size_t		 rawlen, n;

	fmt_ts(o, ts, sizeof(ts));
	stream = jstr(o, "stream", "?");
	if (strcmp(stream, "stdout") == 0)
		stream = "out";
	else if (strcmp(stream, "stderr") == 0)
		stream = "err";
	printf("%s ", ts);
	put_safe(jstr(o, "action", "?"));
	printf("[%lld] ", jint(o, "restart_count", 0));
	put_safe(stream);
	fputs(": ", stdout);

	if (raw_member(buf, len, "line", &raw, &rawlen) == -1) {
		putchar('\n');
		return (0);
	}
	if ((text = malloc(rawlen + 1)) == NULL)
		err(EXIT_FAILED, NULL);
	n = json_unescape(raw, rawlen, text);
	put_raw(text, n);
	putchar('\n');
	free(text);
	return (0);
}

/* 2024-01-02 03:04:05.678 probe_failed web error="empty reply" ... */
static int
out_event(yajl_val o)
{
	const char	*action, *key;
	char		 ts[64];
	size_t		 i;

	fmt_ts(o, ts, sizeof(ts));
	printf("%s ", ts);
	put_safe(jstr(o, "event", "?"));
	putchar(' ');
	put_safe(jstr(o, "service", "-"));
	if ((action = jstr(o, "action", NULL)) != NULL) {
		putchar('/');
		put_safe(action);
	}
	for (i = 0; i < o->u.object.len; i++) {
		key = o->u.object.keys[i];
		if (strcmp(key, "ts") == 0 || strcmp(key, "event") == 0 ||
		    strcmp(key, "service") == 0 ||
		    (strcmp(key, "action") == 0 && action != NULL))
			continue;
		putchar(' ');
		put_safe(key);
		putchar('=');
		put_value(o->u.object.values[i]);
	}
	putchar('\n');
	return (0);
}

int
out_line(const struct parse_result *res, const char *buf, size_t len)
{
	yajl_val	 o;
	char		 errbuf[256];
	int		 rv;

	if (res->json) {
		if (len > 0) {
			put_json(buf, len);
			putchar('\n');
		}
		return (0);
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0)
		return (0);

	errbuf[0] = '\0';
	o = json_parse(buf, len, errbuf, sizeof(errbuf));
	if (o != NULL && YAJL_IS_OBJECT(o)) {
		if (res->cmd == CTL_LOGS)
			rv = out_log(buf, len, o);
		else
			rv = out_event(o);
		yajl_tree_free(o);
		return (rv);
	}
	if (o != NULL) {
		yajl_tree_free(o);
		strlcpy(errbuf, "not an object", sizeof(errbuf));
	}
	errbuf[strcspn(errbuf, "\n")] = '\0';
	fflush(stdout);
	warnx("bad JSON line from herod (%s), printed as received", errbuf);
	put_raw(buf, len);
	putchar('\n');
	return (-1);
}
