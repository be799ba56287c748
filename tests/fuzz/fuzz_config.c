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
 * Fuzz harness: service files (common/config.c).
 *
 * The input is the text of up to FILES_MAX service files separated by a
 * form feed line ("\n\f\n"); each is parsed with config_parse_service()
 * as root's loader does, and the ones that parse are checked as a set
 * (config_check_set: names, cycles, socket and port claims).  Checked on
 * every input besides memory safety:
 *  - a rejected file has at least one error message;
 *  - every message is one line of printable text (file content is
 *    escaped before it is shown);
 *  - an accepted file keeps its text unchanged and declares a valid
 *    name; its exec, socket and workdir strings expand (or are too
 *    long once expanded).
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define FILES_MAX	4

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_errors(const struct config_errors *errs)
{
	const unsigned char	*p;
	size_t			 i;

	for (i = 0; i < errs->n; i++) {
		if (errs->msg[i] == NULL || errs->msg[i][0] == '\0')
			abort();
		for (p = (const unsigned char *)errs->msg[i]; *p != '\0'; p++)
			if (*p < 0x20 || *p == 0x7f) {
				fprintf(stderr, "control character 0x%02x in "
				    "error: %s\n", *p, errs->msg[i]);
				abort();
			}
	}
}

static void
check_expand(const char *s, const char *name, const char *action)
{
	char	*e;

	if ((e = config_expand(s, "/run/herod/sockets/x", name,
	    action)) == NULL) {
		/* a result past 4096 bytes is refused, nothing else */
		if (errno != ENAMETOOLONG)
			abort();
		return;
	}
	free(e);
}

static void
check_accepted(struct service_conf *sc, const char *text, size_t len)
{
	struct action_conf	*a;
	size_t			 i, j;

	if (sc->textlen != len || memcmp(sc->text, text, len) != 0)
		abort();
	if (!config_valid_name(sc->name) || sc->nactions == 0)
		abort();
	for (i = 0; i < sc->nactions; i++) {
		a = &sc->actions[i];
		if (a->exec.n == 0 || action_conf_find(sc, a->name) == NULL)
			abort();
		for (j = 0; j < a->exec.n; j++)
			check_expand(a->exec.v[j], sc->name, a->name);
		for (j = 0; j < a->sockets.n; j++)
			check_expand(a->sockets.v[j], sc->name, a->name);
		if (a->workdir != NULL)
			check_expand(a->workdir, sc->name, a->name);
	}
	for (i = 0; i < sc->nprobes; i++)
		if (probe_conf_find(sc, sc->probes[i].name) == NULL)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct service_conf_list	 list;
	struct service_conf		*sc;
	struct config_errors		 errs;
	const char			*p = (const char *)data, *end, *sep;
	char				 fname[32];
	size_t				 len, nfile = 0;

	TAILQ_INIT(&list);
	memset(&errs, 0, sizeof(errs));
	end = p + size;
	while (nfile < FILES_MAX) {
		sep = memmem(p, (size_t)(end - p), "\n\f\n", 3);
		len = sep != NULL ? (size_t)(sep - p) : (size_t)(end - p);
		snprintf(fname, sizeof(fname), "f%zu.json", nfile);
		sc = config_parse_service(fname, NULL, p, len, &errs);
		if (sc == NULL) {
			if (errs.n == 0 && errs.dropped == 0)
				abort();
		} else {
			check_accepted(sc, p, len);
			TAILQ_INSERT_TAIL(&list, sc, entry);
		}
		check_errors(&errs);
		config_errors_clear(&errs);
		nfile++;
		if (sep == NULL)
			break;
		p = sep + 3;
	}
	if (!TAILQ_EMPTY(&list)) {
		if (config_check_set(&list, &errs) == -1 && errs.n == 0 &&
		    errs.dropped == 0)
			abort();
		check_errors(&errs);
		config_errors_clear(&errs);
	}
	service_conf_list_free(&list);
	return 0;
}
