/* SPDX-License-Identifier: MIT */
#include "sources.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ldmesh/hash.h"
#include "scan.h"

/* Index of `path`, or of where it would be inserted (with *found false). */
static size_t sources__find(const struct sources *s, const char *path, bool *found)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid].path, path);
		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* Keep the version `m` leaves behind for the model (its path is in its
 * kept set, so a removed file's stays with it). */
static void sources__retire(struct sources *s, const struct model_source *m)
{
	struct model_source *v = s->retired;

	if (s->n_retired == s->cap_retired) {
		size_t cap = s->cap_retired ? s->cap_retired * 2 : 16;
		v = realloc(s->retired, cap * sizeof(*v));
		if (v) {
			s->retired = v;
			s->cap_retired = cap;
		}
	}
	if (!v) {
		manifest_kept_free(m->set);
		s->retired_lost = true;
		return;
	}
	s->retired[s->n_retired++] = *m;
}

void sources_retired_free(struct sources *s)
{
	for (size_t i = 0; i < s->n_retired; i++)
		manifest_kept_free(s->retired[i].set);
	/* a first scan retires every file (as new): 3 MB of list at
	 * 100,000 files, not to be kept for the next edit's few */
	free(s->retired);
	s->retired = NULL;
	s->n_retired = s->cap_retired = 0;
	s->retired_lost = false;
}

static void sources__remove(struct sources *s, size_t i)
{
	sources__retire(s, &s->v[i]);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(s->v[0]));
	memmove(&s->ids[i], &s->ids[i + 1], (s->n - i - 1) * sizeof(s->ids[0]));
	s->n--;
}

/* Room at `i` (filled by the caller). */
static int sources__insert(struct sources *s, size_t i)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct model_source *v = realloc(s->v, cap * sizeof(*v));
		struct source_id *ids;
		if (!v)
			return -ENOMEM;
		s->v = v;
		ids = realloc(s->ids, cap * sizeof(*ids));
		if (!ids)
			return -ENOMEM;
		s->ids = ids;
		s->cap = cap;
	}
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(s->v[0]));
	memmove(&s->ids[i + 1], &s->ids[i], (s->n - i) * sizeof(s->ids[0]));
	s->n++;
	return 0;
}

static struct source_id sources__id(const struct stat *st)
{
	return (struct source_id){
		.dev = st->st_dev, .ino = st->st_ino, .size = st->st_size,
		.mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec,
	};
}

/* Forget why `path` was refused (it is good again, or gone). */
static void sources__accept(struct sources *s, const char *path)
{
	for (size_t i = 0; i < s->n_rejects; i++)
		if (!strcmp(s->rejects[i].path, path)) {
			free(s->rejects[i].path);
			free(s->rejects[i].error);
			s->rejects[i] = s->rejects[--s->n_rejects];
			return;
		}
}

/* Remember why `path` is refused (best effort: a status, not state);
 * `sum`, of its bytes, or NULL. */
static void sources__reject(struct sources *s, const char *path, const char *error,
			    const struct source_id *id, const uint64_t *sum)
{
	struct source_reject *v;

	sources__accept(s, path);
	v = realloc(s->rejects, (s->n_rejects + 1) * sizeof(*v));
	if (!v)
		return;
	s->rejects = v;
	v[s->n_rejects].path = strdup(path);
	v[s->n_rejects].error = strdup(error);
	v[s->n_rejects].id = *id;
	v[s->n_rejects].sum = sum ? *sum : 0;
	v[s->n_rejects].summed = sum != NULL;
	if (!v[s->n_rejects].path || !v[s->n_rejects].error) {
		free(v[s->n_rejects].path);
		free(v[s->n_rejects].error);
		return;
	}
	s->n_rejects++;
}

/* The caller's diag, with the first problem of one parse kept aside. */
struct sources__capture {
	struct diag d;
	struct diag *inner;
	char first[512];
};

