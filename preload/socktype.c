/* SPDX-License-Identifier: MIT */
#include "socktype.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>

/* Relaxed atomics: an fd's type is written by the thread that made or
 * closed it and read by the thread that connects it; the application
 * orders those itself (it has to hand the fd over). */
static _Atomic unsigned char socktype__tab[SOCKTYPE_MAX];

static _Atomic unsigned char *socktype__at(int fd)
{
	return (fd >= 0 && fd < SOCKTYPE_MAX) ? &socktype__tab[fd] : NULL;
}

void socktype_set(int fd, int domain, int type, int protocol)
{
	_Atomic unsigned char *e = socktype__at(fd);
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	unsigned char v = 0;

	if (!e)
		return;
	/* SCTP also makes SOCK_STREAM sockets: only TCP and UDP proper are
	 * remembered, the rest stays for the kernel to say. */
	if ((domain == AF_INET || domain == AF_INET6) &&
	    ((base == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP)) ||
	     (base == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP))))
		v = (unsigned char)base;
	atomic_store_explicit(e, v, memory_order_relaxed);
}

int socktype_get(int fd)
{
	_Atomic unsigned char *e = socktype__at(fd);

	return e ? atomic_load_explicit(e, memory_order_relaxed) : 0;
}

void socktype_clear(int fd)
{
	_Atomic unsigned char *e = socktype__at(fd);

	/* close() of an fd never recorded costs one load, no store */
	if (e && atomic_load_explicit(e, memory_order_relaxed))
		atomic_store_explicit(e, 0, memory_order_relaxed);
}

void socktype_copy(int from, int to)
{
	_Atomic unsigned char *e = socktype__at(to);

	if (e)
		atomic_store_explicit(e, (unsigned char)socktype_get(from), memory_order_relaxed);
}
