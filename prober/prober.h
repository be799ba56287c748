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
 * The prober worker: readiness (file, notify, fd), watchdogs and probes
 * (tcp, http, jsonrpc; exec probes are run by the spawner).  Declarations
 * are grouped by the file that defines them.
 */
#ifndef HEROD_PROBER_H
#define HEROD_PROBER_H

#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct event;
struct event_base;
struct msg;

#define PROBE_READ_MAX		(64 * 1024)	/* read from a peer */
#define HTTP_STATUS_LINE_MAX	8192

struct probe_run;
struct probe_now;

/*
 * One probe of a service, with its target resolved at config time.  An
 * http probe (and a jsonrpc one over http) may keep its connection
 * between periodic checks (see check_tcp.c).
 */
struct probe {
	struct psvc		*svc;
	const struct probe_conf	*conf;	/* into svc->conf; conf->name */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	uint32_t		 rpc_next_id;
	char			*host;		/* Host: header */
	char			*target_err;	/* NULL = ok */
	RB_ENTRY(probe)		 tick_entry;	/* in the tick tree */
	int64_t			 tick_due_us;	/* next periodic run */
	int			 tick_on;	/* in the tick tree */
	uint32_t		 nperiodic;	/* periodic runs going */
	struct probe_run	*conn_run;	/* the one the kept conn. is lent to */
	int			 first_run;	/* next tick is the first */
	/* the kept connection: idle, or lent to the periodic run */
	int			 conn_fd;	/* -1 none */
	int			 conn_lent;
	uint32_t		 conn_uses;	/* checks done on it */
	int64_t			 conn_since_us;	/* when it was opened */
	dev_t			 conn_dev;	/* unix: the socket file it */
	ino_t			 conn_ino;	/* was made through, if known */
	struct event		*conn_ev;	/* read, while conn_fd */
};

/* A service as the prober knows it. */
struct psvc {
	RB_ENTRY(psvc)		 entry;
	char			 name[NAME_BUF];
	struct service_conf	*conf;
	struct probe		*probes;
	size_t			 nprobes;
	int			 enabled;	/* periodic probes on */
};

/* One run of one probe: a small state machine with a single deadline. */
struct probe_run {
	TAILQ_ENTRY(probe_run)	 entry;
	struct probe		*probe;
	struct probe_now	*group;		/* M_PROBE_NOW or NULL */
	uint32_t		 seq;		/* 0 periodic */
	int64_t			 start_us;
	uint32_t		 timeout_ms;
	int			 fd;
	struct event		*ev;		/* io on fd */
	struct event		*deadline;
	const char		*phase;		/* for timeouts */
	/* request */
	char			*wbuf;
	size_t			 wlen;
	size_t			 woff;
	/* reply, bounded by PROBE_READ_MAX */
	char			*rbuf;
	size_t			 rlen;
	size_t			 rcap;
	/* kind specific */
	uint32_t		 rpc_id;
	uint32_t		 exec_token;
	uint32_t		 connect_token;	/* M_CONNECT_REQ pending */
	size_t			 scan;		/* searched up to */
	int			 (*validate)(struct probe_run *, int eof);
	/* keep-alive */
	unsigned int		 may_keep:1;	/* periodic, http framing */
	unsigned int		 reused:1;	/* on a kept connection */
	unsigned int		 keep:1;	/* reusable once decided */
	unsigned int		 passed:1;	/* verdict ok, reading on */
};

/* prober.c */
extern struct event_base	*prober_base;
extern struct herod_env		*prober_env;
int		 prober_send(uint32_t type, const void *, size_t);
void		 prober_hold_result(const struct m_probe_result *);
void		 prober_flush_results(void);
void		 prober_drop_results(const char *);
/* check_tcp.c */
void		 check_tcp_connect_result(struct m_connect *, int);
struct probe_run *probe_run_by_connect_token(uint32_t);
struct psvc	*psvc_find(const char *);

