/* SPDX-License-Identifier: MIT */
/*
 * getsockopt(2): unchanged for the program; an SO_ERROR read on a
 * redirected socket is how an event loop learns that its non-blocking
 * connect failed, and that counts toward the backend's ejection
 * (failover.h).
 */
#include <sys/socket.h>

#include "failover_fd.h"
#include "real.h"
#include "state.h"

LDMESH_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct preload_state *st = state_peek(); /* real.* is usable either way */
	int rc = real.getsockopt(fd, level, name, val, len);

	if (rc == 0 && st && level == SOL_SOCKET && name == SO_ERROR && val && len &&
	    *len >= (socklen_t)sizeof(int))
		failover_so_error(fd, *(const int *)val);
	return rc;
}
