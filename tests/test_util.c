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
 * Unit tests of the file helpers of common/util.c that root uses in
 * directories other users may write: no link is followed (but root's
 * own), no fifo is waited on, the temporary name is not predictable.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static char	 top[PATH_MAX];

static void
setup(void)
{
	strlcpy(top, "/tmp/herod-test-util.XXXXXX", sizeof(top));
	ck_assert_ptr_nonnull(mkdtemp(top));
	ck_assert_int_eq(chmod(top, 0755), 0);
}

static void
rm_rf(const char *path)
{
	char		 p[PATH_MAX];
	struct stat	 sb;
	struct dirent	*dp;
	DIR		*d;

	if (lstat(path, &sb) == -1)
		return;
	if (S_ISDIR(sb.st_mode) && (d = opendir(path)) != NULL) {
		while ((dp = readdir(d)) != NULL) {
			if (strcmp(dp->d_name, ".") == 0 ||
			    strcmp(dp->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", path, dp->d_name);
			rm_rf(p);
		}
		closedir(d);
		rmdir(path);
	} else
		unlink(path);
}

static void
teardown(void)
{
	rm_rf(top);
}

static const char *
at(const char *rel)
{
	static char	 buf[4][PATH_MAX];
	static int	 i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", top, rel);
	return buf[i];
}

static void
put(const char *path, const char *text)
{
	FILE	*f;

	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static const char *
get(const char *path)
{
	static char	 buf[256];
	FILE		*f;
	size_t		 n;

	if ((f = fopen(path, "r")) == NULL)
		return "(none)";
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
entries(const char *dir)
{
	struct dirent	*dp;
	DIR		*d;
	int		 n = 0;

	ck_assert_ptr_nonnull(d = opendir(dir));
	while ((dp = readdir(d)) != NULL)
		if (strcmp(dp->d_name, ".") != 0 &&
		    strcmp(dp->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

START_TEST(test_safe_dir_open_plain)
{
	struct stat	 a, b;
	int		 fd;

	ck_assert_int_eq(mkdir(at("a"), 0755), 0);
	ck_assert_int_eq(mkdir(at("a/b"), 0755), 0);
	ck_assert_int_ge(fd = safe_dir_open(at("a/b")), 0);
	ck_assert_int_eq(fstat(fd, &a), 0);
	ck_assert_int_eq(stat(at("a/b"), &b), 0);
	ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	close(fd);
	ck_assert_int_ge(fd = safe_dir_open(at("a/./b//")), 0);
	close(fd);
	ck_assert_int_ge(fd = safe_dir_open("/"), 0);
	close(fd);
	/* relative, "..", a file, missing */
	ck_assert_int_eq(safe_dir_open("tmp"), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(safe_dir_open(at("a/b/../b")), -1);
	put(at("f"), "x");
	ck_assert_int_eq(safe_dir_open(at("f")), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_int_eq(safe_dir_open(at("nope")), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* A link in a directory anyone may write is never followed. */
START_TEST(test_safe_dir_open_untrusted_link)
{
	ck_assert_int_eq(mkdir(at("w"), 0777), 0);
	ck_assert_int_eq(chmod(at("w"), 0777), 0);
	ck_assert_int_eq(mkdir(at("target"), 0755), 0);
	ck_assert_int_eq(symlink(at("target"), at("w/l")), 0);
	ck_assert_int_eq(safe_dir_open(at("w/l")), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_int_eq(safe_dir_open(at("w/l/")), -1);
	ck_assert_int_eq(errno, ELOOP);
	/* a relative link too */
	ck_assert_int_eq(symlink("../target", at("w/r")), 0);
	ck_assert_int_eq(safe_dir_open(at("w/r")), -1);
	ck_assert_int_eq(errno, ELOOP);
}
END_TEST

/* Root's own links (/var/run -> /run) are followed. */
START_TEST(test_safe_dir_open_trusted_link)
{
	struct stat	 a, b;
	int		 fd;

	if (geteuid() != 0)
		return;		/* only root makes trusted links */
	ck_assert_int_eq(mkdir(at("r"), 0755), 0);
	ck_assert_int_eq(mkdir(at("r/target"), 0755), 0);
	ck_assert_int_eq(mkdir(at("r/target/sub"), 0755), 0);
	ck_assert_int_eq(symlink("target", at("r/rel")), 0);
	ck_assert_int_eq(symlink(at("r/target"), at("r/abs")), 0);
	ck_assert_int_ge(fd = safe_dir_open(at("r/rel/sub")), 0);
	ck_assert_int_eq(fstat(fd, &a), 0);
	ck_assert_int_eq(stat(at("r/target/sub"), &b), 0);
	ck_assert(a.st_ino == b.st_ino);
	close(fd);
	ck_assert_int_ge(fd = safe_dir_open(at("r/abs/sub")), 0);
	close(fd);
	ck_assert_int_eq(symlink("../r/target", at("r/up")), 0);
	ck_assert_int_ge(fd = safe_dir_open(at("r/up/sub")), 0);
	ck_assert_int_eq(fstat(fd, &a), 0);
	ck_assert(a.st_ino == b.st_ino);
	close(fd);
	/* but not once others may write where the link is */
	ck_assert_int_eq(chmod(at("r"), 0775), 0);
	ck_assert_int_eq(safe_dir_open(at("r/rel/sub")), -1);
	ck_assert_int_eq(errno, ELOOP);
	/* nor a link of another user */
	ck_assert_int_eq(chmod(at("r"), 0755), 0);
	ck_assert_int_eq(lchown(at("r/abs"), 1, 1), 0);
	ck_assert_int_eq(safe_dir_open(at("r/abs/sub")), -1);
	ck_assert_int_eq(errno, ELOOP);
	/* a loop of trusted links ends */
	ck_assert_int_eq(symlink("loop", at("r/loop")), 0);
	ck_assert_int_eq(safe_dir_open(at("r/loop")), -1);
	ck_assert_int_eq(errno, ELOOP);
}
END_TEST

START_TEST(test_write_atomic)
{
	const char	*p = at("d/x.pid");
	int		 noxattr = -1;

	ck_assert_int_eq(mkdir(at("d"), 0777), 0);
	ck_assert_int_eq(write_file_atomic_xattr(p, "12\n", 3, 0644,
	    "user.herod.test", "7", 1, &noxattr), 0);
	ck_assert_str_eq(get(p), "12\n");
	ck_assert(noxattr == 0 || noxattr == 1);
	ck_assert_int_eq(entries(at("d")), 1);	/* no temporary left */
	ck_assert_int_eq(write_file_atomic(p, "13\n", 3, 0644), 0);
	ck_assert_str_eq(get(p), "13\n");
	ck_assert_int_eq(entries(at("d")), 1);
}
END_TEST

/* A fifo or a link planted as the file is replaced, not opened. */
START_TEST(test_write_atomic_planted)
{
	const char	*p = at("d/x.pid");
	struct stat	 sb;

	ck_assert_int_eq(mkdir(at("d"), 0777), 0);
	put(at("victim"), "precious\n");
	ck_assert_int_eq(symlink(at("victim"), p), 0);
	/* the old, predictable temporary name */
	ck_assert_int_eq(symlink(at("victim"), at("d/x.pid.tmp1")), 0);
	ck_assert_int_eq(write_file_atomic(p, "1\n", 2, 0644), 0);
	ck_assert_int_eq(lstat(p, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_str_eq(get(p), "1\n");
	ck_assert_str_eq(get(at("victim")), "precious\n");
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(mkfifo(p, 0666), 0);
	ck_assert_int_eq(write_file_atomic(p, "2\n", 2, 0644), 0);
	ck_assert_int_eq(lstat(p, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_str_eq(get(p), "2\n");
}
END_TEST

/* The directory on the way replaced by a link: nothing is written. */
START_TEST(test_write_atomic_dir_link)
{
	ck_assert_int_eq(mkdir(at("w"), 0777), 0);
	ck_assert_int_eq(chmod(at("w"), 0777), 0);
	ck_assert_int_eq(mkdir(at("secret"), 0700), 0);
	put(at("secret/x.pid"), "precious\n");
	ck_assert_int_eq(symlink(at("secret"), at("w/d")), 0);
	ck_assert_int_eq(write_file_atomic(at("w/d/x.pid"), "1\n", 2, 0644),
	    -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_str_eq(get(at("secret/x.pid")), "precious\n");
	ck_assert_int_eq(entries(at("secret")), 1);
}
END_TEST

START_TEST(test_read_small_file)
{
	char	 buf[16];

	put(at("f"), "42\n");
	ck_assert_int_eq(read_small_file(at("f"), buf, sizeof(buf)), 3);
	ck_assert_str_eq(buf, "42\n");
	/* a fifo nobody writes: not waited on */
	ck_assert_int_eq(mkfifo(at("fifo"), 0666), 0);
	alarm(5);
	ck_assert_int_eq(read_small_file(at("fifo"), buf, sizeof(buf)), -1);
	alarm(0);
	/* a link: not followed */
	ck_assert_int_eq(symlink(at("f"), at("l")), 0);
	ck_assert_int_eq(read_small_file(at("l"), buf, sizeof(buf)), -1);
	ck_assert_int_eq(read_small_file(at("."), buf, sizeof(buf)), -1);
	ck_assert_int_eq(read_small_file("/proc/self/stat", buf,
	    sizeof(buf)), (ssize_t)sizeof(buf) - 1);
}
END_TEST

static Suite *
util_suite(void)
{
	Suite	*s = suite_create("util");
	TCase	*tc = tcase_create("files");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_safe_dir_open_plain);
	tcase_add_test(tc, test_safe_dir_open_untrusted_link);
	tcase_add_test(tc, test_safe_dir_open_trusted_link);
	tcase_add_test(tc, test_write_atomic);
	tcase_add_test(tc, test_write_atomic_planted);
	tcase_add_test(tc, test_write_atomic_dir_link);
	tcase_add_test(tc, test_read_small_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(util_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