static void sources__captured(void *ctx, const char *line)
{
	struct sources__capture *c = ctx;

	if (!c->first[0])
		snprintf(c->first, sizeof(c->first), "%s", line);
	if (c->inner && c->inner->report)
		c->inner->report(c->inner->ctx, line);
}

/* A warning leaves the file applied: not a reason to show it refused. */
static void sources__warned(void *ctx, const char *line)
{
	struct sources__capture *c = ctx;

	if (c->inner && c->inner->warn)
		c->inner->warn(c->inner->ctx, line);
	else if (c->inner && c->inner->report)
		c->inner->report(c->inner->ctx, line);
}

static void sources__noted(void *ctx, const char *line)
{
	struct sources__capture *c = ctx;

	if (c->inner && c->inner->note)
		c->inner->note(c->inner->ctx, line);
}

/* The saved copy of `path` (a restart met it bad), kept: 0, -ENOENT when
 * there is none, -ENOMEM. */
static int sources__load_last(struct sources *s, const char *path,
			      const struct manifest_set **kept, const char **kept_path)
{
	struct manifest_set set = { .services = NULL };

	if (laststate_load(s->last, path, &set) < 0)
		return -ENOENT;
	if (manifest_set_keep(&set, path, kept, kept_path)) {
		manifest_set_free(&set);
		return -ENOMEM;
	}
	return 0;
}

/* Whether `real`, a resolved path, is the folder or below it. */
static bool sources__inside(const char *root_real, const char *real)
{
	size_t len = strlen(root_real);

	if (len == 1 && root_real[0] == '/')
		return true;
	return !strncmp(real, root_real, len) && (real[len] == '/' || !real[len]);
}

/*
 * Open `path` as the parser will read it: following the visible symlink,
 * without blocking on a FIFO. What was opened is checked, not what the
 * path named a moment before, so a symlink swapped in between cannot lead
 * the agent out of the folder: the kernel's name for the open file must
 * lie inside it. fd, -ENOENT (gone, or not a regular file: the path no
 * longer names a manifest) or -EXDEV (outside the folder; `where` says
 * where it leads).
 */
static int sources__open(const struct sources *s, const char *path, struct stat *st,
			 char *where, size_t where_len)
{
	char link[64], real[PATH_MAX];
	ssize_t n;
	int fd;

	/* Not even opened unless it looks like a file: opening a device can
	 * do something. fstat below judges what was opened. */
	if (stat(path, st) < 0 || !S_ISREG(st->st_mode))
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? -ENOENT : -errno;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -ENOENT;
	}
	if (!s->root)
		return fd; /* no folder named: a test of one file */
	if (!s->root_real) {
		/* named, never resolved (its scan failed): nothing is inside */
		close(fd);
		snprintf(where, where_len, "a place that cannot be checked");
		return -EXDEV;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, real, sizeof(real) - 1);
	if (n < 0) {
		/* no /proc: the path resolved now, and the same file */
		struct stat again;
		if (!realpath(path, real) || stat(real, &again) < 0 ||
		    again.st_dev != st->st_dev || again.st_ino != st->st_ino)
			snprintf(real, sizeof(real), "(unknown)");
	} else {
		real[n] = 0;
	}
	if (sources__inside(s->root_real, real))
		return fd;
	close(fd);
	snprintf(where, where_len, "%s", real);
	return -EXDEV;
}

/* `path` cannot be read: reported and refused as a bad file is, its last
 * good objects, if any, kept in force. */
static int sources__refuse(struct sources *s, const char *path, const char *line,
			   const struct source_id *id, struct diag *d)
{
	if (d) {
		d->errors++;
		if (d->report)
			d->report(d->ctx, line);
	}
	sources__reject(s, path, line, id, NULL);
	return 0;
}

/* The refusal of `path` if it still stands for this very version. */
static const struct source_reject *sources__refused(const struct sources *s, const char *path,
						    const struct source_id *id)
{
	for (size_t i = 0; i < s->n_rejects; i++)
		if (!strcmp(s->rejects[i].path, path))
			return memcmp(&s->rejects[i].id, id, sizeof(*id)) ? NULL : &s->rejects[i];
	return NULL;
}

