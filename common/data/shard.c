/* shard.c - the reader of shard formats v1 and v2 (rclip-shard(5)): a mapped file,
 * a buffer or a stream, opened after its header, metadata and index pass
 * the checks of shard_check.c; records are checked as they are read, by
 * index or in order. The writer is in shard_write.c, the list in
 * shard_list.c. Calls go one way: this file uses shard_check.c, which
 * uses nothing here.
 */
#include "data/shard.h"

#include "base/arena.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/io.h"
#include "base/log.h"
#include "base/mapguard.h"
#include "data/shard_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- open */

static struct rc_shard *shard_new(const char *name, int mode)
{
	struct rc_shard *r = rc_calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->mode = mode;
	r->bad = NO_INDEX;
	if (!(r->name = rc_strdup(name)) ||
	    !(r->scratch = rc_calloc(RC_RECORD_MAX_TEXTS, sizeof *r->scratch))) {
		rc_shard_close(r);
		return NULL;
	}
	return r;
}

/* Check everything but the records of r->data (size bytes). */
static int open_checked(struct rc_shard *r)
{
	int rc = shard_check_header(r, r->data, r->size < RC_SHARD_HEADER_SIZE ?
			      r->size : RC_SHARD_HEADER_SIZE, r->size);
	if (rc == 0)
		rc = shard_check_meta(r, r->data + r->meta_off, r->meta_size);
	if (rc == 0)
		rc = shard_check_index(r);
	return rc;
}

