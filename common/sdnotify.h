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
 * Telling the service manager that started herod how it is doing: the
 * sd_notify(3) datagram protocol, without libsystemd.
 */
#ifndef HEROD_SDNOTIFY_H
#define HEROD_SDNOTIFY_H

/*
 * Take NOTIFY_SOCKET out of the environment (nothing herod starts may
 * inherit it) and remember it.  0 if there is none, 1 if there is one,
 * -1 (logged) if it is unusable.
 */
int	sdnotify_init(void);
int	sdnotify_enabled(void);
/* Send one datagram of "KEY=VALUE\n" lines; -1 (not logged) on error. */
int	sdnotify_send(const char *);

#endif
