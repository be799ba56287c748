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
 * herod message framing, see msg.h for the wire format.
 *
 * Sending: every queued message is one buffer (header + payload), an
 * offset of what has been written and an optional descriptor.  A
 * sendmsg() carrying a descriptor always starts at the first byte of that
 * message's header, so the kernel attaches the descriptor to that byte;
 * once a sendmsg() has accepted at least one byte the descriptor has
 * gone and our copy is closed, so a partial write never sends it twice.
 *
 * Receiving: recvmsg() fills a read buffer that grows up to the size of
 * the largest legal message (header + read limit) and never beyond.
 * Descriptors go to a small FIFO together with the stream range
 * [start, end) of the bytes that came with them.  On a stream socket a
 * descriptor arrives with the first byte of its message, so when the
 * header of a message with MSG_F_FD is parsed, the oldest pending
 * descriptor must have come with a range holding that header's first
 * byte; anything else (no descriptor, or an older one no message has
 * claimed) is a protocol error.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "msg.h"
#include "util.h"

_Static_assert(sizeof(struct msg_hdr) == MSG_HDR_LEN,
    "struct msg_hdr must have no padding");

#define MSG_DEFAULT_MAXQUEUE	(64 * 1024 * 1024)
#define MSG_READ_CHUNK		(16 * 1024)	/* read at least this much */
#define MSG_RECV_FDS		16	/* descriptors per recvmsg */
#define MSG_SEND_IOV		64	/* messages per sendmsg */

struct msgout {
	TAILQ_ENTRY(msgout)	 entry;
	size_t			 len;	/* header + payload */
	size_t			 off;	/* bytes already written */
	int			 fd;	/* -1, or to send with byte 0 */
	unsigned char		 buf[];
};

struct msgpfd {
	int			 fd;
	uint64_t		 start;	/* stream range it came with */
	uint64_t		 end;
};

struct msgchan {
	int			 fd;
	size_t			 maxpayload;
	size_t			 maxread; /* <= maxpayload */
	size_t			 maxqueue;
	int			 error;	/* sticky protocol error (errno) */

	/* input */
	unsigned char		*rbuf;
	size_t			 rsize;		/* allocated */
	size_t			 rstart;	/* first unconsumed byte */
	size_t			 rend;		/* end of data */
	uint64_t		 rpos;		/* stream offset of rstart */
	struct msgpfd		 pfd[MSG_MAX_PENDING_FDS];
	size_t			 pfd_head;
	size_t			 pfd_count;

	/* output */
	TAILQ_HEAD(, msgout)	 outq;
	size_t			 queued;	/* bytes not yet written */
};

static void	 msgchan_destroy(struct msgchan *, int);
static int	 msgchan_rspace(struct msgchan *);
static int	 msgchan_takefds(struct msgchan *, struct msghdr *,
		    uint64_t, uint64_t);
static int	 msgchan_fail(struct msgchan *, int);

struct msgchan *
msgchan_new(int fd, size_t maxpayload, size_t maxqueue)
{
	struct msgchan	*c;

	if (fd < 0) {
		errno = EBADF;
		return NULL;
	}
	if (set_nonblock(fd) == -1 || set_cloexec(fd) == -1)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd = fd;
	c->maxpayload = maxpayload > MSG_MAX_PAYLOAD ? MSG_MAX_PAYLOAD :
	    maxpayload;
	c->maxread = c->maxpayload;
	c->maxqueue = maxqueue == 0 ? MSG_DEFAULT_MAXQUEUE : maxqueue;
	TAILQ_INIT(&c->outq);
	return c;
}

static void
msgchan_destroy(struct msgchan *c, int closefd)
{
	struct msgout	*mo;

	if (c == NULL)
		return;
	while ((mo = TAILQ_FIRST(&c->outq)) != NULL) {
		TAILQ_REMOVE(&c->outq, mo, entry);
		if (mo->fd != -1)
			close(mo->fd);
		free(mo);
	}
	while (c->pfd_count > 0) {
		close(c->pfd[c->pfd_head].fd);
		c->pfd_head = (c->pfd_head + 1) % MSG_MAX_PENDING_FDS;
		c->pfd_count--;
	}
	if (closefd && c->fd != -1)
		close(c->fd);
	free(c->rbuf);
	free(c);
}

void
msgchan_free(struct msgchan *c)
{
	msgchan_destroy(c, 1);
}

int
msgchan_fd(struct msgchan *c)
{
	return c->fd;
}

