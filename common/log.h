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
