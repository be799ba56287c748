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
 * The sd_notify(3) protocol as the service manager's side expects it:
 * one AF_UNIX datagram per state change, sent to the socket named by
 * NOTIFY_SOCKET (a path, or "@name" in the abstract namespace).
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sdnotify.h"

static struct sockaddr_un	 nsun;
static socklen_t		 nsun_len;
static int			 nfd = -1;

int
sdnotify_init(void)
{
	const char	*e;
	size_t		 len;

	if ((e = getenv("NOTIFY_SOCKET")) == NULL)
		return 0;
	len = strlen(e);
	memset(&nsun, 0, sizeof(nsun));
	nsun.sun_family = AF_UNIX;
	if ((e[0] != '/' && e[0] != '@') || len < 2 ||
	    len >= sizeof(nsun.sun_path)) {
		log_warnx("%s: NOTIFY_SOCKET is not an absolute path or an "
		    "abstract name that fits a socket address: ignored",
		    __func__);
		(void)unsetenv("NOTIFY_SOCKET");
		return -1;
	}
	memcpy(nsun.sun_path, e, len);
	if (e[0] == '@') {
		nsun.sun_path[0] = '\0';
		/* an abstract name is exactly its bytes, no NUL after */
		nsun_len = offsetof(struct sockaddr_un, sun_path) + len;
	} else
		nsun_len = offsetof(struct sockaddr_un, sun_path) + len + 1;
	(void)unsetenv("NOTIFY_SOCKET");
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (nfd == -1) {
		log_warn("%s: socket", __func__);
		return -1;
	}
	return 1;
}

int
sdnotify_enabled(void)
{
	return nfd != -1;
}

int
sdnotify_send(const char *state)
{
	ssize_t	 n;

	if (nfd == -1)
		return 0;
	do
		n = sendto(nfd, state, strlen(state), MSG_NOSIGNAL,
		    (struct sockaddr *)&nsun, nsun_len);
	while (n == -1 && errno == EINTR);
	return n == -1 ? -1 : 0;
}
