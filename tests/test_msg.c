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
 * Unit tests for the message framing (common/msg.c) and the message
 * table (common/proto.c).  "test_msg --table" prints the table for
 * docs/ARCHITECTURE.md.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ctl.h"
#include "msg.h"
#include "proto.h"

static int	 sp[2];
static int	 nfds_before;

static int
count_fds(void)
{
	int	 fd, n = 0;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

static void
setup(void)
{
	nfds_before = count_fds();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
}

static void
teardown(void)
{
	if (sp[0] != -1)
		close(sp[0]);
	if (sp[1] != -1)
		close(sp[1]);
	sp[0] = sp[1] = -1;
	/* Nothing leaked: sent, received and unclaimed fds are closed. */
	ck_assert_int_eq(count_fds(), nfds_before);
}

static void
fill(unsigned char *p, size_t len, uint32_t seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 8));
}

static int
check_fill(const unsigned char *p, size_t len, uint32_t seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] != (unsigned char)(seed * 31 + i * 7 + (i >> 8)))
			return 0;
	return 1;
}

static void
mkhdr(unsigned char *buf, uint32_t type, uint32_t len, uint32_t flags)
{
	struct msg_hdr	 h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.len = len;
	h.peerid = 7;
	h.pid = 42;
	h.flags = flags;
	memcpy(buf, &h, MSG_HDR_LEN);
}

/* Raw sendmsg from the socket side, optionally with one descriptor. */
static void
raw_send(int s, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr	 hdr;
		unsigned char	 buf[CMSG_SPACE(sizeof(int))];
	}		 cbuf;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd != -1) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	ck_assert_int_eq(sendmsg(s, &mh, 0), (ssize_t)len);
}

/* Read what is there and take one message; 1, 0 or -1 like get. */
static int
read_get(struct msgchan *c, struct msg *m)
{
	ssize_t	 n;
	int	 r;

	if ((r = msgchan_get(c, m)) != 0)
		return r;
	n = msgchan_read(c);
	if (n == -1 && errno != EAGAIN)
		return -1;
	return msgchan_get(c, m);
}

/* Wait until a socket is readable (bounded). */
static void
wait_readable(int fd)
{
	struct pollfd	 pfd;

	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	(void)poll(&pfd, 1, 100);
}

