/* model_io_files.c - the plumbing of the exporters: an output directory
 * written under a temporary name and renamed when whole, JSON written as
 * Python's json module writes it, shapes in messages. */
#include "convert/model_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "convert/model_io_impl.h"

void rc_shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
	size_t k = (size_t)snprintf(buf, n, "[");
	for (int i = 0; i < ndim && k < n; i++)
		k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
	if (k < n)
		snprintf(buf + k, n - k, "]");
}

/* A growing string for the JSON writer. */
struct sbuf {
	char *p;
	size_t n, cap;
	int err;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	if (b->err || rc_grow((void **)&b->p, &b->cap, b->n + n + 1, 1) < 0) {
		b->err = 1;
		return;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void puts_(struct sbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void indent(struct sbuf *b, int n)
{
	static const char sp[] = "                                ";
	for (; n > 0; n -= 32)
		put(b, sp, n < 32 ? (size_t)n : 32);
}

char *rc_json_real(double x, char buf[40])
{
	if (!isfinite(x)) { /* JSON has none; Python writes these names */
		snprintf(buf, 40, "%s", isnan(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity");
		return buf;
	}
	int k = rc_json_digits(x);
	char e[40];
	snprintf(e, sizeof e, "%.*e", k - 1, x);
	int e10 = atoi(strchr(e, 'e') + 1);
	if (e10 >= -4 && e10 < 16) {
		int dec = k - 1 - e10;
		snprintf(buf, 40, "%.*f", dec > 1 ? dec : 1, x);
	} else {
		char *m = e, *ex = strchr(e, 'e');
		*ex = 0;
		snprintf(buf, 40, "%.24se%c%02d", m, e10 < 0 ? '-' : '+', abs(e10) % 1000);
	}
	return buf;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* dump - o as Python's json.dumps(o, indent=2, sort_keys=True) writes it. */
static void dump(struct sbuf *b, json_t *o, int depth)
{
	char num[40];
	switch (json_typeof(o)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(o), i = 0;
		if (!n) {
			puts_(b, "{}");
			return;
		}
		const char **keys = rc_calloc(n, sizeof *keys);
		if (!keys) {
			b->err = 1;
			return;
		}
		const char *k;
		json_t *v;
		json_object_foreach(o, k, v)
			keys[i++] = k;
		qsort(keys, n, sizeof *keys, cmp_str);
		puts_(b, "{\n");
		for (i = 0; i < n; i++) {
			indent(b, 2 * (depth + 1));
			json_t *key = json_string(keys[i]);
			char *ks = key ? json_dumps(key, JSON_ENCODE_ANY) : NULL;
			json_decref(key);
			if (!ks) {
				b->err = 1;
				break;
			}
			puts_(b, ks);
			free(ks);
			puts_(b, ": ");
			dump(b, json_object_get(o, keys[i]), depth + 1);
			puts_(b, i + 1 < n ? ",\n" : "\n");
		}
		free(keys);
		indent(b, 2 * depth);
		puts_(b, "}");
		return;
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(o);
		if (!n) {
			puts_(b, "[]");
			return;
		}
		puts_(b, "[\n");
		for (size_t i = 0; i < n; i++) {
			indent(b, 2 * (depth + 1));
			dump(b, json_array_get(o, i), depth + 1);
			puts_(b, i + 1 < n ? ",\n" : "\n");
		}
		indent(b, 2 * depth);
		puts_(b, "]");
		return;
	}
	case JSON_STRING: {
		char *s = json_dumps(o, JSON_ENCODE_ANY);
		if (!s) {
			b->err = 1;
			return;
		}
		puts_(b, s);
		free(s);
		return;
	}
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(o));
		puts_(b, num);
		return;
	case JSON_REAL:
		puts_(b, rc_json_real(json_real_value(o), num));
		return;
	case JSON_TRUE: puts_(b, "true"); return;
	case JSON_FALSE: puts_(b, "false"); return;
	default: puts_(b, "null"); return;
	}
}

int rc_json_text(json_t *o, char **out)
{
	struct sbuf b = { 0 };
	*out = NULL;
	if (o) {
		dump(&b, o, 0);
		puts_(&b, "\n");
	}
	json_decref(o);
	if (!o || b.err) {
		free(b.p);
		return rc_log_error(RC_E_NOMEM, "out of memory writing JSON");
	}
	*out = b.p;
	return 0;
}

/* ---------------------------------------------------------------- output directories */

static mode_t dir_mode(void)
{
	mode_t u = umask(022);
	umask(u);
	return 0777 & ~u;
}

/* remove_dir - unlink the plain files of path, then path. Quiet: it only
 * cleans up after us. */
static void remove_dir(const char *path)
{
	DIR *dp = opendir(path);
	if (dp) {
		struct dirent *e;
		char buf[4096];
		while ((e = readdir(dp))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (snprintf(buf, sizeof buf, "%s/%s", path, e->d_name) < (int)sizeof buf)
				unlink(buf);
		}
		closedir(dp);
	}
	if (rmdir(path) != 0 && errno != ENOENT)
		rc_log_warn("%s: cannot remove: %s", path, strerror(errno));
}

/* check_old - may final, which exists, be replaced? Only an empty
 * directory, or with force one that holds plain files (an export). */
static int check_old(const char *final, int force)
{
	struct stat st;
	if (lstat(final, &st) != 0)
		return rc_log_error(RC_E_IO, "%s: %s", final, strerror(errno));
	if (S_ISLNK(st.st_mode))
		return rc_log_error(RC_E_ARG, "%s: is a symbolic link; not replaced", final);
	if (!S_ISDIR(st.st_mode))
		return rc_log_error(RC_E_ARG, "%s: exists and is not a directory", final);
	DIR *dp = opendir(final);
	if (!dp)
		return rc_log_error(RC_E_IO, "%s: %s", final, strerror(errno));
	int rc = 0;
	struct dirent *e;
	char buf[4096];
	while (!rc && (e = readdir(dp))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!force)
			rc = rc_log_error(RC_E_ARG, "%s: exists", final);
		else if (snprintf(buf, sizeof buf, "%s/%s", final, e->d_name) >= (int)sizeof buf ||
			 lstat(buf, &st) != 0 || !S_ISREG(st.st_mode))
			rc = rc_log_error(RC_E_ARG, "%s: holds %s, which is not a plain file; not "
				"replaced", final, e->d_name);
	}
	closedir(dp);
	return rc;
}

int rc_clip_save_check(const char *dir, int flags)
{
	struct stat st;
	if (lstat(dir, &st) != 0)
		return 0;
	return check_old(dir, !!(flags & RC_CLIP_SAVE_FORCE));
}

int rc_outdir_open(struct rc_outdir *d, const char *final, int flags)
{
	memset(d, 0, sizeof *d);
	d->force = !!(flags & RC_CLIP_SAVE_FORCE);
	size_t n = strlen(final);
	while (n > 1 && final[n - 1] == '/')
		n--;
	if (n == 0 || n > 4000)
		return rc_log_error(RC_E_ARG, "'%s': not a usable output directory name", final);
	if (!(d->final = rc_malloc(n + 1)))
		return RC_E_NOMEM;
	memcpy(d->final, final, n);
	d->final[n] = 0;
	struct stat st;
	int rc;
	if (lstat(d->final, &st) == 0 && (rc = check_old(d->final, d->force)) < 0)
		goto fail;
	/* The temporary lives in the same parent, so that the rename is one
	 * step within one file system. */
	const char *slash = strrchr(d->final, '/');
	size_t dirlen = slash ? (size_t)(slash - d->final) + 1 : 0;
	const char *base = d->final + dirlen;
	size_t tn = dirlen + strlen(base) + sizeof "/.tmp.XXXXXX" + 1;
	if (!(d->tmp = rc_malloc(tn))) {
		rc = RC_E_NOMEM;
		goto fail;
	}
	snprintf(d->tmp, tn, "%.*s.%s.tmp.XXXXXX", (int)dirlen, d->final, base);
	if (!mkdtemp(d->tmp)) {
		rc = rc_log_error(RC_E_IO, "%s: cannot create a directory beside it: %s", d->final,
			strerror(errno));
		free(d->tmp);
		d->tmp = NULL;
		goto fail;
	}
	if (chmod(d->tmp, dir_mode()) != 0)
		rc_log_debug("%s: chmod: %s", d->tmp, strerror(errno));
	return 0;
fail:
	free(d->final);
	d->final = NULL;
	return rc;
}

char *rc_outdir_file(const struct rc_outdir *d, const char *name, char *buf, size_t n)
{
	return snprintf(buf, n, "%s/%s", d->tmp, name) < (int)n ? buf : NULL;
}

int rc_outdir_write(const struct rc_outdir *d, const char *name, const char *data, size_t len)
{
	char path[4200];
	if (!rc_outdir_file(d, name, path, sizeof path))
		return rc_log_error(RC_E_ARG, "%s/%s: path too long", d->tmp, name);
	return rc_atomic_write_file(path, data, len);
}

static void sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char buf[4096];
	if (!slash)
		snprintf(buf, sizeof buf, ".");
	else
		snprintf(buf, sizeof buf, "%.*s", (int)(slash == path ? 1 : slash - path), path);
	int fd = open(buf, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int rc_outdir_commit(struct rc_outdir *d)
{
	int rc = 0;
	struct stat st;
	if (lstat(d->final, &st) != 0) {
		if (rename(d->tmp, d->final) != 0)
			rc = rc_log_error(RC_E_IO, "%s: rename from %s: %s", d->final, d->tmp,
				strerror(errno));
		goto out;
	}
	/* Replacing an earlier export (or an empty directory): checked again,
	 * since it may have changed while we wrote. */
	if ((rc = check_old(d->final, d->force)) < 0)
		goto out;
#ifdef RENAME_EXCHANGE
	if (renameat2(AT_FDCWD, d->tmp, AT_FDCWD, d->final, RENAME_EXCHANGE) == 0)
		goto out; /* tmp now names the old directory: removed below */
#endif
	size_t n = strlen(d->tmp) + sizeof ".old";
	char *old = rc_malloc(n);
	if (!old) {
		rc = RC_E_NOMEM;
		goto out;
	}
	snprintf(old, n, "%s.old", d->tmp);
	if (rename(d->final, old) != 0) {
		rc = rc_log_error(RC_E_IO, "%s: cannot move it aside: %s", d->final, strerror(errno));
	} else if (rename(d->tmp, d->final) != 0) {
		rc = rc_log_error(RC_E_IO, "%s: rename from %s: %s", d->final, d->tmp,
			strerror(errno));
		rename(old, d->final);
	} else {
		remove_dir(old);
	}
	free(old);
out:
	if (rc == 0)
		sync_parent(d->final);
	rc_outdir_abort(d);
	return rc;
}

void rc_outdir_abort(struct rc_outdir *d)
{
	if (d->tmp) {
		struct stat st;
		if (lstat(d->tmp, &st) == 0)
			remove_dir(d->tmp);
	}
	free(d->tmp);
	free(d->final);
	d->tmp = d->final = NULL;
}
