/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "laststate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipalloc.h"
#include "ldmesh/hash.h"
#include "ldmesh/snapshot.h"

/* The copy's first line: "# ldmesh last good copy of <path>\n". */
#define LASTSTATE_TAG "# ldmesh last good copy of "

int laststate_open(struct laststate *l, const char *dir, char *why, size_t why_len)
{
	struct stat st;

	l->dir_fd = -1;
	if (strlen(dir) >= sizeof(l->dir)) {
		snprintf(why, why_len, "state path too long: %s", dir);
		return -ENAMETOOLONG;
	}
	strcpy(l->dir, dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(why, why_len, "mkdir %s: %s", dir, strerror(errno));
		return -errno;
	}
	l->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (l->dir_fd < 0 || fstat(l->dir_fd, &st) < 0) {
		int err = -errno;
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
	return 0;
}

static void laststate__name(const char *path, char out[32])
{
	snprintf(out, 32, "%016" PRIx64 ".yaml", ldmesh_hash64(path, strlen(path), 0));
}

void laststate_save(struct laststate *l, const char *path, const struct stat *parsed)
{
	char name[32], tmp[40], buf[65536];
	struct stat now;
	ssize_t n;
	int in, out;
	bool ok = true;

	if (l->dir_fd < 0)
		return;
	in = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (in < 0)
		return;
	/* the bytes parsed, or none: a file changed since is read again on
	 * its own event, and saved then */
	if (fstat(in, &now) < 0 || now.st_ino != parsed->st_ino ||
	    now.st_dev != parsed->st_dev || now.st_size != parsed->st_size ||
	    now.st_mtim.tv_sec != parsed->st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != parsed->st_mtim.tv_nsec) {
		close(in);
		return;
	}
	laststate__name(path, name);
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	out = openat(l->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return;
	}
	if (dprintf(out, LASTSTATE_TAG "%s\n", path) < 0)
		ok = false;
	while (ok && (n = read(in, buf, sizeof(buf))) > 0)
		ok = write(out, buf, (size_t)n) == n;
	close(in);
	if (close(out) < 0)
		ok = false;
	/* a full disk keeps the previous copy: rename only what is whole */
	if (!ok || renameat(l->dir_fd, tmp, l->dir_fd, name) < 0)
		unlinkat(l->dir_fd, tmp, 0);
}

int laststate_load(struct laststate *l, const char *path, struct manifest_set *out)
{
	char name[32], full[300], first[4096];
	size_t want = strlen(LASTSTATE_TAG) + strlen(path) + 1;
	ssize_t got;
	int fd;

	if (l->dir_fd < 0)
		return -ENOENT;
	laststate__name(path, name);
	fd = openat(l->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -ENOENT;
	got = want <= sizeof(first) ? pread(fd, first, want, 0) : -1;
	close(fd);
	/* the copy of this path, not of another with the same hash */
	if (got != (ssize_t)want || memcmp(first, LASTSTATE_TAG, strlen(LASTSTATE_TAG)) ||
	    memcmp(first + strlen(LASTSTATE_TAG), path, strlen(path)) ||
	    first[want - 1] != '\n')
		return -ENOENT;
	snprintf(full, sizeof(full), "%s/%s", l->dir, name);
	return manifest_load_file(full, out, NULL) ? -ENOENT : 0;
}

void laststate_forget(struct laststate *l, const char *path)
{
	char name[32];

	if (l->dir_fd < 0)
		return;
	laststate__name(path, name);
	unlinkat(l->dir_fd, name, 0);
}

void laststate_close(struct laststate *l)
{
	if (l->dir_fd >= 0)
		close(l->dir_fd);
	l->dir_fd = -1;
}

#define LASTSTATE_ALLOCATIONS "allocations"

void laststate_save_allocations(struct laststate *l, const struct model_out *m,
				uint64_t *hash)
{
	uint64_t h = 0;
	FILE *f;
	int fd;

	if (l->dir_fd < 0)
		return;
	for (size_t i = 0; i < m->n_allocs; i++) {
		h = ldmesh_hash64(m->alloc_keys + m->allocs[i].key, m->allocs[i].key_len, h);
		h = ldmesh_hash64(m->allocs[i].ip, 16, h);
	}
	if (h == *hash)
		return;
	fd = openat(l->dir_fd, "." LASTSTATE_ALLOCATIONS ".tmp",
		    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (size_t i = 0; i < m->n_allocs; i++) {
		const char *ns = m->alloc_keys + m->allocs[i].key; /* "ns\0name" */
		char text[64];

		fprintf(f, "%s %.*s %s\n", ns, (int)(m->allocs[i].key_len - strlen(ns) - 1),
			ns + strlen(ns) + 1, ipalloc_format(m->allocs[i].ip, text, sizeof(text)));
	}
	if (fclose(f) == 0 && renameat(l->dir_fd, "." LASTSTATE_ALLOCATIONS ".tmp",
				       l->dir_fd, LASTSTATE_ALLOCATIONS) == 0)
		*hash = h;
	else
		unlinkat(l->dir_fd, "." LASTSTATE_ALLOCATIONS ".tmp", 0);
}

int laststate_load_allocations(struct laststate *l, struct model_out *prev)
{
	size_t cap = 0, len = 0, n = 0;
	char chunk[65536], *text = NULL;
	ssize_t got;
	int fd;

	memset(prev, 0, sizeof(*prev));
	if (l->dir_fd < 0)
		return -ENOENT;
	fd = openat(l->dir_fd, LASTSTATE_ALLOCATIONS, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	while ((got = read(fd, chunk, sizeof(chunk))) > 0) {
		if (len + (size_t)got + 1 > cap) {
			char *t = realloc(text, cap = 2 * (len + (size_t)got + 1));
			if (!t)
				break;
			text = t;
		}
		memcpy(text + len, chunk, (size_t)got);
		len += (size_t)got;
	}
	close(fd);
	if (!text)
		return -ENOENT;
	text[len] = 0;
	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	prev->allocs = calloc(n + 2, sizeof(*prev->allocs));
	if (!prev->allocs) {
		free(text);
		return -ENOMEM;
	}
	/* "ns name address" lines become "ns\0name" keys in place; anything
	 * malformed is skipped */
	for (char *line = text, *next; line && *line; line = next) {
		struct model_alloc *a = &prev->allocs[prev->n_allocs];
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
		prev->n_allocs++;
	}
	prev->alloc_keys = text;
	return 0;
}
