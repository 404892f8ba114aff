/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "laststate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipalloc.h"
#include "ldmesh/hash.h"
#include "ldmesh/snapshot.h"
#include "log.h"

/* The copy's first line: "# ldmesh last good copy of <path>\n". */
#define LASTSTATE_TAG "# ldmesh last good copy of "

/* The first problem a damaged copy's parse reports, for one log line. */
struct laststate__first_error {
	char line[400];
};

static void laststate__first(void *ctx, const char *line)
{
	struct laststate__first_error *f = ctx;

	if (!f->line[0])
		snprintf(f->line, sizeof(f->line), "%s", line);
}

/* Whether a file can be created in the directory: a copy that could not
 * be brought up to date must not be read at the next restart either. */
static int laststate__writable(struct laststate *l)
{
	static const char probe[] = ".probe.tmp";
	int fd = openat(l->dir_fd, probe, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
					   O_NONBLOCK | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	close(fd);
	return unlinkat(l->dir_fd, probe, 0) < 0 ? -errno : 0;
}

int laststate_open(struct laststate *l, const char *dir, char *why, size_t why_len)
{
	struct stat st;
	int err;

	memset(l, 0, sizeof(*l));
	l->dir_fd = -1;
	if (strlen(dir) >= sizeof(l->dir)) {
		snprintf(why, why_len, "state path too long: %s", dir);
		return -ENAMETOOLONG;
	}
	strcpy(l->dir, dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		err = -errno;
		snprintf(why, why_len, "mkdir %s: %s", dir, strerror(errno));
		return err;
	}
	l->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (l->dir_fd < 0 || fstat(l->dir_fd, &st) < 0) {
		err = -errno;
		snprintf(why, why_len, "open state directory %s: %s", dir, strerror(errno));
		laststate_close(l);
		return err;
	}
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(why, why_len,
			 "state directory %s must be owned by uid %u and writable by it alone",
			 dir, (unsigned)geteuid());
		laststate_close(l);
		return -EPERM;
	}
	if ((err = laststate__writable(l))) {
		snprintf(why, why_len, "state directory %s cannot be written: %s", dir,
			 strerror(-err));
		laststate_close(l);
		return err;
	}
	return 0;
}

static void laststate__name(const char *path, char out[32])
{
	snprintf(out, 32, "%016" PRIx64 ".yaml", ldmesh_hash64(path, strlen(path), 0));
}

/* A write that failed: logged, counted, kept for the status file. */
static void laststate__failed(struct laststate *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void laststate__failed(struct laststate *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->last_failure, sizeof(l->last_failure), fmt, ap);
	va_end(ap);
	l->failed++;
	log_error("%s", l->last_failure);
}

/*
 * Open state file `name` for reading: never through a link, never
 * blocking (a FIFO planted there), never a device (/dev/zero reads
 * forever): the name is checked before it is opened and the descriptor
 * after. Only a regular file of ours, at most `max` bytes. The
 * descriptor, or -ENOENT when there is none, or another -errno with the
 * reason in `why`.
 */
static int laststate__open_read(struct laststate *l, const char *name, size_t max,
				struct stat *st, char *why, size_t why_len)
{
	struct stat named;
	int fd;

