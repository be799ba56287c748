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
 * herod message framing: a fixed little header, a bounded payload and at
 * most one file descriptor per message, over a stream socket (socketpair
 * or unix socket).  Written for herod; the wire format is ours.
 *
 *   +--------+--------+--------+--------+--------+---------------+
 *   | type   | len    | peerid | pid    | flags  | payload (len) |
 *   | u32    | u32    | u32    | i32    | u32    |               |
 *   +--------+--------+--------+--------+--------+---------------+
 *
 * All header fields are in host byte order (both ends are on one host).
 * flags: MSG_F_FD means one descriptor travels with this message
 * (SCM_RIGHTS, attached to the first byte of the header).  Any other bit
 * set, len above the channel's limit, or MSG_F_FD without a descriptor
 * received is a protocol error: the caller must close the channel.
 */
#ifndef HEROD_MSG_H
#define HEROD_MSG_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

#define MSG_HDR_LEN		20
#define MSG_MAX_PAYLOAD		(1024 * 1024)	/* absolute ceiling */
#define MSG_F_FD		0x1
#define MSG_MAX_PENDING_FDS	64		/* received, not yet claimed */

struct msg_hdr {
	uint32_t	type;
	uint32_t	len;
	uint32_t	peerid;
	int32_t		pid;
	uint32_t	flags;
};

struct msg {
	struct msg_hdr	 hdr;
	void		*data;	/* hdr.len bytes, valid until next msgchan_get */
	int		 fd;	/* -1, or a received fd now owned by caller */
};

struct msgchan;

/*
 * Low level channel, no event loop.  maxpayload is clamped to
 * MSG_MAX_PAYLOAD; maxqueue bounds the bytes queued for output
 * (0 = 64 MiB).  The fd is made non-blocking and close-on-exec.
 */
struct msgchan	*msgchan_new(int fd, size_t maxpayload, size_t maxqueue);
void		 msgchan_free(struct msgchan *);	/* closes fd */
int		 msgchan_fd(struct msgchan *);

/*
 * Queue one message (data is copied; fd ownership passes to the channel,
 * which closes it once sent or on free).  Returns 0, or -1 with errno
 * EMSGSIZE (len > maxpayload) or ENOBUFS (output queue full); on error
 * fd is NOT consumed.
 */
int		 msgchan_queue(struct msgchan *, uint32_t type,
		    uint32_t peerid, pid_t pid, int fd,
		    const void *data, size_t len);
/* Write queued bytes: 0 all sent, 1 more pending (EAGAIN), -1 error. */
int		 msgchan_flush(struct msgchan *);
size_t		 msgchan_queued(struct msgchan *);	/* bytes pending */

/*
 * Read what is available with one recvmsg.  Returns >0 bytes read, 0 on
 * EOF, -1 on error (errno EAGAIN when nothing is there yet).
 */
ssize_t		 msgchan_read(struct msgchan *);
/*
 * Take the next complete message out of the read buffer: 1 and *m filled,
 * 0 when more bytes are needed, -1 on a protocol error (errno EMSGSIZE,
 * EBADMSG for bad flags or a missing fd).
 */
int		 msgchan_get(struct msgchan *, struct msg *);
/*
 * Lower the limit on received payloads only (messages sent may still be
 * up to maxpayload): a header announcing more is a protocol error before
 * any of its payload is buffered.
 */
void		 msgchan_set_maxread(struct msgchan *, size_t);

/*
 * Event loop glue (libevent).  dispatch is called for each message; the
 * callee owns m->fd.  closed is called once when the peer hangs up, on
 * any read/write error or protocol error; after it returns the msgev
 * is freed by the library (do not touch it again).
 */
struct msgev;
typedef void	(*msgev_dispatch_cb)(struct msgev *, struct msg *, void *);
typedef void	(*msgev_closed_cb)(struct msgev *, void *);
/*
 * Called for each message before dispatch: 0 accepts it; -1 rejects it
 * (its fd is closed) and closes the channel as a protocol error.
 */
typedef int	(*msgev_check_cb)(const struct msg *, void *);

struct msgev	*msgev_new(struct event_base *, int fd, size_t maxpayload,
		    size_t maxqueue, msgev_dispatch_cb, msgev_closed_cb,
		    void *arg);
/* Queue and arrange for writing.  Same returns as msgchan_queue. */
int		 msgev_send(struct msgev *, uint32_t type, uint32_t peerid,
		    pid_t pid, int fd, const void *data, size_t len);
size_t		 msgev_queued(struct msgev *);
/*
 * A peer that has its answer and must take it: msgev_drain_start() when
 * the answer is queued, then msgev_drain_tick() once a second says
 * DRAIN_DONE (all taken), DRAIN_WAIT (progress, or not stalled long
 * enough yet) or DRAIN_STALLED (nothing taken for stall_s seconds).
 */
struct msgev_drain {
	size_t		 last_queued;
	int		 stalled_s;
};
enum msgev_drain_state { DRAIN_DONE, DRAIN_WAIT, DRAIN_STALLED };
enum msgev_drain_state	 msgev_drain_start(struct msgev *,
			    struct msgev_drain *);
enum msgev_drain_state	 msgev_drain_tick(struct msgev *,
			    struct msgev_drain *, int stall_s);
void		 msgev_flush(struct msgev *);
/* Stop reading new messages (output still drains) or resume. */
void		 msgev_pause(struct msgev *, int paused);
/* Close after the output queue has drained (or at once on error). */
void		 msgev_close_when_flushed(struct msgev *);
void		 msgev_free(struct msgev *);	/* closes fd, no callback */
struct msgchan	*msgev_chan(struct msgev *);
void		 msgev_set_check(struct msgev *, msgev_check_cb, void *);
/*
 * In the closed callback: 1 if the channel closed on a protocol error
 * (a malformed frame, or a message the check callback rejected), 0 on
 * end of file or an I/O error.
 */
int		 msgev_protocol_error(struct msgev *);

/* Copy an exact-size payload; -1 (errno EBADMSG) if the size differs. */
int		 msg_get_exact(const struct msg *, void *, size_t);

#endif
