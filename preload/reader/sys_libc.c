/* SPDX-License-Identifier: MIT */
/* The table's syscalls straight from libc: for programs that do not
 * interpose on them (ldmeshctl, tests, benchmarks). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ldmesh/reader.h"

static int sys_libc__openat(int dirfd, const char *path, int flags)
{
	return openat(dirfd, path, flags);
}

const struct ldmesh_reader_sys ldmesh_reader_libc = {
	.openat = sys_libc__openat,
	.fstat = fstat,
	.fstatat = fstatat,
	.pread = pread,
	.mmap = mmap,
	.munmap = munmap,
	.close = close,
};