START_TEST(test_roundtrip)
{
	static const size_t	 sizes[] = { 0, 1, 2, 19, 20, 21, 100, 4095,
	    4096, 4097, 16383, 16384, 16385, 65536, 100000, 0, 3,
	    MSG_MAX_PAYLOAD - 1, 7, MSG_MAX_PAYLOAD, 0 };
	struct msgchan		*a, *b;
	struct msg		 m;
	unsigned char		*buf;
	size_t			 i, nsizes = sizeof(sizes) / sizeof(sizes[0]);
	size_t			 got = 0;
	int			 r, loops = 0;

	buf = malloc(MSG_MAX_PAYLOAD);
	ck_assert_ptr_nonnull(buf);
	a = msgchan_new(sp[0], MSG_MAX_PAYLOAD, 0);
	b = msgchan_new(sp[1], MSG_MAX_PAYLOAD * 4, 0);	/* clamped */
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(msgchan_fd(a), sp[0]);

	for (i = 0; i < nsizes; i++) {
		fill(buf, sizes[i], (uint32_t)i);
		ck_assert_int_eq(msgchan_queue(a, 100 + i, i, (pid_t)i, -1,
		    buf, sizes[i]), 0);
	}
	ck_assert_int_gt(msgchan_queued(a), MSG_MAX_PAYLOAD);
	/* Above the limit even before clamping. */
	ck_assert_int_eq(msgchan_queue(a, 1, 0, 0, -1, buf,
	    (size_t)MSG_MAX_PAYLOAD + 1), -1);
	ck_assert_int_eq(errno, EMSGSIZE);

	while (got < nsizes) {
		ck_assert_int_lt(loops++, 100000);
		r = msgchan_flush(a);
		ck_assert_int_ge(r, 0);
		if (r == 0)
			ck_assert_uint_eq(msgchan_queued(a), 0);
		while ((r = read_get(b, &m)) == 1) {
			ck_assert_uint_eq(m.hdr.type, 100 + got);
			ck_assert_uint_eq(m.hdr.len, sizes[got]);
			ck_assert_uint_eq(m.hdr.peerid, got);
			ck_assert_int_eq(m.hdr.pid, (int32_t)got);
			ck_assert_uint_eq(m.hdr.flags, 0);
			ck_assert_int_eq(m.fd, -1);
			ck_assert(check_fill(m.data, m.hdr.len,
			    (uint32_t)got));
			got++;
		}
		ck_assert_int_eq(r, 0);
	}
	ck_assert_int_eq(msgchan_flush(a), 0);
	ck_assert_uint_eq(msgchan_queued(a), 0);
	/* Nothing more. */
	ck_assert_int_eq(msgchan_read(b), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(msgchan_get(b, &m), 0);

	msgchan_free(a);
	msgchan_free(b);
	sp[0] = sp[1] = -1;
	free(buf);
}
END_TEST

START_TEST(test_many_small)
{
	struct msgchan	*a, *b;
	struct msg	 m;
	unsigned char	 buf[300];
	uint32_t	 i, got = 0;
	int		 r;

	a = msgchan_new(sp[0], 300, 0);
	b = msgchan_new(sp[1], 300, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	for (i = 0; i < 5000; i++) {
		fill(buf, i % 300, i);
		ck_assert_int_eq(msgchan_queue(a, i, 0, 0, -1, buf, i % 300),
		    0);
		if (i % 97 != 0)
			continue;
		ck_assert_int_ge(msgchan_flush(a), 0);
		while ((r = read_get(b, &m)) == 1) {
			ck_assert_uint_eq(m.hdr.type, got);
			ck_assert_uint_eq(m.hdr.len, got % 300);
			ck_assert(check_fill(m.data, m.hdr.len, got));
			got++;
		}
		ck_assert_int_eq(r, 0);
	}
	while (got < 5000) {
		ck_assert_int_ge(msgchan_flush(a), 0);
		while ((r = read_get(b, &m)) == 1) {
			ck_assert_uint_eq(m.hdr.type, got);
			ck_assert(check_fill(m.data, m.hdr.len, got));
			got++;
		}
		ck_assert_int_eq(r, 0);
	}
	msgchan_free(a);
	msgchan_free(b);
	sp[0] = sp[1] = -1;
}
END_TEST

START_TEST(test_partial_read)
{
	struct msgchan	*b;
	struct msg	 m;
	unsigned char	 buf[2 * (MSG_HDR_LEN + 37)];
	size_t		 i, one = MSG_HDR_LEN + 37;

	b = msgchan_new(sp[1], 1024, 0);
	ck_assert_ptr_nonnull(b);
	mkhdr(buf, 9, 37, 0);
	fill(buf + MSG_HDR_LEN, 37, 9);
	mkhdr(buf + one, 10, 37, 0);
	fill(buf + one + MSG_HDR_LEN, 37, 10);

	ck_assert_int_eq(msgchan_read(b), -1);
	ck_assert_int_eq(errno, EAGAIN);
	for (i = 0; i < 2 * one; i++) {
		ck_assert_int_eq(write(sp[0], buf + i, 1), 1);
		ck_assert_int_eq(msgchan_read(b), 1);
		if (i == one - 1 || i == 2 * one - 1) {
			ck_assert_int_eq(msgchan_get(b, &m), 1);
			ck_assert_uint_eq(m.hdr.type, i < one ? 9 : 10);
			ck_assert_uint_eq(m.hdr.len, 37);
			ck_assert_uint_eq(m.hdr.peerid, 7);
			ck_assert_int_eq(m.hdr.pid, 42);
			ck_assert(check_fill(m.data, 37, i < one ? 9 : 10));
		}
		ck_assert_int_eq(msgchan_get(b, &m), 0);
	}
	msgchan_free(b);
	sp[1] = -1;
}
END_TEST

START_TEST(test_partial_write)
{
	struct msgchan	*a, *b;
	struct msg	 m;
	unsigned char	*buf;
	size_t		 len = 512 * 1024, q0;
	int		 sz = 4096, r, got = 0, loops = 0;

	ck_assert_int_eq(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	ck_assert_int_eq(setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &sz,
	    sizeof(sz)), 0);
	buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	a = msgchan_new(sp[0], len, 0);
	b = msgchan_new(sp[1], len, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);

	fill(buf, len, 1);
	ck_assert_int_eq(msgchan_queue(a, 1, 0, 0, -1, buf, len), 0);
	fill(buf, 1000, 2);
	ck_assert_int_eq(msgchan_queue(a, 2, 0, 0, -1, buf, 1000), 0);
	q0 = msgchan_queued(a);
	ck_assert_uint_eq(q0, 2 * MSG_HDR_LEN + len + 1000);

	ck_assert_int_eq(msgchan_flush(a), 1);
	ck_assert_uint_gt(msgchan_queued(a), 0);
	ck_assert_uint_lt(msgchan_queued(a), q0);
	ck_assert_int_eq(msgchan_flush(a), 1);	/* still full */

	while (got < 2) {
		ck_assert_int_lt(loops++, 1000000);
		r = msgchan_flush(a);
		ck_assert_int_ge(r, 0);
		while ((r = read_get(b, &m)) == 1) {
			got++;
			ck_assert_uint_eq(m.hdr.type, got);
			ck_assert_uint_eq(m.hdr.len, got == 1 ? len : 1000);
			ck_assert(check_fill(m.data, m.hdr.len, got));
		}
		ck_assert_int_eq(r, 0);
	}
	ck_assert_uint_eq(msgchan_queued(a), 0);
	ck_assert_int_eq(msgchan_flush(a), 0);
	msgchan_free(a);
	msgchan_free(b);
	sp[0] = sp[1] = -1;
	free(buf);
}
END_TEST

/* Check that fd is the write end of the pipe whose read end is rd. */
static void
check_pipe(int fd, int rd, const char *tag)
{
	char	 rbuf[64];
	size_t	 len = strlen(tag);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(write(fd, tag, len), (ssize_t)len);
	close(fd);
	ck_assert_int_eq(read(rd, rbuf, sizeof(rbuf)), (ssize_t)len);
	ck_assert(memcmp(rbuf, tag, len) == 0);
	/* The only write end was the one passed: EOF now. */
	ck_assert_int_eq(fcntl(rd, F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(read(rd, rbuf, sizeof(rbuf)), 0);
}

START_TEST(test_fd_pass)
{
	struct msgchan	*a, *b;
	struct msg	 m;
	int		 p[2];

	ck_assert_int_eq(pipe(p), 0);
	a = msgchan_new(sp[0], 1024, 0);
	b = msgchan_new(sp[1], 1024, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);

	ck_assert_int_eq(msgchan_queue(a, 5, 1, 2, p[1], "abc", 3), 0);
	ck_assert_int_eq(msgchan_queue(a, 6, 1, 2, -1, "de", 2), 0);
	ck_assert_int_eq(msgchan_flush(a), 0);

	ck_assert_int_eq(read_get(b, &m), 1);
	ck_assert_uint_eq(m.hdr.type, 5);
	ck_assert_uint_eq(m.hdr.flags, MSG_F_FD);
	ck_assert_uint_eq(m.hdr.len, 3);
	ck_assert(memcmp(m.data, "abc", 3) == 0);
	check_pipe(m.fd, p[0], "through the pipe");
	ck_assert_int_eq(read_get(b, &m), 1);
	ck_assert_uint_eq(m.hdr.type, 6);
	ck_assert_int_eq(m.fd, -1);
	ck_assert_int_eq(read_get(b, &m), 0);

	close(p[0]);
	msgchan_free(a);
	msgchan_free(b);
	sp[0] = sp[1] = -1;
}
END_TEST

START_TEST(test_fd_partial_write)
{
	static const size_t	 sizes[] = { 200000, 10, 300000, 0, 5,
	    150000, 1 };
	static const int	 withfd[] = { 0, 1, 1, 1, 0, 1, 1 };
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	struct msgchan		*a, *b;
	struct msg		 m;
	unsigned char		*buf;
	char			 tag[32];
	int			 pipes[N][2];
	int			 sz = 4096, r, loops = 0, partial = 0;
	size_t			 i, got = 0;

	ck_assert_int_eq(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	ck_assert_int_eq(setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &sz,
	    sizeof(sz)), 0);
	buf = malloc(300000);
	ck_assert_ptr_nonnull(buf);
	a = msgchan_new(sp[0], 300000, 0);
	b = msgchan_new(sp[1], 300000, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);

	for (i = 0; i < N; i++) {
		pipes[i][0] = pipes[i][1] = -1;
		if (withfd[i])
			ck_assert_int_eq(pipe(pipes[i]), 0);
		fill(buf, sizes[i], (uint32_t)i);
		ck_assert_int_eq(msgchan_queue(a, i, 0, 0, pipes[i][1], buf,
		    sizes[i]), 0);
	}
	while (got < N) {
		ck_assert_int_lt(loops++, 1000000);
		r = msgchan_flush(a);
		ck_assert_int_ge(r, 0);
		if (r == 1)
			partial++;
		wait_readable(sp[1]);
		while ((r = read_get(b, &m)) == 1) {
			ck_assert_uint_eq(m.hdr.type, got);
			ck_assert_uint_eq(m.hdr.len, sizes[got]);
			ck_assert(check_fill(m.data, m.hdr.len,
			    (uint32_t)got));
			if (withfd[got]) {
				snprintf(tag, sizeof(tag), "msg %zu", got);
				check_pipe(m.fd, pipes[got][0], tag);
				close(pipes[got][0]);
			} else
				ck_assert_int_eq(m.fd, -1);
			got++;
		}
		ck_assert_int_eq(r, 0);
	}
	ck_assert_int_gt(partial, 3);
	ck_assert_uint_eq(msgchan_queued(a), 0);
	msgchan_free(a);
	msgchan_free(b);
	sp[0] = sp[1] = -1;
	free(buf);
}
END_TEST

START_TEST(test_fd_freed_unsent)
{
	struct msgchan	*a;
	char		 c;
	int		 p[2];

	/* A queued fd never sent is closed by msgchan_free. */
	ck_assert_int_eq(pipe(p), 0);
	a = msgchan_new(sp[0], 1024, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(msgchan_queue(a, 1, 0, 0, p[1], NULL, 0), 0);
	msgchan_free(a);
	sp[0] = -1;
	ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(read(p[0], &c, 1), 0);
	close(p[0]);
}
END_TEST

START_TEST(test_unclaimed_fd_closed)
{
	struct msgchan	*b;
	struct msg	 m;
	unsigned char	 buf[MSG_HDR_LEN + 4];
	char		 c;
	int		 p[2];

	ck_assert_int_eq(pipe(p), 0);
	b = msgchan_new(sp[1], 1024, 0);
	ck_assert_ptr_nonnull(b);
	/* Header only so far: the fd is pending, not yet claimed. */
	mkhdr(buf, 1, 4, MSG_F_FD);
	raw_send(sp[0], buf, MSG_HDR_LEN, p[1]);
	close(p[1]);
	ck_assert_int_eq(read_get(b, &m), 0);
	msgchan_free(b);
	sp[1] = -1;
	ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(read(p[0], &c, 1), 0);	/* all writers gone */
	close(p[0]);
}
END_TEST

START_TEST(test_oversize)
{
	struct msgchan	*a, *b;
	struct msg	 m;
	unsigned char	 buf[MSG_HDR_LEN + 200];
	int		 p[2];

	a = msgchan_new(sp[0], 100, 0);
	b = msgchan_new(sp[1], 100, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);

	/* Sending side: refused, fd not consumed. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(msgchan_queue(a, 1, 0, 0, p[1], buf, 101), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_ne(fcntl(p[1], F_GETFD), -1);
	ck_assert_int_eq(msgchan_queue(a, 1, 0, 0, -1, buf, 100), 0);
	ck_assert_uint_eq(msgchan_queued(a), MSG_HDR_LEN + 100);
	close(p[0]);
	close(p[1]);

	/* Receiving side: detected on the header alone. */
	mkhdr(buf, 1, 101, 0);
	ck_assert_int_eq(write(sp[0], buf, MSG_HDR_LEN), MSG_HDR_LEN);
	ck_assert_int_eq(read_get(b, &m), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	/* Sticky. */
	ck_assert_int_eq(msgchan_get(b, &m), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(msgchan_read(b), -1);
	ck_assert_int_eq(errno, EMSGSIZE);

	msgchan_free(a);
	msgchan_free(b);
	sp[0] = sp[1] = -1;
}
END_TEST

START_TEST(test_huge_len)
{
	struct msgchan	*b;
	struct msg	 m;
	unsigned char	 buf[MSG_HDR_LEN];

	b = msgchan_new(sp[1], MSG_MAX_PAYLOAD, 0);
	ck_assert_ptr_nonnull(b);
	mkhdr(buf, 1, UINT32_MAX, 0);
	ck_assert_int_eq(write(sp[0], buf, sizeof(buf)), MSG_HDR_LEN);
	ck_assert_int_eq(read_get(b, &m), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	msgchan_free(b);
	sp[1] = -1;
}
END_TEST

START_TEST(test_bad_flags)
{
	static const uint32_t	 flags[] = { 0x2, 0x80000000, 0x3,
	    0xffffffff };
	struct msgchan		*b;
	struct msg		 m;
	unsigned char		 buf[MSG_HDR_LEN];
	size_t			 i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (i > 0)
			ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0,
			    sp), 0);
		b = msgchan_new(sp[1], 100, 0);
		ck_assert_ptr_nonnull(b);
		mkhdr(buf, 1, 0, flags[i]);
		ck_assert_int_eq(write(sp[0], buf, sizeof(buf)),
		    MSG_HDR_LEN);
		ck_assert_int_eq(read_get(b, &m), -1);
		ck_assert_int_eq(errno, EBADMSG);
		msgchan_free(b);
		close(sp[0]);
		sp[0] = sp[1] = -1;
	}
}
END_TEST

START_TEST(test_fd_flag_without_fd)
{
	struct msgchan	*b;
	struct msg	 m;
	unsigned char	 buf[MSG_HDR_LEN + 2];

	b = msgchan_new(sp[1], 100, 0);
	ck_assert_ptr_nonnull(b);
	mkhdr(buf, 1, 2, MSG_F_FD);
	buf[MSG_HDR_LEN] = 'h';
	buf[MSG_HDR_LEN + 1] = 'i';
	ck_assert_int_eq(write(sp[0], buf, sizeof(buf)), sizeof(buf));
	ck_assert_int_eq(read_get(b, &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
	msgchan_free(b);
	sp[1] = -1;
}
END_TEST

START_TEST(test_fd_late)
{
	struct msgchan	*b;
	struct msg	 m;
	unsigned char	 buf[MSG_HDR_LEN + 2];
	int		 p[2], i;

	/*
	 * The fd comes after the first byte of the header (with its
	 * second half, or with the payload): refused.
	 */
	for (i = 0; i < 2; i++) {
		if (i > 0)
			ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0,
			    sp), 0);
		ck_assert_int_eq(pipe(p), 0);
		b = msgchan_new(sp[1], 100, 0);
		ck_assert_ptr_nonnull(b);
		mkhdr(buf, 1, 2, MSG_F_FD);
		buf[MSG_HDR_LEN] = 'h';
		buf[MSG_HDR_LEN + 1] = 'i';
		if (i == 0) {
			raw_send(sp[0], buf, 10, -1);
			ck_assert_int_eq(read_get(b, &m), 0);
			raw_send(sp[0], buf + 10, sizeof(buf) - 10, p[1]);
			ck_assert_int_eq(read_get(b, &m), -1);
			ck_assert_int_eq(errno, EBADMSG);
		} else {
			raw_send(sp[0], buf, MSG_HDR_LEN, -1);
			ck_assert_int_eq(read_get(b, &m), -1);
			ck_assert_int_eq(errno, EBADMSG);
			raw_send(sp[0], buf + MSG_HDR_LEN, 2, p[1]);
			ck_assert_int_eq(read_get(b, &m), -1);
		}
		msgchan_free(b);
		close(sp[0]);
		sp[0] = sp[1] = -1;
		close(p[0]);
		close(p[1]);
	}
}
END_TEST

START_TEST(test_fd_stray)
{
	struct msgchan	*b;
	struct msg	 m;
	unsigned char	 buf[MSG_HDR_LEN];
	int		 p[2];

	/* An fd with a message that does not announce it. */
	ck_assert_int_eq(pipe(p), 0);
	b = msgchan_new(sp[1], 100, 0);
	ck_assert_ptr_nonnull(b);
	mkhdr(buf, 1, 0, 0);
	raw_send(sp[0], buf, MSG_HDR_LEN, p[1]);
	ck_assert_int_eq(read_get(b, &m), 1);
	ck_assert_int_eq(m.fd, -1);
	mkhdr(buf, 2, 0, 0);
	raw_send(sp[0], buf, MSG_HDR_LEN, -1);
	ck_assert_int_eq(read_get(b, &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
	msgchan_free(b);
	sp[1] = -1;
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_fd_overflow)
{
	union {
		struct cmsghdr	 hdr;
		unsigned char	 buf[CMSG_SPACE(sizeof(int) * 8)];
	}		 cbuf;
	struct msgchan	*b;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	struct msg	 m;
	int		 fds[8], i, r = 0;
	char		 c = 'x';

	/* 8 fds per byte, never claimed: the pending FIFO overflows. */
	b = msgchan_new(sp[1], 100, 0);
	ck_assert_ptr_nonnull(b);
	for (i = 0; i < 8; i++)
		fds[i] = STDIN_FILENO;
	for (i = 0; i < MSG_MAX_PENDING_FDS / 8 + 1; i++) {
		memset(&mh, 0, sizeof(mh));
		memset(&cbuf, 0, sizeof(cbuf));
		iov.iov_base = &c;
		iov.iov_len = 1;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
		ck_assert_int_eq(sendmsg(sp[0], &mh, 0), 1);
		r = (int)msgchan_read(b);
		if (r == -1)
			break;
		ck_assert_int_eq(r, 1);
	}
	ck_assert_int_eq(r, -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(i, MSG_MAX_PENDING_FDS / 8);
	ck_assert_int_eq(msgchan_get(b, &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
	msgchan_free(b);
	sp[1] = -1;
}
END_TEST

START_TEST(test_ctrunc)
{
	union {
		struct cmsghdr	 hdr;
		unsigned char	 buf[CMSG_SPACE(sizeof(int) * 40)];
	}		 cbuf;
	struct msgchan	*b;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	int		 fds[40], i;
	char		 c = 'x';

	/* More fds in one go than the control buffer holds. */
	b = msgchan_new(sp[1], 100, 0);
	ck_assert_ptr_nonnull(b);
	for (i = 0; i < 40; i++)
		fds[i] = STDIN_FILENO;
	memset(&mh, 0, sizeof(mh));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = &c;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	cmsg = CMSG_FIRSTHDR(&mh);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
	ck_assert_int_eq(sendmsg(sp[0], &mh, 0), 1);
	ck_assert_int_eq(msgchan_read(b), -1);
	ck_assert_int_eq(errno, EBADMSG);
	msgchan_free(b);
	sp[1] = -1;
}
END_TEST

START_TEST(test_truncated_eof)
{
	struct msgchan	*b;
	struct msg	 m;
	unsigned char	 buf[MSG_HDR_LEN + 50];
	int		 i;

	for (i = 0; i < 2; i++) {
		if (i > 0)
			ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0,
			    sp), 0);
		b = msgchan_new(sp[1], 100, 0);
		ck_assert_ptr_nonnull(b);
		mkhdr(buf, 1, 50, 0);
		/* Half a header, or a header and half the payload. */
		ck_assert_int_eq(write(sp[0], buf, i == 0 ? 10 : 45),
		    i == 0 ? 10 : 45);
		close(sp[0]);
		sp[0] = -1;
		ck_assert_int_eq(msgchan_read(b), i == 0 ? 10 : 45);
		ck_assert_int_eq(msgchan_get(b, &m), 0);
		ck_assert_int_eq(msgchan_read(b), 0);
		ck_assert_int_eq(msgchan_get(b, &m), 0);
		msgchan_free(b);
		sp[1] = -1;
	}
}
END_TEST

START_TEST(test_fuzz)
{
	struct msgchan	*b;
	struct msg	 m;
	unsigned char	 buf[1024];
	size_t		 len, off, j;
	ssize_t		 n;
	uint32_t	 flags, plen;
	int		 iter, r, p[2], eof, nmsg = 0, nerr = 0;

	srandom(20240501);
	for (iter = 0; iter < 2000; iter++) {
		if (iter > 0)
			ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0,
			    sp), 0);
		b = msgchan_new(sp[1], 1 + random() % 300, 0);
		ck_assert_ptr_nonnull(b);

		/* Some plausible headers, then random bytes. */
		len = random() % sizeof(buf);
		for (j = 0; j < len; j++)
			buf[j] = (unsigned char)random();
		for (off = 0; off + MSG_HDR_LEN <= len;) {
			if (random() % 3 == 0)
				break;
			flags = random() % 4 == 0 ? MSG_F_FD : 0;
			if (random() % 10 == 0)
				flags = (uint32_t)random();
			plen = (uint32_t)(random() % 64);
			if (random() % 10 == 0)
				plen = (uint32_t)random();
			mkhdr(buf + off, (uint32_t)random(), plen, flags);
			off += MSG_HDR_LEN + (plen < 64 ? plen : 0);
		}
		/* Send in random pieces, some with a descriptor. */
		for (off = 0; off < len; off += j) {
			j = 1 + random() % (len - off);
			if (random() % 4 == 0) {
				ck_assert_int_eq(pipe(p), 0);
				raw_send(sp[0], buf + off, j, p[0]);
				close(p[0]);
				close(p[1]);
			} else
				raw_send(sp[0], buf + off, j, -1);
		}
		close(sp[0]);
		sp[0] = -1;

		eof = 0;
		for (;;) {
			while ((r = msgchan_get(b, &m)) == 1) {
				nmsg++;
				ck_assert_uint_le(m.hdr.len, 300);
				ck_assert_int_eq(m.hdr.flags & ~MSG_F_FD, 0);
				ck_assert_int_eq(m.fd != -1,
				    (m.hdr.flags & MSG_F_FD) != 0);
				if (m.hdr.len > 0)
					buf[0] = ((unsigned char *)m.data)
					    [m.hdr.len - 1];
				if (m.fd != -1)
					close(m.fd);
			}
			if (r == -1) {
				ck_assert(errno == EBADMSG ||
				    errno == EMSGSIZE);
				nerr++;
				break;
			}
			ck_assert_int_eq(r, 0);
			if (eof)
				break;
			n = msgchan_read(b);
			if (n == 0)
				eof = 1;
			else if (n == -1) {
				ck_assert(errno == EBADMSG);
				nerr++;
				break;
			}
		}
		msgchan_free(b);
		sp[1] = -1;
	}
	/* The generator does reach both outcomes. */
	ck_assert_int_gt(nmsg, 100);
	ck_assert_int_gt(nerr, 100);
}
END_TEST

START_TEST(test_maxqueue)
{
	struct msgchan	*a, *b;
	struct msg	 m;
	unsigned char	 buf[40];
	int		 p[2];

	/* Room for two 40-byte messages and one of 10 bytes, exactly. */
	a = msgchan_new(sp[0], 1000, 3 * MSG_HDR_LEN + 2 * 40 + 10);
	b = msgchan_new(sp[1], 1000, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	memset(buf, 'q', sizeof(buf));
	ck_assert_int_eq(pipe(p), 0);

	ck_assert_int_eq(msgchan_queue(a, 1, 0, 0, -1, buf, 40), 0);
	ck_assert_int_eq(msgchan_queue(a, 2, 0, 0, -1, buf, 40), 0);
	ck_assert_int_eq(msgchan_queue(a, 3, 0, 0, p[1], buf, 40), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_int_ne(fcntl(p[1], F_GETFD), -1);	/* not consumed */
	ck_assert_int_eq(msgchan_queue(a, 3, 0, 0, -1, buf, 11), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_int_eq(msgchan_queue(a, 3, 0, 0, -1, buf, 10), 0);
	ck_assert_uint_eq(msgchan_queued(a), 3 * MSG_HDR_LEN + 2 * 40 + 10);
	ck_assert_int_eq(msgchan_queue(a, 5, 0, 0, -1, NULL, 0), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_int_eq(msgchan_flush(a), 0);
	ck_assert_uint_eq(msgchan_queued(a), 0);
	ck_assert_int_eq(msgchan_queue(a, 4, 0, 0, p[1], buf, 40), 0);
	ck_assert_int_eq(msgchan_flush(a), 0);

	ck_assert_int_eq(read_get(b, &m), 1);
	ck_assert_uint_eq(m.hdr.type, 1);
	ck_assert_int_eq(read_get(b, &m), 1);
	ck_assert_int_eq(read_get(b, &m), 1);
	ck_assert_uint_eq(m.hdr.type, 3);
	ck_assert_int_eq(read_get(b, &m), 1);
	ck_assert_uint_eq(m.hdr.type, 4);
	check_pipe(m.fd, p[0], "q");
	close(p[0]);
	msgchan_free(a);
	msgchan_free(b);
	sp[0] = sp[1] = -1;
}
END_TEST

START_TEST(test_get_exact)
{
	struct msg	 m;
	uint64_t	 v = 0, in = 0x1122334455667788ULL;
	char		 small[4];

	memset(&m, 0, sizeof(m));
	m.hdr.len = sizeof(in);
	m.data = &in;
	m.fd = -1;
	ck_assert_int_eq(msg_get_exact(&m, &v, sizeof(v)), 0);
	ck_assert(v == in);
	ck_assert_int_eq(msg_get_exact(&m, small, sizeof(small)), -1);
	ck_assert_int_eq(errno, EBADMSG);
	m.hdr.len = 0;
	ck_assert_int_eq(msg_get_exact(&m, &v, sizeof(v)), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(msg_get_exact(&m, NULL, 0), 0);
}
END_TEST

/* msgev */

struct side {
	struct msgev		*mev;
	struct event_base	*base;
	struct side		*peer;
	int			 count;
	int			 closed;
	int			 nfd;
	int			 free_at;	/* msgev_free in dispatch */
	int			 pause_at;
	int			 expect;
	int			 bad;
};

static int	 sides_done;

static void
ev_timeout(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void
side_dispatch(struct msgev *mev, struct msg *m, void *arg)
{
	struct side	*s = arg;
	uint32_t	 seq;
	char		 c;

	if (mev != s->mev || m->hdr.type != (uint32_t)s->count ||
	    msg_get_exact(m, &seq, sizeof(seq)) == -1 ||
	    seq != (uint32_t)s->count)
		s->bad++;
	if (m->fd != -1) {
		s->nfd++;
		if (read(m->fd, &c, 1) != 1 || c != 'F')
			s->bad++;
		close(m->fd);
	}
	s->count++;
	if (s->free_at && s->count == s->free_at) {
		msgev_free(mev);
		s->mev = NULL;
		/* The payload is still readable after the free. */
		if (msg_get_exact(m, &seq, sizeof(seq)) == -1)
			s->bad++;
		event_base_loopexit(s->base, NULL);
		return;
	}
	if (s->pause_at && s->count == s->pause_at)
		msgev_pause(mev, 1);
	if (s->count == s->expect && ++sides_done == 2)
		event_base_loopexit(s->base, NULL);
}

static void
side_closed(struct msgev *mev, void *arg)
{
	struct side	*s = arg;

	if (mev != s->mev)
		s->bad++;
	s->closed++;
	s->mev = NULL;
	event_base_loopexit(s->base, NULL);
}

static struct event_base *
ev_setup(struct side *a, struct side *b, struct event **to)
{
	struct event_base	*base;
	struct timeval		 tv = { 2, 0 };

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->base = b->base = base;
	a->peer = b;
	b->peer = a;
	sides_done = 0;
	*to = evtimer_new(base, ev_timeout, base);
	ck_assert_ptr_nonnull(*to);
	evtimer_add(*to, &tv);
	return base;
}

static void
send_seq(struct side *s, int n, int fdevery)
{
	unsigned char	 buf[600];
	uint32_t	 i;
	int		 p[2], fd;

	for (i = 0; i < (uint32_t)n; i++) {
		fd = -1;
		if (fdevery && i % fdevery == 0) {
			ck_assert_int_eq(pipe(p), 0);
			ck_assert_int_eq(write(p[1], "F", 1), 1);
			close(p[1]);
			fd = p[0];
		}
		memcpy(buf, &i, sizeof(i));
		ck_assert_int_eq(msgev_send(s->mev, i, 0, 0, fd, buf,
		    sizeof(i)), 0);
	}
}

static void
send_one(struct side *s, uint32_t seq)
{
	ck_assert_int_eq(msgev_send(s->mev, seq, 0, 0, -1, &seq,
	    sizeof(seq)), 0);
}

START_TEST(test_msgev_1000)
{
	struct event_base	*base;
	struct event		*to;
	struct side		 a, b;

	base = ev_setup(&a, &b, &to);
	a.mev = msgev_new(base, sp[0], 1024, 0, side_dispatch, side_closed,
	    &a);
	b.mev = msgev_new(base, sp[1], 1024, 0, side_dispatch, side_closed,
	    &b);
	ck_assert_ptr_nonnull(a.mev);
	ck_assert_ptr_nonnull(b.mev);
	ck_assert_ptr_nonnull(msgev_chan(a.mev));
	a.expect = b.expect = 1000;
	send_seq(&a, 1000, 100);
	send_seq(&b, 1000, 0);
	ck_assert_uint_eq(msgev_queued(a.mev), 1000 * (MSG_HDR_LEN + 4));

	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(a.count, 1000);
	ck_assert_int_eq(b.count, 1000);
	ck_assert_int_eq(b.nfd, 10);
	ck_assert_int_eq(a.bad + b.bad, 0);
	ck_assert_int_eq(a.closed + b.closed, 0);
	ck_assert_uint_eq(msgev_queued(a.mev), 0);

	/* Now a hangs up: b is told once. */
	msgev_free(a.mev);
	a.mev = NULL;
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(b.closed, 1);
	ck_assert_int_eq(a.closed, 0);
	ck_assert_ptr_null(b.mev);

	event_free(to);
	event_base_free(base);
	sp[0] = sp[1] = -1;
}
END_TEST

START_TEST(test_msgev_drain)
{
	struct event_base	*base;
	struct event		*to;
	struct side		 a, b;
	struct msgev_drain	 d;
	char			 buf[65536];
	int			 sz = 4096, i;

	/* a peer that takes nothing stalls; one that takes some does not */
	ck_assert_int_eq(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	base = ev_setup(&a, &b, &to);
	a.mev = msgev_new(base, sp[0], 1024, 0, side_dispatch, side_closed,
	    &a);
	ck_assert_ptr_nonnull(a.mev);
	send_seq(&a, 2000, 0);
	ck_assert_int_eq(msgev_drain_start(a.mev, &d), DRAIN_WAIT);
	ck_assert_int_eq(msgev_drain_tick(a.mev, &d, 2), DRAIN_WAIT);
	ck_assert_int_eq(msgev_drain_tick(a.mev, &d, 2), DRAIN_STALLED);
	/* the peer reads a little: progress, the count starts again */
	ck_assert_int_gt(read(sp[1], buf, 8192), 0);
	msgev_flush(a.mev);
	ck_assert_int_eq(msgev_drain_tick(a.mev, &d, 2), DRAIN_WAIT);
	ck_assert_int_eq(msgev_drain_tick(a.mev, &d, 2), DRAIN_WAIT);
	/* and everything */
	for (i = 0; i < 1000 && msgev_queued(a.mev) > 0; i++) {
		(void)read(sp[1], buf, sizeof(buf));
		msgev_flush(a.mev);
	}
	ck_assert_int_eq(msgev_drain_tick(a.mev, &d, 2), DRAIN_DONE);
	msgev_free(a.mev);
	event_free(to);
	event_base_free(base);
	sp[0] = -1;
}
END_TEST

START_TEST(test_msgev_close_when_flushed)
{
	struct event_base	*base;
	struct event		*to;
	struct side		 a, b;
	int			 sz = 4096;

	/* Many bytes queued: the close has to wait for the drain. */
	ck_assert_int_eq(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	base = ev_setup(&a, &b, &to);
	a.mev = msgev_new(base, sp[0], 1024, 0, side_dispatch, side_closed,
	    &a);
	b.mev = msgev_new(base, sp[1], 1024, 0, side_dispatch, side_closed,
	    &b);
	ck_assert_ptr_nonnull(a.mev);
	ck_assert_ptr_nonnull(b.mev);
	b.expect = -1;
	send_seq(&a, 2000, 0);
	msgev_close_when_flushed(a.mev);
	ck_assert_int_eq(msgev_send(a.mev, 1, 0, 0, -1, NULL, 0), -1);
	ck_assert_int_eq(errno, EPIPE);

	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(b.count, 2000);
	ck_assert_int_eq(b.closed, 1);	/* peer close after the data */
	ck_assert_int_eq(a.closed, 0);	/* silent */
	ck_assert_int_eq(b.bad, 0);

	event_free(to);
	event_base_free(base);
	sp[0] = sp[1] = -1;
}
END_TEST

START_TEST(test_msgev_protocol_error)
{
	struct event_base	*base;
	struct event		*to;
	struct side		 a, b;
	unsigned char		 buf[2 * MSG_HDR_LEN + 4];
	uint32_t		 zero = 0;

	base = ev_setup(&a, &b, &to);
	b.mev = msgev_new(base, sp[1], 1024, 0, side_dispatch, side_closed,
	    &b);
	ck_assert_ptr_nonnull(b.mev);
	b.expect = -1;
	/* One good message, then a bad flag. */
	mkhdr(buf, 0, 4, 0);
	memcpy(buf + MSG_HDR_LEN, &zero, 4);
	mkhdr(buf + MSG_HDR_LEN + 4, 1, 0, 0x10);
	ck_assert_int_eq(write(sp[0], buf, sizeof(buf)), sizeof(buf));

	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(b.count, 1);
	ck_assert_int_eq(b.closed, 1);
	ck_assert_int_eq(b.bad, 0);
	/* Its socket was closed by the library. */
	ck_assert_int_eq(send(sp[0], buf, 1, MSG_NOSIGNAL), -1);
	ck_assert_int_eq(errno, EPIPE);

	event_free(to);
	event_base_free(base);
	close(sp[0]);
	sp[0] = sp[1] = -1;
}
END_TEST

START_TEST(test_msgev_truncated_eof)
{
	struct event_base	*base;
	struct event		*to;
	struct side		 a, b;
	unsigned char		 buf[MSG_HDR_LEN];

	base = ev_setup(&a, &b, &to);
	b.mev = msgev_new(base, sp[1], 1024, 0, side_dispatch, side_closed,
	    &b);
	ck_assert_ptr_nonnull(b.mev);
	b.expect = -1;
	mkhdr(buf, 0, 4, 0);
	ck_assert_int_eq(write(sp[0], buf, sizeof(buf)), sizeof(buf));
	close(sp[0]);
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(b.count, 0);
	ck_assert_int_eq(b.closed, 1);

	event_free(to);
	event_base_free(base);
	sp[0] = sp[1] = -1;
}
END_TEST

START_TEST(test_msgev_free_in_dispatch)
{
	struct event_base	*base;
	struct event		*to;
	struct side		 a, b;

	base = ev_setup(&a, &b, &to);
	a.mev = msgev_new(base, sp[0], 1024, 0, side_dispatch, side_closed,
	    &a);
	b.mev = msgev_new(base, sp[1], 1024, 0, side_dispatch, side_closed,
	    &b);
	ck_assert_ptr_nonnull(a.mev);
	ck_assert_ptr_nonnull(b.mev);
	b.free_at = 5;
	b.expect = -1;
	send_seq(&a, 50, 3);	/* unclaimed fds must be closed too */
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(b.count, 5);
	ck_assert_int_eq(b.closed, 0);
	ck_assert_int_eq(b.bad, 0);
	ck_assert_ptr_null(b.mev);

	msgev_free(a.mev);
	event_free(to);
	event_base_free(base);
	sp[0] = sp[1] = -1;
}
END_TEST

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct side	*s = arg;

	if (s->mev != NULL)
		msgev_pause(s->mev, 0);
}

START_TEST(test_msgev_pause)
{
	struct event_base	*base;
	struct event		*to, *resume;
	struct side		 a, b;
	struct timeval		 tv = { 0, 100000 }, tv2 = { 0, 30000 };

	base = ev_setup(&a, &b, &to);
	a.mev = msgev_new(base, sp[0], 1024, 0, side_dispatch, side_closed,
	    &a);
	b.mev = msgev_new(base, sp[1], 1024, 0, side_dispatch, side_closed,
	    &b);
	ck_assert_ptr_nonnull(a.mev);
	ck_assert_ptr_nonnull(b.mev);
	b.pause_at = 5;
	b.expect = 20;
	sides_done = 1;
	/* All 20 arrive in one read; 15 wait in the buffer. */
	send_seq(&a, 20, 0);

	resume = evtimer_new(base, resume_cb, &b);
	ck_assert_ptr_nonnull(resume);
	evtimer_add(resume, &tv);
	event_base_loopexit(base, &tv2);
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(b.count, 5);
	ck_assert_uint_eq(msgev_queued(a.mev), 0);
	/* Nothing new on the socket: resuming must still dispatch. */
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(b.count, 20);
	ck_assert_int_eq(b.bad, 0);
	ck_assert_int_eq(b.closed, 0);

	/* Paused with EOF pending: reported only after the buffer. */
	b.pause_at = 22;
	b.expect = -1;
	send_one(&a, 20);
	send_one(&a, 21);
	send_one(&a, 22);
	msgev_close_when_flushed(a.mev);
	a.mev = NULL;
	evtimer_add(resume, &tv);
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(b.count, 23);
	ck_assert_int_eq(b.closed, 1);
	ck_assert_int_eq(a.closed, 0);
	ck_assert_int_eq(b.bad, 0);

	event_free(resume);
	event_free(to);
	event_base_free(base);
	sp[0] = sp[1] = -1;
}
END_TEST

START_TEST(test_msgev_close_write_error)
{
	struct event_base	*base;
	struct event		*to;
	struct side		 a, b;
	struct timeval		 tv = { 0, 200000 };
	int			 sz = 4096;

	/* The peer goes away unread: closing ends silently anyway. */
	ck_assert_int_eq(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	base = ev_setup(&a, &b, &to);
	a.mev = msgev_new(base, sp[0], 1024, 0, side_dispatch, side_closed,
	    &a);
	ck_assert_ptr_nonnull(a.mev);
	send_seq(&a, 2000, 0);
	msgev_close_when_flushed(a.mev);
	close(sp[1]);
	event_base_loopexit(base, &tv);
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(a.closed, 0);
	/* a's socket is closed by now (teardown counts fds). */
	event_free(to);
	event_base_free(base);
	sp[0] = sp[1] = -1;
}
END_TEST

/* msgev_flush() writes at once, without a turn of the event loop. */
START_TEST(test_msgev_flush_now)
{
	struct event_base	*base;
	struct event		*to;
	struct side		 a, b;
	char			 buf[256];
	ssize_t			 n;

	base = ev_setup(&a, &b, &to);
	a.mev = msgev_new(base, sp[0], 1024, 0, side_dispatch, side_closed,
	    &a);
	ck_assert_ptr_nonnull(a.mev);
	ck_assert_int_eq(msgev_send(a.mev, 7, 0, 0, -1, "ping", 4), 0);
	n = recv(sp[1], buf, sizeof(buf), MSG_DONTWAIT);
	ck_assert_int_eq(n, -1);		/* queued only */
	ck_assert_uint_gt(msgev_queued(a.mev), 0);
	msgev_flush(a.mev);
	ck_assert_uint_eq(msgev_queued(a.mev), 0);
	n = recv(sp[1], buf, sizeof(buf), MSG_DONTWAIT);
	ck_assert_int_gt(n, 4);
	ck_assert_mem_eq(buf + n - 4, "ping", 4);
	msgev_free(a.mev);
	event_free(to);
	event_base_free(base);
	sp[0] = -1;
}
END_TEST

/*
 * The message table (common/proto.c).
 */

/* The names of enum m_type, read from common/proto.h itself. */
static size_t
enum_names(char names[][48], size_t max)
{
	char		 path[4096], line[512], *p, *e;
	const char	*dir;
	FILE		*f;
	size_t		 n = 0, l;
	int		 in = 0;

	dir = getenv("TESTDATA");
	ck_assert_ptr_nonnull(dir);
	snprintf(path, sizeof(path), "%s/../common/proto.h", dir);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "enum m_type {", 13) == 0) {
			in = 1;
			continue;
		}
		if (!in)
			continue;
		if (line[0] == '}')
			break;
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (strncmp(p, "M_", 2) != 0)
			continue;
		for (e = p; (*e >= 'A' && *e <= 'Z') || *e == '_' ||
		    (*e >= '0' && *e <= '9'); e++)
			;
		l = (size_t)(e - p);
		ck_assert_uint_lt(l, 48);
		ck_assert_uint_lt(n, max);
		memcpy(names[n], p, l);
		names[n][l] = '\0';
		n++;
	}
	fclose(f);
	ck_assert(in);
	return n;
}

START_TEST(test_proto_table_complete)
{
	char			 names[128][48];
	const struct proto_msg	*pm, *q;
	size_t			 n, i, j;

	n = enum_names(names, 128);
	ck_assert_uint_gt(n, 30);
	/* every type of the enum has exactly one entry, and no other */
	ck_assert_uint_eq(n, proto_nmsgs);
	for (i = 0; i < n; i++) {
		for (j = 0; j < proto_nmsgs; j++)
			if (strcmp(proto_msgs[j].name, names[i]) == 0)
				break;
		ck_assert_msg(j < proto_nmsgs, "%s has no entry", names[i]);
	}
	for (i = 0; i < proto_nmsgs; i++) {
		pm = &proto_msgs[i];
		/* sorted and unique: proto_lookup bisects */
		if (i > 0)
			ck_assert_uint_gt(pm->type, proto_msgs[i - 1].type);
		q = proto_lookup(pm->type);
		ck_assert_ptr_eq(q, pm);
		ck_assert_str_eq(msg_type_name(pm->type), pm->name);
		ck_assert_uint_le(pm->minlen, pm->maxlen);
		ck_assert_uint_le(pm->maxlen, MSG_MAX_PAYLOAD);
		ck_assert_uint_ne(pm->links, 0);
		ck_assert_ptr_nonnull(pm->desc);
		/* every string lies inside the smallest payload */
		for (j = 0; j < PROTO_MAX_STR && pm->str[j].size != 0; j++) {
			ck_assert_uint_le((size_t)pm->str[j].off +
			    pm->str[j].size, pm->minlen);
			ck_assert(!pm->text);
		}
		for (; j < PROTO_MAX_STR; j++)
			ck_assert_uint_eq(pm->str[j].size, 0);
		/* a relay goes worker -> parent -> another worker */
		if (pm->relay != -1) {
			ck_assert(pm->relay > PROC_PARENT &&
			    pm->relay < PROC_MAX);
			ck_assert(pm->links &
			    PROTO_LINK(PROC_PARENT, pm->relay));
		}
		for (j = 0; j < PROC_MAX * PROC_MAX; j++) {
			if ((pm->links & (1U << j)) == 0)
				continue;
			/* parent <-> worker only, never worker to worker */
			ck_assert((j / PROC_MAX == PROC_PARENT) !=
			    (j % PROC_MAX == PROC_PARENT));
			if (pm->relay == -1)
				continue;
			ck_assert(j / PROC_MAX == PROC_PARENT ?
			    j % PROC_MAX == (size_t)pm->relay :
			    j / PROC_MAX != (size_t)pm->relay);
		}
	}
	ck_assert_ptr_null(proto_lookup(0));
	ck_assert_ptr_null(proto_lookup(999));
	ck_assert_str_eq(msg_type_name(999), "M_??? (999)");
}
END_TEST

/* A valid payload of pm: minlen bytes, strings empty, text printable. */
static unsigned char *
valid_payload(const struct proto_msg *pm, size_t len)
{
	unsigned char	*p;

	p = malloc(len + 1);
	ck_assert_ptr_nonnull(p);
	memset(p, pm->text ? 'x' : 0, len + 1);
	return p;
}

static int
check(int from, int to, uint32_t type, const void *p, size_t len, int fd)
{
	struct msg_hdr	 h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.len = (uint32_t)len;
	h.flags = fd != -1 ? MSG_F_FD : 0;
	return proto_check(from, to, &h, p, len, fd);
}

/* Every type from every process to every other: the table decides. */
START_TEST(test_proto_check_peers)
{
	const struct proto_msg	*pm;
	unsigned char		*p;
	size_t			 i;
	int			 from, to, fd, want, nok = 0;

	for (i = 0; i < proto_nmsgs; i++) {
		pm = &proto_msgs[i];
		p = valid_payload(pm, pm->maxlen);
		fd = pm->fd == PROTO_FD_NEVER ? -1 : 0;
		for (from = 0; from < PROC_MAX; from++) {
			for (to = 0; to < PROC_MAX; to++) {
				want = (pm->links & PROTO_LINK(from, to)) ?
				    PROTO_OK : PROTO_E_PEER;
				ck_assert_int_eq(check(from, to, pm->type, p,
				    pm->minlen, fd), want);
				ck_assert_int_eq(check(from, to, pm->type, p,
				    pm->maxlen, fd), want);
				if (want == PROTO_OK)
					nok++;
			}
		}
		/* no such process */
		ck_assert_int_eq(check(-1, PROC_PARENT, pm->type, p,
		    pm->minlen, fd), PROTO_E_PEER);
		ck_assert_int_eq(check(PROC_PARENT, PROC_MAX, pm->type, p,
		    pm->minlen, fd), PROTO_E_PEER);
		free(p);
	}
	ck_assert_int_gt(nok, (int)proto_nmsgs);
	ck_assert_int_eq(check(PROC_SPAWNER, PROC_PARENT, 999, NULL, 0, -1),
	    PROTO_E_TYPE);
	ck_assert_int_eq(check(PROC_SPAWNER, PROC_PARENT, 0, NULL, 0, -1),
	    PROTO_E_TYPE);
}
END_TEST

/* The first link of pm: a sender and receiver it is allowed between. */
static void
first_link(const struct proto_msg *pm, int *from, int *to)
{
	int	 j;

	for (j = 0; j < PROC_MAX * PROC_MAX; j++)
		if (pm->links & (1U << j)) {
			*from = j / PROC_MAX;
			*to = j % PROC_MAX;
			return;
		}
	ck_abort_msg("%s has no link", pm->name);
}

/* Sizes, fds, strings, text and header fields of every type. */
START_TEST(test_proto_check_fields)
{
	const struct proto_msg	*pm;
	struct msg_hdr		 h;
	unsigned char		*p;
	size_t			 i, j, k;
	int			 from, to, fd;

	for (i = 0; i < proto_nmsgs; i++) {
		pm = &proto_msgs[i];
		first_link(pm, &from, &to);
		p = valid_payload(pm, pm->maxlen + 1);
		fd = pm->fd == PROTO_FD_NEVER ? -1 : 0;

		ck_assert_int_eq(check(from, to, pm->type, p, pm->minlen, fd),
		    PROTO_OK);
		/* size */
		if (pm->minlen > 0)
			ck_assert_int_eq(check(from, to, pm->type, p,
			    pm->minlen - 1, fd), PROTO_E_SIZE);
		ck_assert_int_eq(check(from, to, pm->type, p, pm->maxlen + 1,
		    fd), PROTO_E_SIZE);
		/* fd */
		switch (pm->fd) {
		case PROTO_FD_NEVER:
			ck_assert_int_eq(check(from, to, pm->type, p,
			    pm->minlen, 5), PROTO_E_FD);
			break;
		case PROTO_FD_MUST:
			ck_assert_int_eq(check(from, to, pm->type, p,
			    pm->minlen, -1), PROTO_E_FD);
			break;
		case PROTO_FD_MAY:
			ck_assert_int_eq(check(from, to, pm->type, p,
			    pm->minlen, -1), PROTO_OK);
			break;
		}
		/* each string without its NUL; the others are fine */
		for (j = 0; j < PROTO_MAX_STR && pm->str[j].size != 0; j++) {
			memset(p + pm->str[j].off, 'A', pm->str[j].size);
			ck_assert_int_eq(check(from, to, pm->type, p,
			    pm->minlen, fd), PROTO_E_STRING);
			/* a NUL in the last byte is enough */
			p[pm->str[j].off + pm->str[j].size - 1] = '\0';
			ck_assert_int_eq(check(from, to, pm->type, p,
			    pm->minlen, fd), PROTO_OK);
			memset(p + pm->str[j].off, 0, pm->str[j].size);
		}
		/* text: a NUL anywhere */
		if (pm->text) {
			for (k = 0; k < pm->minlen; k += 1 + pm->minlen / 3) {
				p[k] = '\0';
				ck_assert_int_eq(check(from, to, pm->type, p,
				    pm->minlen, fd), PROTO_E_TEXT);
				p[k] = 'x';
			}
		}
		/* header fields we never send */
		memset(&h, 0, sizeof(h));
		h.type = pm->type;
		h.len = pm->minlen;
		h.flags = fd != -1 ? MSG_F_FD : 0;
		ck_assert_int_eq(proto_check(from, to, &h, p, pm->minlen, fd),
		    PROTO_OK);
		h.peerid = 1;
		ck_assert_int_eq(proto_check(from, to, &h, p, pm->minlen, fd),
		    PROTO_E_HEADER);
		h.peerid = 0;
		h.pid = 1;
		ck_assert_int_eq(proto_check(from, to, &h, p, pm->minlen, fd),
		    PROTO_E_HEADER);
		h.pid = 0;
		h.flags |= 0x4;
		ck_assert_int_eq(proto_check(from, to, &h, p, pm->minlen, fd),
		    PROTO_E_HEADER);
		h.flags = 0;
		if (fd != -1)
			ck_assert_int_eq(proto_check(from, to, &h, p,
			    pm->minlen, fd), PROTO_E_HEADER);
		/* hdr.len and len disagree */
		h.flags = fd != -1 ? MSG_F_FD : 0;
		h.len = pm->minlen + 1;
		ck_assert_int_eq(proto_check(from, to, &h, p, pm->minlen, fd),
		    PROTO_E_SIZE);
		free(p);
	}
	for (i = 0; i <= PROTO_E_TEXT; i++)
		ck_assert_str_ne(proto_strerror((int)i), "?");
	ck_assert_str_eq(proto_strerror(-1), "?");
}
END_TEST

/* What the receiving process reads with: its limit comes from the table. */
START_TEST(test_proto_maxlen)
{
	ck_assert_uint_eq(proto_maxlen(PROC_PARENT, PROC_PROBER),
	    CONFIG_MAX_FILE);
	ck_assert_uint_eq(proto_maxlen(PROC_PARENT, PROC_STORE),
	    CTL_MAX_REQUEST);
	/* the parent buffers little from a worker */
	ck_assert_uint_lt(proto_maxlen(PROC_PROBER, PROC_PARENT), 1024);
	ck_assert_uint_lt(proto_maxlen(PROC_STORE, PROC_PARENT), 1024);
	ck_assert_uint_lt(proto_maxlen(PROC_SPAWNER, PROC_PARENT), 1024);
	ck_assert_uint_eq(proto_maxlen(PROC_PROBER, PROC_STORE), 0);
	ck_assert_uint_eq(proto_maxlen(PROC_MAX, PROC_PARENT), 0);
}
END_TEST

/* Queue one raw frame on sp[0], fd or not, as a hostile peer would. */
static void
hostile(uint32_t type, const void *data, size_t len, int withfd)
{
	struct msgchan	*c;
	int		 p[2], fd = -1;

	c = msgchan_new(dup(sp[0]), MSG_MAX_PAYLOAD, 0);
	ck_assert_ptr_nonnull(c);
	if (withfd) {
		ck_assert_int_eq(pipe(p), 0);
		close(p[1]);
		fd = p[0];
	}
	ck_assert_int_eq(msgchan_queue(c, type, 0, 0, fd, data, len), 0);
	ck_assert_int_eq(msgchan_flush(c), 0);
	msgchan_free(c);
}

/* proto_get, on the parent's side of each worker's channel. */
static int
proto_read_get(struct msgchan *c, struct msg *m, int self, int peer)
{
	int	 r;

	if ((r = proto_get(c, m, self, peer)) != 0)
		return r;
	(void)msgchan_read(c);
	return proto_get(c, m, self, peer);
}

START_TEST(test_proto_get_hostile)
{
	struct msgchan		*c;
	struct msg		 m;
	struct m_spawned	 spd;
	struct m_ready		 rd;
	struct m_logfd		 lf;
	struct m_store_job	 j;
	unsigned char		 big[4096];

	memset(&spd, 0, sizeof(spd));
	memset(&rd, 0, sizeof(rd));
	memset(&lf, 0, sizeof(lf));
	memset(&j, 0, sizeof(j));
	memset(big, 0, sizeof(big));

	/* spawner -> parent: accepted */
	c = msgchan_new(sp[1], MSG_MAX_PAYLOAD, 0);
	hostile(M_SPAWNED, &spd, sizeof(spd), 0);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_PARENT, PROC_SPAWNER),
	    1);
	ck_assert_uint_eq(m.hdr.type, M_SPAWNED);
	/* the same from the prober: wrong peer */
	hostile(M_SPAWNED, &spd, sizeof(spd), 0);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_PARENT, PROC_PROBER), -1);
	ck_assert_int_eq(errno, EBADMSG);
	/* M_READY from the spawner: only the prober sends it */
	hostile(M_READY, &rd, sizeof(rd), 0);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_PARENT, PROC_SPAWNER),
	    -1);
	/* from the prober it is fine... */
	hostile(M_READY, &rd, sizeof(rd), 0);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_PARENT, PROC_PROBER), 1);
	/* ... one byte short is not */
	hostile(M_READY, &rd, sizeof(rd) - 1, 0);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_PARENT, PROC_PROBER),
	    -1);
	/* nor is a reason without its NUL */
	memset(rd.reason, 'r', sizeof(rd.reason));
	hostile(M_READY, &rd, sizeof(rd), 0);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_PARENT, PROC_PROBER),
	    -1);
	/* an fd the message may not carry is rejected and closed */
	hostile(M_SPAWNED, &spd, sizeof(spd), 1);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_PARENT, PROC_SPAWNER),
	    -1);
	ck_assert_int_eq(m.fd, -1);
	/* M_LOGFD without its fd */
	hostile(M_LOGFD, &lf, sizeof(lf), 0);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_PARENT, PROC_SPAWNER),
	    -1);
	/* with it: accepted, the fd is ours */
	hostile(M_LOGFD, &lf, sizeof(lf), 1);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_PARENT, PROC_SPAWNER),
	    1);
	ck_assert_int_ne(m.fd, -1);
	close(m.fd);
	/* a store may not send what the parent sends it */
	hostile(M_STORE_JOB, &j, sizeof(j), 0);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_PARENT, PROC_STORE), -1);
	hostile(M_STORE_LOAD_JOB, &j, sizeof(j), 0);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_PARENT, PROC_STORE), 1);
	/* nor a worker something unknown */
	hostile(7777, NULL, 0, 0);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_PARENT, PROC_STORE), -1);
	/* a worker receiving from the parent: text with a NUL */
	big[0] = '{';
	hostile(M_CONF_SERVICE, big, 16, 0);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_SPAWNER, PROC_PARENT),
	    -1);
	/* the prober is sent no M_SPAWN */
	hostile(M_SPAWN, big, sizeof(struct m_spawn), 0);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_PROBER, PROC_PARENT),
	    -1);
	hostile(M_SPAWN, big, sizeof(struct m_spawn), 0);
	ck_assert_int_eq(proto_read_get(c, &m, PROC_SPAWNER, PROC_PARENT),
	    1);
	msgchan_free(c);
	sp[1] = -1;
}
END_TEST

