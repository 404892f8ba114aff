/* SPDX-License-Identifier: MIT */
/* getpeername's answer for a redirected socket, apart from the hook so the
 * tests can drive it. */
#ifndef LDMESH_PRELOAD_PEER_H
#define LDMESH_PRELOAD_PEER_H

#include <stdbool.h>
#include <sys/socket.h>

#include "export.h"

/*
 * `real_peer` (real_len bytes) is what the kernel says `fd` is connected
 * to. When ldmesh redirected `fd` and the kernel's peer is still the
 * backend it chose, rewrite it into the ClusterIP the application dialled.
 * A stale entry (fd reused behind our back, e.g. via a raw syscall) never
 * matches and changes nothing. Returns true when rewritten.
 */
bool peer_rewrite(int fd, struct sockaddr_storage *real_peer,
		  socklen_t *real_len) LDMESH_HIDDEN;

#endif
