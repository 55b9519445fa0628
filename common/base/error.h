/* error.h - the error codes every librclip function returns.
 *
 * Library functions return 0 on success or a negative RC_E_* code; the
 * tool that called them turns the code into one stderr line with
 * rc_strerror(). Details (the file, the line, the record) are logged by the
 * function that knows them, through log.h, before it returns the code.
 *
 *     int rc = rc_bpe_load(&bpe, path);
 *     if (rc < 0)
 *         rc_die("%s: %s", path, rc_strerror(rc));
 */
#ifndef RCLIP_ERROR_H
#define RCLIP_ERROR_H

enum rc_error {
	RC_OK = 0,
	RC_E_NOMEM = -1,    /* an allocation failed */
	RC_E_IO = -2,       /* a read, write, open or close failed (errno kept) */
	RC_E_FORMAT = -3,   /* input is malformed: bad magic, bad syntax, bad size */
	RC_E_CHECKSUM = -4, /* stored and computed checksums differ */
	RC_E_VERSION = -5,  /* a file format version this build does not read */
	RC_E_RANGE = -6,    /* a value is out of its allowed range */
	RC_E_ARG = -7,      /* a caller passed an invalid argument */
	RC_E_NOTFOUND = -8, /* a file, key or tensor does not exist */
	RC_E_UNSUPPORTED = -9, /* valid input that this build cannot handle */
	RC_E_INTERRUPTED = -10, /* stopped by a signal or a callback */
	RC_E_TRUNCATED = -11,   /* input ended before a complete record */
};

/* rc_strerror - a short lowercase name for an RC_E_* code (never NULL; an
 * unknown code gives "unknown error"). The string is static. */
const char *rc_strerror(int code);

#endif
