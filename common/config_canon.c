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
 * The canonical form of a service file, to tell on reload what an edit
 * changed: the parsed document written again as compact JSON with the
 * keys of every object sorted and numbers in one notation, so that
 * comments, white space and key order do not count.  The top-level
 * "description" is left out: it only changes what heroctl shows.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "config.h"

static int	 canon_value(yajl_gen, yajl_val, int);

struct canon_key {
	const char	*key;
	yajl_val	 val;
};

static int
canon_key_cmp(const void *a, const void *b)
{
	const struct canon_key	*ka = a, *kb = b;

	return strcmp(ka->key, kb->key);
}

static int
canon_object(yajl_gen g, yajl_val v, int top)
{
	struct canon_key	*keys;
	size_t			 i, n = 0;
	int			 rv = 0;

	if ((keys = calloc(v->u.object.len + 1, sizeof(*keys))) == NULL)
		return -1;
	for (i = 0; i < v->u.object.len; i++) {
		if (top && strcmp(v->u.object.keys[i], "description") == 0)
			continue;
		keys[n].key = v->u.object.keys[i];
		keys[n++].val = v->u.object.values[i];
	}
	qsort(keys, n, sizeof(*keys), canon_key_cmp);
	yajl_gen_map_open(g);
	for (i = 0; i < n && rv == 0; i++) {
		yajl_gen_string(g, (const unsigned char *)keys[i].key,
		    strlen(keys[i].key));
		rv = canon_value(g, keys[i].val, 0);
	}
	yajl_gen_map_close(g);
	free(keys);
	return rv;
}

static int
canon_value(yajl_gen g, yajl_val v, int top)
{
	char	 num[64];
	size_t	 i;

	if (YAJL_IS_OBJECT(v))
		return canon_object(g, v, top);
	if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (i = 0; i < v->u.array.len; i++)
			if (canon_value(g, v->u.array.values[i], 0) == -1)
				return -1;
		yajl_gen_array_close(g);
		return 0;
	}
	if (YAJL_IS_STRING(v)) {
		yajl_gen_string(g, (const unsigned char *)v->u.string,
		    strlen(v->u.string));
		return 0;
	}
	if (YAJL_IS_INTEGER(v)) {
		snprintf(num, sizeof(num), "%lld", YAJL_GET_INTEGER(v));
		yajl_gen_number(g, num, strlen(num));
		return 0;
	}
	if (YAJL_IS_NUMBER(v)) {
		snprintf(num, sizeof(num), "%.17g", YAJL_GET_DOUBLE(v));
		yajl_gen_number(g, num, strlen(num));
		return 0;
	}
	if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		yajl_gen_bool(g, YAJL_IS_TRUE(v));
		return 0;
	}
	yajl_gen_null(g);
	return 0;
}

char *
config_canon(const char *text, size_t len)
{
	yajl_val	 tree;
	yajl_gen	 g;
	const unsigned char *out;
	size_t		 outlen;
	char		*buf, *res = NULL, ebuf[128];

	if ((buf = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(buf, text, len);
	buf[len] = '\0';
	tree = yajl_tree_parse(buf, ebuf, sizeof(ebuf));
	free(buf);
	if (tree == NULL)
		return NULL;
	if ((g = yajl_gen_alloc(NULL)) == NULL) {
		yajl_tree_free(tree);
		return NULL;
	}
	if (canon_value(g, tree, 1) == 0 &&
	    yajl_gen_get_buf(g, &out, &outlen) == yajl_gen_status_ok)
		res = strndup((const char *)out, outlen);
	yajl_gen_free(g);
	yajl_tree_free(tree);
	return res;
}

int
config_same_effect(const struct service_conf *a, const struct service_conf *b)
{
	char	*ca, *cb;
	int	 same;

	if (a->textlen == b->textlen && memcmp(a->text, b->text,
	    a->textlen) == 0)
		return 1;
	ca = config_canon(a->text, a->textlen);
	cb = config_canon(b->text, b->textlen);
	same = ca != NULL && cb != NULL && strcmp(ca, cb) == 0;
	free(ca);
	free(cb);
	return same;
}

static char *
canon_member(yajl_val tree, const char *key)
{
	yajl_val	 v = NULL;
	yajl_gen	 g;
	const unsigned char *out;
	size_t		 i, outlen;
	char		*res = NULL;

	for (i = 0; YAJL_IS_OBJECT(tree) && i < tree->u.object.len; i++)
		if (strcmp(tree->u.object.keys[i], key) == 0)
			v = tree->u.object.values[i];
	if (v == NULL)
		return strdup("");
	if ((g = yajl_gen_alloc(NULL)) == NULL)
		return NULL;
	if (canon_value(g, v, 0) == 0 &&
	    yajl_gen_get_buf(g, &out, &outlen) == yajl_gen_status_ok)
		res = strndup((const char *)out, outlen);
	yajl_gen_free(g);
	return res;
}

static yajl_val
canon_parse(const struct service_conf *sc)
{
	yajl_val	 tree;
	char		*buf, ebuf[128];

	if ((buf = malloc(sc->textlen + 1)) == NULL)
		return NULL;
	memcpy(buf, sc->text, sc->textlen);
	buf[sc->textlen] = '\0';
	tree = yajl_tree_parse(buf, ebuf, sizeof(ebuf));
	free(buf);
	return tree;
}

static int
canon_member_differs(yajl_val ta, yajl_val tb, const char *key)
{
	char	*ma = canon_member(ta, key), *mb = canon_member(tb, key);
	int	 differs = ma == NULL || mb == NULL || strcmp(ma, mb) != 0;

	free(ma);
	free(mb);
	return differs;
}

static int
canon_has(yajl_val t, const char *key)
{
	size_t	 i;

	for (i = 0; YAJL_IS_OBJECT(t) && i < t->u.object.len; i++)
		if (strcmp(t->u.object.keys[i], key) == 0)
			return 1;
	return 0;
}

static void
canon_add(char *buf, size_t len, const char *key)
{
	if (buf[0] != '\0')
		strlcat(buf, ", ", len);
	strlcat(buf, key, len);
}

void
config_changed_keys(const struct service_conf *a,
    const struct service_conf *b, char *buf, size_t len)
{
	yajl_val	 ta, tb;
	size_t		 i;

	buf[0] = '\0';
	ta = canon_parse(a);
	tb = canon_parse(b);
	if (!YAJL_IS_OBJECT(ta) || !YAJL_IS_OBJECT(tb))
		strlcpy(buf, "?", len);
	else {
		for (i = 0; i < ta->u.object.len; i++)
			if (canon_member_differs(ta, tb, ta->u.object.keys[i]))
				canon_add(buf, len, ta->u.object.keys[i]);
		for (i = 0; i < tb->u.object.len; i++)
			if (!canon_has(ta, tb->u.object.keys[i]))
				canon_add(buf, len, tb->u.object.keys[i]);
	}
	yajl_tree_free(ta);
	yajl_tree_free(tb);
}
