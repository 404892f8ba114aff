/* SPDX-License-Identifier: MIT */
/*
 * The caller's memory, read only where the kernel would read it. A hook
 * that must look at what a program hands over before the kernel sees it (a
 * connect's or a sendto's destination) asks here first: a bad pointer then
 * goes to the kernel untouched and comes back EFAULT, as without ldmesh,
 * instead of faulting inside the program (issue 21, item 1).
 */
#ifndef LDMESH_PRELOAD_UMEM_H
#define LDMESH_PRELOAD_UMEM_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "export.h"

/*
 * Whether the `len` bytes at `p` can be read without a fault (false for
 * NULL). One system call per 4 KiB page the bytes touch, so one for any
 * socket address that does not straddle a page; nothing is changed, errno
 * included. A range unmapped by another thread between this
 * check and the caller's read can still fault: that program races its own
 * munmap against a call it made, which the kernel does not promise to
 * answer either.
 */
bool umem_readable(const void *p, size_t len) LDMESH_HIDDEN;

/*
 * addr_from_sockaddr for a destination the program handed over, read only
 * when the kernel would accept its length and can read all of it (the
 * kernel copies every one of `len` bytes): false, without a read, for
 * anything shorter than an IPv4 address (not ours), longer than a
 * sockaddr_storage (EINVAL from the kernel) or not readable (EFAULT).
 */
static inline bool umem_sockaddr(const struct sockaddr *sa, socklen_t len,
				 uint8_t out[16], uint16_t *port)
{
	if (len < (socklen_t)sizeof(struct sockaddr_in) ||
	    len > (socklen_t)sizeof(struct sockaddr_storage) || !umem_readable(sa, len))
		return false;
	return addr_from_sockaddr(sa, len, out, port);
}

#endif