int rc_shard_open(struct rc_shard **out, const char *path)
{
	struct rc_shard *r;
	struct stat st;
	int rc;

	*out = NULL;
	if (strcmp(path, "-") == 0)
		return rc_log_error(RC_E_ARG, "-: random access needs a file (read "
				    "standard input with rc_shard_open_stream)");
	if (!(r = shard_new(path, MODE_MAP)))
		return RC_E_NOMEM;
	/* O_NONBLOCK: a FIFO opens at once, and fstat refuses it */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = rc_log_error(RC_E_IO, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = rc_log_error(RC_E_IO, "%s: not a regular file (random access "
				  "needs one; read a pipe as a stream)", path);
		goto fail;
	}
	if ((uint64_t)st.st_size < RC_SHARD_HEADER_SIZE) {
		/* Too short to map usefully: look at what is there. */
		uint8_t h[RC_SHARD_HEADER_SIZE];
		ssize_t got = pread(fd, h, sizeof h, 0);
		if (got < 0) {
			rc = rc_log_error(RC_E_IO, "%s: %s", path, strerror(errno));
			goto fail;
		}
		rc = shard_check_header(r, h, (size_t)got, (uint64_t)st.st_size);
		goto fail;
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		rc = rc_log_error(RC_E_IO, "%s: mmap: %s", path, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	r->data = m;
	r->size = (size_t)st.st_size;
	if ((rc = open_checked(r)) < 0)
		goto fail;
	*out = r;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	rc_shard_close(r);
	return rc < 0 ? rc : RC_E_FORMAT;
}

int rc_shard_open_mem(struct rc_shard **out, const void *data, size_t size,
		      const char *name)
{
	struct rc_shard *r;
	*out = NULL;
	if ((uintptr_t)data % 8)
		return rc_log_error(RC_E_ARG, "%s: shard buffer is not 8-byte "
				    "aligned", name);
	if (!(r = shard_new(name, MODE_MEM)))
		return RC_E_NOMEM;
	r->data = data;
	r->size = size;
	int rc = open_checked(r);
	if (rc < 0) {
		rc_shard_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* Read exactly n bytes of the stream to dst; what names them. */
static int stream_get(struct rc_shard *r, void *dst, size_t n, const char *what)
{
	errno = 0;
	size_t got = fread(dst, 1, n, r->f);
	r->pos += got;
	if (got == n)
		return 0;
	if (ferror(r->f))
		return rc_log_error(RC_E_IO, "%s: read error: %s", r->name,
				    strerror(errno ? errno : EIO));
	return rc_log_error(RC_E_TRUNCATED, "%s: stream ends inside %s", r->name, what);
}

int rc_shard_open_stream(struct rc_shard **out, FILE *f, const char *name)
{
	struct rc_shard *r;
	uint8_t h[RC_SHARD_HEADER_SIZE];
	int rc;

	*out = NULL;
	if (!(r = shard_new(name, MODE_STREAM)))
		return RC_E_NOMEM;
	r->f = f;
	errno = 0;
	size_t got = fread(h, 1, sizeof h, f);
	r->pos = got;
	if (got < sizeof h && ferror(f)) {
		rc = rc_log_error(RC_E_IO, "%s: read error: %s", name,
				  strerror(errno ? errno : EIO));
		goto fail;
	}
	if ((rc = shard_check_header(r, h, got, UINT64_MAX)) < 0)
		goto fail;
	/* meta_size is at most RC_SHARD_META_MAX (shard_check_header). */
	if ((rc = rc_grow((void **)&r->buf, &r->bufcap, r->meta_size, 1)) < 0 ||
	    (rc = stream_get(r, r->buf, r->meta_size, "the metadata")) < 0 ||
	    (rc = shard_check_meta(r, r->buf, r->meta_size)) < 0 ||
	    (rc = rc_hash_init(&r->offs, 0)) < 0)
		goto fail;
	*out = r;
	return 0;
fail:
	rc_shard_close(r);
	return rc;
}

/* ---------------------------------------------------------------- access */

const struct rc_shard_info *rc_shard_info(const struct rc_shard *r)
{
	return &r->info;
}

uint64_t rc_shard_count(const struct rc_shard *r)
{
	return r->info.records;
}

const char *rc_shard_name(const struct rc_shard *r)
{
	return r->name;
}

/* The stream's end: the index must list the records seen, and the stream
 * must stop right after it. */
static int stream_finish(struct rc_shard *r)
{
	uint8_t b[8];
	int rc;
	if (r->pos != r->index_off)
		return rc_log_error(RC_E_FORMAT, "%s: records end at byte %" PRIu64
				    ", the header says %" PRIu64, r->name, r->pos,
				    r->index_off);
	struct rc_hash_state st;
	if ((rc = rc_hash_init(&st, 0)) < 0)
		return rc;
	for (uint64_t left = 8 * r->info.records; left > 0;) {
		size_t n = left < r->bufcap ? (size_t)left : r->bufcap;
		if ((rc = stream_get(r, r->buf, n, "the index")) < 0)
			goto out;
		rc_hash_update(&st, r->buf, n);
		left -= n;
	}
	if ((rc = stream_get(r, b, 8, "the index")) < 0)
		goto out;
	uint64_t want = shard_get64(b), got = rc_hash_digest64(&st);
	if (want != got) {
		rc = rc_log_error(RC_E_CHECKSUM, "%s: index checksum mismatch "
				  "(stored %016" PRIx64 ", computed %016" PRIx64 ")",
				  r->name, want, got);
	} else if (want != rc_hash_digest64(&r->offs)) {
		rc = rc_log_error(RC_E_FORMAT, "%s: the index does not match the "
				  "records", r->name);
	} else if (fgetc(r->f) != EOF) {
		rc = rc_log_error(RC_E_FORMAT, "%s: bytes after the end of the "
				  "shard", r->name);
	} else if (ferror(r->f)) {
		rc = rc_log_error(RC_E_IO, "%s: read error: %s", r->name,
				  strerror(errno ? errno : EIO));
	}
out:
	rc_hash_free(&st);
	return rc;
}

/* The next record of a stream into r->buf. */
static int stream_record(struct rc_shard *r, struct rc_record *rec,
			 struct rc_arena *arena)
{
	uint64_t i = r->cursor, off = r->pos;
	int rc = stream_get(r, r->buf, R_HEAD, "a record");
	if (rc < 0)
		return rc;
	uint64_t len = shard_get32(r->buf + R_LENGTH);
	if (len < R_MIN || len % 8 || len > r->index_off - off)
		return rc_log_error(RC_E_FORMAT, "%s: record %" PRIu64 ": bad "
				    "length %" PRIu64, r->name, i, len);
	/* Grow with the data that actually arrives, not with a length that
	 * may be corrupt. */
	for (uint64_t have = R_HEAD; have < len;) {
		size_t n = len - have < STREAM_CHUNK ? (size_t)(len - have) : STREAM_CHUNK;
		if ((rc = rc_grow((void **)&r->buf, &r->bufcap, have + n, 1)) < 0 ||
		    (rc = stream_get(r, r->buf + have, n, "a record")) < 0)
			return rc;
		have += n;
	}
	if ((rc = shard_parse_record(r, i, r->buf, len, rec, arena)) < 0)
		return rc;
	uint8_t b[8];
	shard_put64(b, off);
	rc_hash_update(&r->offs, b, 8);
	r->cursor++;
	return 0;
}

int rc_shard_read(struct rc_shard *r, uint64_t index, struct rc_record *rec,
		  struct rc_arena *arena)
{
	memset(rec, 0, sizeof *rec);
	if (index >= r->info.records)
		return rc_log_error(RC_E_RANGE, "%s: record %" PRIu64 ": out of range "
				    "(%" PRIu64 " records)", r->name, index,
				    r->info.records);
	if (r->mode == MODE_MAP) {
		/* the file may have shrunk since it was mapped: a SIGBUS in the
		 * parse (which reads every byte of the record) is reported */
		struct rc_map_guard g;
		if (RC_MAP_TRY(&g))
			return rc_log_error(RC_E_TRUNCATED, "%s: truncated while reading "
					    "(record %" PRIu64 ")", r->name, index);
		uint64_t off = shard_get64(r->data + r->index_off + 8 * index);
		int rc = shard_parse_record(r, index, r->data + off,
					    shard_record_end(r, index) - off, rec, arena);
		rc_map_end(&g);
		return rc;
	}
	if (r->mode != MODE_STREAM) {
		uint64_t off = shard_get64(r->data + r->index_off + 8 * index);
		return shard_parse_record(r, index, r->data + off, shard_record_end(r, index) - off,
				    rec, arena);
	}
	if (r->failed)
		return r->failed;
	if (index != r->cursor)
		return rc_log_error(RC_E_UNSUPPORTED, "%s: record %" PRIu64 ": a "
				    "stream is read in order (next is %" PRIu64 ")",
				    r->name, index, r->cursor);
	int rc = stream_record(r, rec, arena);
	if (rc < 0) {
		r->failed = rc;
		r->bad = index;
	}
	return rc;
}

int rc_shard_next(struct rc_shard *r, struct rc_record *rec, struct rc_arena *arena)
{
	memset(rec, 0, sizeof *rec);
	if (r->cursor < r->info.records) {
		uint64_t i = r->cursor;
		int rc = rc_shard_read(r, i, rec, arena);
		if (r->mode != MODE_STREAM)
			r->cursor++;
		if (rc < 0)
			r->bad = i;
		return rc < 0 ? rc : 1;
	}
	if (r->mode != MODE_STREAM || r->done)
		return 0;
	if (r->failed)
		return r->failed;
	int rc = stream_finish(r);
	if (rc < 0) {
		r->failed = rc;
		r->bad = NO_INDEX;
		return rc;
	}
	r->done = 1;
	return 0;
}

int rc_shard_seek(struct rc_shard *r, uint64_t index)
{
	if (index > r->info.records)
		return rc_log_error(RC_E_RANGE, "%s: seek to record %" PRIu64
				    ": out of range (%" PRIu64 " records)", r->name,
				    index, r->info.records);
	if (r->mode == MODE_STREAM && index != r->cursor)
		return rc_log_error(RC_E_UNSUPPORTED, "%s: cannot seek in a stream",
				    r->name);
	r->cursor = index;
	return 0;
}

int rc_shard_verify(struct rc_shard *r, uint64_t *bad_index)
{
	struct rc_record rec;
	int first = 0;
	uint64_t bad = NO_INDEX;
	if (r->mode == MODE_STREAM) {
		int rc;
		while ((rc = rc_shard_next(r, &rec, NULL)) > 0)
			;
		if (rc < 0) {
			first = rc;
			bad = r->bad;
		}
	} else {
		for (uint64_t i = 0; i < r->info.records; i++) {
			int rc = rc_shard_read(r, i, &rec, NULL);
			if (rc < 0 && !first) {
				first = rc;
				bad = i;
			}
		}
	}
	if (bad_index)
		*bad_index = bad;
	return first;
}

int rc_shard_hash(const struct rc_shard *r, uint64_t *xxh3)
{
	if (r->mode == MODE_STREAM)
		return rc_log_error(RC_E_UNSUPPORTED, "%s: cannot hash a stream "
				    "after opening it", r->name);
	*xxh3 = rc_hash64(r->data, r->size);
	return 0;
}

void rc_shard_close(struct rc_shard *r)
{
	if (!r)
		return;
	if (r->mode == MODE_MAP && r->data)
		munmap((void *)r->data, r->size);
	rc_hash_free(&r->offs);
	free(r->buf);
	free(r->kv);
	free(r->scratch);
	free(r->name);
	free(r);
}
