/* shard_set.h - a dataset written as a set of shards (shard.h) that a
 * rerun resumes and that N processes can split: shard k holds the input
 * items k*R .. (k+1)*R-1, so the split depends on the options alone, never
 * on the data; a part i of N writes the shards k with k % N == i; a shard
 * already under its final name is kept when its metadata says it was cut
 * from the same items with the same options and every record checks, and
 * is written again otherwise. The shards of a run go into its shard list,
 * PREFIX.list or PREFIX.part-I-of-N.list.
 *
 *     struct rc_shard_set_opts o = { .prefix = "out/d", .per_shard = 1000,
 *             .part_i = 0, .part_n = 1, .options = "image_size=224 ...",
 *             .sources = "train.jsonl", .tool = "rclip-shard 0.1.0",
 *             .command = cmdline, .info = { .store = RC_STORE_JPEG,
 *             .image_size = 224, .text_ctx = 77 } };
 *     struct rc_shard_set s;
 *     if ((rc = rc_shard_set_init(&s, &o)) < 0)
 *             return rc;
 *     for (uint64_t item = 0; next(&rec); item++) {
 *             int64_t k = rc_shard_set_index(&s, item);
 *             if (k != s.shard && s.shard >= 0 && (rc = rc_shard_set_end(&s, 0)) < 0)
 *                     break;                  // shard s.shard is done
 *             if (k != s.shard && (rc = rc_shard_set_begin(&s, k)) < 0)
 *                     break;
 *             if (s.active && (rc = rc_shard_set_add(&s, &rec)) < 0)
 *                     break;                  // else: not ours, or kept
 *     }
 *     if (rc == 0 && (rc = rc_shard_set_end(&s, 0)) == 0)
 *             rc = rc_shard_list_write(&s.list, s.list_path);
 *     rc_shard_set_free(&s);                  // drops a shard left open
 *
 * Every function logs its errors; messages about kept and rewritten shards
 * name the shard ("PREFIX-000003.rcs: complete, kept").
 */
#ifndef RCLIP_SHARD_SET_H
#define RCLIP_SHARD_SET_H

#include <stdint.h>

#include "data/record.h"
#include "data/shard.h"

/* Metadata keys of a shard written by a set (rclip-shard(5)), after the
 * caller's RC_SHARD_META_SOURCE, _TOOL and _COMMAND. */
#define RC_SHARD_META_INPUT_FIRST "input_first"      /* k*R in decimal */
#define RC_SHARD_META_PER_SHARD "records_per_shard"  /* R in decimal */
#define RC_SHARD_META_PART "part"                    /* "I/N" */
#define RC_SHARD_META_OPTIONS "options"              /* rc_shard_set_opts.options */
#define RC_SHARD_META_TOKENIZER "tokenizer"          /* "clip-bpe" (open_clip's), "clip-bpe-hf",
                                                       "siglip-unigram", ... */

struct rc_shard_set_opts {
	const char *prefix;      /* shards PREFIX-NNNNNN.rcs, the list beside them */
	long long per_shard;     /* R: input items per shard, >= 1 */
	long part_i, part_n;     /* this run writes the shards k % part_n == part_i */
	const char *options;     /* what a record's bytes depend on besides the
	                          * inputs: a shard is kept only when it is equal */
	const char *sources;     /* the inputs, RC_SHARD_META_SOURCE: the same */
	const char *tool;        /* RC_SHARD_META_TOOL, e.g. "rclip-shard 0.1.0" */
	const char *command;     /* RC_SHARD_META_COMMAND */
	const char *tokenizer;   /* RC_SHARD_META_TOKENIZER: what made the token
	                          * ids (text_ctx their length); NULL: not written */
	struct rc_shard_info info; /* store, image_size, text_ctx of every shard;
	                          * the schema is each shard's first record's */
};

/* A set being written. Every field is the set's; read them, do not change
 * them. */
