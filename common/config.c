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
 * Service files (herod.service(5)).
 *
 * A file is read in two passes.  The first runs the yajl event parser
 * without building anything: it finds syntax errors with their line and
 * column, strings holding a NUL byte and absurd nesting.  The second
 * builds a yajl tree and walks it against the schema, collecting as many
 * errors as it can, each naming the file and the key path.  Checks that
 * look across a service (action "after", probe coverage) run once the
 * whole file is read; checks across services are in config_check_set().
 */
#include <sys/param.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "config.h"

#ifndef nitems
#define nitems(_a)	(sizeof((_a)) / sizeof((_a)[0]))
#endif

#define CONFIG_MAX_DEPTH	32
#define EXPAND_MAX		4096
#define PATH_BUF		256
#define KEY_SHOWN		64

/* Dummy values used to check strings that are expanded at spawn. */
#define CHECK_SOCKDIR		"/run/herod/sockets/"

struct ctx {
	const char		*fname;
	struct config_errors	*errs;
	size_t			 nerr;		/* in this file */
	const char		*svcname;	/* for expansion checks */
};

struct keyidx {
	const char		*key;
	size_t			 i;
};

/* In the order of the documentation; policy_vals maps to the enum. */
static const char *policy_names[] = { "always", "on-failure", "never" };
static const enum restart_policy policy_vals[] = { RESTART_ALWAYS,
    RESTART_ON_FAILURE, RESTART_NEVER };
static const char *ready_names[] = { "none", "file", "notify", "fd",
    "probe" };
static const char *kind_names[] = { "process", "oneshot" };
static const char *probe_kinds[] = { "tcp", "http", "jsonrpc", "exec" };
static const char *onfail_names[] = { "restart", "warn" };
static const char *transport_names[] = { "line", "http" };

static const struct {
	const char	*name;
	int		 resource;
	uint64_t	 max;
} rlimit_names[] = {
	{ "as",		RLIMIT_AS,		UINT64_MAX },
	{ "core",	RLIMIT_CORE,		UINT64_MAX },
	{ "cpu",	RLIMIT_CPU,		UINT64_MAX },
	{ "data",	RLIMIT_DATA,		UINT64_MAX },
	{ "fsize",	RLIMIT_FSIZE,		UINT64_MAX },
	{ "locks",	RLIMIT_LOCKS,		UINT64_MAX },
	{ "memlock",	RLIMIT_MEMLOCK,		UINT64_MAX },
	{ "msgqueue",	RLIMIT_MSGQUEUE,	UINT64_MAX },
	{ "nice",	RLIMIT_NICE,		40 },
	{ "nofile",	RLIMIT_NOFILE,		UINT64_MAX },
	{ "nproc",	RLIMIT_NPROC,		UINT64_MAX },
	{ "rss",	RLIMIT_RSS,		UINT64_MAX },
	{ "rtprio",	RLIMIT_RTPRIO,		99 },
	{ "rttime",	RLIMIT_RTTIME,		UINT64_MAX },
	{ "sigpending",	RLIMIT_SIGPENDING,	UINT64_MAX },
	{ "stack",	RLIMIT_STACK,		UINT64_MAX },
};

static const struct {
	const char	*name;
	int		 signo;
} signal_names[] = {
	{ "HUP",	SIGHUP },
	{ "INT",	SIGINT },
	{ "QUIT",	SIGQUIT },
	{ "ILL",	SIGILL },
	{ "TRAP",	SIGTRAP },
	{ "ABRT",	SIGABRT },
	{ "BUS",	SIGBUS },
	{ "FPE",	SIGFPE },
	{ "KILL",	SIGKILL },
	{ "USR1",	SIGUSR1 },
	{ "SEGV",	SIGSEGV },
	{ "USR2",	SIGUSR2 },
	{ "PIPE",	SIGPIPE },
	{ "ALRM",	SIGALRM },
	{ "TERM",	SIGTERM },
#ifdef SIGSTKFLT
	{ "STKFLT",	SIGSTKFLT },
#endif
	{ "CHLD",	SIGCHLD },
	{ "CONT",	SIGCONT },
	{ "STOP",	SIGSTOP },
	{ "TSTP",	SIGTSTP },
	{ "TTIN",	SIGTTIN },
	{ "TTOU",	SIGTTOU },
	{ "URG",	SIGURG },
	{ "XCPU",	SIGXCPU },
	{ "XFSZ",	SIGXFSZ },
	{ "VTALRM",	SIGVTALRM },
	{ "PROF",	SIGPROF },
	{ "WINCH",	SIGWINCH },
	{ "IO",		SIGIO },
	{ "PWR",	SIGPWR },
	{ "SYS",	SIGSYS },
	/* aliases, only for reading */
	{ "IOT",	SIGABRT },
	{ "POLL",	SIGIO },
	{ "CLD",	SIGCHLD },
};

static void	 perr(struct ctx *, const char *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/*
 * Errors.
 */

void
config_errors_add(struct config_errors *errs, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	if (errs->n >= CONFIG_MAX_ERRORS) {
		errs->dropped++;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1) {
		va_end(ap);
		errs->dropped++;
		return;
	}
	va_end(ap);
	errs->msg[errs->n++] = s;
}

void
config_errors_clear(struct config_errors *errs)
{
	size_t	 i;

	for (i = 0; i < errs->n; i++) {
		free(errs->msg[i]);
		errs->msg[i] = NULL;
	}
	errs->n = 0;
	errs->dropped = 0;
}

static void
perr(struct ctx *c, const char *path, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->nerr++;
	if (path == NULL || *path == '\0')
		config_errors_add(c->errs, "%s: %s", c->fname, msg);
	else
		config_errors_add(c->errs, "%s: %s: %s", c->fname, path, msg);
}

/*
 * Copy s for an error message: control characters are escaped so that
 * one error stays one line, and long strings are cut.
 */
static const char *
shown(const char *s, char *buf, size_t len)
{
	size_t	 o = 0, n = 0;

	for (; *s != '\0' && o + 8 < len; s++, n++) {
		if (n == KEY_SHOWN) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			snprintf(buf + o, len - o, "\\x%02x",
			    (unsigned char)*s);
			o += 4;
		} else
			buf[o++] = *s;
	}
	buf[o] = '\0';
	return buf;
}

static void
path_key(char *buf, const char *parent, const char *key)
{
	char	 k[KEY_SHOWN * 4 + 8];

	shown(key, k, sizeof(k));
	buf[0] = '\0';
	if (parent != NULL && *parent != '\0') {
		strlcpy(buf, parent, PATH_BUF);
		strlcat(buf, ".", PATH_BUF);
	}
	strlcat(buf, k, PATH_BUF);
}

static void
path_idx(char *buf, const char *parent, size_t i)
{
	char	 idx[32];

	snprintf(idx, sizeof(idx), "[%zu]", i);
	strlcpy(buf, parent, PATH_BUF);
	strlcat(buf, idx, PATH_BUF);
}

/*
 * Names, signals, expansion.
 */

int
config_valid_name(const char *s)
{
	size_t	 i;

	if (s == NULL)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= NAME_MAXLEN)
			return 0;
		if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-')
			continue;
		return 0;
	}
	return 1;
}

static int
valid_envname(const char *s)
{
	size_t	 i;

	if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return 0;
	return 1;
}

int
config_signal_byname(const char *s)
{
	const char	*errstr;
	long long	 n;
	size_t		 i;
	int		 base;

	if (s == NULL || *s == '\0')
		return -1;
	if (isdigit((unsigned char)s[0])) {
		n = strtonum(s, 1, SIGRTMAX, &errstr);
		if (errstr != NULL)
			return -1;
		return (int)n;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < nitems(signal_names); i++)
		if (strcasecmp(s, signal_names[i].name) == 0)
			return signal_names[i].signo;
	if (strncasecmp(s, "RTMIN", 5) == 0 ||
	    strncasecmp(s, "RTMAX", 5) == 0) {
		base = (toupper((unsigned char)s[3]) == 'I') ? SIGRTMIN :
		    SIGRTMAX;
		if (s[5] == '\0')
			return base;
		if ((base == SIGRTMIN && s[5] != '+') ||
		    (base == SIGRTMAX && s[5] != '-'))
			return -1;
		n = strtonum(s + 6, 1, SIGRTMAX - SIGRTMIN, &errstr);
		if (errstr != NULL)
			return -1;
		return base == SIGRTMIN ? SIGRTMIN + (int)n : SIGRTMAX - (int)n;
	}
	return -1;
}

const char *
config_signal_name(int signo)
{
	static char	 buf[16];
	size_t		 i;

	for (i = 0; i < nitems(signal_names); i++)
		if (signal_names[i].signo == signo)
			return signal_names[i].name;
	if (signo == SIGRTMIN)
		return "RTMIN";
	if (signo == SIGRTMAX)
		return "RTMAX";
	if (signo > SIGRTMIN && signo < SIGRTMAX)
		snprintf(buf, sizeof(buf), "RTMIN+%d", signo - SIGRTMIN);
	else
		snprintf(buf, sizeof(buf), "%d", signo);
	return buf;
}

const char *
config_ready_mode_name(enum ready_mode m)
{
	if ((size_t)m >= nitems(ready_names))
		return "unknown";
	return ready_names[m];
}

const char *
config_kind_name(enum action_kind k)
{
	if ((size_t)k >= nitems(kind_names))
		return "unknown";
	return kind_names[k];
}

static int
buf_add(char *buf, size_t *o, const char *s, size_t len)
{
	if (*o + len >= EXPAND_MAX)
		return -1;
	memcpy(buf + *o, s, len);
	*o += len;
	return 0;
}

char *
config_expand(const char *s, const char *sockdir, const char *service,
    const char *action)
{
	static const char	*vars[] = { "HERO_SOCKET_DIR", "HERO_SERVICE",
				    "HERO_ACTION" };
	const char		*vals[3] = { sockdir, service, action };
	const char		*p, *name, *end;
	char			*buf, *ret;
	size_t			 o = 0, nlen, i, skip;
	int			 braces;

	if ((buf = malloc(EXPAND_MAX)) == NULL)
		return NULL;
	for (p = s; *p != '\0'; ) {
		if (*p != '$') {
			if (buf_add(buf, &o, p, 1) == -1)
				goto toolong;
			p++;
			continue;
		}
		braces = (p[1] == '{');
		name = p + 1 + braces;
		for (end = name; isalnum((unsigned char)*end) || *end == '_';
		    end++)
			;
		nlen = end - name;
		skip = 1 + braces + nlen + braces;
		if (braces && *end != '}')
			nlen = 0;	/* not a ${NAME}: keep as is */
		for (i = 0; i < nitems(vars) && nlen > 0; i++) {
			if (vals[i] == NULL || strlen(vars[i]) != nlen ||
			    strncmp(name, vars[i], nlen) != 0)
				continue;
			if (buf_add(buf, &o, vals[i], strlen(vals[i])) == -1)
				goto toolong;
			p += skip;
			break;
		}
		if (nlen == 0 || i == nitems(vars)) {
			if (buf_add(buf, &o, p, 1) == -1)
				goto toolong;
			p++;
		}
	}
	buf[o] = '\0';
	ret = strdup(buf);
	free(buf);
	return ret;
 toolong:
	free(buf);
	errno = ENAMETOOLONG;
	return NULL;
}