struct hside {
	int	 count;
	int	 closed;
	int	 protoerr;
	struct event_base *base;
};

static void
hside_dispatch(struct msgev *mev, struct msg *m, void *arg)
{
	struct hside	*h = arg;

	h->count++;
	if (m->fd != -1)
		close(m->fd);
}

static void
hside_closed(struct msgev *mev, void *arg)
{
	struct hside	*h = arg;

	h->closed++;
	h->protoerr = msgev_protocol_error(mev);
	event_base_loopexit(h->base, NULL);
}

/*
 * The parent's channel to a hostile prober: good messages are
 * dispatched, the first bad one closes the channel as a protocol error
 * and nothing after it is dispatched.
 */
static void
run_hostile(int worker, uint32_t badtype, const void *bad, size_t badlen,
    int badfd, int *count, int *protoerr)
{
	struct event_base	*base;
	struct event		*to;
	struct timeval		 tv = { 2, 0 };
	struct msgev		*mev;
	struct hside		 h;
	struct m_probe_result	 pr;

	memset(&h, 0, sizeof(h));
	memset(&pr, 0, sizeof(pr));
	if (sp[1] == -1) {
		close(sp[0]);
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	}
	base = h.base = event_base_new();
	to = evtimer_new(base, ev_timeout, base);
	evtimer_add(to, &tv);
	mev = proto_msgev_new(base, sp[1], PROC_PARENT, worker, 0,
	    hside_dispatch, hside_closed, &h);
	ck_assert_ptr_nonnull(mev);
	sp[1] = -1;
	hostile(M_PROBE_RESULT, &pr, sizeof(pr), 0);
	hostile(badtype, bad, badlen, badfd);
	hostile(M_PROBE_RESULT, &pr, sizeof(pr), 0);
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(h.closed, 1);
	*count = h.count;
	*protoerr = h.protoerr;
	event_free(to);
	event_base_free(base);
}

