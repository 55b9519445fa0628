/* safetensors.h - read and write safetensors files, the Hugging Face
 * format that rclip uses for models and checkpoints (DESIGN.md §4).
 *
 * A file is an 8-byte little-endian header length N, N bytes of UTF-8
 * JSON, then the data buffer:
 *
 *     {"__metadata__": {"format": "pt"},
 *      "text_projection.weight": {"dtype": "F32", "shape": [512, 512],
 *                                 "data_offsets": [0, 1048576]}, ...}
 *
 * Offsets are relative to the start of the buffer. The reader checks
 * everything before it hands out a tensor: the header length against the
 * file and a 100 MB limit (the reference implementation's), the JSON (no
 * duplicate keys), each entry (known dtype, shape of non-negative sizes,
 * END - BEGIN = element count x dtype size without overflow), and that
 * the tensors cover the buffer exactly, from byte 0 to its end, with no
 * hole and no overlap (as the reference reader requires). Tensors are
 * views into the mapped file: nothing is copied until rc_st_read_f32().
 * An open handle is read-only: threads may read its tensors at once.
 *
 *     struct rc_st *st;
 *     if (rc_st_open(&st, "model.safetensors") < 0)
 *         return rc;                          // logged: file and reason
 *     const struct rc_st_tensor *t = rc_st_find(st, "logit_scale");
 *     float s;
 *     if (!t || rc_st_read_f32(st, t, &s, 1) < 0) ...
 *     for (size_t i = 0; i < rc_st_count(st); i++)   // in name order
 *         printf("%s %s\n", rc_st_at(st, i)->name,
 *                rc_st_dtype_name(rc_st_at(st, i)->dtype));
 *     rc_st_close(st);
 *
 *     struct rc_st_writer *w;
 *     rc_st_writer_new(&w);
 *     int64_t shape[2] = {512, 768};
 *     rc_st_writer_add(w, "visual_projection.weight", RC_ST_F32, 2, shape, p);
 *     rc_st_writer_meta(w, "format", "pt");
 *     rc = rc_st_writer_write(w, "out.safetensors");  // atomic
 *     rc_st_writer_free(w);
 *
 * The writer lays tensors out as the reference implementation does:
 * by dtype alignment, largest first, then by name (byte order). For a
 * file of one dtype that is plain name order; in any case each tensor
 * starts at a multiple of its element size, and since the header is
 * padded with spaces to a multiple of 8 bytes, a mapped tensor is
 * naturally aligned. Metadata keys are sorted. The same tensors and at
 * most one metadata key give the same bytes as Python's
 * safetensors.save_file (which orders several keys at random); see
 * tests/fixtures/gen_safetensors.py.
 *
 * Data is little-endian; this module assumes a little-endian host.
 */
#ifndef RCLIP_SAFETENSORS_H
#define RCLIP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

/* The dtypes read. RC_ST_F32 .. RC_ST_BOOL are the agreed set; the rest
 * are other dtypes of the format, held so that a file with them opens
 * (rc_st_read_f32 refuses them). The F8_E8M0, F4 and F6 types of newer
 * writers are refused at open (RC_E_UNSUPPORTED). */
enum rc_st_dtype {
	RC_ST_F32 = 1, RC_ST_F16, RC_ST_BF16, RC_ST_F64, RC_ST_I64, RC_ST_I32,
	RC_ST_I16, RC_ST_I8, RC_ST_U8, RC_ST_BOOL,
	RC_ST_U16, RC_ST_U32, RC_ST_U64, RC_ST_F8_E5M2, RC_ST_F8_E4M3,
	RC_ST_C64,
	RC_ST_NDTYPES /* one past the last */
};

#define RC_ST_MAX_DIMS 8                     /* more is RC_E_UNSUPPORTED */
#define RC_ST_MAX_HEADER ((uint64_t)100000000) /* bytes of JSON, as upstream */

/* One tensor of an open file; valid until rc_st_close(). data points into
 * the file (read-only) and may be unaligned in a file written by another
 * tool: read it with rc_st_read_f32() or memcpy. A tensor with a zero in
 * its shape has nelem = nbytes = 0; a scalar has ndim 0 and nelem 1. */
struct rc_st_tensor {
	const char *name;       /* UTF-8, no NUL inside */
	int dtype;              /* enum rc_st_dtype */
	int ndim;               /* 0..RC_ST_MAX_DIMS */
	int64_t shape[RC_ST_MAX_DIMS]; /* unused dims are 0 */
	const void *data;
	size_t nbytes;          /* = nelem x rc_st_dtype_size(dtype) */
	size_t nelem;
};

struct rc_st;

/* rc_st_open - map path read-only and check it all (see the top). Not for
 * pipes or "-": the format needs random access. The file must not be
 * truncated while open (the mapping would fault).
 * Returns 0 with *out (close with rc_st_close), or, logged as
 * "path: reason" (naming the tensor when one is at fault):
 * RC_E_IO (open, stat, mmap failed; not a regular file),
 * RC_E_TRUNCATED (shorter than 8 bytes, header length past the end of the
 * file, tensors that need more data than the file holds),
 * RC_E_RANGE (header over RC_ST_MAX_HEADER), RC_E_FORMAT (bad JSON, a
 * duplicate key, an entry that is not an object, a missing or mistyped
 * field, an unknown dtype, a negative size, a size mismatch or overflow,
 * offsets outside the buffer, overlapping tensors, a hole, data after the
 * last tensor, bad __metadata__, a NUL in a name), RC_E_UNSUPPORTED
 * (more than RC_ST_MAX_DIMS dims, a dtype this build does not hold),
 * RC_E_NOMEM. *out is NULL on error. */
