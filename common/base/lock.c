/* lock.c - advisory output locks of lock.h: flock on a lock file holding
 * the pid of the process that took it. */
#include "base/lock.h"

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* holder - the pid written in the lock file by its holder, or 0 when it
 * has not written it yet. */
static long holder(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* take - one try: 1 with the lock taken on the file that path names now,
 * 0 when the file was removed or replaced meanwhile (by a holder that
 * dropped its lock: try again), or an error. */
static int take(struct rc_lock *lk, const char *path, const char *what)
{
	lk->fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0666);
	if (lk->fd < 0)
		return rc_log_error(RC_E_IO, "%s: cannot open the lock file: %s", path,
				    errno == ELOOP ? "is a symbolic link" : strerror(errno));
	struct stat st, now;
	if (fstat(lk->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc_lock_drop(lk);
		return rc_log_error(RC_E_IO, "%s: the lock file is not a regular file", path);
	}
	if (flock(lk->fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		long pid = e == EWOULDBLOCK ? holder(lk->fd) : 0;
		rc_lock_drop(lk);
		if (e != EWOULDBLOCK)
			return rc_log_error(RC_E_IO, "%s: cannot lock: %s", path, strerror(e));
		if (pid > 0)
			rc_log_error(RC_E_ARG, "%s: in use by process %ld (lock %s)", what, pid,
				     path);
		else
			rc_log_error(RC_E_ARG, "%s: in use by another process (lock %s)", what,
				     path);
		rc_log_hint("wait for it to finish, or write somewhere else");
		return RC_E_ARG;
	}
	if (lstat(path, &now) != 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev) {
		rc_lock_drop(lk);
		return 0;
	}
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(lk->fd, 0) != 0 || pwrite(lk->fd, buf, (size_t)n, 0) != n)
		rc_log_warn("%s: cannot record the pid: %s", path, strerror(errno));
	return 1;
}

int rc_lock_take(struct rc_lock *lk, const char *path, const char *what)
{
	lk->fd = -1;
	lk->path = NULL;
	int rc;
	for (int tries = 0; tries < 100; tries++)
		if ((rc = take(lk, path, what)) != 0) {
			if (rc < 0)
				return rc;
			if (!(lk->path = rc_strdup(path))) {
				rc_lock_drop(lk);
				return RC_E_NOMEM;
			}
			return 0;
		}
	return rc_log_error(RC_E_IO, "%s: cannot lock: the file keeps being replaced", path);
}

void rc_lock_drop(struct rc_lock *lk)
{
	if (lk->fd >= 0 && lk->path)
		unlink(lk->path);
	if (lk->fd >= 0)
		close(lk->fd);
	free(lk->path);
	lk->fd = -1;
	lk->path = NULL;
}
