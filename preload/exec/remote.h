/* SPDX-License-Identifier: MIT */
/*
 * Reaching into a supervised process: its memory (process_vm_readv and
 * writev: the syscall's pointer arguments) and its descriptors (a copy of
 * one through pidfd_getfd, sharing the open file, so a connect on the copy
 * is a connect on the program's socket).
 */
#ifndef LDMESH_EXEC_REMOTE_H
#define LDMESH_EXEC_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read `len` bytes at `addr` of thread `tid` into buf: 0, or -errno
 * (-EFAULT for a short read). */
int remote_read(pid_t tid, uint64_t addr, void *buf, size_t len);
/* Write them there: 0 or -errno. */
int remote_write(pid_t tid, uint64_t addr, const void *buf, size_t len);

/* A descriptor of ours for descriptor `fd` of thread `tid`'s process
 * (O_CLOEXEC), or -errno: -ENOSYS where the kernel has no pidfd_getfd
 * (before 5.6), -EBADF when `fd` is not open there. */
int remote_getfd(pid_t tid, int fd);
/* The same through this thread's cache of pidfds (bounded; safe against
 * tid reuse): for the receivers, which take one call after another from
 * the same threads. */
int remote_getfd_cached(pid_t tid, int fd);
/* Close this thread's cached pidfds (a receiver ending). */
void remote_cache_clear(void);

#endif