int rc_st_open(struct rc_st **out, const char *path);

/* rc_st_open_mem - the same over size bytes at data (not copied: they
 * must outlive the handle; any alignment). name is copied and used in
 * messages. Same returns, less RC_E_IO. */
int rc_st_open_mem(struct rc_st **out, const void *data, size_t size,
	const char *name);

/* rc_st_close - unmap and free; st may be NULL. */
void rc_st_close(struct rc_st *st);

/* rc_st_count - the number of tensors (__metadata__ is not one). */
size_t rc_st_count(const struct rc_st *st);

/* rc_st_at - tensor i (i < count) in name order (strcmp); owned by st. */
const struct rc_st_tensor *rc_st_at(const struct rc_st *st, size_t i);

/* rc_st_find - the tensor called name, or NULL (nothing logged). */
const struct rc_st_tensor *rc_st_find(const struct rc_st *st, const char *name);

/* rc_st_name - the path or name given at open (owned by st). */
const char *rc_st_name(const struct rc_st *st);

/* rc_st_meta - the __metadata__ value of key, or NULL; owned by st. */
const char *rc_st_meta(const struct rc_st *st, const char *key);

/* rc_st_meta_count, rc_st_meta_at - the metadata pairs, sorted by key
 * (strcmp); i < count; strings owned by st. */
size_t rc_st_meta_count(const struct rc_st *st);
void rc_st_meta_at(const struct rc_st *st, size_t i, const char **key,
	const char **value);

/* rc_st_read_f32 - convert tensor t of st to n floats at dst: F32 copied,
 * F16 and BF16 exactly (every half is a float), F64 rounded to nearest
 * (out of range becomes inf). n must equal t->nelem. Returns 0,
 * RC_E_ARG when n differs ("path: tensor 'name': has N elements, the
 * caller expects M") or RC_E_UNSUPPORTED for another dtype (naming the
 * tensor and its dtype), logged. */
int rc_st_read_f32(const struct rc_st *st, const struct rc_st_tensor *t,
	float *dst, size_t n);

/* rc_st_dtype_name - "F32", "BF16", ... (static); "?" for a bad value. */
const char *rc_st_dtype_name(int dtype);

/* rc_st_dtype_size - bytes per element, or 0 for a bad value. */
size_t rc_st_dtype_size(int dtype);

/* Exact scalar conversions. F16 is IEEE binary16 (subnormals, inf and NaN
 * with its payload kept); BF16 is the high half of a float. From float
 * both round to nearest, ties to even, as numpy and PyTorch do; a NaN stays
 * a NaN (quieted, sign kept) and overflow gives inf. */
float rc_st_f16_to_f32(uint16_t h);
float rc_st_bf16_to_f32(uint16_t b);
uint16_t rc_st_f32_to_f16(float f);
uint16_t rc_st_f32_to_bf16(float f);

/* ---------------------------------------------------------------- writer */

struct rc_st_writer;

/* rc_st_writer_new - an empty writer. Returns 0 with *out (free with
 * rc_st_writer_free) or RC_E_NOMEM (logged). */
int rc_st_writer_new(struct rc_st_writer **out);

/* rc_st_writer_add - add a tensor: dtype, ndim (0..RC_ST_MAX_DIMS) sizes
 * at shape (>= 0) and the nelem x dtype-size bytes at data, which are not
 * copied and must stay valid and unchanged until rc_st_writer_write()
 * (data may be NULL when there are no elements). name is copied.
 * Returns 0, or RC_E_ARG (logged naming the tensor) for a duplicate name,
 * the reserved name "__metadata__", a name that is not UTF-8, a bad dtype,
 * ndim or size, or a size that overflows; RC_E_NOMEM. */
int rc_st_writer_add(struct rc_st_writer *w, const char *name, int dtype,
	int ndim, const int64_t *shape, const void *data);

/* rc_st_writer_meta - set a __metadata__ string (both copied; setting a
 * key again replaces its value). Returns 0, RC_E_ARG (not UTF-8) or
 * RC_E_NOMEM, logged. */
int rc_st_writer_meta(struct rc_st_writer *w, const char *key,
	const char *value);

/* rc_st_writer_write - write the file through rc_atomic_open() ("-" is
 * stdout): layout as described at the top, __metadata__ first when any
 * key is set, the header padded with spaces to a multiple of 8. The
 * writer is unchanged and can write again. Returns 0, or RC_E_IO /
 * RC_E_NOMEM (logged with the path); on error the final name is
 * untouched. */
int rc_st_writer_write(struct rc_st_writer *w, const char *path);

/* rc_st_writer_free - free the writer (not the tensor data); w may be
 * NULL. */
void rc_st_writer_free(struct rc_st_writer *w);

#endif