/* probe.c */
void		 probe_conf_apply(struct psvc *, struct service_conf *);
void		 probe_svc_clear(struct psvc *);
void		 probe_enable(struct psvc *, int);
void		 probe_now(struct psvc *, const char *, uint32_t seq);
void		 probe_exec_result(struct m_probe_result *);
void		 probe_done(struct probe_run *, int ok, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
void		 probe_ok(struct probe_run *);
void		 probe_errno(struct probe_run *, const char *, int);
int		 probe_read(struct probe_run *);
void		 probe_set_event(struct probe_run *, short,
		    void (*)(int, short, void *));

/* check_tcp.c */
void		 check_tcp(struct probe_run *);
void		 conn_init(void);
int		 conn_take(struct probe *);
void		 conn_release(struct probe_run *);
void		 conn_close(struct probe *);

/* check_http.c */
int		 check_http_request(struct probe_run *);
int		 check_http_validate(struct probe_run *, int);
struct http_frame;
int		 check_http_frame(struct probe_run *, struct http_frame *,
		    char *, size_t);

/* check_jsonrpc.c */
int		 check_jsonrpc_request(struct probe_run *);
int		 check_jsonrpc_validate(struct probe_run *, int);

/* ready.c */
int		 ready_init(void);
void		 ready_conf_apply(struct psvc *);
void		 ready_svc_remove(const char *);
void		 ready_watch(const struct m_watch *);
void		 ready_unwatch(const struct m_ref *);
void		 ready_fd(const struct m_ref *, int);

/* http_parse.c: pure functions, unit tested */
#define HTTP_PARSE_MORE		0
#define HTTP_PARSE_OK		1
#define HTTP_PARSE_ERROR	(-1)
/*
 * Parse an HTTP/1.x status line at the start of buf[0..len).  Decides as
 * early as possible: a prefix that cannot begin a valid status line is an
 * error at once.  On HTTP_PARSE_OK, *status is the code and *linelen the
 * length up to and including the '\n'.  On error, err says why
 * (sanitized, bounded).
 */
int		 http_parse_status(const char *buf, size_t len, int *status,
		    size_t *linelen, char *err, size_t errlen);
/*
 * Find the end of the header block (after the status line).  On OK,
 * *hdrlen is the length of status line + headers + blank line,
 * *clen the Content-Length (-1 if absent), *chunked 1 for
 * "Transfer-Encoding: chunked".
 */
int		 http_parse_headers(const char *buf, size_t len,
		    size_t *hdrlen, int64_t *clen, int *chunked, char *err,
		    size_t errlen);
/*
 * Decode a chunked body in place: OK with *outlen set once the last
 * chunk is seen, MORE if incomplete, ERROR if malformed.
 */
int		 http_dechunk(char *buf, size_t len, size_t *outlen);
/*
 * The end of a chunked body, trailers included: OK with *end set once
 * the empty line after the last chunk is seen, MORE, or ERROR.
 */
int		 http_chunked_end(const char *buf, size_t len, size_t *end);
/* How one response is delimited (RFC 9112, section 6). */
struct http_frame {
	int		 status;
	size_t		 hdrlen;	/* status line + headers + blank */
	int64_t		 clen;		/* Content-Length, -1 absent */
	int		 chunked;
	int		 close;		/* the connection ends after it */
	int		 until_eof;	/* no length: the body ends at EOF */
	size_t		 end;		/* length of the whole response */
};
/*
 * Frame one response at the start of buf[0..len).  OK: complete, f->end
 * its length (f->until_eof: the headers are complete and the body runs
 * to EOF).  MORE: incomplete (f->hdrlen is 0 while the headers are).
 * ERROR: malformed, err says why.  Bytes past f->end are not looked at.
 */
int		 http_frame(const char *buf, size_t len, struct http_frame *f,
		    char *err, size_t errlen);
/*
 * Copy at most srclen bytes of src to dst as printable ASCII: '"'
 * becomes '\'', '\\' becomes '/', other bytes outside 0x20-0x7e become
 * '?' (a run of them one '?'), truncated with "..." to fit dstlen.
 * Always terminated.
 */
void		 sanitize_text(char *dst, size_t dstlen, const char *src,
		    size_t srclen);
/*
 * Depth of nested arrays/objects in JSON text (strings skipped), stopping
 * early past max; -1 for a '/' outside a string (yajl_tree_parse takes
 * comments) or an unbalanced closing bracket.  Used before
 * yajl_tree_parse to bound its recursion.
 */
int		 json_depth(const char *, size_t, int max);

#endif
