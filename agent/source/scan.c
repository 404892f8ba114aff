// SPDX-License-Identifier: MIT
/*
 * Deterministic listing of the manifest folder. See scan.h for the rules.
 */
#define _GNU_SOURCE
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct scan__walk {
	scan_visit_fn on_dir;
	scan_visit_fn on_file;
	void *ctx;
	struct diag *d;
	unsigned dirs;
	bool dirs_capped;   /* SCAN_MAX_DIRS met: said once, the rest skipped */
	/* The root with every symlink resolved: a symlinked directory is
	 * entered only when it resolves inside (`..data` does; a link to `/`
	 * would walk the whole machine). */
	char root_real[PATH_MAX];
	/* Directories on the current path, root first: a directory met again
	 * below itself is a loop (through a symlink or a bind mount). */
	struct {
		dev_t dev;
		ino_t ino;
	} stack[SCAN_MAX_DEPTH + 1];
	/* One buffer for the whole walk: each level appends "/name" and cuts it
	 * off again, so no path is allocated per entry. */
	char path[PATH_MAX];
};

struct scan__collect {
	struct scan_list list;
	size_t cap, max_files;
	struct diag *d;
	const char *root;
};

/* One directory's entries, read whole and sorted before any is visited:
 * the walk's order, and so what a bound keeps, is then the same on every
 * node whatever order readdir() gives, and no directory stays open while
 * the walk is below it. */
struct scan__entry {
	char *name;
	unsigned char type;
};

__attribute__((format(printf, 2, 3)))
static void scan__report(struct diag *d, const char *fmt, ...)
{
	char line[PATH_MAX + 128];
	va_list ap;

	if (!d)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	d->errors++;
	if (d->report)
		d->report(d->ctx, line);
}

bool scan_is_manifest_name(const char *name)
{
	/* kubectl's FileExtensions: .json, .yaml, .yml. */
	static const char *const exts[] = { ".yaml", ".yml", ".json" };
	size_t len = strlen(name);

	if (name[0] == '.')
		return false;
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t elen = strlen(exts[i]);

		if (len > elen && !strcmp(name + len - elen, exts[i]))
			return true;
	}
	return false;
}

/* Whether `real` (resolved) is the root or below it. */
static bool scan__inside(const struct scan__walk *s, const char *real)
{
	size_t len = strlen(s->root_real);

	if (len == 1)
		return true; /* the root is "/" */
	return !strncmp(real, s->root_real, len) && (real[len] == '/' || !real[len]);
}

/* Resolve an entry's type, following symlinks: 'd', 'f', 0 for anything
 * else or for an entry that cannot be stat'ed (reported). A symlinked
 * directory that leads out of the root is reported and skipped (0); a
 * symlinked file is listed wherever it leads, and sources.c refuses to
 * read one outside, where it can check what it opened. */
static char scan__kind(struct scan__walk *s, unsigned char d_type)
{
	char real[PATH_MAX];
	struct stat st;

	if (d_type == DT_DIR)
		return 'd';
	if (d_type == DT_REG)
		return 'f';
	if (d_type != DT_LNK && d_type != DT_UNKNOWN)
		return 0;
	/* stat() follows the link: a dangling link or a link loop (ELOOP)
	 * lands here. */
	if (stat(s->path, &st) < 0) {
		scan__report(s->d, "%s: %s", s->path, strerror(errno));
		return 0;
	}
	if (S_ISREG(st.st_mode))
		return 'f';
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (d_type == DT_UNKNOWN && lstat(s->path, &st) == 0 && !S_ISLNK(st.st_mode))
		return 'd';
	if (!realpath(s->path, real)) {
		scan__report(s->d, "%s: %s", s->path, strerror(errno));
		return 0;
	}
	if (!scan__inside(s, real)) {
		scan__report(s->d, "%s: a symlink to %s, outside %s: not followed", s->path, real,
			     s->root_real);
		return 0;
	}
	return 'd';
}

static int scan__cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct scan__entry *)a)->name,
		      ((const struct scan__entry *)b)->name);
}

static void scan__entries_free(struct scan__entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* The visible entries of `dir`, sorted: 0 or -ENOMEM (a read error is
 * reported, and what was read is kept). */
static int scan__read(struct scan__walk *s, DIR *dir, struct scan__entry **out, size_t *n_out)
{
	struct scan__entry *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno)
				scan__report(s->d, "%s: %s", s->path, strerror(errno));
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct scan__entry *nv = realloc(v, ncap * sizeof(*v));
			if (!nv)
				goto oom;
			v = nv;
			cap = ncap;
		}
		v[n].type = de->d_type;
		if (!(v[n].name = strdup(de->d_name)))
			goto oom;
		n++;
	}
	if (n)
		qsort(v, n, sizeof(*v), scan__cmp_entry);
	*out = v;
	*n_out = n;
	return 0;
oom:
	scan__entries_free(v, n);
	return -ENOMEM;
}