/* Expand s as it would be at spawn, with placeholder values. */
static char *
check_expand(struct ctx *c, const char *s, const char *action)
{
	char	 sockdir[PATH_BUF];

	snprintf(sockdir, sizeof(sockdir), "%s%s", CHECK_SOCKDIR,
	    c->svcname != NULL ? c->svcname : "service");
	return config_expand(s, sockdir, c->svcname != NULL ? c->svcname :
	    "service", action != NULL ? action : "action");
}

/*
 * Scalars.
 */

static int
get_string(struct ctx *c, const char *path, yajl_val v, int nonempty,
    char **out)
{
	if (!YAJL_IS_STRING(v)) {
		perr(c, path, "expected a string");
		return -1;
	}
	if (nonempty && *v->u.string == '\0') {
		perr(c, path, "must not be empty");
		return -1;
	}
	if (out == NULL)
		return 0;
	free(*out);
	if ((*out = strdup(v->u.string)) == NULL) {
		perr(c, path, "out of memory");
		return -1;
	}
	return 0;
}

static int
get_bool(struct ctx *c, const char *path, yajl_val v, int *out)
{
	if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
		perr(c, path, "expected true or false");
		return -1;
	}
	*out = YAJL_IS_TRUE(v);
	return 0;
}

/* A JSON integer in [lo, hi], read from its text so nothing is rounded. */
static int
get_uint(struct ctx *c, const char *path, yajl_val v, uint64_t lo,
    uint64_t hi, uint64_t *out)
{
	const char	*p;
	uint64_t	 n = 0;
	int		 neg = 0, over = 0, d;

	if (!YAJL_IS_NUMBER(v) || v->u.number.r == NULL)
		goto notint;
	p = v->u.number.r;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (*p == '\0')
		goto notint;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			goto notint;
		d = *p - '0';
		if (n > (UINT64_MAX - d) / 10)
			over = 1;
		else
			n = n * 10 + d;
	}
	if (!over && (!neg || n == 0) && n >= lo && n <= hi) {
		*out = n;
		return 0;
	}
	perr(c, path, "expected an integer between %llu and %llu",
	    (unsigned long long)lo, (unsigned long long)hi);
	return -1;
 notint:
	perr(c, path, "expected an integer");
	return -1;
}

static int
get_u32(struct ctx *c, const char *path, yajl_val v, uint32_t lo,
    uint32_t hi, uint32_t *out)
{
	uint64_t	 n;

	if (get_uint(c, path, v, lo, hi, &n) == -1)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static int
get_enum(struct ctx *c, const char *path, yajl_val v, const char **names,
    size_t n, int *out)
{
	char	 list[256];
	size_t	 i;

	if (YAJL_IS_STRING(v)) {
		for (i = 0; i < n; i++) {
			if (strcmp(v->u.string, names[i]) == 0) {
				*out = (int)i;
				return 0;
			}
		}
	}
	list[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			strlcat(list, ", ", sizeof(list));
		strlcat(list, names[i], sizeof(list));
	}
	perr(c, path, "expected one of %s", list);
	return -1;
}

static int
get_abspath(struct ctx *c, const char *path, yajl_val v, char **out)
{
	if (get_string(c, path, v, 1, NULL) == -1)
		return -1;
	if (v->u.string[0] != '/') {
		perr(c, path, "expected an absolute path");
		return -1;
	}
	if (strlen(v->u.string) >= PATH_MAX) {
		perr(c, path, "path too long");
		return -1;
	}
	return get_string(c, path, v, 1, out);
}

static int
get_name(struct ctx *c, const char *path, yajl_val v, char *out)
{
	char	 b[KEY_SHOWN * 4 + 8];

	if (get_string(c, path, v, 0, NULL) == -1)
		return -1;
	if (!config_valid_name(v->u.string)) {
		perr(c, path, "invalid name \"%s\" (expected "
		    "[a-z0-9][a-z0-9_.-]{0,63})",
		    shown(v->u.string, b, sizeof(b)));
		return -1;
	}
	strlcpy(out, v->u.string, NAME_MAXLEN + 1);
	return 0;
}

/* user and group: a name or a number, as getpwnam(3)/getgrnam(3) want. */
static int
get_ident(struct ctx *c, const char *path, yajl_val v, char **out)
{
	const char	*s;

	if (get_string(c, path, v, 1, NULL) == -1)
		return -1;
	s = v->u.string;
	if (strlen(s) >= 256 || s[0] == '-' ||
	    strpbrk(s, ":/ \t\n\r\v\f") != NULL) {
		perr(c, path, "invalid user or group name");
		return -1;
	}
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			perr(c, path, "invalid user or group name");
			return -1;
		}
	}
	return get_string(c, path, v, 1, out);
}

/*
 * Objects and arrays.
 */

static int
keyidx_cmp(const void *a, const void *b)
{
	const struct keyidx	*ka = a, *kb = b;
	int			 r;

	if ((r = strcmp(ka->key, kb->key)) != 0)
		return r;
	return ka->i < kb->i ? -1 : ka->i > kb->i;
}

/*
 * Start walking an object: check its type and report duplicate keys.
 * Returns the number of keys and in *skip a flag per key (1 for a
 * repeated key, which the caller ignores), or -1 after an error.
 */
