/* shard_impl.h - private to the shard modules (shard.c, shard_check.c,
 * shard_write.c): the byte layout of shard formats v1 and v2 (the tables of
 * rclip-shard(5), which this file must match), little-endian load/store
 * helpers, the reader's state and the checks shard_check.c does for it.
 */
#ifndef RCLIP_SHARD_IMPL_H
#define RCLIP_SHARD_IMPL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/hash.h"
#include "data/shard.h"

/* Token ids are read in place as uint16_t or uint32_t (record.h's
 * rc_text.tokens points into the file), so the host must store integers
 * as the file does. Every other field goes through the helpers below. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "shard token ids are read in place: rclip needs a little-endian host"
#endif

/* File header: RC_SHARD_HEADER_SIZE bytes at offset 0. */
enum {
	H_MAGIC = 0,        /* u8[8]  RC_SHARD_MAGIC */
	H_VERSION = 8,      /* u32    1 or 2 */
	H_HEADER_SIZE = 12, /* u32    128 */
	H_FILE_SIZE = 16,   /* u64 */
	H_RECORDS = 24,     /* u64    record count */
	H_SCHEMA = 32,      /* u32    enum rc_schema, 0 = mixed */
	H_STORE = 36,       /* u32    enum rc_image_store */
	H_IMAGE_SIZE = 40,  /* u32    S */
	H_TEXT_CTX = 44,    /* u32 */
	H_META_OFF = 48,    /* u64    = 128 */
	H_META_SIZE = 56,   /* u64 */
	H_REC_OFF = 64,     /* u64    = meta_off + meta_size */
	H_REC_SIZE = 72,    /* u64 */
	H_INDEX_OFF = 80,   /* u64    = rec_off + rec_size */
	H_INDEX_SIZE = 88,  /* u64    = 8 * records + 8 */
	H_TOKEN_BYTES = 96, /* u32    v2: 2 or 4; v1: zero (ids of 2 bytes) */
	H_RESERVED = 100,   /* u8[20] zero */
	H_CHECKSUM = 120,   /* u64    xxh3-64 of bytes 0..119 */
};

/* Metadata block: at meta_off, meta_size bytes (a multiple of 8). */
enum {
	M_JSON_LEN = 0, /* u32 */
	M_RESERVED = 4, /* u32 zero */
	M_JSON = 8,     /* JSON object, zero padding to 8, then u64 xxh3 */
};

/* Record: at an offset from the index, its length a multiple of 8. */
enum {
	R_LENGTH = 0,    /* u32    whole record, checksum included */
	R_SCHEMA = 4,    /* u8 */
	R_NTEXTS = 5,    /* u8 */
	R_NLABELS = 6,   /* u8 */
	R_RESERVED = 7,  /* u8     zero */
	R_KEY_LEN = 8,   /* u32 */
	R_IMAGE_LEN = 12,/* u32 */
	R_HEAD = 16,     /* then key, image, texts, labels, each padded to 8 */
	R_MIN = R_HEAD + 8,
};

/* Text entry inside a record, at an offset that is a multiple of 8. */
enum {
	T_ROLE = 0,     /* u8 */
	T_GROUP = 1,    /* u8 */
	T_NTOKENS = 2,  /* u16 */
	T_LEN = 4,      /* u32    UTF-8 bytes */
	T_HEAD = 8,     /* then the ids (u16 or u32 [ntokens]), then the
	                   bytes, padded to 8 */
};

static inline uint64_t shard_pad8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

static inline uint16_t shard_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t shard_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t shard_get64(const uint8_t *p)
{
	return (uint64_t)shard_get32(p) | (uint64_t)shard_get32(p + 4) << 32;
}

static inline void shard_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void shard_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static inline void shard_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

enum { MODE_MAP = 1, MODE_MEM, MODE_STREAM };

#define NO_INDEX UINT64_MAX
#define STREAM_CHUNK (1u << 20)

struct rc_shard {
	int mode;
	char *name;
	const uint8_t *data;   /* the whole file (map, mem) */
	size_t size;
	struct rc_shard_info info;
	uint64_t meta_off, meta_size, rec_off, rec_size, index_off;
	char **kv;             /* 2 * nmeta strings in one allocation */
	size_t nmeta;
	uint64_t cursor;       /* the record rc_shard_next reads */
	struct rc_text *scratch; /* RC_RECORD_MAX_TEXTS texts */
	/* stream mode */
	FILE *f;
	uint8_t *buf;          /* the current record */
	size_t bufcap;
	uint64_t pos;          /* bytes consumed */
	struct rc_hash_state offs; /* hash of the offsets seen, as the index */
	int failed;            /* the code of a stream error: it stays */
	int done;              /* the stream's end was checked */
	uint64_t bad;          /* record of the last error, or NO_INDEX */
};

/* The checks of shard_check.c; each logs what it finds and returns 0 or
 * an RC_E_* code. */

/* shard_check_header - the header h (have bytes of it were available);
 * actual is the file's size, or UINT64_MAX when it is not known (a
 * stream). Fills r->info and the section offsets. */
int shard_check_header(struct rc_shard *r, const uint8_t *h, size_t have,
		       uint64_t actual);

/* shard_check_meta - the metadata block (size bytes at p, as the checked
 * header gives them); fills r->kv and r->nmeta. */
int shard_check_meta(struct rc_shard *r, const uint8_t *p, uint64_t size);

/* shard_check_index - the index of r->data: its checksum, and records
 * lying back to back from rec_off to index_off. */
int shard_check_index(struct rc_shard *r);

/* shard_record_end - where record i ends in r->data (a checked index). */
uint64_t shard_record_end(const struct rc_shard *r, uint64_t i);

/* shard_info_bad - the first field of in that a shard cannot have
 * ("schema", "image storage", "image size", "text context length",
 * "preprocessing", "token width"), or NULL; the writer and the reader
 * check the same rules. */
const char *shard_info_bad(const struct rc_shard_info *in);

/* shard_parse_record - record index from the len bytes at p (8-aligned;
 * len at least R_MIN and a multiple of 8): its checksum, then its
 * structure; fills rec with pointers into p and texts from arena or
 * r->scratch. rec is zeroed on error. */
int shard_parse_record(struct rc_shard *r, uint64_t index, const uint8_t *p,
		       uint64_t len, struct rc_record *rec, struct rc_arena *arena);

#endif