struct rc_shard_set {
	struct rc_shard_set_opts o; /* its strings are copies owned by the set */
	char *list_path;         /* rc_shard_set_list_path of the options */
	struct rc_shard_list list; /* the shards of this part so far, kept or
	                          * written, in shard order */
	int64_t shard;           /* the current shard, -1 none */
	int active;              /* the current shard is this run's to write */
	char *path;              /* the name of the last shard begun as ours */
	struct rc_shard_writer *w; /* the current shard's writer, once it has a
	                          * record (or at its end) */
	int schema;              /* the schema w was opened with */
	uint64_t written, kept;  /* shards written, shards kept */
	uint64_t bytes;          /* bytes of the shards written */
};

/* rc_shard_set_name - "PREFIX-%06lld.rcs" of shard k (k >= 0), malloc'd
 * (the caller frees), or NULL (RC_E_NOMEM, logged). */
char *rc_shard_set_name(const char *prefix, int64_t k);

/* rc_shard_set_list_path - the list of a part: "PREFIX.list" for one part
 * (part_n 1), "PREFIX.part-I-of-N.list" for part I of N; malloc'd (the
 * caller frees), or NULL (RC_E_NOMEM, logged). */
char *rc_shard_set_list_path(const char *prefix, long part_i, long part_n);

/* rc_shard_set_per_shard - the default R for S×S images in store (enum
 * rc_image_store): about 1 GiB of records per shard, from the options
 * alone (a JPEG at quality 95 counted as a fifth of its raw pixels, and
 * 1 KiB of texts a record), so that the split does not depend on the
 * data; at least 1. */
long long rc_shard_set_per_shard(long image_size, int store);

/* rc_shard_set_init - an empty set with the options o (its strings are
 * copied; prefix, options, sources, tool and command may not be NULL).
 * Nothing is read or written yet. Returns 0, or RC_E_ARG (per_shard < 1,
 * part_i not in 0..part_n-1; logged) or RC_E_NOMEM; free the set with
 * rc_shard_set_free in every case. */
int rc_shard_set_init(struct rc_shard_set *s, const struct rc_shard_set_opts *o);

/* rc_shard_set_index - the shard of input item number item (0-based):
 * item / R. */
int64_t rc_shard_set_index(const struct rc_shard_set *s, uint64_t item);

/* rc_shard_set_begin - make shard k (>= 0) the current one, after the one
 * before was ended. When it is not this part's, s->active is 0. When it
 * is and it is complete on disk (rc_shard_set_complete), it is added to
 * the list and counted as kept, and s->active is 0. Else s->active is 1:
 * add its records. Returns 0, or RC_E_NOMEM / an error of the list,
 * logged. */
int rc_shard_set_begin(struct rc_shard_set *s, int64_t k);

/* rc_shard_set_complete - is the file at path a complete shard k of this
 * set: a shard that opens, whose input_first, records_per_shard, options
 * and source metadata are this set's, and whose every record checks? 1
 * with *records and *xxh3 (the file's) set, or 0, saying why in a warning
 * "PATH: ...: writing it again" (a missing file is 0 without a word). */
int rc_shard_set_complete(const struct rc_shard_set *s, const char *path, int64_t k,
	uint64_t *records, uint64_t *xxh3);

/* rc_shard_set_add - append rec to the current shard (s->active must be
 * 1), opening its writer with rec->schema for the first record. Returns 0
 * or the codes of rc_shard_writer_open and rc_shard_writer_add (logged);
 * one schema per shard is the caller's to check (s->w and s->schema). */
int rc_shard_set_add(struct rc_shard_set *s, const struct rc_record *rec);

/* rc_shard_set_end - finish the current shard: when it is this run's to
 * write, close it (a shard whose every item was skipped is written empty,
 * with schema empty_schema: RC_SCHEMA_NONE gives "mixed"), add it to the
 * list and count it. There is no current shard afterwards. Returns 0, or
 * the codes of the writer and the list (logged). */
int rc_shard_set_end(struct rc_shard_set *s, int empty_schema);

/* rc_shard_set_free - drop a shard still being written (its temporary is
 * removed; the final name is untouched) and free what the set holds. */
void rc_shard_set_free(struct rc_shard_set *s);

#endif
