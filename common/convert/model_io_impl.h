/* model_io_impl.h - what the model_io files share and nobody else needs
 * (model_io_files.c): the output directory written under a temporary
 * name, JSON as Python writes it, shapes in messages. Not a public
 * header. */
#ifndef RCLIP_MODEL_IO_IMPL_H
#define RCLIP_MODEL_IO_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "model/clip_config.h"

/* An output directory: files go into tmp, a fresh directory beside final,
 * and rc_outdir_commit renames it to final. */
struct rc_outdir {
	char *final;     /* the name asked for, trailing slashes removed */
	char *tmp;       /* ".<base>.tmp.XXXXXX" in the same parent */
	int force;
};

/* rc_outdir_open - check that final can be written (absent, an empty
 * directory, or with force a directory of plain files) and create tmp.
 * Returns 0, RC_E_ARG (exists, logged) or RC_E_IO / RC_E_NOMEM (logged). */
int rc_outdir_open(struct rc_outdir *d, const char *final, int flags);

/* rc_outdir_file - tmp/name into buf (n bytes). Returns buf, or NULL when
 * it does not fit (logged as RC_E_ARG by the caller). */
char *rc_outdir_file(const struct rc_outdir *d, const char *name, char *buf, size_t n);

/* rc_outdir_write - write len bytes as tmp/name. Returns 0, RC_E_IO or
 * RC_E_NOMEM (logged). */
int rc_outdir_write(const struct rc_outdir *d, const char *name, const char *data, size_t len);

/* rc_outdir_commit - rename tmp to final (replacing an old export when
 * forced) and sync the parent. Returns 0 or RC_E_IO (logged); the
 * directory is released either way. */
int rc_outdir_commit(struct rc_outdir *d);

/* rc_outdir_abort - remove tmp and what is in it; safe after commit. */
void rc_outdir_abort(struct rc_outdir *d);

/* rc_shape_str - "[a, b, c]" of ndim sizes into buf (n bytes). */
void rc_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);


/* rc_json_real - x as Python's repr writes a float (the fewest digits that
 * read back; "2.0", "1e-05", "0.0001"). Returns buf. */
char *rc_json_real(double x, char buf[40]);

/* rc_json_text - o as Python's json.dumps(o, indent=2, sort_keys=True)
 * writes it, with a final newline; takes o's reference (o may be NULL,
 * from a failed json_pack: RC_E_NOMEM).
 * Returns 0 and *out (caller frees) or RC_E_NOMEM (logged). */
struct json_t;
int rc_json_text(struct json_t *o, char **out);

#endif
