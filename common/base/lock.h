/* lock.h - one writer per output: an advisory lock (flock) on a lock file
 * beside the output, held for the life of the process or until released.
 * A second writer fails at once and is told the holder's pid, which the
 * holder writes into the lock file. The holder removes the file when it
 * drops the lock; a killed writer leaves the file but not the lock, which
 * goes with the process.
 *
 *     struct rc_lock lk;
 *     if ((rc = rc_lock_take(&lk, "out/run/lock", "out/run")) < 0)
 *             return rc;          // "out/run: in use by process 1234 (...)"
 *     ... write ...
 *     rc_lock_drop(&lk);
 */
#ifndef RCLIP_LOCK_H
#define RCLIP_LOCK_H

struct rc_lock {
	int fd;         /* the lock file, or -1 */
	char *path;     /* its name (removed on drop) */
};

/* rc_lock_take - create (mode 0666 less the umask) or open the lock file
 * path, never through a symlink, and take an exclusive flock on it without
 * waiting. what names the output in messages. Returns 0 with lk held;
 * RC_E_ARG when another process holds it ("WHAT: in use by process PID
 * (lock PATH)", logged), RC_E_IO or RC_E_NOMEM (logged). lk->fd is -1
 * on error. */
int rc_lock_take(struct rc_lock *lk, const char *path, const char *what);

/* rc_lock_drop - remove the lock file and release the lock. Safe on a
 * lock never taken or dropped before (lk zeroed with fd -1). */
void rc_lock_drop(struct rc_lock *lk);

#endif