static int scan__dir(struct scan__walk *s, size_t len, unsigned depth)
{
	struct scan__entry *ents = NULL;
	size_t n_ents = 0;
	struct stat st;
	DIR *dir;
	int ret = 0;

	if (s->dirs >= SCAN_MAX_DIRS) {
		/* Past the bound the walk goes on listing the files of the
		 * directories it has read, and reads no other: what it read
		 * is published, and the gap said once. */
		if (!s->dirs_capped)
			scan__report(s->d, "%s: more than %u directories: this one and the rest "
				     "(in sorted order) are not read", s->path, SCAN_MAX_DIRS);
		s->dirs_capped = true;
		return 0;
	}
	dir = opendir(s->path);
	if (!dir) {
		ret = -errno;
		scan__report(s->d, "%s: %s", s->path, strerror(-ret));
		/* Only the root is fatal: anything below is skipped so one
		 * bad folder does not hide the rest. */
		return depth ? 0 : ret;
	}
	if (fstat(dirfd(dir), &st) < 0) {
		ret = -errno;
		scan__report(s->d, "%s: %s", s->path, strerror(-ret));
		closedir(dir);
		return depth ? 0 : ret;
	}
	for (unsigned i = 0; i < depth; i++) {
		if (s->stack[i].dev == st.st_dev && s->stack[i].ino == st.st_ino) {
			scan__report(s->d, "%s: symlink loop, skipped", s->path);
			closedir(dir);
			return 0;
		}
	}
	s->dirs++;
	s->stack[depth].dev = st.st_dev;
	s->stack[depth].ino = st.st_ino;
	ret = s->on_dir ? s->on_dir(s->ctx, s->path) : 0;
	if (!ret)
		ret = scan__read(s, dir, &ents, &n_ents);
	closedir(dir);

	for (size_t i = 0; i < n_ents && !ret; i++) {
		const char *name = ents[i].name;
		size_t nlen = strlen(name), sub;
		char kind;

		/* The root "/" already ends in a slash. */
		sub = len + (s->path[len - 1] != '/');
		if (sub + nlen >= sizeof(s->path)) {
			scan__report(s->d, "%s/%s: %s", s->path, name, strerror(ENAMETOOLONG));
			continue;
		}
		s->path[len] = '/';
		memcpy(s->path + sub, name, nlen + 1);

		kind = scan__kind(s, ents[i].type);
		if (kind == 'd') {
			if (depth + 1 > SCAN_MAX_DEPTH)
				scan__report(s->d, "%s: deeper than %u directories, skipped",
					     s->path, SCAN_MAX_DEPTH);
			else
				ret = scan__dir(s, sub + nlen, depth + 1);
		} else if (kind == 'f' && s->on_file && scan_is_manifest_name(name)) {
			ret = s->on_file(s->ctx, s->path);
		}
		s->path[len] = 0;
	}
	scan__entries_free(ents, n_ents);
	return ret;
}

int scan_walk(const char *root, scan_visit_fn on_dir, scan_visit_fn on_file,
	      void *ctx, struct diag *d)
{
	struct scan__walk *s;
	size_t len = strlen(root);
	struct stat st;
	int ret = 0;

	/* Heap, not stack: PATH_MAX plus the loop stack is a lot for a frame
	 * that recurses. */
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->on_dir = on_dir;
	s->on_file = on_file;
	s->ctx = ctx;
	s->d = d;

	while (len > 1 && root[len - 1] == '/')
		len--;
	if (len == 0 || len >= sizeof(s->path)) {
		ret = len ? -ENAMETOOLONG : -ENOENT;
		scan__report(d, "%s: %s", root, strerror(-ret));
		goto out;
	}
	memcpy(s->path, root, len);
	s->path[len] = 0;

	if (stat(s->path, &st) < 0) {
		ret = -errno;
		scan__report(d, "%s: %s", s->path, strerror(-ret));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		ret = -ENOTDIR;
		scan__report(d, "%s: %s", s->path, strerror(-ret));
		goto out;
	}
	if (!realpath(s->path, s->root_real)) {
		ret = -errno;
		scan__report(d, "%s: %s", s->path, strerror(-ret));
		goto out;
	}
	ret = scan__dir(s, len, 0);
out:
	free(s);
	return ret;
}

static int scan__add(void *ctx, const char *path)
{
	struct scan__collect *c = ctx;

	if (c->list.n == c->max_files) {
		/* The walk is in sorted order: the files kept are the same
		 * on every node. What they say is published; the rest is
		 * said once and not read. */
		scan__report(c->d, "%s: more than %zu manifest files: %s and the files after it "
			     "(in sorted order) are not read", c->root, c->max_files, path);
		c->list.truncated = true;
		return SCAN_STOP;
	}
	if (c->list.n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		char **v = realloc(c->list.paths, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->list.paths = v;
		c->cap = cap;
	}
	c->list.paths[c->list.n] = strdup(path);
	if (!c->list.paths[c->list.n])
		return -ENOMEM;
	c->list.n++;
	return 0;
}

static int scan__cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int scan_dir(const char *root, struct scan_list *out, struct diag *d)
{
	return scan_dir_max(root, SCAN_MAX_FILES, out, d);
}

int scan_dir_max(const char *root, size_t max_files, struct scan_list *out, struct diag *d)
{
	struct scan__collect c = { .d = d, .root = root, .max_files = max_files ? max_files : 1 };
	int ret;

	ret = scan_walk(root, NULL, scan__add, &c, d);
	if (ret == SCAN_STOP)
		ret = 0;
	if (ret)
		goto out;
	/* readdir order differs between filesystems and nodes; strcmp order
	 * does not. */
	if (c.list.n)
		qsort(c.list.paths, c.list.n, sizeof(c.list.paths[0]), scan__cmp);
	*out = c.list;
	c.list = (struct scan_list){ 0 };
out:
	scan_list_free(&c.list);
	return ret;
}

void scan_list_free(struct scan_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		free(list->paths[i]);
	free(list->paths);
	list->paths = NULL;
	list->n = 0;
}