START_TEST(test_proto_msgev_hostile)
{
	struct m_probe_result	 pr;
	struct m_spawned	 spd;
	int			 count, perr;

	memset(&pr, 0, sizeof(pr));
	memset(&spd, 0, sizeof(spd));
	/* a message of the spawner's */
	run_hostile(PROC_PROBER, M_SPAWNED, &spd, sizeof(spd), 0, &count,
	    &perr);
	ck_assert_int_eq(count, 1);
	ck_assert_int_eq(perr, 1);
	/* an unterminated probe name */
	memset(pr.probe, 'p', sizeof(pr.probe));
	run_hostile(PROC_PROBER, M_PROBE_RESULT, &pr, sizeof(pr), 0, &count,
	    &perr);
	ck_assert_int_eq(count, 1);
	ck_assert_int_eq(perr, 1);
	/* an fd (closed by the library: teardown counts) */
	memset(pr.probe, 0, sizeof(pr.probe));
	run_hostile(PROC_PROBER, M_PROBE_RESULT, &pr, sizeof(pr), 1, &count,
	    &perr);
	ck_assert_int_eq(count, 1);
	ck_assert_int_eq(perr, 1);
	/* M_PROBE_RESULT from the store: not its message */
	run_hostile(PROC_STORE, M_LOG_STATS, NULL, 0, 0, &count, &perr);
	ck_assert_int_eq(count, 0);
	ck_assert_int_eq(perr, 1);
}
END_TEST

