/* parquet_impl.h - what the files of the Parquet reader share
 * (parquet_meta.c: the Thrift compact protocol, the footer and the page
 * headers; parquet_page.c: pages decompressed and their levels and values
 * decoded; parquet.c: the schema as a tree and rows assembled from the
 * columns). Names and numbers follow apache/parquet-format's
 * parquet.thrift and Encodings.md. Not public.
 */
#ifndef RCLIP_PARQUET_IMPL_H
#define RCLIP_PARQUET_IMPL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Physical types, repetition, encodings, codecs and page types as numbered
 * in parquet.thrift. */
enum { PQ_BOOLEAN, PQ_INT32, PQ_INT64, PQ_INT96, PQ_FLOAT, PQ_DOUBLE, PQ_BYTE_ARRAY,
	PQ_FIXED };
enum { PQ_REQUIRED, PQ_OPTIONAL, PQ_REPEATED };
enum { PQ_ENC_PLAIN = 0, PQ_ENC_PLAIN_DICT = 2, PQ_ENC_RLE = 3, PQ_ENC_BIT_PACKED = 4,
	PQ_ENC_RLE_DICT = 8 };
enum { PQ_CODEC_NONE = 0, PQ_CODEC_SNAPPY = 1, PQ_CODEC_GZIP = 2, PQ_CODEC_ZSTD = 6 };
enum { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICT = 2, PQ_PAGE_DATA_V2 = 3 };
enum { PQ_CONV_UTF8 = 0, PQ_CONV_MAP = 1, PQ_CONV_LIST = 3, PQ_CONV_ENUM = 4,
	PQ_CONV_JSON = 19 };
/* LogicalType union members that matter here. */
enum { PQ_LOGICAL_NONE = 0, PQ_LOGICAL_STRING = 1, PQ_LOGICAL_MAP = 2, PQ_LOGICAL_LIST = 3,
	PQ_LOGICAL_ENUM = 4, PQ_LOGICAL_JSON = 12 };

/* Limits that keep a damaged footer from asking for absurd memory. */
#define PQ_MAX_SCHEMA 10000
#define PQ_MAX_DEPTH 32        /* nesting of the schema and of Thrift structs */
#define PQ_MAX_PAGE ((size_t)1 << 30)

struct pq_schema_el {
	int type;          /* -1 for a group */
	int type_length;
	int repetition;    /* -1 when absent (the root) */
	int num_children;
	int converted;     /* -1 when absent */
	int logical;       /* PQ_LOGICAL_*, 0 when absent */
	char *name;
};

struct pq_chunk {
	int type, codec;
	int64_t num_values;
	int64_t data_off, dict_off; /* dict_off 0: none */
	int64_t comp_size;
	char *path;        /* path_in_schema joined with '.' */
	int has_meta;
};

struct pq_rowgroup {
	int64_t num_rows;
	struct pq_chunk *col;
	size_t ncol;
};

struct pq_meta {
	struct pq_schema_el *el;
	size_t nel;
	int64_t num_rows;
	struct pq_rowgroup *rg;
	size_t nrg;
};

/* pq_meta_parse - the FileMetaData in p[0..n). Returns 0, RC_E_FORMAT with
 * a reason in why, or RC_E_NOMEM. *m is freed by pq_meta_free either way. */
int pq_meta_parse(const uint8_t *p, size_t n, struct pq_meta *m, char *why, size_t nwhy);
void pq_meta_free(struct pq_meta *m);

struct pq_page_header {
	int type;
	int64_t usize, csize;
	int64_t num_values, num_nulls, num_rows;
	int encoding, def_enc, rep_enc;
	int64_t def_len, rep_len;
	int is_compressed;
	int has_data, has_v2, has_dict;
};

/* pq_page_header_parse - a PageHeader at p[0..n); *used its length.
 * Returns 0 or RC_E_FORMAT with why. */
int pq_page_header_parse(const uint8_t *p, size_t n, size_t *used, struct pq_page_header *h,
	char *why, size_t nwhy);

/* pq_decompress - src (slen bytes) of codec into dst, which must come out
 * at exactly dlen bytes. Returns 0, RC_E_FORMAT (corrupt, or another size)
 * or RC_E_UNSUPPORTED (a codec this build does not read), with why. */
int pq_decompress(int codec, const uint8_t *src, size_t slen, uint8_t *dst, size_t dlen,
	char *why, size_t nwhy);

/* pq_rle_decode - n values of the RLE / bit-packed hybrid of bit width bw
 * (0..32) from p[0..len) into out. Returns 0 or RC_E_FORMAT with why (the
 * data ends early). */
int pq_rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out, size_t n, char *why,
	size_t nwhy);

/* pq_bit_width - the bits that hold values 0..max. */
int pq_bit_width(uint32_t max);

/* ---------------------------------------------------------------- the reader */

enum { N_OBJ, N_LIST, N_LEAF };

struct pq_node {
	const char *name;
	int kind;
	int def;                /* the node is null when d < def */
	int def_elem, rep;      /* N_LIST: has an element when d >= def_elem; its level */
	struct pq_node *elem;      /* N_LIST */
	struct pq_node **kid;      /* N_OBJ */
	int nkid;
	int type, type_length, is_string; /* N_LEAF */
};

struct pq_leaf {
	struct pq_node *path[2 * PQ_MAX_DEPTH + 2];
	int npath;
	int max_def, max_rep;
	const struct pq_node *n;
	char *name;             /* dotted path, as path_in_schema */
};

struct pq_val {
	const uint8_t *p;
	uint32_t len;
	int64_t i;
	double d;
};

struct pq_col {
	const struct pq_leaf *lf;
	const struct pq_chunk *ch;
	const uint8_t *pos, *end;   /* the pages not read yet */
	int64_t seen;               /* level entries in the pages read */
	int page;                   /* the current page, 0-based, for reasons */
	uint8_t *dict_buf;
	struct pq_val *dict;
	size_t ndict;
	uint8_t *buf;               /* the current page, decompressed */
	size_t cap;
	uint32_t *lev;              /* the page's levels: def, then rep */
	uint32_t *def, *rep;
	size_t nlev, li, levcap;
	int enc;
	const uint8_t *v, *vend;    /* PLAIN values */
	size_t bit;                 /* PLAIN booleans */
	uint32_t *ix;               /* dictionary indices, RLE booleans */
	size_t nix, ixi, ixcap;
	int idx[PQ_MAX_DEPTH + 2];  /* element index per repetition level */
};

struct rc_parquet {
	char *name;
	const uint8_t *data;
	size_t size;
	void *map;                  /* munmap this */
	uint8_t *owned;             /* or free this */
	struct pq_meta m;
	struct pq_node *nodes;
	size_t nnodes, capnodes;
	struct pq_node **kids;
	size_t nkids, capkids;
	struct pq_node *root;
	struct pq_leaf *leaf;
	size_t nleaf;
	struct pq_col *col;            /* one per leaf, for the current row group */
	size_t rg;                  /* the current row group */
	int64_t rg_left;            /* its rows not read yet; -1: not started */
	uint64_t row;
	int done;
};

/* pq_free_cols - release the current row group's column cursors. */
void pq_free_cols(struct rc_parquet *p);

/* pq_why - format a reason into why (n bytes); returns rc. */
int pq_why(char *why, size_t n, int rc, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 5)))
#endif
	;

const char *pq_codec_name(int codec);
const char *pq_encoding_name(int enc);

#endif