int
msgchan_queue(struct msgchan *c, uint32_t type, uint32_t peerid, pid_t pid,
    int fd, const void *data, size_t len)
{
	struct msgout	*mo;
	struct msg_hdr	 hdr;
	size_t		 total;

	if (len > c->maxpayload) {
		errno = EMSGSIZE;
		return -1;
	}
	if (len > 0 && data == NULL) {
		errno = EINVAL;
		return -1;
	}
	total = MSG_HDR_LEN + len;
	if (c->queued > c->maxqueue || total > c->maxqueue - c->queued) {
		errno = ENOBUFS;
		return -1;
	}
	if ((mo = malloc(sizeof(*mo) + total)) == NULL)
		return -1;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = (uint32_t)len;
	hdr.peerid = peerid;
	hdr.pid = (int32_t)pid;
	hdr.flags = fd >= 0 ? MSG_F_FD : 0;
	memcpy(mo->buf, &hdr, MSG_HDR_LEN);
	if (len > 0)
		memcpy(mo->buf + MSG_HDR_LEN, data, len);
	mo->len = total;
	mo->off = 0;
	mo->fd = fd >= 0 ? fd : -1;

	TAILQ_INSERT_TAIL(&c->outq, mo, entry);
	c->queued += total;
	return 0;
}

int
msgchan_flush(struct msgchan *c)
{
	union {
		struct cmsghdr	 hdr;
		unsigned char	 buf[CMSG_SPACE(sizeof(int))];
	}		 cbuf;
	struct iovec	 iov[MSG_SEND_IOV];
	struct msghdr	 mh;
	struct cmsghdr	*cmsg;
	struct msgout	*mo, *first;
	ssize_t		 n;
	size_t		 left, niov;
	int		 withfd;

	while ((first = TAILQ_FIRST(&c->outq)) != NULL) {
		memset(&mh, 0, sizeof(mh));
		niov = 0;
		TAILQ_FOREACH(mo, &c->outq, entry) {
			/* A descriptor must start its own sendmsg. */
			if (niov == MSG_SEND_IOV || (niov > 0 && mo->fd != -1))
				break;
			iov[niov].iov_base = mo->buf + mo->off;
			iov[niov].iov_len = mo->len - mo->off;
			niov++;
		}
		mh.msg_iov = iov;
		mh.msg_iovlen = niov;

		withfd = first->fd != -1;
		if (withfd) {
			if (first->off != 0) {
				/* Cannot happen: the fd goes with byte 0. */
				errno = EINVAL;
				return -1;
			}
			memset(&cbuf, 0, sizeof(cbuf));
			mh.msg_control = cbuf.buf;
			mh.msg_controllen = sizeof(cbuf.buf);
			cmsg = CMSG_FIRSTHDR(&mh);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cmsg), &first->fd, sizeof(int));
		}

		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -1;
		}
		if (withfd) {
			/* Gone with the first byte: never send it again. */
			close(first->fd);
			first->fd = -1;
		}

		while (n > 0 && (mo = TAILQ_FIRST(&c->outq)) != NULL) {
			left = mo->len - mo->off;
			if ((size_t)n < left) {
				mo->off += (size_t)n;
				c->queued -= (size_t)n;
				break;
			}
			n -= (ssize_t)left;
			c->queued -= left;
			TAILQ_REMOVE(&c->outq, mo, entry);
			free(mo);
		}
	}
	return 0;
}

size_t
msgchan_queued(struct msgchan *c)
{
	return c->queued;
}

static int
msgchan_fail(struct msgchan *c, int error)
{
	c->error = error;
	errno = error;
	return -1;
}

/*
 * Make room after rend for the next recvmsg.  Data is moved to the
 * front of the buffer only here (never in msgchan_get), so a payload
 * pointer handed out stays valid until the next read or get.
 */
static int
msgchan_rspace(struct msgchan *c)
{
	struct msg_hdr	 hdr;
	unsigned char	*p;
	size_t		 cap, avail, want, nsize;

	cap = MSG_HDR_LEN + c->maxread;
	avail = c->rend - c->rstart;
	if (avail == 0)
		c->rstart = c->rend = 0;

	want = avail + MSG_READ_CHUNK;
	if (avail >= MSG_HDR_LEN) {
		memcpy(&hdr, c->rbuf + c->rstart, MSG_HDR_LEN);
		if (hdr.len <= c->maxread &&
		    MSG_HDR_LEN + (size_t)hdr.len > want)
			want = MSG_HDR_LEN + (size_t)hdr.len;
	}
	if (want > cap)
		want = cap;
	if (avail >= want) {
		/* A whole message is buffered: msgchan_get it first. */
		errno = ENOBUFS;
		return -1;
	}
	if (c->rsize - c->rstart >= want)
		return 0;
	if (c->rstart > 0) {
		memmove(c->rbuf, c->rbuf + c->rstart, avail);
		c->rstart = 0;
		c->rend = avail;
	}
	if (c->rsize >= want)
		return 0;

	nsize = want;
	if (nsize < MSG_READ_CHUNK * 2)
		nsize = MSG_READ_CHUNK * 2;
	if (nsize > cap)
		nsize = cap;
	if ((p = realloc(c->rbuf, nsize)) == NULL)
		return -1;
	c->rbuf = p;
	c->rsize = nsize;
	return 0;
}

