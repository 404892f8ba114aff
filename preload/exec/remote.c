/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "remote.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9: a pidfd for a thread, not a process */
#endif

int remote_read(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

int remote_write(pid_t tid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec local = { (void *)buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_writev(tid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

/* The thread group of `tid`, from /proc (a notification names the thread
 * that made the call; before 6.9 only a process has a pidfd). */
static pid_t remote__tgid(pid_t tid)
{
	char path[64], buf[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strstr(buf, "\nTgid:");
	return p ? (pid_t)strtol(p + 6, NULL, 10) : -1;
}

/* A pidfd for `tid`: its own (*own: refers to that thread's struct pid,
 * which a later thread given the same number never shares), or before
 * Linux 6.9 for a thread other than the leader its process's, found by
 * number (not *own). */
static int remote__pidfd(pid_t tid, bool *own)
{
	int pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	pid_t tgid;

	*own = true;
	if (pidfd >= 0 || errno == ENOSYS)
		return pidfd >= 0 ? pidfd : -errno;
	/* an older kernel: the process's pidfd (its threads share the
	 * descriptor table); the leader's is its own */
	pidfd = (int)syscall(SYS_pidfd_open, tid, 0);
	if (pidfd >= 0)
		return pidfd;
	*own = false;
	tgid = remote__tgid(tid);
	if (tgid <= 0)
		return -ESRCH;
	pidfd = (int)syscall(SYS_pidfd_open, tgid, 0);
	return pidfd >= 0 ? pidfd : -errno;
}

int remote_getfd(pid_t tid, int fd)
{
	bool own;
	int pidfd = remote__pidfd(tid, &own), local, err;

	if (pidfd < 0)
		return pidfd;
	local = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	err = errno;
	close(pidfd);
	return local >= 0 ? local : -err;
}

/* ---- the pidfd cache --------------------------------------------------------------- */

/*
 * Each receiver thread keeps the pidfds of the last threads it served
 * (direct-mapped by tid, no lock: a pidfd is only used and closed by the
 * thread that cached it), saving a pidfd_open and a close per call. Safe
 * against tid reuse: only a thread's own pidfd is kept, and once that
 * thread has exited the pidfd names no task (pidfd_getfd: ESRCH) even if
 * its number is another thread's now; any failure through a cached pidfd
 * drops it and asks again with a fresh one. Bounded: REMOTE_CACHE_WAYS per
 * thread, REMOTE_CACHE_MAX descriptors in all (the supervisor's
 * RLIMIT_NOFILE is the program's too).
 */
#define REMOTE_CACHE_WAYS 8
#define REMOTE_CACHE_MAX 64

struct remote_cached {
	pid_t tid;  /* 0: empty */
	int pidfd;
};

static __thread struct remote_cached remote__cache[REMOTE_CACHE_WAYS];
static atomic_int remote__cached;

static void remote__drop(struct remote_cached *e)
{
	if (!e->tid)
		return;
	close(e->pidfd);
	e->tid = 0;
	atomic_fetch_sub(&remote__cached, 1);
}

/* Keep `pidfd` for `tid` in slot e (taking it over), or close it when
 * the budget is spent. */
static void remote__keep(struct remote_cached *e, pid_t tid, int pidfd)
{
	remote__drop(e);
	if (atomic_fetch_add(&remote__cached, 1) >= REMOTE_CACHE_MAX) {
		atomic_fetch_sub(&remote__cached, 1);
		close(pidfd);
		return;
	}
	*e = (struct remote_cached){ .tid = tid, .pidfd = pidfd };
}

int remote_getfd_cached(pid_t tid, int fd)
{
	struct remote_cached *e = &remote__cache[(uint32_t)tid % REMOTE_CACHE_WAYS];
	int pidfd, local, err;
	bool own;

	if (tid > 0 && e->tid == tid) {
		local = (int)syscall(SYS_pidfd_getfd, e->pidfd, fd, 0);
		if (local >= 0)
			return local;
		/* gone (its number maybe another's now), or the descriptor
		 * not open: either way a fresh pidfd says which */
		remote__drop(e);
	}
	pidfd = remote__pidfd(tid, &own);
	if (pidfd < 0)
		return pidfd;
	local = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	err = errno;
	if (local >= 0 && own && tid > 0)
		remote__keep(e, tid, pidfd);
	else
		close(pidfd);
	return local >= 0 ? local : -err;
}

void remote_cache_clear(void)
{
	for (int i = 0; i < REMOTE_CACHE_WAYS; i++)
		remote__drop(&remote__cache[i]);
}
