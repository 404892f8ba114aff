/* SPDX-License-Identifier: MIT */
/*
 * close/close_range/closefrom/dup/dup2/dup3/fcntl(F_DUPFD*): keep the fd map (getpeername's
 * memory of redirected sockets) and the socket types in step with the fd
 * table. Each costs one relaxed load for an fd ldmesh never redirected.
 * None of them makes the state (state_peek): before it exists nothing was
 * recorded, and a program that only opens and closes files never needs it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdcount.h"
#include "fdmap.h"
#include "socktype.h"
#include "real.h"
#include "state.h"
#include "trace.h"

LDMESH_EXPORT int close(int fd)
{
	if (state_peek()) {
		fdcount_closing(fd);
		fdmap_clear(fd);
		socktype_clear(fd);
		trace_fd_closing(fd);
	}
	return real.close(fd);
}

/* Forget every descriptor in [first, last] (inclusive; the tables end at
 * FDMAP_MAX), as close() does for one. */
static void hook_fd__closing(unsigned int first, unsigned int last)
{
	unsigned int end = last < FDMAP_MAX - 1 ? last : FDMAP_MAX - 1;

	trace_fd_range_closing(first, last);
	for (unsigned int fd = first; fd <= end; fd++) {
		fdcount_closing((int)fd);
		fdmap_clear((int)fd);
		socktype_clear((int)fd);
	}
}

/*
 * close_range(2) and closefrom(3), how daemons and exec wrappers close
 * everything they did not open: the trace file goes with the rest (it must
 * not outlive its number, which the program reuses next), and so does what
 * was remembered of each socket. CLOSE_RANGE_CLOEXEC closes nothing now;
 * the descriptors go at exec, which ends this process image and its
 * tables anyway. glibc's closefrom reaches the kernel without passing
 * through close_range's symbol, hence both hooks.
 */
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

LDMESH_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	real_init();
	if (state_peek() && !(flags & CLOSE_RANGE_CLOEXEC) && first <= last)
		hook_fd__closing(first, last);
	if (real.close_range)
		return real.close_range(first, last, flags);
	return (int)syscall(SYS_close_range, first, last, flags);
}

LDMESH_EXPORT void closefrom(int lowfd)
{
	real_init();
	if (state_peek() && lowfd >= 0)
		hook_fd__closing((unsigned int)lowfd, ~0U);
	if (real.closefrom)
		real.closefrom(lowfd);
	else
		(void)syscall(SYS_close_range, (unsigned int)lowfd, ~0U, 0);
}

LDMESH_EXPORT int dup(int fd)
{
	int nfd;

	if (!state_peek())
		return real.dup(fd);
	nfd = real.dup(fd);
	if (nfd >= 0) {
		fdmap_copy(fd, nfd);
		socktype_copy(fd, nfd);
	}
	return nfd;
}

static int hook_fd__dup2(int from, int to, int rc)
{
	int saved = errno;

	if (rc >= 0 && from != to) {
		trace_fd_closing(to);
		fdcount_forget(to);
		fdmap_copy(from, to);
		socktype_copy(from, to);
	}
	errno = saved;
	return rc;
}

LDMESH_EXPORT int dup2(int from, int to)
{
	if (!state_peek())
		return real.dup2(from, to);
	return hook_fd__dup2(from, to, real.dup2(from, to));
}

LDMESH_EXPORT int dup3(int from, int to, int flags)
{
	if (!state_peek())
		return real.dup3(from, to, flags);
	return hook_fd__dup2(from, to, real.dup3(from, to, flags));
}

/*
 * fcntl is variadic; every command's argument is an int or a pointer, and
 * glibc itself reads it as a pointer-sized value and passes it on.
 */
static int hook_fd__fcntl(real_fcntl_fn fn, int fd, int cmd, void *arg)
{
	int rc = fn(fd, cmd, arg);

	if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) &&
	    state_peek()) {
		int saved = errno;
		fdmap_copy(fd, rc);
		socktype_copy(fd, rc);
		errno = saved;
	}
	return rc;
}

LDMESH_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	real_init();
	return hook_fd__fcntl(real.fcntl, fd, cmd, arg);
}

LDMESH_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	real_init();
	return hook_fd__fcntl(real.fcntl64, fd, cmd, arg);
}
