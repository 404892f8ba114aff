/* SPDX-License-Identifier: MIT */
/*
 * The type of the IP sockets this process made through socket(), by fd, so
 * connect() learns whether a socket is TCP or UDP without asking the kernel
 * (a getsockopt(SO_TYPE) costs as much as 2% of a loopback connect+close).
 * Sockets that did not come through socket() (accept, inherited across
 * exec) are unknown, and connect asks the kernel as before.
 */
#ifndef LDMESH_PRELOAD_SOCKTYPE_H
#define LDMESH_PRELOAD_SOCKTYPE_H

#include "export.h"
#include "fdmap.h"

/* The same bound as the fd map, for the same reason (see fdmap.h); one
 * byte per fd. */
#define SOCKTYPE_MAX FDMAP_MAX

/* Record `type` (socket()'s argument, flags included) for `fd`; anything
 * but a plain TCP or UDP socket is recorded as unknown. */
void socktype_set(int fd, int domain, int type, int protocol) LDMESH_HIDDEN;
/* SOCK_STREAM, SOCK_DGRAM, or 0 when unknown. */
int socktype_get(int fd) LDMESH_HIDDEN;
void socktype_clear(int fd) LDMESH_HIDDEN;
/* `to` now names what `from` names (dup family). */
void socktype_copy(int from, int to) LDMESH_HIDDEN;

#endif
