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