/*
 * A header announcing more than the largest message the peer may send
 * closes the channel at once, before any payload is buffered.
 */
START_TEST(test_proto_msgev_maxread)
{
	struct event_base	*base;
	struct event		*to;
	struct timeval		 tv = { 2, 0 };
	struct msgev		*mev;
	struct hside		 h;
	unsigned char		 hdr[MSG_HDR_LEN];

	memset(&h, 0, sizeof(h));
	base = h.base = event_base_new();
	to = evtimer_new(base, ev_timeout, base);
	evtimer_add(to, &tv);
	mev = proto_msgev_new(base, sp[1], PROC_PARENT, PROC_STORE, 0,
	    hside_dispatch, hside_closed, &h);
	ck_assert_ptr_nonnull(mev);
	sp[1] = -1;
	mkhdr(hdr, M_STORE_LOAD_JOB, 4096, 0);
	ck_assert_int_eq(write(sp[0], hdr, sizeof(hdr)), sizeof(hdr));
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(h.closed, 1);
	ck_assert_int_eq(h.protoerr, 1);
	ck_assert_int_eq(h.count, 0);
	event_free(to);
	event_base_free(base);
}
END_TEST

/* EOF is not a protocol error: a worker then exits quietly. */
START_TEST(test_proto_msgev_eof)
{
	struct event_base	*base;
	struct event		*to;
	struct timeval		 tv = { 2, 0 };
	struct msgev		*mev;
	struct hside		 h;

	memset(&h, 0, sizeof(h));
	base = h.base = event_base_new();
	to = evtimer_new(base, ev_timeout, base);
	evtimer_add(to, &tv);
	mev = proto_msgev_new(base, sp[1], PROC_PROBER, PROC_PARENT, 0,
	    hside_dispatch, hside_closed, &h);
	ck_assert_ptr_nonnull(mev);
	sp[1] = -1;
	hostile(M_CONF_DONE, NULL, 0, 0);
	close(sp[0]);
	sp[0] = -1;
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(h.count, 1);
	ck_assert_int_eq(h.closed, 1);
	ck_assert_int_eq(h.protoerr, 0);
	event_free(to);
	event_base_free(base);
}
END_TEST

