/* SPDX-License-Identifier: MIT */
/*
 * socket(): remember the type of IP sockets (socktype.h), and forget what
 * the number named before: a new socket on fd N means the old N is gone,
 * whether or not we saw it close (libuv, and so node, closes with a raw
 * close syscall; the stale redirect would otherwise pin every later
 * connect on that number to the first backend).
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "fdmap.h"
#include "real.h"
#include "socktype.h"
#include "state.h"

LDMESH_EXPORT int socket(int domain, int type, int protocol)
{
	bool ip = domain == AF_INET || domain == AF_INET6;
	int fd;

	/* an IP socket is about to connect (or serve): make the state now,
	 * so connect knows its type; any other kind only clears a stale
	 * entry, and before the state exists there is none */
	if (!(ip ? state_get() : state_peek()))
		return real.socket(domain, type, protocol);
	fd = real.socket(domain, type, protocol);
	if (fd >= 0) {
		fdmap_clear(fd);
		socktype_set(fd, domain, type, protocol);
	}
	return fd;
}