/* What happened to `path`, for -v: "path: removed". */
static void sources__note(struct diag *d, const char *path, const char *what)
{
	char line[PATH_MAX + 96];

	if (!d || !d->note)
		return;
	snprintf(line, sizeof(line), "%s: %s", path, what);
	d->note(d->ctx, line);
}

/* The sum of the bytes of the open file `fd` (read with pread: the
 * parser's offset stays). 0 or -errno. */
static int sources__sum(int fd, uint64_t *sum)
{
	static char buf[64 << 10]; /* the agent reads files on one thread */
	uint64_t h = 0;
	off_t off = 0;

	for (;;) {
		size_t got = 0;
		ssize_t r;

		/* whole buffers, so the same bytes always hash the same */
		while (got < sizeof(buf) &&
		       (r = pread(fd, buf + got, sizeof(buf) - got, off + (off_t)got)) != 0) {
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return -errno;
			got += (size_t)r;
		}
		h = ldmesh_hash64(buf, got, h ^ (uint64_t)off);
		if (got < sizeof(buf))
			break;
		off += (off_t)got;
		if (off > MANIFEST_MAX_FILE_BYTES)
			break; /* refused for its size: what follows changes nothing */
	}
	*sum = h;
	return 0;
}

/* Whether `path` is refused for these very bytes (it was touched, copied
 * over itself, or its ..data swapped, not changed): then the refusal now
 * stands for this identity too. */
static bool sources__same_refused(struct sources *s, const char *path, int fd,
				  const struct source_id *id)
{
	uint64_t sum;

	for (size_t i = 0; i < s->n_rejects; i++) {
		struct source_reject *r = &s->rejects[i];

		if (strcmp(r->path, path))
			continue;
		if (!r->summed || sources__sum(fd, &sum) < 0 || sum != r->sum)
			return false;
		r->id = *id;
		return true;
	}
	return false;
}

/*
 * What sources__open could not open (its -errno in `err`; `st` for a
 * symlink leading out): a file gone is forgotten (1 when it held objects,
 * at `i` when `found`); one leading out of the folder, or one that cannot
 * be opened, is refused (said once per version unless `force`).
 */
static int sources__unopened(struct sources *s, const char *path, int err, const struct stat *st,
			     const char *where, bool force, size_t i, bool found, struct diag *d)
{
	static const struct source_id none;
	char line[2 * PATH_MAX + 128];
	struct source_id id;

	if (err == -ENOENT) {
		sources__accept(s, path);
		if (!found)
			return 0;
		sources__remove(s, i);
		sources__accept(s, path);
		if (s->last)
			laststate_forget(s->last, path);
		sources__note(d, path, "removed");
		return 1;
	}
	if (err == -EXDEV) {
		/* Never read, so nothing of it is quoted anywhere: the agent
		 * may run as root, the status is for the table's readers. */
		snprintf(line, sizeof(line),
			 "%s: a symlink to %s, outside %s: not read (symlinks are followed only "
			 "within the folder)", path, where, s->root_real ? s->root_real : s->root);
		id = sources__id(st);
		if (!force && sources__refused(s, path, &id))
			return 0; /* said already */
		return sources__refuse(s, path, line, &id, d);
	}
	if (!force && sources__refused(s, path, &none))
		return 0; /* said already */
	snprintf(line, sizeof(line), "%s: open: %s", path, strerror(-err));
	return sources__refuse(s, path, line, &none, d);
}

/* What was read of a file (`kept`, its path copy `kept_path`) in place of
 * the version at `i` (`found`), or as a new one there: 0 or -ENOMEM (then
 * `kept` is freed). */
static int sources__install(struct sources *s, size_t i, bool found,
			    const struct manifest_set *kept, const char *kept_path,
			    const struct source_id *id)
{
	int err;

	if (!found && (err = sources__insert(s, i))) {
		manifest_kept_free(kept);
		return err;
	}
	if (found)
		sources__retire(s, &s->v[i]);
	s->v[i] = (struct model_source){ .path = kept_path, .set = kept, .load_id = ++s->loads };
	s->ids[i] = *id;
	/* a new file: what the model held of it was nothing */
	if (!found)
		sources__retire(s, &(struct model_source){ .path = kept_path,
							   .set = &manifest_set_empty });
	return 0;
}