/*
 * docs/ARCHITECTURE.md's message table, printed from the table
 * ("test_msg --table" prints it; a test compares).
 */
static void
links_text(const struct proto_msg *pm, char *buf, size_t len)
{
	int	 j, n = 0, first = 1, tofirst;

	buf[0] = '\0';
	if (pm->relay != -1) {
		for (j = 1; j < PROC_MAX; j++)
			if (pm->links & PROTO_LINK(j, PROC_PARENT))
				snprintf(buf, len, "%s → parent → %s",
				    proto_proc_name(j),
				    proto_proc_name(pm->relay));
		return;
	}
	tofirst = (pm->links & (PROTO_LINK(PROC_PARENT, PROC_SPAWNER) |
	    PROTO_LINK(PROC_PARENT, PROC_PROBER) |
	    PROTO_LINK(PROC_PARENT, PROC_STORE))) != 0;
	if (tofirst)
		n += snprintf(buf + n, len - n, "parent → ");
	for (j = 1; j < PROC_MAX; j++) {
		if (!(pm->links & (tofirst ? PROTO_LINK(PROC_PARENT, j) :
		    PROTO_LINK(j, PROC_PARENT))))
			continue;
		n += snprintf(buf + n, len - n, "%s%s", first ? "" : ", ",
		    proto_proc_name(j));
		first = 0;
	}
	if (!tofirst)
		snprintf(buf + n, len - n, " → parent");
}

