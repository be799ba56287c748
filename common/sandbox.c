/*
 * Privilege drop for the unprivileged workers: chroot (root only),
 * groups, gid, uid, then no-new-privs.  The order matters: chroot needs
 * root, and the uid goes last so nothing can be regained.
 */
#include <sys/prctl.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <unistd.h>

#include "herod.h"
#include "log.h"

void
sandbox_drop(const struct herod_env *env, const char *chroot_dir)
{
	if (geteuid() == 0) {
		if (chroot_dir != NULL) {
			if (chroot(chroot_dir) == -1)
				fatal("%s: chroot %s", __func__, chroot_dir);
			if (chdir("/") == -1)
				fatal("%s: chdir /", __func__);
		}
		if (setgroups(1, &env->worker_gid) == -1)
			fatal("%s: setgroups", __func__);
		if (setresgid(env->worker_gid, env->worker_gid,
		    env->worker_gid) == -1)
			fatal("%s: setresgid", __func__);
		if (setresuid(env->worker_uid, env->worker_uid,
		    env->worker_uid) == -1)
			fatal("%s: setresuid", __func__);
		if (env->worker_uid != 0 && setuid(0) != -1)
			fatalx("%s: could regain root", __func__);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: PR_SET_NO_NEW_PRIVS", __func__);
}

void
sandbox_die_with_parent(void)
{
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		fatal("%s: PR_SET_PDEATHSIG", __func__);
	if (getppid() == 1)
		fatalx("%s: parent already gone", __func__);
}
