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

/* Small helpers shared by all herod programs. */
#ifndef HEROD_UTIL_H
#define HEROD_UTIL_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

int64_t		 now_ms(void);		/* CLOCK_MONOTONIC */
int64_t		 now_us(void);		/* CLOCK_MONOTONIC */
int64_t		 wall_ms(void);		/* CLOCK_REALTIME */
int		 set_nonblock(int);
int		 set_cloexec(int);
/*
 * Field 22 of /proc/PID/stat (start time in clock ticks since boot) and
 * the process group (field 5).  0 on success, -1 if the process is gone
 * or unreadable.
 */
int		 proc_stat(pid_t, uint64_t *starttime, pid_t *pgid,
		    pid_t *ppid, char *comm, size_t commlen);
/* Alive and, if starttime != 0, with that start time (not a zombie). */
int		 proc_alive(pid_t, uint64_t starttime);
/*
 * Read at most len - 1 bytes of a small regular file (/proc, pid files)
 * and NUL terminate them.  The last component is not followed if a
 * link, a fifo is not waited on.  Returns the length read (> 0), or -1.
 */
ssize_t		 read_small_file(const char *, char *, size_t);
/* mkdir -p with mode for the last component; 0 or -1. */
int		 mkdir_p(const char *, mode_t);
/* Write a whole buffer; retries EINTR.  0 or -1. */
int		 write_all(int, const void *, size_t);
/*
 * For root in directories another user may write.  safe_dir_open: an
 * O_DIRECTORY fd of the absolute path (no ".."), following only links
 * that no one but root or we could have made (openat2
 * RESOLVE_NO_SYMLINKS, else a walk with O_NOFOLLOW per component).  safe_parent_open: the same for the
 * directory holding path, its last component copied into base.
 */
int		 safe_dir_open(const char *);
int		 safe_parent_open(const char *, char *, size_t);
/*
 * Remove name from dfd (unlinkat_type) or path from the directory
 * safe_parent_open() gives (safe_unlink) if it is of type fmt (S_IFREG,
 * S_IFSOCK, S_IFIFO; 0: anything but a directory), as fstatat() without
 * following it shows.  No link is followed on the way.  0, or -1 (errno
 * EINVAL when of another type).
 */
int		 unlinkat_type(int, const char *, mode_t);
int		 safe_unlink(const char *, mode_t);
/*
 * Atomic small run-time file write: a temporary file with a random name
 * (O_EXCL) + renameat in the same directory, no fsync.  The _xattr
 * variants set xname = xval on the file before it takes its name;
 * *xfailed tells whether that failed (the file is written anyway).
 * 0 or -1.
 */
int		 write_file_at(int, const char *, const char *, size_t,
		    mode_t, const char *, const void *, size_t, int *);
int		 write_file_atomic_xattr(const char *, const char *, size_t,
		    mode_t, const char *, const void *, size_t, int *);
int		 write_file_atomic(const char *, const char *, size_t,
		    mode_t);
/* Uniform random in [0, n). */
uint32_t	 rand_below(uint32_t);

#endif