static void
print_table(FILE *f)
{
	const struct proto_msg	*pm;
	char			 links[128], size[64], strs[256];
	size_t			 i, j, n;

	fprintf(f, "| message | sender → receiver | payload | bytes | fd "
	    "| must hold a NUL | meaning |\n");
	fprintf(f, "|---|---|---|---|---|---|---|\n");
	for (i = 0; i < proto_nmsgs; i++) {
		pm = &proto_msgs[i];
		links_text(pm, links, sizeof(links));
		if (pm->minlen == pm->maxlen)
			snprintf(size, sizeof(size), "%u", pm->minlen);
		else
			snprintf(size, sizeof(size), "%u..%u", pm->minlen,
			    pm->maxlen);
		n = 0;
		strs[0] = '\0';
		if (pm->text)
			snprintf(strs, sizeof(strs), "no NUL byte at all");
		for (j = 0; j < PROTO_MAX_STR && pm->str[j].size != 0; j++)
			n += snprintf(strs + n, sizeof(strs) - n, "%s`%s`",
			    j > 0 ? ", " : "", pm->str[j].name);
		fprintf(f, "| `%s` | %s | %s%s%s | %s | %s | %s | %s |\n",
		    pm->name, links,
		    strncmp(pm->payload, "m_", 2) == 0 ? "`" : "",
		    pm->payload,
		    strncmp(pm->payload, "m_", 2) == 0 ? "`" : "",
		    size, pm->fd == PROTO_FD_MUST ? "must" :
		    pm->fd == PROTO_FD_MAY ? "may" : "no",
		    strs[0] != '\0' ? strs : "-", pm->desc);
	}
}

