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
 * Fuzz harness: message framing (common/msg.c), the receiving end of a
 * channel fed by a hostile peer.
 *
 * Input: one byte choosing the channel's payload limit, then chunks
 * [ctl u8][len u16 le][len bytes].  Each chunk is written to the peer end
 * of a socketpair with one sendmsg(); ctl bit 0 attaches a descriptor to
 * it (SCM_RIGHTS).  After each chunk the channel reads and takes out
 * every complete message, as msgev does.  Checked besides memory safety:
 *  - msgchan_read() never refuses to read (ENOBUFS) while msgchan_get()
 *    says it needs more bytes;
 *  - a message has len <= the limit, a descriptor exactly when it says
 *    so, and once an error was returned the channel stays failed;
 *  - with no descriptor sent, the messages and the final error are
 *    exactly those of a straightforward reading of the byte stream;
 *  - no descriptor is leaked once the channel is freed;
 *  - each message, queued again on a second channel, goes out byte for
 *    byte as it came in, but for MSG_F_FD (msgchan_queue/msgchan_flush).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"

#define CHUNKS_MAX	256

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const size_t limits[] = { 0, 1, 16, 100, 4096, 65536, 200000,
    MSG_MAX_PAYLOAD };

/* What a plain reading of the stream gives (no descriptors sent). */
struct model {
	const uint8_t	*stream;
	size_t		 len;
	size_t		 off;
	size_t		 maxpayload;
	int		 error;		/* errno of the protocol error */
};

static int
model_next(struct model *md, struct msg_hdr *hdr, const uint8_t **payload)
{
	if (md->error)
		return -1;
	if (md->len - md->off < MSG_HDR_LEN)
		return 0;
	memcpy(hdr, md->stream + md->off, MSG_HDR_LEN);
	if (hdr->flags & ~(uint32_t)MSG_F_FD) {
		md->error = EBADMSG;
		return -1;
	}
	if (hdr->len > md->maxpayload) {
		md->error = EMSGSIZE;
		return -1;
	}
	if (hdr->flags & MSG_F_FD) {
		/* no descriptor was sent */
		md->error = EBADMSG;
		return -1;
	}
	if (md->len - md->off - MSG_HDR_LEN < hdr->len)
		return 0;
	*payload = md->stream + md->off + MSG_HDR_LEN;
	md->off += MSG_HDR_LEN + hdr->len;
	return 1;
}

static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
send_chunk(int fd, const uint8_t *p, size_t len, int withfd)
{
	union {
		struct cmsghdr	 hdr;
		unsigned char	 buf[CMSG_SPACE(sizeof(int))];
	}		 cbuf;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	int		 nfd = -1;
	ssize_t		 n;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)p;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (withfd) {
		if ((nfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
			abort();
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &nfd, sizeof(int));
	}
	n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	if (nfd != -1)
		close(nfd);
	if (n == -1 && errno == EAGAIN)
		return -1;	/* the reader stopped reading: done */
	if (n != (ssize_t)len)
		abort();
	return 0;
}

