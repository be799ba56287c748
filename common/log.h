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
 * Logging: stderr in the foreground, syslog when detached and _PATH_LOG
 * is a socket, stderr otherwise.  Every line is prefixed with the
 * process name set by log_procinit().
 */
#ifndef HEROD_LOG_H
#define HEROD_LOG_H

#include <stdarg.h>

void	log_init(int foreground, int verbose);
void	log_procinit(const char *procname);
int	log_getverbose(void);
int	log_to_syslog(void);
const char *log_where(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_event(const char *json);
__attribute__((noreturn))
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn))
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif
