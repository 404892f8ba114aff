/* SPDX-License-Identifier: MIT */
/*
 * The seccomp filter ldmesh-exec puts on the program: connect, getpeername,
 * getsockopt(SOL_SOCKET, SO_ERROR), sendmsg and sendto with a destination
 * go to the supervisor as user
 * notifications (SECCOMP_RET_USER_NOTIF); every other call runs untouched,
 * in the kernel, at no cost. A sendto without a destination (send() on a
 * connected socket, the common case) is told apart in the filter itself;
 * sendmsg's destination is inside its msghdr, which a filter cannot read.
 */
#ifndef LDMESH_EXEC_FILTER_H
#define LDMESH_EXEC_FILTER_H

/* Install the filter on the calling process (the child, before exec).
 * Returns the notification listener descriptor, or -errno with *why naming
 * what the kernel lacks. */
int filter_install(const char **why);

#endif