/* Queue m on the echo channel; what comes out must be what came in. */
static void
echo(struct msgchan *out, int outpeer, const struct msg *m)
{
	static uint8_t	 buf[MSG_HDR_LEN + MSG_MAX_PAYLOAD];
	struct msg_hdr	 hdr;
	size_t		 got = 0, want = MSG_HDR_LEN + m->hdr.len;
	ssize_t		 n;
	int		 r;

	if (msgchan_queue(out, m->hdr.type, m->hdr.peerid, m->hdr.pid, -1,
	    m->data, m->hdr.len) == -1)
		abort();
	while (got < want) {
		if ((r = msgchan_flush(out)) == -1)
			abort();
		n = read(outpeer, buf + got, want - got);
		if (n == -1 && errno == EAGAIN && r == 1)
			continue;
		if (n <= 0)
			abort();
		got += (size_t)n;
	}
	if (msgchan_flush(out) != 0 || msgchan_queued(out) != 0)
		abort();
	memcpy(&hdr, buf, MSG_HDR_LEN);
	/* queued without a descriptor */
	if (hdr.type != m->hdr.type || hdr.len != m->hdr.len ||
	    hdr.peerid != m->hdr.peerid || hdr.pid != m->hdr.pid ||
	    hdr.flags != 0 ||
	    memcmp(buf + MSG_HDR_LEN, m->data, m->hdr.len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t	*stream;
	struct msgchan	*c, *out;
	struct model	 md;
	struct msg	 m;
	struct msg_hdr	 mh;
	const uint8_t	*p, *end, *mp;
	size_t		 maxpayload, len, slen = 0, nchunk = 0;
	int		 sp[2], ep[2], fds0 = -1, anyfd = 0, failed = 0;
	int		 r;
	ssize_t		 n;

	if (size < 1)
		return 0;
	if (stream == NULL && (stream = malloc(1 << 20)) == NULL)
		abort();
	maxpayload = limits[data[0] % (sizeof(limits) / sizeof(limits[0]))];
	p = data + 1;
	end = data + size;
	for (; end - p >= 3 && nchunk < CHUNKS_MAX; nchunk++) {
		if (p[0] & 1)
			anyfd = 1;
		len = p[1] | (size_t)p[2] << 8;
		if (len > (size_t)(end - p - 3))
			len = (size_t)(end - p - 3);
		p += 3 + len;
	}
	if (anyfd)
		fds0 = count_fds();

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ep) == -1)
		abort();
	if (fcntl(sp[1], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(ep[1], F_SETFL, O_NONBLOCK) == -1)
		abort();
	if ((c = msgchan_new(sp[0], maxpayload, 0)) == NULL ||
	    (out = msgchan_new(ep[0], MSG_MAX_PAYLOAD, 0)) == NULL)
		abort();
	memset(&md, 0, sizeof(md));
	md.stream = stream;
	md.maxpayload = maxpayload;

	p = data + 1;
	for (; !failed && end - p >= 3 && nchunk > 0; nchunk--) {
		len = p[1] | (size_t)p[2] << 8;
		if (len > (size_t)(end - p - 3))
			len = (size_t)(end - p - 3);
		if (slen + len > (1 << 20))
			break;
		if (send_chunk(sp[1], p + 3, len, p[0] & 1) == -1)
			break;
		memcpy(stream + slen, p + 3, len);
		slen += len;
		md.len = slen;
		p += 3 + len;

		for (;;) {
			r = msgchan_get(c, &m);
			if (r == -1) {
				if (errno != EBADMSG && errno != EMSGSIZE)
					abort();
				if (!anyfd && (model_next(&md, &mh, &mp) != -1 ||
				    md.error != errno))
					abort();
				failed = 1;
				break;
			}
			if (r == 1) {
				if (m.hdr.len > maxpayload)
					abort();
				if ((m.hdr.flags & MSG_F_FD) != 0) {
					if (m.fd < 0 ||
					    fcntl(m.fd, F_GETFD) == -1)
						abort();
					close(m.fd);
				} else if (m.fd != -1)
					abort();
				if (!anyfd) {
					if (model_next(&md, &mh, &mp) != 1 ||
					    memcmp(&mh, &m.hdr,
					    MSG_HDR_LEN) != 0 ||
					    memcmp(mp, m.data, mh.len) != 0)
						abort();
				}
				echo(out, ep[1], &m);
				continue;
			}
			/* r == 0: needs more bytes */
			n = msgchan_read(c);
			if (n > 0)
				continue;
			if (n == 0)
				abort();	/* the peer is still open */
			if (errno == EAGAIN) {
				/* all sent is read: nothing complete left */
				if (!anyfd && model_next(&md, &mh, &mp) != 0)
					abort();
				break;
			}
			if (errno == EBADMSG) {
				failed = 1;
				break;
			}
			/* ENOBUFS here would mean a stalled channel */
			abort();
		}
	}
	if (failed && (msgchan_get(c, &m) != -1 || msgchan_read(c) != -1))
		abort();
	msgchan_free(c);
	msgchan_free(out);
	close(sp[1]);
	close(ep[1]);
	if (anyfd && count_fds() != fds0) {
		fprintf(stderr, "descriptor leak: %d open, %d before\n",
		    count_fds(), fds0);
		abort();
	}
	return 0;
}
