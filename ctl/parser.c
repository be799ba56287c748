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
 * The command line after the global options: a command word (or an
 * unambiguous prefix of one), then service names and command options in
 * any order.  Both are looked up in static tables; every mistake is a
 * usage error (exit 2) before anything is sent to herod.
 */

#include <sys/param.h>
#include <sys/types.h>

#include <err.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "heroctl.h"
#include "util.h"

/* Options a command accepts. */
#define OPT_NOWAIT	0x0001
#define OPT_TIMEOUT	0x0002
#define OPT_FORCE	0x0004
#define OPT_KEEP	0x0008
#define OPT_ACTION	0x0010
#define OPT_LINES	0x0020
#define OPT_FOLLOW	0x0040
#define OPT_RESTART	0x0080
#define OPT_JSON	0x0100		/* -j, accepted after the command too */

/* How many service names a command takes. */
enum names_rule {
	NAMES_NONE,
	NAMES_ONE,
	NAMES_ANY,
	NAMES_SOME,	/* at least one */
};

struct command {
	const char	*name;
	enum ctl_cmd	 cmd;
	enum names_rule	 names;
	int		 opts;
	int		 stream;
};

static const struct command commands[] = {
	{ "list",		CTL_LIST,		NAMES_NONE,	0, 0 },
	{ "status",		CTL_STATUS,		NAMES_SOME,	0, 0 },
	{ "start",		CTL_START,		NAMES_SOME,
	    OPT_NOWAIT | OPT_TIMEOUT, 0 },
	{ "stop",		CTL_STOP,		NAMES_SOME,
	    OPT_NOWAIT | OPT_TIMEOUT, 0 },
	{ "restart",		CTL_RESTART,		NAMES_SOME,
	    OPT_NOWAIT | OPT_TIMEOUT, 0 },
	{ "reset-failed",	CTL_RESET_FAILED,	NAMES_ANY,
	    OPT_FORCE, 0 },
	{ "reload",		CTL_RELOAD,		NAMES_NONE,	0, 0 },
	{ "logs",		CTL_LOGS,		NAMES_ONE,
	    OPT_ACTION | OPT_LINES | OPT_FOLLOW | OPT_RESTART, 1 },
	{ "events",		CTL_EVENTS,		NAMES_NONE,
	    OPT_LINES | OPT_FOLLOW, 1 },
	{ "shutdown",		CTL_SHUTDOWN,		NAMES_NONE,
	    OPT_KEEP, 0 },
	{ "version",		CTL_VERSION_CMD,	NAMES_NONE,	0, 0 },
};

struct option_token {
	const char	*name;
	int		 opt;
	int		 hasarg;
};

static const struct option_token options[] = {
	{ "--no-wait",		OPT_NOWAIT,	0 },
	{ "--timeout",		OPT_TIMEOUT,	1 },
	{ "--force",		OPT_FORCE,	0 },
	{ "--keep-services",	OPT_KEEP,	0 },
	{ "--action",		OPT_ACTION,	1 },
	{ "--lines",		OPT_LINES,	1 },
	{ "--follow",		OPT_FOLLOW,	0 },
	{ "--restart",		OPT_RESTART,	1 },
	{ "-a",			OPT_ACTION,	1 },
	{ "-n",			OPT_LINES,	1 },
	{ "-f",			OPT_FOLLOW,	0 },
	{ "-r",			OPT_RESTART,	1 },
	{ "-j",			OPT_JSON,	0 },
};

#define TIMEOUT_MAX	(7 * 24 * 3600)		/* --timeout, seconds */
#define LINES_MAX	10000000		/* -n */

static const struct command	*match_command(const char *);
static const struct option_token *match_option(const char *, size_t);
static void	 parse_option(const struct command *, struct parse_result *,
		    const struct option_token *, const char *);
static void	 usage_error(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));

static void
usage_error(const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	warnx("%s", msg);
	usage_msg(msg);
}

/* An exact match wins; otherwise a prefix of exactly one command. */
static const struct command *
match_command(const char *word)
{
	const struct command	*found = NULL;
	size_t			 i, len;
	int			 n = 0;

	len = strlen(word);
	if (len == 0)
		return (NULL);
	for (i = 0; i < nitems(commands); i++) {
		if (strcmp(commands[i].name, word) == 0)
			return (&commands[i]);
		if (strncmp(commands[i].name, word, len) == 0) {
			found = &commands[i];
			n++;
		}
	}
	if (n > 1)
		usage_error("ambiguous command: %s", word);
	return (found);
}

/*
 * Short options match exactly; a long one ("--x") may be abbreviated as
 * long as the abbreviation names one option.  len is the length of the
 * option word without any "=value".
 */
