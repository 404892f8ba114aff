/* SPDX-License-Identifier: MIT */
/*
 * close/dup/dup2/dup3/fcntl(F_DUPFD*): keep the fd map (getpeername's
 * memory of redirected sockets) and the socket types in step with the fd
 * table. Each costs one relaxed load for an fd ldmesh never redirected.
 * None of them makes the state (state_peek): before it exists nothing was
 * recorded, and a program that only opens and closes files never needs it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

#include "fdmap.h"
#include "socktype.h"
#include "real.h"
#include "state.h"
#include "trace.h"

LDMESH_EXPORT int close(int fd)
{
	if (state_peek()) {
		fdmap_clear(fd);
		socktype_clear(fd);
		trace_fd_closing(fd);
	}
	return real.close(fd);
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
