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
 * Fuzz harness: sd_notify datagrams as the prober reads them
 * (prober/ready.c facts_parse(), facts_merge()).
 *
 * facts_parse() is static in ready.c, so this file includes ready.c
 * itself to reach it (the rest of ready.c is linked but not called).
 * Once ready.c exports the parser (see docs/FUZZING.md), the #include
 * becomes a declaration.
 *
 * The input is one datagram; as notify_read() does, a datagram longer
 * than NOTIFY_BUF or holding a NUL is dropped before parsing, and the
 * text is NUL terminated in a buffer of NOTIFY_BUF + 1 bytes.  Checked
 * besides memory safety, against a plain reading of the lines:
 *  - READY, STOPPING, WATCHDOG are set exactly by "READY=1",
 *    "STOPPING=1", "WATCHDOG=1" / "WATCHDOG=trigger" lines;
 *  - a STATUS= line sets a printable, terminated status;
 *  - ERRNO is the value of the last ERRNO= line holding a number in
 *    [0, INT_MAX], and unset without one;
 *  - merging the facts into earlier ones keeps what they did not say.
 */
#include "../../prober/ready.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
has_line(const char *text, size_t len, const char *want)
{
	size_t	 n = strlen(want), off = 0, l;
	const char *nl;

	while (off <= len) {
		nl = memchr(text + off, '\n', len - off);
		l = nl != NULL ? (size_t)(nl - (text + off)) : len - off;
		if (l == n && memcmp(text + off, want, n) == 0)
			return 1;
		if (nl == NULL)
			break;
		off += l + 1;
	}
	return 0;
}

static int
has_prefix_line(const char *text, size_t len, const char *want)
{
	size_t	 n = strlen(want), off = 0, l;
	const char *nl;

	while (off <= len) {
		nl = memchr(text + off, '\n', len - off);
		l = nl != NULL ? (size_t)(nl - (text + off)) : len - off;
		if (l >= n && memcmp(text + off, want, n) == 0)
			return 1;
		if (nl == NULL)
			break;
		off += l + 1;
	}
	return 0;
}

/* The last valid ERRNO= value, -1 if none. */
static long long
last_errno(const char *text, size_t len)
{
	char		 v[NOTIFY_BUF + 1];
	const char	*nl, *errstr;
	size_t		 off = 0, l;
	long long	 last = -1, e;

	while (off <= len) {
		nl = memchr(text + off, '\n', len - off);
		l = nl != NULL ? (size_t)(nl - (text + off)) : len - off;
		if (l >= 6 && memcmp(text + off, "ERRNO=", 6) == 0) {
			memcpy(v, text + off + 6, l - 6);
			v[l - 6] = '\0';
			e = strtonum(v, 0, INT_MAX, &errstr);
			if (errstr == NULL)
				last = e;
		}
		if (nl == NULL)
			break;
		off += l + 1;
	}
	return last;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 buf[NOTIFY_BUF + 1];
	struct nfacts	 f, m;
	const char	*text = (const char *)data;
	size_t		 i, n;
	long long	 e;

	if (size > NOTIFY_BUF || memchr(data, '\0', size) != NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	memset(&f, 0, sizeof(f));
	facts_parse(&f, buf);

	if (f.ready != has_line(text, size, "READY=1") ||
	    f.stopping != has_line(text, size, "STOPPING=1") ||
	    f.watchdog != has_line(text, size, "WATCHDOG=1") ||
	    f.watchdog_trigger != has_line(text, size, "WATCHDOG=trigger") ||
	    f.has_status != has_prefix_line(text, size, "STATUS="))
		abort();
	if (f.has_status) {
		n = strnlen(f.status, sizeof(f.status));
		if (n == sizeof(f.status))
			abort();
		for (i = 0; i < n; i++)
			if ((unsigned char)f.status[i] < 0x20 ||
			    (unsigned char)f.status[i] > 0x7e)
				abort();
	}
	e = last_errno(text, size);
	if (f.has_errno != (e != -1) || (f.has_errno && f.errnum != e)) {
		fprintf(stderr, "ERRNO: has %d, %d; the datagram says %lld\n",
		    f.has_errno, f.errnum, e);
		abort();
	}

	memset(&m, 0, sizeof(m));
	m.has_errno = 1;
	m.errnum = 7;
	strlcpy(m.status, "before", sizeof(m.status));
	m.has_status = 1;
	facts_merge(&m, &f);
	if (m.errnum != (f.has_errno ? f.errnum : 7) ||
	    strcmp(m.status, f.has_status ? f.status : "before") != 0 ||
	    m.ready != f.ready || m.has_extend != f.has_extend)
		abort();
	return 0;
}