static ssize_t
obj_open(struct ctx *c, const char *path, yajl_val v, char **skip)
{
	struct keyidx	*ki;
	char		 p[PATH_BUF];
	size_t		 n, i;

	*skip = NULL;
	if (!YAJL_IS_OBJECT(v)) {
		perr(c, path, "expected an object");
		return -1;
	}
	n = v->u.object.len;
	if (n == 0)
		return 0;
	if ((*skip = calloc(n, 1)) == NULL ||
	    (ki = calloc(n, sizeof(*ki))) == NULL) {
		free(*skip);
		*skip = NULL;
		perr(c, path, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		ki[i].key = v->u.object.keys[i];
		ki[i].i = i;
	}
	qsort(ki, n, sizeof(*ki), keyidx_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(ki[i].key, ki[i - 1].key) == 0)
			(*skip)[ki[i].i] = 1;
	free(ki);
	for (i = 0; i < n; i++) {
		if ((*skip)[i]) {
			path_key(p, path, v->u.object.keys[i]);
			perr(c, p, "duplicate key");
		}
	}
	return (ssize_t)n;
}

/* The value of key in object o (its first occurrence), or NULL. */
static yajl_val
obj_get(yajl_val o, const char *key)
{
	size_t	 i;

	if (!YAJL_IS_OBJECT(o))
		return NULL;
	for (i = 0; i < o->u.object.len; i++)
		if (strcmp(o->u.object.keys[i], key) == 0)
			return o->u.object.values[i];
	return NULL;
}

static void
strlist_free(struct strlist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

#define SL_NONEMPTY	0x01	/* at least one element */
#define SL_NAMES	0x02	/* elements are names */
#define SL_STRINGS	0x04	/* elements are non-empty strings */
#define SL_UNIQUE	0x08	/* no element twice */
#define SL_ARGV		0x10	/* strings; only the first must not be empty */

/*
 * An array of strings.  Elements with errors are left out, so the
 * caller only sees valid ones; the return value says if there was any.
 */
static int
get_strlist(struct ctx *c, const char *path, yajl_val v, int flags,
    struct strlist *l)
{
	char		 p[PATH_BUF], b[KEY_SHOWN * 4 + 8];
	char		 name[NAME_MAXLEN + 1];
	struct keyidx	*ki;
	yajl_val	 e;
	size_t		 i, j, n;
	int		 bad = 0;

	strlist_free(l);
	if (!YAJL_IS_ARRAY(v)) {
		perr(c, path, "expected an array");
		return -1;
	}
	n = v->u.array.len;
	if (n == 0 && (flags & SL_NONEMPTY)) {
		perr(c, path, "must not be empty");
		return -1;
	}
	if (n == 0)
		return 0;
	if ((l->v = calloc(n + 1, sizeof(char *))) == NULL) {
		perr(c, path, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		e = v->u.array.values[i];
		path_idx(p, path, i);
		if (flags & SL_NAMES) {
			if (get_name(c, p, e, name) == -1) {
				bad = 1;
				continue;
			}
		} else if (get_string(c, p, e, (flags & SL_STRINGS) ||
		    ((flags & SL_ARGV) && i == 0), NULL) == -1) {
			bad = 1;
			continue;
		}
		if ((l->v[l->n] = strdup(e->u.string)) == NULL) {
			perr(c, p, "out of memory");
			return -1;
		}
		l->n++;
	}
	if (!(flags & SL_UNIQUE) || l->n < 2)
		return bad ? -1 : 0;
	if ((ki = calloc(l->n, sizeof(*ki))) == NULL) {
		perr(c, path, "out of memory");
		return -1;
	}
	for (i = 0; i < l->n; i++) {
		ki[i].key = l->v[i];
		ki[i].i = i;
	}
	qsort(ki, l->n, sizeof(*ki), keyidx_cmp);
	for (j = 1; j < l->n; j++) {
		if (strcmp(ki[j].key, ki[j - 1].key) != 0)
			continue;
		/* report with the index in the file when nothing was lost */
		if (l->n == n)
			path_idx(p, path, ki[j].i);
		else
			snprintf(p, sizeof(p), "%s", path);
		perr(c, p, "\"%s\" is listed twice",
		    shown(ki[j].key, b, sizeof(b)));
		bad = 1;
	}
	free(ki);
	return bad ? -1 : 0;
}

/*
 * exec[0] must be an absolute path or a bare command name once
 * expanded.  Works on the JSON array, so that it still runs when
 * another element had an error.
 */
static void
check_exec(struct ctx *c, const char *path, yajl_val v, const char *action)
{
	char		 p[PATH_BUF];
	char		*x;
	yajl_val	 e;
	size_t		 i;

	if (!YAJL_IS_ARRAY(v))
		return;
	for (i = 0; i < v->u.array.len; i++) {
		e = v->u.array.values[i];
		if (!YAJL_IS_STRING(e) || *e->u.string == '\0')
			continue;	/* reported */
		path_idx(p, path, i);
		if ((x = check_expand(c, e->u.string, action)) == NULL) {
			perr(c, p, "too long after expansion");
			continue;
		}
		if (i == 0 && x[0] != '/' && strchr(x, '/') != NULL)
			perr(c, p, "expected an absolute path or a command "
			    "name without '/'");
		free(x);
	}
}

/* A unix socket path: absolute once expanded, short enough if literal. */
static int
check_sockpath(struct ctx *c, const char *path, const char *s,
    const char *action)
{
	struct sockaddr_un	 sun;
	char			*x;
	int			 ret = 0;

	if ((x = check_expand(c, s, action)) == NULL) {
		perr(c, path, "too long after expansion");
		return -1;
	}
	if (x[0] != '/') {
		perr(c, path, "expected an absolute path "
		    "(or one starting with $HERO_SOCKET_DIR)");
		ret = -1;
	} else if (strchr(s, '$') == NULL &&
	    strlen(s) >= sizeof(sun.sun_path)) {
		perr(c, path, "socket path longer than %zu bytes",
		    sizeof(sun.sun_path) - 1);
		ret = -1;
	}
	free(x);
	return ret;
}

/*
 * Actions.
 */

static void
parse_restart(struct ctx *c, const char *path, yajl_val v,
    struct action_conf *a)
{
	char		 p[PATH_BUF], *skip;
	ssize_t		 n, i;
	const char	*k;
	yajl_val	 e;
	int		 x, max_given = 0;

	if ((n = obj_open(c, path, v, &skip)) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (skip[i])
			continue;
		k = v->u.object.keys[i];
		e = v->u.object.values[i];
		path_key(p, path, k);
		if (strcmp(k, "policy") == 0) {
			if (get_enum(c, p, e, policy_names,
			    nitems(policy_names), &x) == 0)
				a->restart_policy = policy_vals[x];
		} else if (strcmp(k, "delay_ms") == 0)
			get_u32(c, p, e, 0, UINT32_MAX, &a->restart_delay_ms);
		else if (strcmp(k, "max_delay_ms") == 0) {
			if (get_u32(c, p, e, 1, UINT32_MAX,
			    &a->restart_max_delay_ms) == 0)
				max_given = 1;
		} else if (strcmp(k, "max_restarts") == 0)
			get_u32(c, p, e, 0, UINT32_MAX, &a->restart_max);
		else if (strcmp(k, "window_s") == 0)
			get_u32(c, p, e, 1, UINT32_MAX, &a->restart_window_s);
		else
			perr(c, p, "unknown key");
	}
	free(skip);
	if (a->restart_max_delay_ms < a->restart_delay_ms) {
		if (max_given) {
			path_key(p, path, "max_delay_ms");
			perr(c, p, "must not be less than delay_ms (%u)",
			    a->restart_delay_ms);
		} else {
			/* only delay_ms given: the cap follows it */
			a->restart_max_delay_ms = a->restart_delay_ms;
		}
	}
}

static void
parse_stop(struct ctx *c, const char *path, yajl_val v, struct action_conf *a)
{
	char		 p[PATH_BUF], b[KEY_SHOWN * 4 + 8], *skip;
	ssize_t		 n, i;
	const char	*k;
	yajl_val	 e;
	uint64_t	 u;
	int		 sig;

	if ((n = obj_open(c, path, v, &skip)) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (skip[i])
			continue;
		k = v->u.object.keys[i];
		e = v->u.object.values[i];
		path_key(p, path, k);
		if (strcmp(k, "signal") == 0) {
			if (YAJL_IS_NUMBER(e)) {
				if (get_uint(c, p, e, 1, SIGRTMAX, &u) == 0)
					a->stop_signal = (int)u;
			} else if (!YAJL_IS_STRING(e))
				perr(c, p, "expected a signal name or number");
			else if ((sig = config_signal_byname(
			    e->u.string)) == -1)
				perr(c, p, "unknown signal \"%s\"",
				    shown(e->u.string, b, sizeof(b)));
			else
				a->stop_signal = sig;
		} else if (strcmp(k, "timeout_ms") == 0)
			get_u32(c, p, e, 0, UINT32_MAX, &a->stop_timeout_ms);
		else
			perr(c, p, "unknown key");
	}
	free(skip);
}

/* Returns 1 if "watchdog_ms" was given. */
static int
parse_ready(struct ctx *c, const char *path, yajl_val v,
    struct action_conf *a)
{
	char		 p[PATH_BUF], *skip;
	ssize_t		 n, i;
	const char	*k;
	yajl_val	 e;
	uint32_t	 u;
	int		 x, wd = 0;

	if ((n = obj_open(c, path, v, &skip)) == -1)
		return 0;
	for (i = 0; i < n; i++) {
		if (skip[i])
			continue;
		k = v->u.object.keys[i];
		e = v->u.object.values[i];
		path_key(p, path, k);
		if (strcmp(k, "mode") == 0) {
			if (get_enum(c, p, e, ready_names,
			    nitems(ready_names), &x) == 0) {
				a->ready_mode = x;
				a->ready_mode_set = 1;
			}
		} else if (strcmp(k, "timeout_ms") == 0)
			get_u32(c, p, e, 1, UINT32_MAX, &a->ready_timeout_ms);
		else if (strcmp(k, "fd") == 0) {
			if (get_u32(c, p, e, 3, 1023, &u) == 0)
				a->ready_fd = (int)u;
		} else if (strcmp(k, "watchdog_ms") == 0) {
			get_u32(c, p, e, 0, UINT32_MAX, &a->watchdog_ms);
			wd = 1;
		} else if (strcmp(k, "settle_ms") == 0) {
			get_u32(c, p, e, 0, 3600000, &a->settle_ms);
			a->settle_set = 1;
		} else
			perr(c, p, "unknown key");
	}
	free(skip);
	return wd;
}

static void
parse_env(struct ctx *c, const char *path, yajl_val v, struct action_conf *a)
{
	char		 p[PATH_BUF], *skip, *x;
	ssize_t		 n, i;
	const char	*k;
	yajl_val	 e;

	if ((n = obj_open(c, path, v, &skip)) == -1)
		return;
	if (n > 0 && (a->env = calloc(n, sizeof(*a->env))) == NULL) {
		perr(c, path, "out of memory");
		free(skip);
		return;
	}
	for (i = 0; i < n; i++) {
		if (skip[i])
			continue;
		k = v->u.object.keys[i];
		e = v->u.object.values[i];
		path_key(p, path, k);
		if (!valid_envname(k)) {
			perr(c, p, "invalid environment variable name");
			continue;
		}
		if (strncmp(k, "HERO_", 5) == 0 ||
		    strcmp(k, "NOTIFY_SOCKET") == 0) {
			perr(c, p, "reserved: set by herod");
			continue;
		}
		if (get_string(c, p, e, 0, NULL) == -1)
			continue;
		if ((x = check_expand(c, e->u.string, a->name)) == NULL) {
			perr(c, p, "too long after expansion");
			continue;
		}
		free(x);
		a->env[a->nenv].key = strdup(k);
		a->env[a->nenv].val = strdup(e->u.string);
		if (a->env[a->nenv].key == NULL ||
		    a->env[a->nenv].val == NULL) {
			free(a->env[a->nenv].key);
			free(a->env[a->nenv].val);
			perr(c, p, "out of memory");
			continue;
		}
		a->nenv++;
	}
	free(skip);
}

static void
parse_rlimits(struct ctx *c, const char *path, yajl_val v,
    struct action_conf *a)
{
	char		 p[PATH_BUF], *skip;
	ssize_t		 n, i;
	size_t		 j;
	const char	*k;
	yajl_val	 e;
	uint64_t	 u;

	if ((n = obj_open(c, path, v, &skip)) == -1)
		return;
	if (n > 0 && (a->rlimits = calloc(n, sizeof(*a->rlimits))) == NULL) {
		perr(c, path, "out of memory");
		free(skip);
		return;
	}
	for (i = 0; i < n; i++) {
		if (skip[i])
			continue;
		k = v->u.object.keys[i];
		e = v->u.object.values[i];
		path_key(p, path, k);
		for (j = 0; j < nitems(rlimit_names); j++)
			if (strcmp(k, rlimit_names[j].name) == 0)
				break;
		if (j == nitems(rlimit_names)) {
			perr(c, p, "unknown key");
			continue;
		}
		if (YAJL_IS_STRING(e)) {
			if (strcmp(e->u.string, "infinity") != 0 ||
			    rlimit_names[j].max != UINT64_MAX) {
				perr(c, p, "expected an integer or "
				    "\"infinity\"");
				continue;
			}
			u = RLIM_INFINITY;
		} else if (rlimit_names[j].max != UINT64_MAX) {
			if (get_uint(c, p, e, 0, rlimit_names[j].max, &u) == -1)
				continue;
		} else if (!YAJL_IS_NUMBER(e)) {
			perr(c, p, "expected an integer or \"infinity\"");
			continue;
		} else if (get_uint(c, p, e, 0, UINT64_MAX - 1, &u) == -1)
			continue;
		a->rlimits[a->nrlimits].resource = rlimit_names[j].resource;
		a->rlimits[a->nrlimits].value = u;
		a->nrlimits++;
	}
	free(skip);
}

static void
parse_umask(struct ctx *c, const char *path, yajl_val v,
    struct action_conf *a)
{
	const char	*s;
	size_t		 len, i;
	long		 m;

	if (get_string(c, path, v, 0, NULL) == -1)
		return;
	s = v->u.string;
	len = strlen(s);
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '7')
			break;
	if ((len != 3 && len != 4) || i != len ||
	    (m = strtol(s, NULL, 8)) > 0777) {
		perr(c, path, "expected 3 or 4 octal digits, at most 0777 "
		    "(e.g. \"022\")");
		return;
	}
	a->umask = (int)m;
}

static void
parse_ports(struct ctx *c, const char *path, yajl_val v,
    struct action_conf *a)
{
	char		 p[PATH_BUF];
	uint8_t		*seen;
	size_t		 i, n;
	uint64_t	 u;

	if (!YAJL_IS_ARRAY(v)) {
		perr(c, path, "expected an array");
		return;
	}
	if ((n = v->u.array.len) == 0)
		return;
	if ((seen = calloc(65536 / 8, 1)) == NULL ||
	    (a->tcp_ports = calloc(n, sizeof(*a->tcp_ports))) == NULL) {
		free(seen);
		perr(c, path, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		path_idx(p, path, i);
		if (get_uint(c, p, v->u.array.values[i], 1, 65535, &u) == -1)
			continue;
		if (seen[u / 8] & (1 << (u % 8))) {
			perr(c, p, "port %u is listed twice", (unsigned)u);
			continue;
		}
		seen[u / 8] |= 1 << (u % 8);
		a->tcp_ports[a->ntcp_ports++] = (uint16_t)u;
	}
	free(seen);
}

static void
action_defaults(struct action_conf *a)
{
	a->kind = KIND_PROCESS;
	a->umask = -1;
	a->restart_policy = RESTART_ON_FAILURE;
	a->restart_delay_ms = 100;
	a->restart_max_delay_ms = 30000;
	a->restart_max = 0;
	a->restart_window_s = 60;
	a->stop_signal = SIGTERM;
	a->stop_timeout_ms = 10000;
	a->ready_mode = READY_NONE;
	a->ready_timeout_ms = 30000;
	a->settle_ms = 1000;
	a->ready_fd = 3;
	a->watchdog_ms = 0;
}

/*
 * One action.  *wdp tells the caller whether ready.watchdog_ms was
 * given, to check it once the ready mode default is known.
 */
static void
parse_action(struct ctx *c, const char *path, yajl_val v,
    struct action_conf *a, int *wdp, int *namedp)
{
	char		 p[PATH_BUF], q[PATH_BUF], *skip;
	ssize_t		 n, i;
	size_t		 j;
	const char	*k;
	yajl_val	 e, exec = NULL, socks = NULL;
	int		 x;

	action_defaults(a);
	*wdp = 0;
	*namedp = 0;
	if ((n = obj_open(c, path, v, &skip)) == -1)
		return;
	/* the name first: expansion checks below use it */
	if ((e = obj_get(v, "name")) != NULL) {
		path_key(p, path, "name");
		if (get_name(c, p, e, a->name) == 0)
			*namedp = 1;
	} else {
		path_key(p, path, "name");
		perr(c, p, "missing (required)");
	}
	for (i = 0; i < n; i++) {
		if (skip[i])
			continue;
		k = v->u.object.keys[i];
		e = v->u.object.values[i];
		path_key(p, path, k);
		if (strcmp(k, "name") == 0)
			;	/* done above */
		else if (strcmp(k, "kind") == 0) {
			if (get_enum(c, p, e, kind_names, nitems(kind_names),
			    &x) == 0)
				a->kind = x;
		} else if (strcmp(k, "exec") == 0) {
			get_strlist(c, p, e, SL_NONEMPTY | SL_ARGV,
			    &a->exec);
			exec = e;
		} else if (strcmp(k, "user") == 0)
			get_ident(c, p, e, &a->user);
		else if (strcmp(k, "group") == 0)
			get_ident(c, p, e, &a->group);
		else if (strcmp(k, "workdir") == 0)
			get_abspath(c, p, e, &a->workdir);
		else if (strcmp(k, "env") == 0)
			parse_env(c, p, e, a);
		else if (strcmp(k, "umask") == 0)
			parse_umask(c, p, e, a);
		else if (strcmp(k, "rlimits") == 0)
			parse_rlimits(c, p, e, a);
		else if (strcmp(k, "after") == 0)
			get_strlist(c, p, e, SL_NAMES | SL_UNIQUE, &a->after);
		else if (strcmp(k, "restart") == 0)
			parse_restart(c, p, e, a);
		else if (strcmp(k, "stop") == 0)
			parse_stop(c, p, e, a);
		else if (strcmp(k, "singleton") == 0)
			get_bool(c, p, e, &a->singleton);
		else if (strcmp(k, "pidfile") == 0)
			get_abspath(c, p, e, &a->pidfile);
		else if (strcmp(k, "kill_others") == 0)
			get_bool(c, p, e, &a->kill_others);
		else if (strcmp(k, "sockets") == 0) {
			get_strlist(c, p, e, SL_STRINGS | SL_UNIQUE,
			    &a->sockets);
			socks = e;
		} else if (strcmp(k, "tcp_ports") == 0)
			parse_ports(c, p, e, a);
		else if (strcmp(k, "ready") == 0)
			*wdp = parse_ready(c, p, e, a);
		else
			perr(c, p, "unknown key");
	}
	free(skip);

	if (exec != NULL) {
		path_key(p, path, "exec");
		check_exec(c, p, exec, a->name);
	} else if (obj_get(v, "exec") == NULL) {
		path_key(p, path, "exec");
		perr(c, p, "missing (required)");
	}
	if (YAJL_IS_ARRAY(socks)) {
		path_key(p, path, "sockets");
		for (j = 0; j < socks->u.array.len; j++) {
			e = socks->u.array.values[j];
			if (!YAJL_IS_STRING(e) || *e->u.string == '\0')
				continue;	/* reported */
			path_idx(q, p, j);
			check_sockpath(c, q, e->u.string, a->name);
		}
	}
	if (a->kind == KIND_ONESHOT) {
		if (a->restart_policy == RESTART_ALWAYS) {
			path_key(p, path, "restart.policy");
			perr(c, p, "always is not allowed for a oneshot "
			    "action (use on-failure)");
		}
		if (a->ready_mode_set && a->ready_mode != READY_NONE) {
			path_key(p, path, "ready.mode");
			perr(c, p, "a oneshot action is ready when it exits "
			    "0: only none is allowed");
		}
	}
}

/*
 * Probes.
 */

static int
check_target(struct ctx *c, const char *path, const char *s)
{
	char		 host[256], a6[INET6_ADDRSTRLEN + 8];
	const char	*colon, *port, *errstr, *h;
	struct in6_addr	 in6;
	size_t		 len;

	if (strncmp(s, "unix:", 5) == 0)
		return check_sockpath(c, path, s + 5, NULL);
	if (s[0] == '[') {
		if ((colon = strchr(s, ']')) == NULL || colon[1] != ':')
			goto bad;
		len = colon - s - 1;
		if (len == 0 || len >= sizeof(a6))
			goto bad;
		memcpy(a6, s + 1, len);
		a6[len] = '\0';
		if (inet_pton(AF_INET6, a6, &in6) != 1) {
			perr(c, path, "invalid IPv6 address \"%s\"", a6);
			return -1;
		}
		port = colon + 2;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			goto bad;
		len = colon - s;
		if (len == 0 || len >= sizeof(host))
			goto bad;
		memcpy(host, s, len);
		host[len] = '\0';
		for (h = host; *h != '\0'; h++)
			if (!isalnum((unsigned char)*h) && *h != '.' &&
			    *h != '-' && *h != '_')
				goto bad;
		port = colon + 1;
	}
	strtonum(port, 1, 65535, &errstr);
	if (errstr != NULL || !isdigit((unsigned char)port[0])) {
		perr(c, path, "port must be between 1 and 65535");
		return -1;
	}
	return 0;
 bad:
	perr(c, path, "expected \"host:port\", \"[v6addr]:port\" or "
	    "\"unix:/path\"");
	return -1;
}

static void
parse_expect(struct ctx *c, const char *path, yajl_val v,
    struct probe_conf *pr)
{
	char		 p[PATH_BUF];
	uint64_t	 lo, hi;

	if (!YAJL_IS_ARRAY(v) || v->u.array.len != 2) {
		perr(c, path, "expected [lo, hi]");
		return;
	}
	path_idx(p, path, 0);
	if (get_uint(c, p, v->u.array.values[0], 100, 599, &lo) == -1)
		return;
	path_idx(p, path, 1);
	if (get_uint(c, p, v->u.array.values[1], lo, 599, &hi) == -1)
		return;
	pr->expect_lo = (int)lo;
	pr->expect_hi = (int)hi;
}

static void
probe_defaults(struct probe_conf *pr)
{
	pr->kind = PROBE_TCP;
	pr->expect_lo = 200;
	pr->expect_hi = 399;
	pr->transport = TRANSPORT_LINE;
	pr->keepalive = 1;
	pr->interval_ms = 5000;
	pr->timeout_ms = 1000;
	pr->grace_ms = 0;
	pr->failure_threshold = 3;
	pr->success_threshold = 1;
	pr->on_failure = ONFAIL_RESTART;
}

/* Which probe kinds a kind-specific key belongs to (bit per kind). */
static int
probe_key_kinds(const char *k)
{
	if (strcmp(k, "target") == 0)
		return 1 << PROBE_TCP | 1 << PROBE_HTTP | 1 << PROBE_JSONRPC;
	if (strcmp(k, "path") == 0 || strcmp(k, "keepalive") == 0)
		return 1 << PROBE_HTTP | 1 << PROBE_JSONRPC;
	if (strcmp(k, "expect_status") == 0)
		return 1 << PROBE_HTTP;
	if (strcmp(k, "method") == 0 || strcmp(k, "transport") == 0)
		return 1 << PROBE_JSONRPC;
	if (strcmp(k, "exec") == 0)
		return 1 << PROBE_EXEC;
	return 0;
}

static void
parse_probe(struct ctx *c, const char *path, yajl_val v,
    struct probe_conf *pr, int *namedp)
{
	char		 p[PATH_BUF], *skip;
	ssize_t		 n, i;
	const char	*k, *s;
	yajl_val	 e;
	int		 x, kind = -1, mask;

	probe_defaults(pr);
	*namedp = 0;
	if ((n = obj_open(c, path, v, &skip)) == -1)
		return;
	path_key(p, path, "name");
	if ((e = obj_get(v, "name")) == NULL)
		perr(c, p, "missing (required)");
	else if (get_name(c, p, e, pr->name) == 0)
		*namedp = 1;
	path_key(p, path, "kind");
	if ((e = obj_get(v, "kind")) == NULL)
		perr(c, p, "missing (required)");
	else if (get_enum(c, p, e, probe_kinds, nitems(probe_kinds),
	    &kind) == 0)
		pr->kind = kind;

	for (i = 0; i < n; i++) {
		if (skip[i])
			continue;
		k = v->u.object.keys[i];
		e = v->u.object.values[i];
		path_key(p, path, k);
		if ((mask = probe_key_kinds(k)) != 0 && kind != -1 &&
		    !(mask & (1 << kind))) {
			perr(c, p, "not allowed for kind %s",
			    probe_kinds[kind]);
			continue;
		}
		if (strcmp(k, "name") == 0 || strcmp(k, "kind") == 0)
			;	/* done above */
		else if (strcmp(k, "target") == 0) {
			if (get_string(c, p, e, 1, NULL) == 0 &&
			    check_target(c, p, e->u.string) == 0)
				get_string(c, p, e, 1, &pr->target);
		} else if (strcmp(k, "path") == 0) {
			if (get_string(c, p, e, 1, NULL) == -1)
				continue;
			for (s = e->u.string; *s != '\0'; s++)
				if ((unsigned char)*s <= 0x20 || *s == 0x7f)
					break;
			if (e->u.string[0] != '/' || *s != '\0')
				perr(c, p, "expected a path starting with '/' "
				    "without spaces");
			else
				get_string(c, p, e, 1, &pr->path);
		} else if (strcmp(k, "expect_status") == 0)
			parse_expect(c, p, e, pr);
		else if (strcmp(k, "method") == 0)
			get_string(c, p, e, 1, &pr->method);
		else if (strcmp(k, "transport") == 0) {
			if (get_enum(c, p, e, transport_names,
			    nitems(transport_names), &x) == 0)
				pr->transport = x;
		} else if (strcmp(k, "keepalive") == 0)
			get_bool(c, p, e, &pr->keepalive);
		else if (strcmp(k, "exec") == 0) {
			get_strlist(c, p, e, SL_NONEMPTY | SL_ARGV,
			    &pr->exec);
			check_exec(c, p, e, NULL);
		} else if (strcmp(k, "interval_ms") == 0)
			get_u32(c, p, e, 10, UINT32_MAX, &pr->interval_ms);
		else if (strcmp(k, "timeout_ms") == 0)
			get_u32(c, p, e, 1, UINT32_MAX, &pr->timeout_ms);
		else if (strcmp(k, "grace_ms") == 0)
			get_u32(c, p, e, 0, UINT32_MAX, &pr->grace_ms);
		else if (strcmp(k, "failure_threshold") == 0)
			get_u32(c, p, e, 1, UINT32_MAX,
			    &pr->failure_threshold);
		else if (strcmp(k, "success_threshold") == 0)
			get_u32(c, p, e, 1, UINT32_MAX,
			    &pr->success_threshold);
		else if (strcmp(k, "on_failure") == 0) {
			if (get_enum(c, p, e, onfail_names,
			    nitems(onfail_names), &x) == 0)
				pr->on_failure = x;
		} else if (strcmp(k, "actions") == 0)
			get_strlist(c, p, e, SL_NAMES | SL_UNIQUE,
			    &pr->actions);
		else
			perr(c, p, "unknown key");
	}
	free(skip);

	if (kind == -1)
		return;
	if (kind != PROBE_EXEC && obj_get(v, "target") == NULL) {
		path_key(p, path, "target");
		perr(c, p, "missing (required for kind %s)",
		    probe_kinds[kind]);
	}
	if (kind == PROBE_EXEC && obj_get(v, "exec") == NULL) {
		path_key(p, path, "exec");
		perr(c, p, "missing (required for kind exec)");
	}
	if (kind == PROBE_JSONRPC && pr->transport != TRANSPORT_HTTP &&
	    obj_get(v, "path") != NULL) {
		path_key(p, path, "path");
		perr(c, p, "only allowed with transport http");
	}
	if (kind == PROBE_JSONRPC && pr->transport != TRANSPORT_HTTP &&
	    obj_get(v, "keepalive") != NULL) {
		path_key(p, path, "keepalive");
		perr(c, p, "only allowed with transport http");
	}
	if (pr->path == NULL && (kind == PROBE_HTTP ||
	    (kind == PROBE_JSONRPC && pr->transport == TRANSPORT_HTTP)))
		pr->path = strdup(kind == PROBE_HTTP ? "/" : "/rpc");
	if (pr->method == NULL && kind == PROBE_JSONRPC)
		pr->method = strdup("rpc.ping");
}

/*
 * Cycles in a small graph given as adjacency lists of indices.  report()
 * gets each cycle found as a list of nodes, first node repeated last.
 */
struct graph {
	size_t		  n;
	size_t		**adj;
	size_t		 *nadj;
};

static int
find_cycles(const struct graph *g,
    void (*report)(void *, const size_t *, size_t), void *arg)
{
	uint8_t		*color;		/* 0, 1 on stack, 2 done */
	size_t		*stk, *edge, *cyc;
	size_t		 sp, s, v, w, i, k;
	int		 found = 0;

	color = calloc(g->n ? g->n : 1, 1);
	stk = calloc(g->n + 1, sizeof(*stk));
	edge = calloc(g->n + 1, sizeof(*edge));
	cyc = calloc(g->n + 2, sizeof(*cyc));
	if (color == NULL || stk == NULL || edge == NULL || cyc == NULL) {
		found = -1;
		goto done;
	}
	for (s = 0; s < g->n; s++) {
		if (color[s] != 0)
			continue;
		sp = 0;
		stk[sp] = s;
		edge[sp] = 0;
		color[s] = 1;
		for (;;) {
			v = stk[sp];
			if (edge[sp] == g->nadj[v]) {
				color[v] = 2;
				if (sp == 0)
					break;
				sp--;
				continue;
			}
			w = g->adj[v][edge[sp]++];
			if (color[w] == 0) {
				color[w] = 1;
				stk[++sp] = w;
				edge[sp] = 0;
			} else if (color[w] == 1) {
				for (i = 0; stk[i] != w; i++)
					;
				for (k = 0; i <= sp; i++)
					cyc[k++] = stk[i];
				cyc[k++] = w;
				report(arg, cyc, k);
				found = 1;
			}
		}
	}
 done:
	free(color);
	free(stk);
	free(edge);
	free(cyc);
	return found;
}

static void
graph_free(struct graph *g)
{
	size_t	 i;

	if (g->adj != NULL)
		for (i = 0; i < g->n; i++)
			free(g->adj[i]);
	free(g->adj);
	free(g->nadj);
}

static void
cycle_string(char *buf, size_t len, const size_t *cyc, size_t n,
    const char *(*name)(void *, size_t), void *arg)
{
	size_t	 i;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			strlcat(buf, " -> ", len);
		strlcat(buf, name(arg, cyc[i]), len);
	}
}

struct action_cycle_arg {
	struct ctx		*c;
	struct service_conf	*sc;
};

static const char *
action_name_at(void *arg, size_t i)
{
	struct action_cycle_arg	*aa = arg;

	return aa->sc->actions[i].name;
}

static void
action_cycle_report(void *arg, const size_t *cyc, size_t n)
{
	struct action_cycle_arg	*aa = arg;
	char			 p[PATH_BUF], s[1024];

	cycle_string(s, sizeof(s), cyc, n, action_name_at, arg);
	snprintf(p, sizeof(p), "actions[%zu].after", cyc[0]);
	perr(aa->c, p, "dependency cycle %s", s);
}

/* The first TCP port both actions declare, or 0. */
static unsigned int
ports_overlap(const struct action_conf *a, const struct action_conf *b)
{
	size_t	 k, m;

	for (k = 0; k < a->ntcp_ports; k++)
		for (m = 0; m < b->ntcp_ports; m++)
			if (a->tcp_ports[k] == b->tcp_ports[m])
				return a->tcp_ports[k];
	return 0;
}

/* Checks that need every action and probe of the service. */
static void
check_service(struct ctx *c, struct service_conf *sc, const int *wd,
    int names_ok)
{
	struct action_cycle_arg	 aa;
	struct graph		 g;
	struct action_conf	*a, *b;
	struct probe_conf	*pr;
	char			 p[PATH_BUF], q[PATH_BUF];
	size_t			 i, j, k;
	unsigned int		 port;
	int			 covered;

	/* action names unique */
	for (i = 0; i < sc->nactions; i++) {
		if (sc->actions[i].name[0] == '\0')
			continue;
		for (j = 0; j < i; j++) {
			if (strcmp(sc->actions[i].name,
			    sc->actions[j].name) == 0) {
				snprintf(p, sizeof(p), "actions[%zu].name", i);
				perr(c, p, "duplicate action name \"%s\"",
				    sc->actions[i].name);
				names_ok = 0;
				break;
			}
		}
	}
	for (i = 0; i < sc->nprobes; i++) {
		if (sc->probes[i].name[0] == '\0')
			continue;
		for (j = 0; j < i; j++) {
			if (strcmp(sc->probes[i].name,
			    sc->probes[j].name) == 0) {
				snprintf(p, sizeof(p), "probes[%zu].name", i);
				perr(c, p, "duplicate probe name \"%s\"",
				    sc->probes[i].name);
				break;
			}
		}
	}
	/* a port is bound by one action only */
	for (i = 0; i < sc->nactions; i++) {
		a = &sc->actions[i];
		for (j = 0; j < i; j++) {
			b = &sc->actions[j];
			if ((port = ports_overlap(a, b)) == 0)
				continue;
			snprintf(p, sizeof(p), "actions[%zu].tcp_ports", i);
			perr(c, p, "port %u is also declared by action %s",
			    port, b->name);
		}
	}

	if (!names_ok)
		return;

	/* action "after": known, not itself, no cycles */
	memset(&g, 0, sizeof(g));
	g.n = sc->nactions;
	if ((g.adj = calloc(g.n, sizeof(*g.adj))) == NULL ||
	    (g.nadj = calloc(g.n, sizeof(*g.nadj))) == NULL) {
		perr(c, NULL, "out of memory");
		graph_free(&g);
		return;
	}
	for (i = 0; i < sc->nactions; i++) {
		a = &sc->actions[i];
		if (a->after.n > 0 && (g.adj[i] = calloc(a->after.n,
		    sizeof(size_t))) == NULL) {
			perr(c, NULL, "out of memory");
			graph_free(&g);
			return;
		}
		for (j = 0; j < a->after.n; j++) {
			snprintf(p, sizeof(p), "actions[%zu].after", i);
			path_idx(q, p, j);
			if (strcmp(a->after.v[j], a->name) == 0) {
				perr(c, q, "an action cannot wait for itself");
				continue;
			}
			for (k = 0; k < sc->nactions; k++)
				if (strcmp(a->after.v[j],
				    sc->actions[k].name) == 0)
					break;
			if (k == sc->nactions) {
				perr(c, q, "unknown action \"%s\"",
				    a->after.v[j]);
				continue;
			}
			g.adj[i][g.nadj[i]++] = k;
		}
	}
	aa.c = c;
	aa.sc = sc;
	if (find_cycles(&g, action_cycle_report, &aa) == -1)
		perr(c, NULL, "out of memory");
	graph_free(&g);

	/* probe "actions": known process actions */
	for (i = 0; i < sc->nprobes; i++) {
		pr = &sc->probes[i];
		for (j = 0; j < pr->actions.n; j++) {
			snprintf(p, sizeof(p), "probes[%zu].actions", i);
			path_idx(q, p, j);
			if ((a = action_conf_find(sc, pr->actions.v[j])) ==
			    NULL)
				perr(c, q, "unknown action \"%s\"",
				    pr->actions.v[j]);
			else if (a->kind != KIND_PROCESS)
				perr(c, q, "action \"%s\" is a oneshot; only "
				    "process actions can be probed", a->name);
		}
	}

	/* ready mode: default and coverage */
	for (i = 0; i < sc->nactions; i++) {
		a = &sc->actions[i];
		covered = 0;
		for (j = 0; j < sc->nprobes && a->kind == KIND_PROCESS; j++) {
			pr = &sc->probes[j];
			if (pr->actions.n == 0)
				covered = 1;
			for (k = 0; k < pr->actions.n; k++)
				if (strcmp(pr->actions.v[k], a->name) == 0)
					covered = 1;
		}
		if (!a->ready_mode_set)
			a->ready_mode = covered ? READY_PROBE : READY_NONE;
		else if (a->ready_mode == READY_PROBE && !covered &&
		    a->kind == KIND_PROCESS) {
			snprintf(p, sizeof(p), "actions[%zu].ready.mode", i);
			perr(c, p, "probe: no probe covers action %s",
			    a->name);
		}
		if (a->settle_set && (a->ready_mode != READY_NONE ||
		    a->kind != KIND_PROCESS)) {
			snprintf(p, sizeof(p), "actions[%zu].ready.settle_ms",
			    i);
			perr(c, p, "only allowed for a process with ready "
			    "mode none");
		}
		if (wd[i] && a->watchdog_ms > 0 &&
		    a->ready_mode != READY_NOTIFY) {
			snprintf(p, sizeof(p), "actions[%zu].ready.watchdog_ms",
			    i);
			perr(c, p, "only allowed with ready mode notify "
			    "(mode is %s)", ready_names[a->ready_mode]);
		}
	}

	/* the socket directory has one owner: its users run as one user */
	for (i = 0, b = NULL; i < sc->nactions; i++) {
		a = &sc->actions[i];
		if (!action_conf_uses_sockdir(a))
			continue;
		if (b == NULL) {
			b = a;
			continue;
		}
		if ((a->user == NULL) != (b->user == NULL) || (a->user !=
		    NULL && strcmp(a->user, b->user) != 0)) {
			snprintf(p, sizeof(p), "actions[%zu].user", i);
			perr(c, p, "action %s runs as %s but action %s, as %s, "
			    "also uses the socket directory of the service, "
			    "which has a single owner", a->name,
			    a->user ? a->user : "the default user", b->name,
			    b->user ? b->user : "the default user");
		}
	}
}

/*
 * Whether action a uses the socket directory of its service: it declares
 * sockets, its ready file is there, or its command or environment names
 * $HERO_SOCKET_DIR.
 */
int
action_conf_uses_sockdir(const struct action_conf *a)
{
	size_t	 i;

	if (a->sockets.n > 0 || a->ready_mode == READY_FILE)
		return 1;
	for (i = 0; i < a->exec.n; i++)
		if (strstr(a->exec.v[i], "HERO_SOCKET_DIR") != NULL)
			return 1;
	for (i = 0; i < a->nenv; i++)
		if (a->env[i].val != NULL &&
		    strstr(a->env[i].val, "HERO_SOCKET_DIR") != NULL)
			return 1;
	return 0;
}

/*
 * The action whose user owns the socket directory of sc: the first that
 * uses it (all that do run as one user), else the first process action,
 * else the first action.
 */
struct action_conf *
service_conf_sockdir_owner(struct service_conf *sc)
{
	size_t	 i;

	for (i = 0; i < sc->nactions; i++)
		if (action_conf_uses_sockdir(&sc->actions[i]))
			return &sc->actions[i];
	for (i = 0; i < sc->nactions; i++)
		if (sc->actions[i].kind == KIND_PROCESS)
			return &sc->actions[i];
	return sc->nactions > 0 ? &sc->actions[0] : NULL;
}

static void
parse_logs(struct ctx *c, const char *path, yajl_val v,
    struct service_conf *sc)
{
	char		 p[PATH_BUF], *skip;
	ssize_t		 n, i;
	const char	*k;
	yajl_val	 e;

	if ((n = obj_open(c, path, v, &skip)) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (skip[i])
			continue;
		k = v->u.object.keys[i];
		e = v->u.object.values[i];
		path_key(p, path, k);
		if (strcmp(k, "max_bytes") == 0)
			get_uint(c, p, e, 4096, INT64_MAX,
			    &sc->logs_max_bytes);
		else if (strcmp(k, "keep_restarts") == 0)
			get_u32(c, p, e, 1, UINT32_MAX,
			    &sc->logs_keep_restarts);
		else
			perr(c, p, "unknown key");
	}
	free(skip);
}

static void
parse_service(struct ctx *c, yajl_val v, struct service_conf *sc,
    const char *expect_name)
{
	char		 p[PATH_BUF], *skip;
	int		*wd = NULL, named, names_ok = 1, nameset = 0;
	ssize_t		 n, i;
	size_t		 j, len;
	const char	*k;
	yajl_val	 e, acts = NULL, probes = NULL;

	if ((n = obj_open(c, "", v, &skip)) == -1)
		return;
	if ((e = obj_get(v, "name")) == NULL)
		perr(c, "name", "missing (required)");
	else if (get_name(c, "name", e, sc->name) == 0) {
		nameset = 1;
		if (expect_name != NULL && strcmp(sc->name, expect_name) != 0)
			perr(c, "name", "\"%s\" does not match the file name "
			    "(expected \"%s\")", sc->name, expect_name);
	}
	c->svcname = nameset ? sc->name : NULL;
	for (i = 0; i < n; i++) {
		if (skip[i])
			continue;
		k = v->u.object.keys[i];
		e = v->u.object.values[i];
		path_key(p, "", k);
		if (strcmp(k, "name") == 0)
			;
		else if (strcmp(k, "description") == 0)
			get_string(c, p, e, 0, &sc->description);
		else if (strcmp(k, "autostart") == 0)
			get_bool(c, p, e, &sc->autostart);
		else if (strcmp(k, "after") == 0)
			get_strlist(c, p, e, SL_NAMES | SL_UNIQUE, &sc->after);
		else if (strcmp(k, "actions") == 0) {
			if (!YAJL_IS_ARRAY(e))
				perr(c, p, "expected an array");
			else if (e->u.array.len == 0)
				perr(c, p, "must not be empty");
			else
				acts = e;
		} else if (strcmp(k, "probes") == 0) {
			if (!YAJL_IS_ARRAY(e))
				perr(c, p, "expected an array");
			else
				probes = e;
		} else if (strcmp(k, "logs") == 0)
			parse_logs(c, p, e, sc);
		else
			perr(c, p, "unknown key");
	}
	free(skip);
	if (obj_get(v, "actions") == NULL)
		perr(c, "actions", "missing (required)");
	if (acts == NULL)
		return;

	len = acts->u.array.len;
	if ((sc->actions = calloc(len, sizeof(*sc->actions))) == NULL ||
	    (wd = calloc(len, sizeof(*wd))) == NULL) {
		perr(c, "actions", "out of memory");
		free(wd);
		return;
	}
	for (j = 0; j < len; j++) {
		path_idx(p, "actions", j);
		parse_action(c, p, acts->u.array.values[j], &sc->actions[j],
		    &wd[j], &named);
		sc->nactions++;
		if (!named)
			names_ok = 0;
	}
	if (probes != NULL && (len = probes->u.array.len) > 0) {
		if ((sc->probes = calloc(len, sizeof(*sc->probes))) == NULL) {
			perr(c, "probes", "out of memory");
			free(wd);
			return;
		}
		for (j = 0; j < len; j++) {
			path_idx(p, "probes", j);
			parse_probe(c, p, probes->u.array.values[j],
			    &sc->probes[j], &named);
			sc->nprobes++;
		}
	}
	check_service(c, sc, wd, names_ok);
	free(wd);
}

/*
 * First pass: syntax, with positions.
 */

struct prepass {
	int		 depth;
	int		 toodeep;
	int		 nul;
};

static int
pp_null(void *ctx)
{
	(void)ctx;
	return 1;
}

static int
pp_bool(void *ctx, int b)
{
	(void)ctx;
	(void)b;
	return 1;
}

static int
pp_number(void *ctx, const char *s, size_t len)
{
	(void)ctx;
	(void)s;
	(void)len;
	return 1;
}

static int
pp_string(void *ctx, const unsigned char *s, size_t len)
{
	struct prepass	*pp = ctx;

	if (memchr(s, '\0', len) != NULL) {
		pp->nul = 1;
		return 0;
	}
	return 1;
}

static int
pp_open(void *ctx)
{
	struct prepass	*pp = ctx;

	if (++pp->depth > CONFIG_MAX_DEPTH) {
		pp->toodeep = 1;
		return 0;
	}
	return 1;
}

static int
pp_close(void *ctx)
{
	struct prepass	*pp = ctx;

	pp->depth--;
	return 1;
}

static const yajl_callbacks pp_callbacks = {
	pp_null, pp_bool, NULL, NULL, pp_number, pp_string,
	pp_open, pp_string, pp_close, pp_open, pp_close
};

static int
prepass(struct ctx *c, const char *text, size_t len)
{
	struct prepass	 pp;
	yajl_handle	 h;
	yajl_status	 st;
	unsigned char	*msg;
	char		 m[256], *nl;
	size_t		 off, i, line = 1, col = 1;

	/* yajl's tree parser stops at a NUL, even in a comment */
	if ((nl = memchr(text, '\0', len)) != NULL) {
		for (i = 0; text + i < nl; i++) {
			if (text[i] == '\n') {
				line++;
				col = 1;
			} else
				col++;
		}
		perr(c, NULL, "line %zu, column %zu: NUL byte in the file",
		    line, col);
		return -1;
	}
	memset(&pp, 0, sizeof(pp));
	if ((h = yajl_alloc(&pp_callbacks, NULL, &pp)) == NULL) {
		perr(c, NULL, "out of memory");
		return -1;
	}
	yajl_config(h, yajl_allow_comments, 1);
	st = yajl_parse(h, (const unsigned char *)text, len);
	/* yajl stops just past the offending character */
	if ((off = yajl_get_bytes_consumed(h)) > 0)
		off--;
	if (st == yajl_status_ok) {
		st = yajl_complete_parse(h);
		off = len;
	}
	if (st == yajl_status_ok) {
		yajl_free(h);
		return 0;
	}
	if (pp.toodeep)
		snprintf(m, sizeof(m), "nested deeper than %d levels",
		    CONFIG_MAX_DEPTH);
	else if (pp.nul)
		snprintf(m, sizeof(m), "string contains a NUL character");
	else if ((msg = yajl_get_error(h, 0, NULL, 0)) != NULL) {
		snprintf(m, sizeof(m), "%s", (char *)msg);
		yajl_free_error(h, msg);
		if ((nl = strchr(m, '\n')) != NULL)
			*nl = '\0';
	} else
		snprintf(m, sizeof(m), "parse error");
	yajl_free(h);
	if (off > len)
		off = len;
	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else
			col++;
	}
	perr(c, NULL, "line %zu, column %zu: %s", line, col, m);
	return -1;
}

struct service_conf *
config_parse_service(const char *fname, const char *expect_name,
    const char *text, size_t len, struct config_errors *errs)
{
	struct ctx		 c;
	struct service_conf	*sc = NULL;
	yajl_val		 tree = NULL;
	char			*buf = NULL, ebuf[256];

	memset(&c, 0, sizeof(c));
	c.fname = fname;
	c.errs = errs;
	if (len > CONFIG_MAX_FILE) {
		perr(&c, NULL, "file too large (%zu bytes, at most %d)", len,
		    CONFIG_MAX_FILE);
		return NULL;
	}
	if ((buf = malloc(len + 1)) == NULL) {
		perr(&c, NULL, "out of memory");
		return NULL;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (strspn(buf, " \t\r\n") == len) {
		perr(&c, NULL, "empty file");
		goto fail;
	}
	if (prepass(&c, buf, len) == -1)
		goto fail;
	if ((tree = yajl_tree_parse(buf, ebuf, sizeof(ebuf))) == NULL) {
		perr(&c, NULL, "%s", ebuf[0] != '\0' ? ebuf : "parse error");
		goto fail;
	}
	if (!YAJL_IS_OBJECT(tree)) {
		perr(&c, NULL, "expected a JSON object at the top level");
		goto fail;
	}
	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		perr(&c, NULL, "out of memory");
		goto fail;
	}
	sc->autostart = 1;
	sc->logs_max_bytes = 4194304;
	sc->logs_keep_restarts = 5;
	sc->text = buf;
	sc->textlen = len;
	buf = NULL;
	if ((sc->path = strdup(fname)) == NULL) {
		perr(&c, NULL, "out of memory");
		goto fail;
	}
	parse_service(&c, tree, sc, expect_name);
	if (c.nerr > 0)
		goto fail;
	yajl_tree_free(tree);
	return sc;
 fail:
	yajl_tree_free(tree);
	free(buf);
	service_conf_free(sc);
	return NULL;
}

/*
 * Sets of services.
 */

static int
svcp_cmp(const void *a, const void *b)
{
	struct service_conf	*const *sa = a, *const *sb = b;

	return strcmp((*sa)->name, (*sb)->name);
}

struct svc_cycle_arg {
	struct config_errors	 *errs;
	struct service_conf	**v;
};

static const char *
svc_name_at(void *arg, size_t i)
{
	struct svc_cycle_arg	*sa = arg;

	return sa->v[i]->name;
}

static void
svc_cycle_report(void *arg, const size_t *cyc, size_t n)
{
	struct svc_cycle_arg	*sa = arg;
	char			 s[1024];

	cycle_string(s, sizeof(s), cyc, n, svc_name_at, arg);
	config_errors_add(sa->errs, "%s.json: after: dependency cycle %s",
	    sa->v[cyc[0]]->name, s);
}

/*
 * A socket path declared by action a of service sa and action b of
 * service sb, compared once expanded; returns a's index or -1.
 */
static ssize_t
sockets_overlap(const struct service_conf *sa, const struct action_conf *a,
    const struct service_conf *sb, const struct action_conf *b)
{
	char	 da[PATH_BUF], db[PATH_BUF], *x, *y;
	size_t	 k, m;
	int	 same;

	snprintf(da, sizeof(da), "%s%s", CHECK_SOCKDIR, sa->name);
	snprintf(db, sizeof(db), "%s%s", CHECK_SOCKDIR, sb->name);
	for (k = 0; k < a->sockets.n; k++) {
		if ((x = config_expand(a->sockets.v[k], da, sa->name,
		    a->name)) == NULL)
			continue;
		for (m = 0; m < b->sockets.n; m++) {
			y = config_expand(b->sockets.v[m], db, sb->name,
			    b->name);
			same = (y != NULL && strcmp(x, y) == 0);
			free(y);
			if (same) {
				free(x);
				return (ssize_t)k;
			}
		}
		free(x);
	}
	return -1;
}

/* Ports and socket paths claimed by actions of both services. */
static int
claims_between(struct service_conf *sa, struct service_conf *sb,
    struct config_errors *errs)
{
	struct action_conf	*a, *b;
	size_t			 ai, bi;
	ssize_t			 k;
	unsigned int		 port;
	int			 bad = 0;

	for (ai = 0; ai < sa->nactions; ai++) {
		a = &sa->actions[ai];
		for (bi = 0; bi < sb->nactions; bi++) {
			b = &sb->actions[bi];
			if ((port = ports_overlap(a, b)) != 0) {
				config_errors_add(errs, "%s.json: "
				    "actions[%zu].tcp_ports: port %u is also "
				    "declared by %s/%s", sa->name, ai, port,
				    sb->name, b->name);
				bad = 1;
			}
			if ((k = sockets_overlap(sa, a, sb, b)) != -1) {
				config_errors_add(errs, "%s.json: "
				    "actions[%zu].sockets[%zd]: also declared "
				    "by %s/%s", sa->name, ai, k, sb->name,
				    b->name);
				bad = 1;
			}
		}
	}
	return bad;
}

/*
 * A TCP port or an expanded socket path declared by service v[svc].  All
 * claims sorted by what they claim put the services sharing one next to
 * each other: only those pairs go through claims_between().
 */
struct claim {
	char		*path;		/* NULL: a port */
	unsigned int	 port;
	size_t		 svc;
	size_t		 lo, hi;	/* sorted[lo..hi-1] claim the same */
};

static int
claim_cmp_key(const struct claim *a, const struct claim *b)
{
	if (a->path == NULL && b->path == NULL)
		return a->port < b->port ? -1 : a->port > b->port;
	if (a->path == NULL || b->path == NULL)
		return a->path == NULL ? -1 : 1;
	return strcmp(a->path, b->path);
}

static int
claimp_cmp(const void *a, const void *b)
{
	const struct claim	*ca = *(const struct claim *const *)a;
	const struct claim	*cb = *(const struct claim *const *)b;
	int			 r;

	if ((r = claim_cmp_key(ca, cb)) != 0)
		return r;
	return ca->svc < cb->svc ? -1 : ca->svc > cb->svc;
}

static int
size_cmp(const void *a, const void *b)
{
	size_t	 x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Services (v, sorted by name) that claim the same port or socket path,
 * reported pair by pair in the order of v as claims_between() does.
 * Returns 1 if there are any, 0 if none, -1 out of memory.
 */
static int
check_claims(struct service_conf **v, size_t n, struct config_errors *errs)
{
	struct claim		 *cl = NULL, **sorted = NULL;
	struct action_conf	 *a;
	char			  sockdir[PATH_BUF], *x;
	size_t			  ncl = 0, i, j, k, ai, p, nwith;
	size_t			 *with = NULL, *nw, maxwith = 0;
	int			  shared = 0, bad = 0, ret = -1;

	for (i = 0; i < n; i++)
		for (ai = 0; ai < v[i]->nactions; ai++)
			ncl += v[i]->actions[ai].ntcp_ports +
			    v[i]->actions[ai].sockets.n;
	if (ncl == 0)
		return 0;
	if ((cl = calloc(ncl, sizeof(*cl))) == NULL ||
	    (sorted = calloc(ncl, sizeof(*sorted))) == NULL)
		goto done;
	/* in the order of v, so that the claims of v[i] are together */
	ncl = 0;
	for (i = 0; i < n; i++) {
		snprintf(sockdir, sizeof(sockdir), "%s%s", CHECK_SOCKDIR,
		    v[i]->name);
		for (ai = 0; ai < v[i]->nactions; ai++) {
			a = &v[i]->actions[ai];
			for (k = 0; k < a->ntcp_ports; k++) {
				cl[ncl].port = a->tcp_ports[k];
				cl[ncl++].svc = i;
			}
			for (k = 0; k < a->sockets.n; k++) {
				/* not expandable: never compared equal */
				if ((x = config_expand(a->sockets.v[k],
				    sockdir, v[i]->name, a->name)) == NULL) {
					if (errno == ENOMEM)
						goto done;
					continue;
				}
				cl[ncl].path = x;
				cl[ncl++].svc = i;
			}
		}
	}
	for (k = 0; k < ncl; k++)
		sorted[k] = &cl[k];
	qsort(sorted, ncl, sizeof(*sorted), claimp_cmp);
	for (p = 0; p < ncl; p = j) {
		for (j = p + 1; j < ncl &&
		    claim_cmp_key(sorted[p], sorted[j]) == 0; j++)
			;
		if (sorted[p]->svc != sorted[j - 1]->svc)
			shared = 1;
		for (k = p; k < j; k++) {
			sorted[k]->lo = p;
			sorted[k]->hi = j;
		}
	}
	if (!shared) {
		ret = 0;
		goto done;
	}

	/* for each v[i], the v[j] (j < i) it shares a claim with */
	for (k = 0; k < ncl; k = p) {
		i = cl[k].svc;
		nwith = 0;
		for (p = k; p < ncl && cl[p].svc == i; p++) {
			for (j = cl[p].lo; j < cl[p].hi &&
			    sorted[j]->svc < i; j++) {
				if (nwith > 0 && with[nwith - 1] ==
				    sorted[j]->svc)
					continue;
				if (nwith == maxwith) {
					maxwith = maxwith ? maxwith * 2 : 16;
					if ((nw = reallocarray(with, maxwith,
					    sizeof(*with))) == NULL)
						goto done;
					with = nw;
				}
				with[nwith++] = sorted[j]->svc;
			}
		}
		if (nwith == 0)
			continue;
		qsort(with, nwith, sizeof(*with), size_cmp);
		for (j = 0; j < nwith; j++) {
			if (j > 0 && with[j] == with[j - 1])
				continue;
			if (claims_between(v[i], v[with[j]], errs))
				bad = 1;
		}
	}
	ret = bad;
 done:
	for (k = 0; k < ncl; k++)
		free(cl[k].path);
	free(cl);
	free(sorted);
	free(with);
	return ret;
}

int
config_check_set(struct service_conf_list *list, struct config_errors *errs)
{
	struct svc_cycle_arg	  sa;
	struct service_conf	 *sc, **v = NULL, key, *kp, **hit;
	struct graph		  g;
	size_t			  n = 0, i, j;
	int			  bad = 0;

	memset(&g, 0, sizeof(g));
	TAILQ_FOREACH(sc, list, entry)
		n++;
	if (n == 0)
		return 0;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		goto oom;
	i = 0;
	TAILQ_FOREACH(sc, list, entry)
		v[i++] = sc;
	qsort(v, n, sizeof(*v), svcp_cmp);
	for (i = 1; i < n; i++) {
		if (strcmp(v[i]->name, v[i - 1]->name) == 0) {
			config_errors_add(errs, "%s.json: name: service \"%s\" "
			    "is defined twice", v[i]->name, v[i]->name);
			bad = 1;
		}
	}

	g.n = n;
	if ((g.adj = calloc(n, sizeof(*g.adj))) == NULL ||
	    (g.nadj = calloc(n, sizeof(*g.nadj))) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		sc = v[i];
		if (sc->after.n > 0 && (g.adj[i] = calloc(sc->after.n,
		    sizeof(size_t))) == NULL)
			goto oom;
		for (j = 0; j < sc->after.n; j++) {
			if (strcmp(sc->after.v[j], sc->name) == 0) {
				config_errors_add(errs, "%s.json: after[%zu]: "
				    "a service cannot wait for itself",
				    sc->name, j);
				bad = 1;
				continue;
			}
			strlcpy(key.name, sc->after.v[j], sizeof(key.name));
			kp = &key;
			hit = bsearch(&kp, v, n, sizeof(*v), svcp_cmp);
			if (hit == NULL) {
				config_errors_add(errs, "%s.json: after[%zu]: "
				    "unknown service \"%s\"", sc->name, j,
				    sc->after.v[j]);
				bad = 1;
				continue;
			}
			g.adj[i][g.nadj[i]++] = hit - v;
		}
	}
	sa.errs = errs;
	sa.v = v;
	switch (find_cycles(&g, svc_cycle_report, &sa)) {
	case -1:
		goto oom;
	case 1:
		bad = 1;
		break;
	}
	switch (check_claims(v, n, errs)) {
	case -1:
		goto oom;
	case 1:
		bad = 1;
		break;
	}
	graph_free(&g);
	free(v);
	return bad ? -1 : 0;
 oom:
	config_errors_add(errs, "out of memory");
	graph_free(&g);
	free(v);
	return -1;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read one file, at most CONFIG_MAX_FILE bytes; errors added to errs. */
static char *
read_service_file(int dfd, const char *fname, size_t *lenp,
    struct config_errors *errs)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd;

	if ((fd = openat(dfd, fname, O_RDONLY | O_NONBLOCK | O_CLOEXEC |
	    O_NOCTTY)) == -1) {
		config_errors_add(errs, "%s: %s", fname, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		config_errors_add(errs, "%s: %s", fname, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		config_errors_add(errs, "%s: not a regular file", fname);
		goto fail;
	}
	if (st.st_size > CONFIG_MAX_FILE) {
		config_errors_add(errs, "%s: file too large (%lld bytes, at "
		    "most %d)", fname, (long long)st.st_size, CONFIG_MAX_FILE);
		goto fail;
	}
	if ((buf = malloc(CONFIG_MAX_FILE + 1)) == NULL) {
		config_errors_add(errs, "%s: out of memory", fname);
		goto fail;
	}
	while (len <= CONFIG_MAX_FILE) {
		r = read(fd, buf + len, CONFIG_MAX_FILE + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			config_errors_add(errs, "%s: %s", fname,
			    strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		len += r;
	}
	if (len > CONFIG_MAX_FILE) {
		config_errors_add(errs, "%s: file too large (at most %d "
		    "bytes)", fname, CONFIG_MAX_FILE);
		goto fail;
	}
	close(fd);
	*lenp = len;
	return buf;
 fail:
	free(buf);
	close(fd);
	return NULL;
}

int
config_load_dir(const char *dir, struct service_conf_list *list,
    struct config_errors *errs)
{
	struct service_conf	 *sc;
	struct dirent		 *de;
	DIR			 *d;
	char			**names = NULL, **nn, base[NAME_MAXLEN + 1];
	char			 *text;
	size_t			  n = 0, cap = 0, i, len, blen;
	int			  bad = 0;

	TAILQ_INIT(list);
	if ((d = opendir(dir)) == NULL) {
		config_errors_add(errs, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 ||
		    strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nn = reallocarray(names, cap,
			    sizeof(*names))) == NULL)
				goto oom;
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto oom;
		n++;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);

	for (i = 0; i < n; i++) {
		blen = strlen(names[i]) - 5;
		if (blen > NAME_MAXLEN) {
			config_errors_add(errs, "%s: invalid file name: "
			    "NAME.json with NAME matching "
			    "[a-z0-9][a-z0-9_.-]{0,63} expected", names[i]);
			bad = 1;
			continue;
		}
		memcpy(base, names[i], blen);
		base[blen] = '\0';
		if (!config_valid_name(base)) {
			config_errors_add(errs, "%s: invalid file name: "
			    "NAME.json with NAME matching "
			    "[a-z0-9][a-z0-9_.-]{0,63} expected", names[i]);
			bad = 1;
			continue;
		}
		text = read_service_file(dirfd(d), names[i], &len, errs);
		if (text == NULL) {
			bad = 1;
			continue;
		}
		sc = config_parse_service(names[i], base, text, len, errs);
		free(text);
		if (sc == NULL) {
			bad = 1;
			continue;
		}
		free(sc->path);
		if (asprintf(&sc->path, "%s/%s", dir, names[i]) == -1) {
			sc->path = NULL;
			service_conf_free(sc);
			goto oom;
		}
		TAILQ_INSERT_TAIL(list, sc, entry);
	}
	closedir(d);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);

	if (!bad && config_check_set(list, errs) == -1)
		bad = 1;
	if (bad) {
		service_conf_list_free(list);
		return -1;
	}
	return 0;
 oom:
	config_errors_add(errs, "%s: out of memory", dir);
	closedir(d);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	service_conf_list_free(list);
	return -1;
}

/*
 * Lookups and freeing.
 */

struct service_conf *
service_conf_find(struct service_conf_list *list, const char *name)
{
	struct service_conf	*sc;

	TAILQ_FOREACH(sc, list, entry)
		if (strcmp(sc->name, name) == 0)
			return sc;
	return NULL;
}

int
service_conf_cmp(struct service_conf *a, struct service_conf *b)
{
	return strcmp(a->name, b->name);
}

RB_GENERATE(service_conf_tree, service_conf, node, service_conf_cmp);

struct service_conf *
service_conf_lookup(struct service_conf_tree *t, const char *name)
{
	struct service_conf	*sc = RB_ROOT(t);
	int			 c;

	while (sc != NULL) {
		if ((c = strcmp(name, sc->name)) == 0)
			return sc;
		sc = c < 0 ? RB_LEFT(sc, node) : RB_RIGHT(sc, node);
	}
	return NULL;
}

struct service_conf *
service_conf_insert(struct service_conf_tree *t, struct service_conf *sc)
{
	struct service_conf	*old;

	if ((old = RB_INSERT(service_conf_tree, t, sc)) == NULL)
		return NULL;
	RB_REMOVE(service_conf_tree, t, old);
	RB_INSERT(service_conf_tree, t, sc);
	return old;
}

struct service_conf *
service_conf_remove(struct service_conf_tree *t, const char *name)
{
	struct service_conf	*sc;

	if ((sc = service_conf_lookup(t, name)) != NULL)
		RB_REMOVE(service_conf_tree, t, sc);
	return sc;
}

struct action_conf *
action_conf_find(struct service_conf *sc, const char *name)
{
	size_t	 i;

	for (i = 0; i < sc->nactions; i++)
		if (strcmp(sc->actions[i].name, name) == 0)
			return &sc->actions[i];
	return NULL;
}

struct probe_conf *
probe_conf_find(struct service_conf *sc, const char *name)
{
	size_t	 i;

	for (i = 0; i < sc->nprobes; i++)
		if (strcmp(sc->probes[i].name, name) == 0)
			return &sc->probes[i];
	return NULL;
}

static void
action_conf_clear(struct action_conf *a)
{
	size_t	 i;

	strlist_free(&a->exec);
	free(a->user);
	free(a->group);
	free(a->workdir);
	for (i = 0; i < a->nenv; i++) {
		free(a->env[i].key);
		free(a->env[i].val);
	}
	free(a->env);
	free(a->rlimits);
	strlist_free(&a->after);
	free(a->pidfile);
	strlist_free(&a->sockets);
	free(a->tcp_ports);
}

static void
probe_conf_clear(struct probe_conf *pr)
{
	free(pr->target);
	free(pr->path);
	free(pr->method);
	strlist_free(&pr->exec);
	strlist_free(&pr->actions);
}

void
service_conf_free(struct service_conf *sc)
{
	size_t	 i;

	if (sc == NULL)
		return;
	for (i = 0; i < sc->nactions; i++)
		action_conf_clear(&sc->actions[i]);
	free(sc->actions);
	for (i = 0; i < sc->nprobes; i++)
		probe_conf_clear(&sc->probes[i]);
	free(sc->probes);
	free(sc->description);
	strlist_free(&sc->after);
	free(sc->path);
	free(sc->text);
	free(sc);
}

void
service_conf_list_free(struct service_conf_list *list)
{
	struct service_conf	*sc;

	while ((sc = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, sc, entry);
		service_conf_free(sc);
	}
}

void
service_conf_tree_free(struct service_conf_tree *t)
{
	struct service_conf	*sc;

	while ((sc = RB_ROOT(t)) != NULL) {
		RB_REMOVE(service_conf_tree, t, sc);
		service_conf_free(sc);
	}
}
