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
 * The dependency index: for every service name that some service's
 * "after" mentions, the services that wait for it, and how many of those
 * have processes ("live").  It is keyed by name, not by service, because
 * "after" may name a service that does not exist (yet): the edge is kept
 * and binds when a service of that name is added.
 *
 * It lets a state change visit only the services concerned: a service
 * that becomes running kicks its dependents, and at shutdown a service
 * is stopped once its live-dependent count drops to zero.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parent.h"

static int	 dep_cmp(struct dep_node *, struct dep_node *);

RB_HEAD(dep_tree, dep_node);
RB_PROTOTYPE(dep_tree, dep_node, entry, dep_cmp);

static struct dep_tree	 deps = RB_INITIALIZER(&deps);

static int
dep_cmp(struct dep_node *a, struct dep_node *b)
{
	return strcmp(a->name, b->name);
}
RB_GENERATE(dep_tree, dep_node, entry, dep_cmp);

struct dep_node *
dep_find(const char *name)
{
	struct dep_node	 key;

	if (strlcpy(key.name, name, sizeof(key.name)) >= sizeof(key.name))
		return NULL;
	return RB_FIND(dep_tree, &deps, &key);
}

static struct dep_node *
dep_get(const char *name)
{
	struct dep_node	*n;

	if ((n = dep_find(name)) != NULL)
		return n;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		fatal("%s: calloc", __func__);
	strlcpy(n->name, name, sizeof(n->name));
	TAILQ_INIT(&n->dependents);
	RB_INSERT(dep_tree, &deps, n);
	return n;
}

/* Drop a node nothing refers to any more. */
static void
dep_put(struct dep_node *n)
{
	if (n->svc != NULL || n->nedges > 0)
		return;
	RB_REMOVE(dep_tree, &deps, n);
	free(n);
}

/* A service joins the index under its own name. */
void
deps_attach(struct svc *s)
{
	s->node = dep_get(s->name);
	s->node->svc = s;
}

void
deps_detach(struct svc *s)
{
	struct dep_node	*n = s->node;

	s->node = NULL;
	n->svc = NULL;
	dep_put(n);
}

/* The edges of s's "after" list; s must have no live action yet. */
void
deps_link(struct svc *s)
{
	struct strlist	*after = &s->conf->after;
	size_t		 i;

	s->ndeps = after->n;
	if ((s->deps = calloc(s->ndeps ? s->ndeps : 1,
	    sizeof(*s->deps))) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < s->ndeps; i++) {
		s->deps[i].from = s;
		s->deps[i].to = dep_get(after->v[i]);
		TAILQ_INSERT_TAIL(&s->deps[i].to->dependents, &s->deps[i],
		    entry);
		s->deps[i].to->nedges++;
		if (s->nlive > 0)
			s->deps[i].to->nlive++;
	}
}

void
deps_unlink(struct svc *s)
{
	struct dep_node	*to;
	size_t		 i;

	for (i = 0; i < s->ndeps; i++) {
		to = s->deps[i].to;
		TAILQ_REMOVE(&to->dependents, &s->deps[i], entry);
		to->nedges--;
		if (s->nlive > 0 && --to->nlive == 0 && to->svc != NULL)
			svc_dependents_down(to->svc);
		dep_put(to);
	}
	free(s->deps);
	s->deps = NULL;
	s->ndeps = 0;
}

/* s got its first live action (up) or lost its last one. */
void
deps_live(struct svc *s, int up)
{
	struct dep_node	*to;
	size_t		 i;

	for (i = 0; i < s->ndeps; i++) {
		to = s->deps[i].to;
		if (up) {
			to->nlive++;
			continue;
		}
		if (to->nlive == 0)
			fatalx("%s: %s: live count underflow", __func__,
			    to->name);
		if (--to->nlive == 0 && to->svc != NULL)
			svc_dependents_down(to->svc);
	}
}

/* Recount everything; -1 (and a warning) if a counter is off. */
int
deps_check(void)
{
	struct dep_node	*n;
	struct dep_edge	*e;
	size_t		 nedges, nlive;
	int		 rv = 0;

	RB_FOREACH(n, dep_tree, &deps) {
		nedges = nlive = 0;
		TAILQ_FOREACH(e, &n->dependents, entry) {
			nedges++;
			if (e->from->nlive > 0)
				nlive++;
		}
		if (nedges != n->nedges || nlive != n->nlive) {
			log_warnx("%s: %s: %zu/%zu edges, %zu/%zu live",
			    __func__, n->name, n->nedges, nedges, n->nlive,
			    nlive);
			rv = -1;
		}
		if (n->svc == NULL && n->nedges == 0) {
			log_warnx("%s: %s: unreferenced", __func__, n->name);
			rv = -1;
		}
		if (n->svc != NULL && n->svc->node != n) {
			log_warnx("%s: %s: wrong service", __func__, n->name);
			rv = -1;
		}
	}
	return rv;
}