int sources_update(struct sources *s, const char *path, bool force, struct diag *d)
{
	struct sources__capture cap = { .d = { .report = sources__captured,
					       .note = sources__noted,
					       .warn = sources__warned },
					.inner = d };
	const struct manifest_set *kept = NULL;
	const char *kept_path = NULL;
	struct source_id id;
	struct stat st;
	bool found, good;
	size_t i = sources__find(s, path, &found);
	char where[PATH_MAX];
	int err, fd;

	fd = sources__open(s, path, &st, where, sizeof(where));
	if (fd < 0)
		return sources__unopened(s, path, fd, &st, where, force, i, found, d);
	id = sources__id(&st);
	/* Unchanged since it was read, or since it was refused: a rescan
	 * (a periodic one, where the folder is not all watched) neither
	 * reads it nor reports it again. */
	if (!force && ((found && !memcmp(&id, &s->ids[i], sizeof(id))) ||
		       sources__refused(s, path, &id))) {
		close(fd);
		return 0;
	}
	if (sources__same_refused(s, path, fd, &id)) {
		close(fd);
		sources__note(d, path, "read again, the same bytes: still refused, "
				       "as reported before");
		return 0;
	}
	cap.d.ctx = &cap;
	err = manifest_load_kept_fd(fd, path, &kept, &kept_path, &cap.d);
	good = !err;
	if (d)
		d->errors += cap.d.errors;
	if (err && err != -ENOMEM) {
		uint64_t sum;
		bool summed = sources__sum(fd, &sum) == 0;

		sources__reject(s, path, cap.first[0] ? cap.first : path, &id,
				summed ? &sum : NULL);
	} else if (!err)
		sources__accept(s, path);
	close(fd);
	if (err == -ENOMEM)
		return err;
	if (err && (found || !s->last))
		return 0; /* reported; the last good objects stay in force */
	if (err) {
		/* a restart met the file bad: what it said when last good
		 * stays in force, as it would have in a running agent */
		err = sources__load_last(s, path, &kept, &kept_path);
		if (err)
			return err == -ENOMEM ? err : 0;
		if (d && d->report) {
			char line[600];
			snprintf(line, sizeof(line),
				 "%s: publishing its last good version (kept in %s) until it is fixed",
				 path, s->last->dir);
			d->report(d->ctx, line);
		}
	} else if (s->last) {
		laststate_save(s->last, path, &st);
	}
	err = sources__install(s, i, found, kept, kept_path, &id);
	if (!err && good)
		sources__note(d, path, found ? "changed" : "new");
	return err ? err : 1;
}

/* After a scan: give back what doubling left spare (at 100,000 files a
 * third of the per-file arrays). Best effort. */
static void sources__fit(struct sources *s)
{
	size_t cap = s->n + s->n / 8 + 16;
	struct model_source *v;
	struct source_id *ids;

	if (s->cap <= cap)
		return;
	if (!(v = realloc(s->v, cap * sizeof(*v))))
		return;
	s->v = v;
	/* v now holds cap entries: so must s->cap say, whether or not ids
	 * (at least as long) shrinks too */
	s->cap = cap;
	if ((ids = realloc(s->ids, cap * sizeof(*ids))))
		s->ids = ids;
}

/* What one scan reports, collected (sorted afterwards). */
struct sources__notes {
	struct diag d;
	char **v;
	size_t n, cap, more;
};

static void sources__noted_scan(void *ctx, const char *line)
{
	struct sources__notes *c = ctx;
	char *copy;

	if (c->n == SOURCES_MAX_NOTES) {
		c->more++;
		return;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		char **v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return; /* a status line lost, nothing else */
		c->v = v;
		c->cap = cap;
	}
	if ((copy = strdup(line)))
		c->v[c->n++] = copy;
}

