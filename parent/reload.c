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
 * Loading service files, at start and on reload (SIGHUP, heroctl
 * reload).  A reload is all or nothing: one invalid file and nothing is
 * applied.  Added services start (autostart), removed ones are stopped
 * and dropped, changed ones are restarted, unchanged ones not touched.
 * What changed is judged on the parsed files (config_canon.c): comments,
 * white space and key order are no change, and a new description is
 * taken without a restart ("updated").
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "log.h"
#include "parent.h"

/* reload's lists: added, removed, changed, unchanged, updated */
#define NLISTS	5

static int
load(struct service_conf_list *list, char *err, size_t errlen)
{
	struct config_errors	 errs;
	size_t			 i, l = 0;

	memset(&errs, 0, sizeof(errs));
	if (config_load_dir(herod_env.confdir, list, &errs) == 0)
		return 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	for (i = 0; i < errs.n; i++) {
		log_warnx("%s", errs.msg[i]);
		if (err != NULL && l < errlen)
			l += snprintf(err + l, errlen - l, "%s%s",
			    i ? "\n" : "", errs.msg[i]);
	}
	if (errs.dropped > 0)
		log_warnx("(%zu more errors)", errs.dropped);
	config_errors_clear(&errs);
	return -1;
}

int
config_initial(void)
{
	struct service_conf_list	 list;
	struct service_conf		*sc;

	TAILQ_INIT(&list);
	if (access(herod_env.confdir, F_OK) == -1 && errno == ENOENT) {
		log_warnx("no service directory %s: no services",
		    herod_env.confdir);
		return 0;
	}
	if (load(&list, NULL, 0) == -1)
		return -1;
	while ((sc = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, sc, entry);
		svc_add(sc);
	}
	return 0;
}

static int
svc_has_processes(struct svc *s)
{
	size_t	 i;

	for (i = 0; i < s->nacts; i++)
		if (s->acts[i].pid > 0 || s->acts[i].spawn_pending ||
		    s->acts[i].state == AS_STOPPING)
			return 1;
	return 0;
}

static void
gen_list(yajl_gen g, const char *key, char **names, size_t n)
{
	size_t	 i;

	if (g == NULL)
		return;
	gen_str(g, key);
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++)
		gen_str(g, names[i]);
	yajl_gen_array_close(g);
}

static void
apply_changed(struct svc *s, struct service_conf *sc)
{
	if (!svc_has_processes(s)) {
		struct svc	*fresh;
		enum intent	 intent = s->intent;

		proc_push_remove(s->name);
		svc_remove(s);
		fresh = svc_add(sc);
		proc_push_service(sc);
		if (intent == INTENT_UP)
			svc_start(fresh);
		else
			svc_update(fresh);
		return;
	}
	if (s->next_conf != NULL)
		service_conf_free(s->next_conf);
	s->next_conf = sc;
	s->replacing = 1;
	svc_stop(s);
}

static int
same_description(struct service_conf *a, struct service_conf *b)
{
	if (a->description == NULL || b->description == NULL)
		return a->description == b->description;
	return strcmp(a->description, b->description) == 0;
}

/*
 * An edit that changes nothing a process sees (comments, white space,
 * key order, description): the new text and description are kept, for
 * what heroctl shows and for workers restarted later, and nothing is
 * restarted.
 */
static void
apply_cosmetic(struct svc *s, struct service_conf *sc)
{
	char	*t;
	size_t	 len;

	t = s->conf->text;
	len = s->conf->textlen;
	s->conf->text = sc->text;
	s->conf->textlen = sc->textlen;
	sc->text = t;
	sc->textlen = len;
	t = s->conf->description;
	s->conf->description = sc->description;
	sc->description = t;
	service_conf_free(sc);
}

int
reload_config(yajl_gen g, char *err, size_t errlen)
{
	struct service_conf_list	 list;
	struct service_conf_tree	 byname;
	struct service_conf		*sc;
	struct svc			*s, *next;
	char				**lists[NLISTS], what[256];
	size_t				 n[NLISTS] = { 0 }, i;

	TAILQ_INIT(&list);
	if (load(&list, err, errlen) == -1)
		return -1;
	RB_INIT(&byname);	/* an index only: the list owns them */
	TAILQ_FOREACH(sc, &list, entry)
		(void)service_conf_insert(&byname, sc);
	for (i = 0; i < NLISTS; i++)
		if ((lists[i] = calloc(pt.nsvcs + 1024 + 1, sizeof(char *)))
		    == NULL)
			fatal("%s: calloc", __func__);
	/* removed */
	RB_FOREACH_SAFE(s, svc_tree, &pt.svcs, next) {
		if (service_conf_lookup(&byname, s->name) != NULL)
			continue;
		lists[1][n[1]++] = strdup(s->name);
		if (!svc_has_processes(s)) {
			proc_push_remove(s->name);
			svc_remove(s);
		} else {
			s->removing = 1;
			svc_stop(s);
		}
	}
	while ((sc = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, sc, entry);
		if ((s = svc_find(sc->name)) == NULL) {
			if (n[0] < pt.nsvcs + 1024)
				lists[0][n[0]++] = strdup(sc->name);
			s = svc_add(sc);
			proc_push_service(sc);
			if (sc->autostart && pt.started)
				svc_start(s);
		} else if (!config_same_effect(s->conf, sc)) {
			config_changed_keys(s->conf, sc, what, sizeof(what));
			log_info("reload: %s: %s changed, restarting",
			    sc->name, what);
			lists[2][n[2]++] = strdup(sc->name);
			apply_changed(s, sc);
		} else if (!same_description(s->conf, sc)) {
			log_info("reload: %s: description changed, no "
			    "restart", sc->name);
			lists[4][n[4]++] = strdup(sc->name);
			apply_cosmetic(s, sc);
		} else {
			lists[3][n[3]++] = strdup(sc->name);
			apply_cosmetic(s, sc);
		}
	}
	if (g != NULL)
		yajl_gen_map_open(g);
	gen_list(g, "added", lists[0], n[0]);
	gen_list(g, "removed", lists[1], n[1]);
	gen_list(g, "changed", lists[2], n[2]);
	gen_list(g, "unchanged", lists[3], n[3]);
	gen_list(g, "updated", lists[4], n[4]);
	if (g != NULL)
		yajl_gen_map_close(g);
	log_info("reload: %zu added, %zu removed, %zu changed, %zu unchanged, "
	    "%zu updated without restart", n[0], n[1], n[2], n[3], n[4]);
	/* what waited for a service that is gone may start */
	for (i = 0; i < n[1]; i++)
		if (svc_find(lists[1][i]) == NULL)
			svc_kick_name(lists[1][i]);
	if (log_getverbose() > 0)
		svc_check();
	for (i = 0; i < NLISTS; i++) {
		size_t	 j;

		for (j = 0; j < n[i]; j++)
			free(lists[i][j]);
		free(lists[i]);
	}
	return 0;
}
