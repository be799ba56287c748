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
 * heroctl: the operator's command line client of herod's control socket.
 */
#ifndef HEROD_HEROCTL_H
#define HEROD_HEROCTL_H

#include <sys/types.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "ctl.h"

#define REPLY_MAX	(256 * 1024 * 1024)	/* one accumulated document */
#define LINE_MAX_LEN	(16 * 1024 * 1024)	/* one logs/events line */

struct parse_result {
	enum ctl_cmd	 cmd;
	const char	*cmdname;
	int		 stream;	/* logs, events: JSON lines */
	int		 json;		/* -j */
	uint32_t	 flags;		/* CTLF_* */
	uint32_t	 timeout_s;
	uint32_t	 lines;
	int32_t		 restart;
	char		 action[NAME_BUF];
	char		**names;	/* points into argv */
	size_t		 nnames;
	size_t		 nameslen;	/* bytes with the NULs */
};

/* heroctl.c */
__attribute__((noreturn))
void		 usage(void);
__attribute__((noreturn))
void		 usage_msg(const char *);

/* parser.c */
void		 parse(int, char *[], struct parse_result *);

/*
 * output.c: buf[len] must be '\0' (the buffers of heroctl.c are kept so).
 * -1 when herod's JSON was bad: it was printed raw with a warning.
 */
int		 out_document(const struct parse_result *, const char *,
		    size_t);
int		 out_line(const struct parse_result *, const char *, size_t);
/* {"error":msg,"exit_code":code} on stdout (-j). */
void		 out_error(int, const char *);
/* Text from herod with every terminal control made visible as \xHH. */
void		 put_text(FILE *, const char *, size_t, int keepnl);

#endif
