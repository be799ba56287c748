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
 * Fuzz harness: proto_check() of common/proto.c, the one validator of
 * every worker message (type, sender and receiver, header, size, fd,
 * NUL-terminated strings, text).
 *
 * Input: one byte for the sender, one for the receiver (any value, so
 * processes that do not exist come too), two for the type (any u16),
 * one of header flags (bit 0: an fd came, bit 1: a non-zero peerid,
 * bit 2: a non-zero pid, bits 3-7 go to hdr.flags), then the payload,
 * copied to a buffer of exactly its size.
 *
 * Checked besides memory safety: the answer is PROTO_OK or a known
 * error with a text, the same twice, and the payload is left as it
 * was; an accepted message is in the table, from a sender to a receiver
 * the table allows, with a size in its range, an fd as its rule says,
 * a NUL in every string field, and no NUL at all if it is text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_accepted(int from, int to, uint32_t type, const uint8_t *p,
    size_t len, int fd)
{
	const struct proto_msg	*pm;
	size_t			 i;

	if ((pm = proto_lookup(type)) == NULL)
		abort();
	if (from < 0 || to < 0 || from >= PROC_MAX || to >= PROC_MAX ||
	    !(pm->links & PROTO_LINK(from, to)))
		abort();
	if (len < pm->minlen || len > pm->maxlen)
		abort();
	if ((pm->fd == PROTO_FD_NEVER && fd != -1) ||
	    (pm->fd == PROTO_FD_MUST && fd == -1))
		abort();
	if (pm->text && memchr(p, '\0', len) != NULL)
		abort();
	for (i = 0; i < PROTO_MAX_STR && pm->str[i].size > 0; i++) {
		if ((size_t)pm->str[i].off + pm->str[i].size > len)
			abort();
		if (memchr(p + pm->str[i].off, '\0', pm->str[i].size) == NULL)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_hdr	 hdr;
	uint8_t		*payload, *copy;
	size_t		 len;
	int		 from, to, fd, r1, r2;

	if (size < 5)
		return 0;
	from = (int8_t)data[0];
	to = (int8_t)data[1];
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = (uint32_t)data[2] | (uint32_t)data[3] << 8;
	fd = (data[4] & 1) ? 7 : -1;
	hdr.peerid = (data[4] & 2) ? 1 : 0;
	hdr.pid = (data[4] & 4) ? 1 : 0;
	hdr.flags = data[4] >> 3;
	len = size - 5;
	hdr.len = (uint32_t)len;
	if ((payload = malloc(len + 1)) == NULL ||
	    (copy = malloc(len + 1)) == NULL)
		abort();
	memcpy(payload, data + 5, len);
	memcpy(copy, data + 5, len);
	r1 = proto_check(from, to, &hdr, payload, len, fd);
	r2 = proto_check(from, to, &hdr, payload, len, fd);
	if (r1 != r2 || proto_strerror(r1) == NULL)
		abort();
	if (memcmp(payload, copy, len) != 0)
		abort();
	if (r1 == PROTO_OK)
		check_accepted(from, to, hdr.type, payload, len, fd);
	free(payload);
	free(copy);
	return 0;
}