/*
 * Move the descriptors of one recvmsg to the pending FIFO, tagged with
 * the stream range [start, end) they came with.  Descriptors that do not
 * fit are closed.  -1 if the control data was truncated or the FIFO
 * overflowed: a protocol error.
 */
static int
msgchan_takefds(struct msgchan *c, struct msghdr *mh, uint64_t start,
    uint64_t end)
{
	struct cmsghdr	*cmsg;
	struct msgpfd	*pf;
	unsigned char	*data;
	size_t		 i, nfd;
	int		 fd, bad = 0;

	if (mh->msg_flags & MSG_CTRUNC)
		bad = 1;
	for (cmsg = CMSG_FIRSTHDR(mh); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(mh, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		if (cmsg->cmsg_len < CMSG_LEN(0))
			continue;
		nfd = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		data = CMSG_DATA(cmsg);
		for (i = 0; i < nfd; i++) {
			memcpy(&fd, data + i * sizeof(int), sizeof(int));
			if (fd < 0)
				continue;
			if (bad || c->pfd_count == MSG_MAX_PENDING_FDS) {
				close(fd);
				bad = 1;
				continue;
			}
			pf = &c->pfd[(c->pfd_head + c->pfd_count) %
			    MSG_MAX_PENDING_FDS];
			pf->fd = fd;
			pf->start = start;
			pf->end = end;
			c->pfd_count++;
		}
	}
	return bad ? -1 : 0;
}

ssize_t
msgchan_read(struct msgchan *c)
{
	union {
		struct cmsghdr	 hdr;
		unsigned char	 buf[CMSG_SPACE(sizeof(int) * MSG_RECV_FDS)];
	}		 cbuf;
	struct msghdr	 mh;
	struct iovec	 iov;
	ssize_t		 n;
	uint64_t	 start;

	if (c->error) {
		errno = c->error;
		return -1;
	}
	if (msgchan_rspace(c) == -1)
		return -1;

	iov.iov_base = c->rbuf + c->rend;
	iov.iov_len = c->rsize - c->rend;
	do {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;

	start = c->rpos + (c->rend - c->rstart);
	c->rend += (size_t)n;
	if (msgchan_takefds(c, &mh, start, start + (uint64_t)n) == -1)
		return msgchan_fail(c, EBADMSG);
	return n;
}

int
msgchan_get(struct msgchan *c, struct msg *m)
{
	struct msg_hdr	 hdr;
	struct msgpfd	*pf = NULL;
	size_t		 avail, total;

	if (c->error) {
		errno = c->error;
		return -1;
	}
	avail = c->rend - c->rstart;
	if (avail < MSG_HDR_LEN)
		return 0;
	memcpy(&hdr, c->rbuf + c->rstart, MSG_HDR_LEN);

	if (hdr.flags & ~(uint32_t)MSG_F_FD)
		return msgchan_fail(c, EBADMSG);
	if (hdr.len > c->maxread)
		return msgchan_fail(c, EMSGSIZE);

	if (c->pfd_count > 0) {
		pf = &c->pfd[c->pfd_head];
		/* Came before this header and no message claimed it. */
		if (pf->end <= c->rpos)
			return msgchan_fail(c, EBADMSG);
	}
	if ((hdr.flags & MSG_F_FD) && (pf == NULL || pf->start > c->rpos))
		return msgchan_fail(c, EBADMSG);

	total = MSG_HDR_LEN + (size_t)hdr.len;
	if (avail < total)
		return 0;

	m->hdr = hdr;
	m->data = c->rbuf + c->rstart + MSG_HDR_LEN;
	m->fd = -1;
	if (hdr.flags & MSG_F_FD) {
		m->fd = pf->fd;
		c->pfd_head = (c->pfd_head + 1) % MSG_MAX_PENDING_FDS;
		c->pfd_count--;
	}
	c->rstart += total;
	c->rpos += total;
	return 1;
}

void
msgchan_set_maxread(struct msgchan *c, size_t maxread)
{
	if (maxread < c->maxread)
		c->maxread = maxread;
}

int
msg_get_exact(const struct msg *m, void *buf, size_t len)
{
	if (m->hdr.len != len) {
		errno = EBADMSG;
		return -1;
	}
	if (len > 0)
		memcpy(buf, m->data, len);
	return 0;
}

/*
 * Event loop glue.
 *
 * The owner's callbacks may do anything to the msgev they are called
 * for: send, pause, close_when_flushed, even msgev_free.  So while one
 * of our callbacks runs user code, "busy" is set and msgev_free only
 * marks the msgev dead and stops its events; the real free happens when
 * control is back in our callback, which checks "dead" before touching
 * anything else.  The payload of the message being dispatched therefore
 * stays valid for the whole dispatch call, even if it frees the msgev.
 *
 * msgev_close_when_flushed: reading stops at once; when the output queue
 * is empty (or writing fails) the msgev is freed silently, without the
 * closed callback: the owner has given it up and must forget it when it
 * calls msgev_close_when_flushed (it may already be freed on return).
 * msgev_send on it fails with EPIPE.
 */
struct msgev {
	struct msgchan		*chan;
	struct event		*rev;
	struct event		*wev;
	msgev_dispatch_cb	 dispatch;
	msgev_closed_cb		 closed;
	msgev_check_cb		 check;
	void			*arg;
	void			*checkarg;
	int			 rejected;	/* by check */
	int			 busy;		/* in a user callback */
	int			 dead;		/* free when not busy */
	int			 failed;	/* closed callback called */
	int			 closing;	/* close_when_flushed */
	int			 paused;
	int			 eof;		/* peer has hung up */
};

static void	 msgev_readcb(evutil_socket_t, short, void *);
static void	 msgev_writecb(evutil_socket_t, short, void *);
static void	 msgev_destroy(struct msgev *);
static void	 msgev_fail(struct msgev *);
static int	 msgev_reading(struct msgev *);
static int	 msgev_drain(struct msgev *);

struct msgev *
msgev_new(struct event_base *base, int fd, size_t maxpayload,
    size_t maxqueue, msgev_dispatch_cb dispatch, msgev_closed_cb closed,
    void *arg)
{
	struct msgev	*mev;
	int		 saved;

	if (base == NULL || dispatch == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((mev = calloc(1, sizeof(*mev))) == NULL)
		return NULL;
	if ((mev->chan = msgchan_new(fd, maxpayload, maxqueue)) == NULL)
		goto fail;
	mev->rev = event_new(base, fd, EV_READ | EV_PERSIST, msgev_readcb,
	    mev);
	mev->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, msgev_writecb,
	    mev);
	if (mev->rev == NULL || mev->wev == NULL ||
	    event_add(mev->rev, NULL) == -1) {
		errno = ENOMEM;
		goto fail;
	}
	mev->dispatch = dispatch;
	mev->closed = closed;
	mev->arg = arg;
	return mev;

 fail:
	/* fd is not consumed on failure. */
	saved = errno;
	if (mev->rev != NULL)
		event_free(mev->rev);
	if (mev->wev != NULL)
		event_free(mev->wev);
	msgchan_destroy(mev->chan, 0);
	free(mev);
	errno = saved;
	return NULL;
}

static void
msgev_destroy(struct msgev *mev)
{
	event_free(mev->rev);
	event_free(mev->wev);
	msgchan_free(mev->chan);
	free(mev);
}

void
msgev_free(struct msgev *mev)
{
	if (mev == NULL)
		return;
	if (mev->busy) {
		mev->dead = 1;
		event_del(mev->rev);
		event_del(mev->wev);
		return;
	}
	msgev_destroy(mev);
}

/* Call the closed callback (unless closing silently), then free. */
static void
msgev_fail(struct msgev *mev)
{
	event_del(mev->rev);
	event_del(mev->wev);
	if (!mev->closing && !mev->failed && mev->closed != NULL) {
		mev->failed = 1;
		mev->busy++;
		mev->closed(mev, mev->arg);
		mev->busy--;
	}
	msgev_destroy(mev);
}

static int
msgev_reading(struct msgev *mev)
{
	return !mev->paused && !mev->closing && !mev->dead && !mev->failed;
}

/* Dispatch every complete buffered message; -1 on a protocol error. */
static int
msgev_drain(struct msgev *mev)
{
	struct msg	 m;
	int		 r;

	while (msgev_reading(mev)) {
		if ((r = msgchan_get(mev->chan, &m)) <= 0)
			return r;
		if (mev->check != NULL && mev->check(&m, mev->checkarg) != 0) {
			if (m.fd != -1)
				close(m.fd);
			mev->rejected = 1;
			return -1;
		}
		mev->dispatch(mev, &m, mev->arg);
	}
	return 0;
}

static void
msgev_readcb(evutil_socket_t fd, short what, void *arg)
{
	struct msgev	*mev = arg;
	ssize_t		 n;
	int		 r;

	mev->busy++;
	/* Messages left over from a pause go first. */
	r = msgev_drain(mev);
	if (r == 0 && msgev_reading(mev) && !mev->eof) {
		n = msgchan_read(mev->chan);
		if (n == 0)
			mev->eof = 1;
		else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			r = -1;
		if (r == 0)
			r = msgev_drain(mev);
	}
	mev->busy--;

	if (mev->dead) {
		msgev_destroy(mev);
		return;
	}
	/* At EOF, close once everything buffered has been dispatched. */
	if (r == -1 || (mev->eof && msgev_reading(mev)))
		msgev_fail(mev);
}

static void
msgev_writecb(evutil_socket_t fd, short what, void *arg)
{
	struct msgev	*mev = arg;
	int		 r;

	if ((r = msgchan_flush(mev->chan)) == -1) {
		msgev_fail(mev);
		return;
	}
	if (r == 0) {
		event_del(mev->wev);
		if (mev->closing)
			msgev_destroy(mev);
	}
}

int
msgev_send(struct msgev *mev, uint32_t type, uint32_t peerid, pid_t pid,
    int fd, const void *data, size_t len)
{
	if (mev->dead || mev->failed || mev->closing) {
		errno = EPIPE;
		return -1;
	}
	if (msgchan_queue(mev->chan, type, peerid, pid, fd, data, len) == -1)
		return -1;
	/* The message is queued; it goes when the socket is writable. */
	event_add(mev->wev, NULL);
	return 0;
}

/*
 * Write what is queued now rather than at the next turn of the loop, for
 * a message whose latency matters.  Errors are left to the write event.
 */
void
msgev_flush(struct msgev *mev)
{
	if (mev->dead || mev->failed || mev->closing)
		return;
	if (msgchan_flush(mev->chan) == 0)
		event_del(mev->wev);
}

size_t
msgev_queued(struct msgev *mev)
{
	return msgchan_queued(mev->chan);
}

enum msgev_drain_state
msgev_drain_start(struct msgev *mev, struct msgev_drain *d)
{
	msgev_flush(mev);
	d->stalled_s = 0;
	if ((d->last_queued = msgev_queued(mev)) == 0)
		return DRAIN_DONE;
	return DRAIN_WAIT;
}

enum msgev_drain_state
msgev_drain_tick(struct msgev *mev, struct msgev_drain *d, int stall_s)
{
	size_t	 q = msgev_queued(mev);

	if (q == 0)
		return DRAIN_DONE;
	if (q < d->last_queued) {
		d->last_queued = q;
		d->stalled_s = 0;
		return DRAIN_WAIT;
	}
	return ++d->stalled_s >= stall_s ? DRAIN_STALLED : DRAIN_WAIT;
}

void
msgev_pause(struct msgev *mev, int paused)
{
	if (mev->dead || mev->failed || mev->closing)
		return;
	if (paused) {
		mev->paused = 1;
		event_del(mev->rev);
		return;
	}
	if (!mev->paused)
		return;
	mev->paused = 0;
	event_add(mev->rev, NULL);
	/*
	 * Complete messages (or EOF) may already be buffered while the
	 * socket has nothing new: run the read callback once anyway.
	 */
	event_active(mev->rev, EV_READ, 0);
}

void
msgev_close_when_flushed(struct msgev *mev)
{
	if (mev->dead || mev->failed)
		return;
	mev->closing = 1;
	event_del(mev->rev);
	if (msgchan_queued(mev->chan) == 0) {
		msgev_free(mev);
		return;
	}
	event_add(mev->wev, NULL);
}

struct msgchan *
msgev_chan(struct msgev *mev)
{
	return mev->chan;
}

void
msgev_set_check(struct msgev *mev, msgev_check_cb check, void *arg)
{
	mev->check = check;
	mev->checkarg = arg;
}

int
msgev_protocol_error(struct msgev *mev)
{
	return mev->rejected || mev->chan->error != 0;
}
