/* SPDX-License-Identifier: MIT */
/*
 * TCP Fast Open (sendto/sendmsg with MSG_FASTOPEN) connects as it sends:
 * its destination is decided exactly as connect() decides one
 * (hook_connect.c), so a ClusterIP reaches a live backend either way.
 */
#ifndef LDMESH_PRELOAD_CONNECT_H
#define LDMESH_PRELOAD_CONNECT_H

#include <sys/socket.h>
#include <sys/types.h>

#include "export.h"

enum connect_verdict {
	CONNECT_PASS,     /* not a service: the call goes as the program made it */
	CONNECT_REFUSE,   /* a service with no usable endpoint: ECONNREFUSED */
	CONNECT_REDIRECT, /* to the backend in the caller's *to instead */
};

/*
 * Where a MSG_FASTOPEN send on `fd` to `sa` (`len` bytes, as the program
 * passed them) goes. On CONNECT_REDIRECT the socket is remembered as
 * connect() remembers it (getpeername answers the ClusterIP); the caller
 * sends to *to and hands the result to connect_fastopen_sent.
 */
enum connect_verdict connect_fastopen(int fd, const struct sockaddr *sa, socklen_t len,
				      struct sockaddr_storage *to, socklen_t *to_len) LDMESH_HIDDEN;

/* The redirected send returned `rc` (errno set when negative): a failure
 * for good forgets the backend, as a failed connect does. Returns rc with
 * errno kept. */
ssize_t connect_fastopen_sent(int fd, ssize_t rc) LDMESH_HIDDEN;

#endif