#define DOC_BEGIN	"<!-- BEGIN message table: test_msg --table -->\n"
#define DOC_END		"<!-- END message table -->\n"

START_TEST(test_proto_doc)
{
	char		 path[4096], *doc = NULL, *gen = NULL, *b, *e;
	size_t		 doclen = 0, genlen = 0;
	const char	*dir;
	FILE		*f;

	dir = getenv("TESTDATA");
	ck_assert_ptr_nonnull(dir);
	snprintf(path, sizeof(path), "%s/../docs/ARCHITECTURE.md", dir);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ne(getdelim(&doc, &doclen, '\0', f), -1);
	fclose(f);
	f = open_memstream(&gen, &genlen);
	ck_assert_ptr_nonnull(f);
	print_table(f);
	fclose(f);

	b = strstr(doc, DOC_BEGIN);
	ck_assert_msg(b != NULL, "no table marker in %s", path);
	b += strlen(DOC_BEGIN);
	e = strstr(b, DOC_END);
	ck_assert_ptr_nonnull(e);
	ck_assert_msg((size_t)(e - b) == genlen &&
	    memcmp(b, gen, genlen) == 0, "the message table of %s differs "
	    "from common/proto.c: paste the output of "
	    "build/tests/test_msg --table between its markers", path);
	free(doc);
	free(gen);
}
END_TEST

static Suite *
msg_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("msg");
	tc = tcase_create("chan");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_many_small);
	tcase_add_test(tc, test_partial_read);
	tcase_add_test(tc, test_partial_write);
	tcase_add_test(tc, test_fd_pass);
	tcase_add_test(tc, test_fd_partial_write);
	tcase_add_test(tc, test_fd_freed_unsent);
	tcase_add_test(tc, test_unclaimed_fd_closed);
	tcase_add_test(tc, test_oversize);
	tcase_add_test(tc, test_huge_len);
	tcase_add_test(tc, test_bad_flags);
	tcase_add_test(tc, test_fd_flag_without_fd);
	tcase_add_test(tc, test_fd_late);
	tcase_add_test(tc, test_fd_stray);
	tcase_add_test(tc, test_fd_overflow);
	tcase_add_test(tc, test_ctrunc);
	tcase_add_test(tc, test_truncated_eof);
	tcase_add_test(tc, test_fuzz);
	tcase_add_test(tc, test_maxqueue);
	tcase_add_test(tc, test_get_exact);
	suite_add_tcase(s, tc);

	tc = tcase_create("msgev");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_msgev_1000);
	tcase_add_test(tc, test_msgev_close_when_flushed);
	tcase_add_test(tc, test_msgev_drain);
	tcase_add_test(tc, test_msgev_protocol_error);
	tcase_add_test(tc, test_msgev_truncated_eof);
	tcase_add_test(tc, test_msgev_free_in_dispatch);
	tcase_add_test(tc, test_msgev_pause);
	tcase_add_test(tc, test_msgev_close_write_error);
	tcase_add_test(tc, test_msgev_flush_now);
	suite_add_tcase(s, tc);

	tc = tcase_create("proto");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_proto_table_complete);
	tcase_add_test(tc, test_proto_check_peers);
	tcase_add_test(tc, test_proto_check_fields);
	tcase_add_test(tc, test_proto_maxlen);
	tcase_add_test(tc, test_proto_get_hostile);
	tcase_add_test(tc, test_proto_msgev_hostile);
	tcase_add_test(tc, test_proto_msgev_maxread);
	tcase_add_test(tc, test_proto_msgev_eof);
	tcase_add_test(tc, test_proto_doc);
	suite_add_tcase(s, tc);
	return s;
}

int
main(int argc, char *argv[])
{
	SRunner	*sr;
	int	 failed;

	if (argc == 2 && strcmp(argv[1], "--table") == 0) {
		print_table(stdout);
		return EXIT_SUCCESS;
	}
	sr = srunner_create(msg_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
