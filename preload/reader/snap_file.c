/* SPDX-License-Identifier: MIT */
/*
 * One snapshot file for tools and tests, checked as the live table checks
 * its files. Formats with stdio, so it lives apart from table.c: the
 * preload never links this object.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ldmesh/reader.h"

static int file__map_one(struct ldmesh_snap *s, const char *path, char *why,
			 size_t why_len)
{
	const char *bad;
	struct stat st;
	void *base;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		snprintf(why, why_len, "%s: %s", path, strerror(-err));
		return err;
	}
	if ((bad = ldmesh_trust_check(&st, false, geteuid())) ||
	    (st.st_size < (off_t)sizeof(struct ldmesh_snap_header) &&
	     (bad = "shorter than a snapshot header"))) {
		close(fd);
		snprintf(why, why_len, "%s: %s", path, bad);
		return -EINVAL;
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	err = base == MAP_FAILED ? -errno : 0;
	close(fd);
	if (err) {
		snprintf(why, why_len, "mmap %s: %s", path, strerror(-err));
		return err;
	}
	err = ldmesh_snap_init(s, base, (size_t)st.st_size, &bad);
	if (err) {
		snprintf(why, why_len, "%s: %s", path, bad);
		munmap(base, (size_t)st.st_size);
	}
	return err;
}

/* snap.<gen> beside `path` (same directory, the agent's naming). */
static int file__base_path(const char *path, uint64_t gen, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	int dir = slash ? (int)(slash - path + 1) : 0;
	int n = snprintf(out, len, "%.*s" LDMESH_SNAP_PREFIX "%" PRIu64, dir, path, gen);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int ldmesh_snap_map_file(struct ldmesh_snap *s, const char *path, char *why,
			 size_t why_len)
{
	struct ldmesh_snap *base;
	char base_path[4096];
	const char *bad;
	int err;

	err = file__map_one(s, path, why, why_len);
	if (err || !s->base_generation)
		return err;
	err = file__base_path(path, s->base_generation, base_path, sizeof(base_path));
	if (err) {
		snprintf(why, why_len, "%s: base path too long", path);
		goto fail;
	}
	base = malloc(sizeof(*base));
	if (!base) {
		err = -ENOMEM;
		snprintf(why, why_len, "%s: %s", path, strerror(ENOMEM));
		goto fail;
	}
	err = file__map_one(base, base_path, why, why_len);
	if (!err && (err = ldmesh_snap_link(s, base, &bad))) {
		snprintf(why, why_len, "%s over %s: %s", path, base_path, bad);
		ldmesh_snap_unmap(base);
	}
	if (err) {
		free(base);
		goto fail;
	}
	s->file_base = base;
	return 0;
fail:
	munmap((void *)s->base, s->size);
	s->base = NULL;
	return err;
}

void ldmesh_snap_unmap(struct ldmesh_snap *s)
{
	struct ldmesh_snap *base = s->file_base;

	if (base) {
		ldmesh_snap_unmap(base);
		free(base);
	}
	s->file_base = NULL;
	if (s->base)
		munmap((void *)s->base, s->size);
	s->base = NULL;
	s->base_snap = NULL;
}
