/* SPDX-License-Identifier: MIT */
/*
 * One snapshot file for tools and tests, checked as the live table checks
 * its files. Formats with stdio, so it lives apart from table.c: the
 * preload never links this object.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ldmesh/reader.h"

int ldmesh_snap_map_file(struct ldmesh_snap *s, const char *path, char *why,
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

void ldmesh_snap_unmap(struct ldmesh_snap *s)
{
	if (s->base)
		munmap((void *)s->base, s->size);
	s->base = NULL;
}
