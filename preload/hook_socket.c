/* SPDX-License-Identifier: MIT */
/* socket(): remember the type of IP sockets (socktype.h). */
#include <sys/socket.h>

#include "real.h"
#include "socktype.h"
#include "state.h"

LDMESH_EXPORT int socket(int domain, int type, int protocol)
{
	int fd;

	if (!state_get())
		return real.socket(domain, type, protocol);
	fd = real.socket(domain, type, protocol);
	if (fd >= 0)
		socktype_set(fd, domain, type, protocol);
	return fd;
}