static const struct option_token *
match_option(const char *word, size_t len)
{
	const struct option_token	*found = NULL;
	size_t				 i;
	int				 n = 0;

	for (i = 0; i < nitems(options); i++) {
		if (strlen(options[i].name) == len &&
		    strncmp(options[i].name, word, len) == 0)
			return (&options[i]);
		if (len > 2 && word[1] == '-' &&
		    strncmp(options[i].name, word, len) == 0) {
			found = &options[i];
			n++;
		}
	}
	if (n > 1)
		usage_error("ambiguous option: %.*s", (int)len, word);
	return (found);
}

static void
parse_option(const struct command *c, struct parse_result *res,
    const struct option_token *o, const char *arg)
{
	const char	*errstr;
	long long	 v;

	if (o->opt != OPT_JSON && (c->opts & o->opt) == 0)
		usage_error("%s: option not valid for %s", o->name, c->name);

	switch (o->opt) {
	case OPT_JSON:
		res->json = 1;
		break;
	case OPT_NOWAIT:
		res->flags |= CTLF_NOWAIT;
		break;
	case OPT_FORCE:
		res->flags |= CTLF_FORCE;
		break;
	case OPT_KEEP:
		res->flags |= CTLF_KEEP;
		break;
	case OPT_FOLLOW:
		res->flags |= CTLF_FOLLOW;
		break;
	case OPT_TIMEOUT:
		v = strtonum(arg, 1, TIMEOUT_MAX, &errstr);
		if (errstr != NULL)
			usage_error("%s %s: seconds are %s", o->name, arg,
			    errstr);
		res->timeout_s = (uint32_t)v;
		break;
	case OPT_LINES:
		v = strtonum(arg, 1, LINES_MAX, &errstr);
		if (errstr != NULL)
			usage_error("%s %s: line count is %s", o->name, arg,
			    errstr);
		res->lines = (uint32_t)v;
		break;
	case OPT_RESTART:
		v = strtonum(arg, 0, INT32_MAX, &errstr);
		if (errstr != NULL)
			usage_error("%s %s: restart count is %s", o->name, arg,
			    errstr);
		res->restart = (int32_t)v;
		break;
	case OPT_ACTION:
		if (!config_valid_name(arg))
			usage_error("invalid action name: %s", arg);
		if (strlcpy(res->action, arg, sizeof(res->action)) >=
		    sizeof(res->action))
			usage_error("action name too long: %s", arg);
		break;
	}
}

/*
 * argv[0] is the command word.  Fills res or exits with status 2.
 */
void
parse(int argc, char *argv[], struct parse_result *res)
{
	const struct command		*c;
	const struct option_token	*o;
	const char			*word, *arg, *eq;
	size_t				 len;
	int				 i, endopts = 0;

	if (argc < 1)
		usage_error("missing command");
	if ((c = match_command(argv[0])) == NULL)
		usage_error("unknown command: %s", argv[0]);

	res->cmd = c->cmd;
	res->cmdname = c->name;
	res->stream = c->stream;
	res->restart = -1;
	res->names = reallocarray(NULL, argc, sizeof(*res->names));
	if (res->names == NULL)
		err(1, NULL);
	res->nnames = 0;
	res->nameslen = 0;

	for (i = 1; i < argc; i++) {
		word = argv[i];
		if (!endopts && strcmp(word, "--") == 0) {
			endopts = 1;
			continue;
		}
		if (!endopts && word[0] == '-' && word[1] != '\0') {
			arg = NULL;
			len = strlen(word);
			if (word[1] == '-' &&
			    (eq = strchr(word, '=')) != NULL) {
				/* --timeout=10 */
				len = eq - word;
				arg = eq + 1;
			} else if (word[1] != '-' && len > 2) {
				/* -n10 */
				len = 2;
				arg = word + 2;
			}
			if ((o = match_option(word, len)) == NULL)
				usage_error("unknown option: %s", word);
			if (o->hasarg && arg == NULL) {
				if (i + 1 >= argc)
					usage_error("%s needs an argument",
					    o->name);
				arg = argv[++i];
			} else if (!o->hasarg && arg != NULL)
				usage_error("%s takes no argument", o->name);
			parse_option(c, res, o, arg);
			continue;
		}
		if (!config_valid_name(word))
			usage_error("invalid service name: %s", word);
		len = strlen(word) + 1;
		if (res->nameslen + len > CTL_MAX_NAMES_LEN)
			usage_error("too many service names");
		res->names[res->nnames++] = argv[i];
		res->nameslen += len;
	}

	switch (c->names) {
	case NAMES_NONE:
		if (res->nnames != 0)
			usage_error("%s takes no service name", c->name);
		break;
	case NAMES_ONE:
		if (res->nnames != 1)
			usage_error("%s needs exactly one service name",
			    c->name);
		break;
	case NAMES_SOME:
		if (res->nnames == 0)
			usage_error("%s needs at least one service name",
			    c->name);
		break;
	case NAMES_ANY:
		break;
	}
}