	if (fstatat(l->dir_fd, name, &named, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(named.st_mode)) {
		snprintf(why, why_len, "not a regular file");
		return -EINVAL;
	}
	fd = openat(l->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_ino != named.st_ino ||
	    st->st_dev != named.st_dev) {
		snprintf(why, why_len, "replaced while it was opened");
		close(fd);
		return -EINVAL;
	}
	if (st->st_uid != geteuid()) {
		snprintf(why, why_len, "owned by uid %u, not the agent's", (unsigned)st->st_uid);
		close(fd);
		return -EPERM;
	}
	if ((uint64_t)st->st_size > max) {
		snprintf(why, why_len, "%lld bytes, more than the %zu it may hold",
			 (long long)st->st_size, max);
		close(fd);
		return -EFBIG;
	}
	return fd;
}

/* State file `name` read whole (a NUL after it), at most `max` bytes: 0, or
 * -ENOENT when there is none, or -errno logged by its path. */
static int laststate__slurp(struct laststate *l, const char *name, size_t max, char **text,
			    size_t *len)
{
	char why[128] = "";
	struct stat st;
	size_t cap, n = 0;
	ssize_t got;
	char *buf;
	int fd = laststate__open_read(l, name, max, &st, why, sizeof(why));

	if (fd == -ENOENT)
		return fd;
	if (fd < 0) {
		log_error("state file %s/%s: %s; not used", l->dir, name,
			  why[0] ? why : strerror(-fd));
		return fd;
	}
	/* one byte more than it says: a file that grew meanwhile is cut at
	 * the cap, never read on */
	cap = (size_t)st.st_size + 1;
	if (cap > max)
		cap = max;
	buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (n < cap && (got = read(fd, buf + n, cap - n)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			log_error("state file %s/%s: %s; not used", l->dir, name, strerror(errno));
			close(fd);
			free(buf);
			return -EIO;
		}
		n += (size_t)got;
	}
	close(fd);
	buf[n] = 0;
	*text = buf;
	*len = n;
	return 0;
}

static int laststate__write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copy `in` (open on `path`) into the temporary `tmp` and rename it over
 * `name`: 0 or -errno, and then nothing of `tmp` is left. */
static int laststate__copy(struct laststate *l, int in, const char *path, const char *tmp,
			   const char *name)
{
	char buf[65536];
	ssize_t n;
	int out, err = 0;

	out = openat(l->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK |
					   O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	if (dprintf(out, LASTSTATE_TAG "%s\n", path) < 0)
		err = errno ? -errno : -EIO;
	while (!err && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		err = n < 0 ? -errno : laststate__write_all(out, buf, (size_t)n);
	}
	if (close(out) < 0 && !err)
		err = -errno;
	/* a full disk keeps no half copy: rename only what is whole */
	if (!err && renameat(l->dir_fd, tmp, l->dir_fd, name) < 0)
		err = -errno;
	if (err)
		unlinkat(l->dir_fd, tmp, 0);
	return err;
}

/* Remove the copy `name` of `path`; a failure is reported (a copy left
 * there may be published by a restart that meets the file bad). */
static void laststate__drop(struct laststate *l, const char *path, const char *name)
{
	if (unlinkat(l->dir_fd, name, 0) < 0 && errno != ENOENT)
		laststate__failed(l, "state: removing %s/%s, the last good copy of %s: %s", l->dir,
				  name, path, strerror(errno));
}

void laststate_save(struct laststate *l, const char *path, const struct stat *parsed)
{
	char name[32], tmp[40];
	struct stat now;
	int in, err;

	if (l->dir_fd < 0)
		return;
	laststate__name(path, name);
	in = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	/* The bytes parsed, or none: a file changed since is read again on
	 * its own event, and saved then if good. Until then the copy there
	 * may be older than what was just published (and if the change is
	 * bad, it would stay so): it goes. */
	if (in < 0 || fstat(in, &now) < 0 || now.st_ino != parsed->st_ino ||
	    now.st_dev != parsed->st_dev || now.st_size != parsed->st_size ||
	    now.st_mtim.tv_sec != parsed->st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != parsed->st_mtim.tv_nsec) {
		if (in >= 0)
			close(in);
		laststate__drop(l, path, name);
		return;
	}
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	err = laststate__copy(l, in, path, tmp, name);
	close(in);
	if (!err)
		return;
	/* The copy there now says less than what was just published: a
	 * restart meeting the file bad would publish it, older. None is
	 * better (the file's services wait for it to be fixed). */
	if (unlinkat(l->dir_fd, name, 0) < 0 && errno != ENOENT)
		laststate__failed(l, "state: saving the last good copy of %s in %s: %s; "
				  "and its older copy %s could not be removed: %s", path, l->dir,
				  strerror(-err), name, strerror(errno));
	else
		laststate__failed(l, "state: saving the last good copy of %s in %s: %s; "
				  "its older copy is removed (a restart with the file broken "
				  "publishes none of it)", path, l->dir, strerror(-err));
}

int laststate_load(struct laststate *l, const char *path, struct manifest_set *out)
{
	char name[32], full[300];
	size_t tag = strlen(LASTSTATE_TAG), plen = strlen(path), len;
	struct laststate__first_error first = { .line = "" };
	struct diag d = { .report = laststate__first, .ctx = &first };
	char *text;
	int err;

	if (l->dir_fd < 0)
		return -ENOENT;
	laststate__name(path, name);
	if (laststate__slurp(l, name, LASTSTATE_MAX_BYTES, &text, &len) < 0)
		return -ENOENT;
	/* the copy of this path, not of another with the same hash */
	if (len < tag + plen + 1 || memcmp(text, LASTSTATE_TAG, tag) ||
	    memcmp(text + tag, path, plen) || text[tag + plen] != '\n') {
		free(text);
		return -ENOENT;
	}
	snprintf(full, sizeof(full), "%s/%s", l->dir, name);
	err = manifest_load_data(full, text, len, out, &d);
	free(text);
	if (err) {
		log_error("state: the last good copy of %s (%s) is damaged: %s; not used", path,
			  full, first.line[0] ? first.line : strerror(-err));
		return -ENOENT;
	}
	return 0;
}

void laststate_forget(struct laststate *l, const char *path)
{
	char name[32];

	if (l->dir_fd < 0)
		return;
	laststate__name(path, name);
	laststate__drop(l, path, name);
}

const char *laststate_trouble(const struct laststate *l, char *buf, size_t len)
{
	if (!l->failed)
		return "";
	snprintf(buf, len, "%u write(s) to the state directory failed since the agent "
			   "started; the last: %s", l->failed, l->last_failure);
	return buf;
}

void laststate_close(struct laststate *l)
{
	if (l->dir_fd >= 0)
		close(l->dir_fd);
	l->dir_fd = -1;
}

#define LASTSTATE_ALLOCATIONS "allocations"

void laststate_save_allocations(struct laststate *l, const struct model_alloc *allocs,
				size_t n_allocs, const char *keys, uint64_t *hash)
{
	uint64_t h = 0;
	FILE *f;
	int fd, err = 0;

	if (l->dir_fd < 0)
		return;
	for (size_t i = 0; i < n_allocs; i++) {
		h = ldmesh_hash64(keys + allocs[i].key, allocs[i].key_len, h);
		h = ldmesh_hash64(allocs[i].ip, 16, h);
	}
	if (h == *hash)
		return;
	fd = openat(l->dir_fd, "." LASTSTATE_ALLOCATIONS ".tmp",
		    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	for (size_t i = 0; i < n_allocs; i++) {
		const char *ns = keys + allocs[i].key; /* "ns\0name" */
		char text[64];

		fprintf(f, "%s %.*s %s\n", ns, (int)(allocs[i].key_len - strlen(ns) - 1),
			ns + strlen(ns) + 1, ipalloc_format(allocs[i].ip, text, sizeof(text)));
	}
	if (ferror(f))
		err = errno ? -errno : -EIO;
	if (fclose(f) != 0 && !err)
		err = errno ? -errno : -EIO;
	if (!err && renameat(l->dir_fd, "." LASTSTATE_ALLOCATIONS ".tmp", l->dir_fd,
			     LASTSTATE_ALLOCATIONS) < 0)
		err = -errno;
out:
	if (!err) {
		*hash = h;
		return;
	}
	unlinkat(l->dir_fd, "." LASTSTATE_ALLOCATIONS ".tmp", 0);
	/* The older file stays: every allocation in it still holds (the
	 * agent never moves an allocated address), and a restart without it
	 * would allocate them all afresh. The next change tries again. */
	laststate__failed(l, "state: saving %zu allocated ClusterIPs in %s/" LASTSTATE_ALLOCATIONS
			  ": %s; a restart keeps those saved before", n_allocs, l->dir,
			  strerror(-err));
}

int laststate_load_allocations(struct laststate *l, struct model_alloc **allocs,
			       size_t *n_allocs, char **keys)
{
	size_t len = 0, n = 0;
	char *text = NULL;

	*allocs = NULL;
	*n_allocs = 0;
	*keys = NULL;
	if (l->dir_fd < 0 || laststate__slurp(l, LASTSTATE_ALLOCATIONS, LASTSTATE_MAX_ALLOC_BYTES, &text, &len) < 0)
		return -ENOENT;
	/* a line per allocation that can be one ("a b 1::" at the
	 * shortest): a file of newlines allocates nothing */
	for (size_t i = 0, at = 0; i <= len; i++)
		if (i == len || text[i] == '\n') {
			n += i - at >= 7;
			at = i + 1;
		}
	*allocs = calloc(n + 2, sizeof(**allocs));
	if (!*allocs) {
		free(text);
		return -ENOMEM;
	}
	/* "ns name address" lines become "ns\0name" keys in place; anything
	 * malformed is skipped */
	for (char *line = text, *next; line && *line; line = next) {
		struct model_alloc *a = &(*allocs)[*n_allocs];
		char *sp1, *sp2;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		sp1 = strchr(line, ' ');
		sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		if (!sp2)
			continue;
		*sp1 = *sp2 = 0;
		if (manifest_parse_ip(sp2 + 1, a->ip) < 0)
			continue;
		a->key = (uint32_t)(line - text);
		a->key_len = (uint32_t)(sp2 - line);
		(*n_allocs)++;
	}
	*keys = text;
	return 0;
}