static int sources__cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sources__notes_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Report what this scan found that the last one did not, and keep it. */
static void sources__notes_swap(struct sources *s, struct sources__notes *c, struct diag *d)
{
	if (c->n)
		qsort(c->v, c->n, sizeof(*c->v), sources__cmp_str);
	for (size_t i = 0; i < c->n; i++) {
		if (s->n_notes && bsearch(&c->v[i], s->notes, s->n_notes, sizeof(*s->notes),
					  sources__cmp_str))
			continue;
		if (d) {
			d->errors++;
			if (d->report)
				d->report(d->ctx, c->v[i]);
		}
	}
	sources__notes_free(s->notes, s->n_notes);
	s->notes = c->v;
	s->n_notes = c->n;
	s->n_notes_more = c->more;
}

int sources_rescan(struct sources *s, const char *root, struct diag *d)
{
	struct sources__notes notes = { .d = { .report = sources__noted_scan } };
	struct scan_list list = { .paths = NULL };
	int err, changed = 0;
	char *real;

	notes.d.ctx = &notes;
	s->root = root;
	err = scan_dir_max(root, s->max_files ? s->max_files : SCAN_MAX_FILES, &list, &notes.d);
	/* a missing root is said by the caller, as long as it lasts */
	if (err == -ENOENT) {
		sources__notes_free(notes.v, notes.n);
		return err;
	}
	sources__notes_swap(s, &notes, d);
	if (err)
		return err;
	s->truncated = list.truncated;
	/* The folder may have moved under its name (a symlink retargeted, a
	 * remount): what "inside" means is decided afresh by every scan. */
	if ((real = realpath(root, NULL))) {
		free(s->root_real);
		s->root_real = real;
	}
	/* Both lists are sorted: one merge pass finds the files now gone. */
	for (size_t i = 0, k = 0; i < s->n;) {
		while (k < list.n && strcmp(list.paths[k], s->v[i].path) < 0)
			k++;
		if (k < list.n && !strcmp(list.paths[k], s->v[i].path)) {
			i++;
			continue;
		}
		if (s->last)
			laststate_forget(s->last, s->v[i].path);
		sources__accept(s, s->v[i].path);
		sources__note(d, s->v[i].path, "removed");
		sources__remove(s, i);
		changed++;
	}
	/* refused files no longer in the folder are no longer refused */
	for (size_t r = 0; r < s->n_rejects;) {
		bool listed = false;
		for (size_t k = 0; k < list.n && !listed; k++)
			listed = !strcmp(list.paths[k], s->rejects[r].path);
		if (listed)
			r++;
		else
			sources__accept(s, s->rejects[r].path);
	}
	for (size_t k = 0; k < list.n; k++) {
		if (s->stop && !(k % 256) && s->stop(s->stop_ctx)) {
			err = -EINTR;
			break;
		}
		err = sources_update(s, list.paths[k], false, d);
		if (err < 0)
			break;
		changed += err;
		err = 0;
	}
	scan_list_free(&list);
	sources__fit(s);
	return err < 0 ? err : changed;
}

void sources_forget_ids(struct sources *s)
{
	if (s->n) /* (no array at all before the first file) */
		memset(s->ids, 0, s->n * sizeof(s->ids[0]));
	for (size_t i = 0; i < s->n_rejects; i++)
		memset(&s->rejects[i].id, 0, sizeof(s->rejects[i].id));
}

void sources_free(struct sources *s)
{
	for (size_t i = 0; i < s->n; i++)
		manifest_kept_free(s->v[i].set);
	for (size_t i = 0; i < s->n_rejects; i++) {
		free(s->rejects[i].path);
		free(s->rejects[i].error);
	}
	free(s->rejects);
	free(s->root_real);
	sources__notes_free(s->notes, s->n_notes);
	sources_retired_free(s);
	free(s->retired);
	free(s->v);
	free(s->ids);
	memset(s, 0, sizeof(*s));
}
