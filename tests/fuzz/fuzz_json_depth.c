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
 * Fuzz harness: json_depth() (prober/http_parse.c), the bound checked
 * before a jsonrpc reply reaches yajl_tree_parse(), against the depth
 * that yajl itself sees.  yajl_tree_parse() accepts comments, so the
 * reference parser does too.  json_depth refuses (-1) any document with
 * a comment, which can hide brackets from it; for every other document
 * yajl accepts it must say "too deep" exactly when the document nests
 * deeper than the bound check_jsonrpc.c uses: a document it passes as
 * shallow that is deeper reaches yajl's tree (and its recursive free)
 * unbounded, and a plain JSON document it refuses is a false probe
 * failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "prober.h"

#define JSON_MAX_DEPTH	32	/* as in prober/check_jsonrpc.c */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct depth {
	int	 depth;
	int	 max;
};

static int
d_open(void *ctx)
{
	struct depth	*d = ctx;

	if (++d->depth > d->max)
		d->max = d->depth;
	return 1;
}

static int
d_close(void *ctx)
{
	((struct depth *)ctx)->depth--;
	return 1;
}

static int
d_key(void *ctx, const unsigned char *s, size_t len)
{
	return 1;
}

static const yajl_callbacks cb = {
	NULL, NULL, NULL, NULL, NULL, NULL,
	d_open, d_key, d_close, d_open, d_close
};

/* Does yajl accept it with comments refused (plain JSON)? */
static int
yajl_strict_ok(const uint8_t *data, size_t size)
{
	struct depth	 d;
	yajl_handle	 h;
	int		 ok;

	memset(&d, 0, sizeof(d));
	if ((h = yajl_alloc(&cb, NULL, &d)) == NULL)
		abort();
	yajl_config(h, yajl_allow_comments, 0);
	ok = yajl_parse(h, data, size) == yajl_status_ok &&
	    yajl_complete_parse(h) == yajl_status_ok;
	yajl_free(h);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct depth	 d;
	yajl_handle	 h;
	int		 ok, jd;

	/* check_jsonrpc.c refuses a NUL before json_depth */
	if (memchr(data, '\0', size) != NULL)
		return 0;
	memset(&d, 0, sizeof(d));
	if ((h = yajl_alloc(&cb, NULL, &d)) == NULL)
		abort();
	yajl_config(h, yajl_allow_comments, 1);
	ok = yajl_parse(h, data, size) == yajl_status_ok &&
	    yajl_complete_parse(h) == yajl_status_ok;
	yajl_free(h);
	if (!ok)
		return 0;
	jd = json_depth((const char *)data, size, JSON_MAX_DEPTH);
	if (jd == -1) {
		/* refused: only right for a document with comments */
		if (yajl_strict_ok(data, size)) {
			fprintf(stderr, "json_depth refuses a document "
			    "without comments\n");
			abort();
		}
		return 0;
	}
	if ((jd > JSON_MAX_DEPTH) != (d.max > JSON_MAX_DEPTH)) {
		fprintf(stderr, "json_depth says %d, yajl nests %d deep "
		    "(bound %d)\n", jd, d.max, JSON_MAX_DEPTH);
		abort();
	}
	return 0;
}
