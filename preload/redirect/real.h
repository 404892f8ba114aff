/* SPDX-License-Identifier: MIT */
/*
 * The libc functions the hooks stand in front of, resolved once with
 * dlsym(RTLD_NEXT). Everything in the preload that needs one of them calls
 * it through here: a plain call from inside libldmesh.so would bind to our
 * own exported hook.
 */
#ifndef LDMESH_PRELOAD_REAL_H
#define LDMESH_PRELOAD_REAL_H

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include "export.h"

typedef int (*real_socket_fn)(int, int, int);
typedef int (*real_connect_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*real_getaddrinfo_fn)(const char *, const char *,
				   const struct addrinfo *, struct addrinfo **);
typedef void (*real_freeaddrinfo_fn)(struct addrinfo *);
typedef struct hostent *(*real_gethostbyname_fn)(const char *);
typedef struct hostent *(*real_gethostbyname2_fn)(const char *, int);
typedef int (*real_gethostbyname_r_fn)(const char *, struct hostent *, char *,
				       size_t, struct hostent **, int *);
typedef int (*real_gethostbyname2_r_fn)(const char *, int, struct hostent *,
					char *, size_t, struct hostent **,
					int *);
typedef struct hostent *(*real_gethostbyaddr_fn)(const void *, socklen_t, int);
typedef int (*real_gethostbyaddr_r_fn)(const void *, socklen_t, int, struct hostent *, char *,
				       size_t, struct hostent **, int *);
/* glibc and musl: socklen_t buffer lengths, int flags */
typedef int (*real_getnameinfo_fn)(const struct sockaddr *, socklen_t, char *, socklen_t,
				   char *, socklen_t, int);
typedef int (*real_getpeername_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*real_getsockopt_fn)(int, int, int, void *, socklen_t *);
typedef int (*real_setsockopt_fn)(int, int, int, const void *, socklen_t);
struct mmsghdr; /* <sys/socket.h> declares it under _GNU_SOURCE only */
/* glibc takes mmsg flags as int, musl as unsigned int */
#ifdef __GLIBC__
typedef int real_mmsg_flags_t;
#else
typedef unsigned int real_mmsg_flags_t;
#endif
typedef ssize_t (*real_send_fn)(int, const void *, size_t, int);
typedef ssize_t (*real_sendto_fn)(int, const void *, size_t, int, const struct sockaddr *,
				  socklen_t);
typedef ssize_t (*real_sendmsg_fn)(int, const struct msghdr *, int);
typedef int (*real_sendmmsg_fn)(int, struct mmsghdr *, unsigned int, real_mmsg_flags_t);
typedef ssize_t (*real_recvfrom_fn)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
typedef ssize_t (*real_recvmsg_fn)(int, struct msghdr *, int);
typedef int (*real_recvmmsg_fn)(int, struct mmsghdr *, unsigned int, real_mmsg_flags_t,
				struct timespec *);
typedef int (*real_close_fn)(int);
typedef int (*real_dup_fn)(int);
typedef int (*real_dup2_fn)(int, int);
typedef int (*real_dup3_fn)(int, int, int);
typedef int (*real_fcntl_fn)(int, int, ...);
typedef int (*real_close_range_fn)(unsigned int, unsigned int, int);
typedef void (*real_closefrom_fn)(int);

struct real_fns {
	real_socket_fn socket;
	real_connect_fn connect;
	real_getaddrinfo_fn getaddrinfo;
	real_freeaddrinfo_fn freeaddrinfo;
	real_gethostbyname_fn gethostbyname;
	real_gethostbyname2_fn gethostbyname2;
	real_gethostbyname_r_fn gethostbyname_r;
	real_gethostbyname2_r_fn gethostbyname2_r;
	real_gethostbyaddr_fn gethostbyaddr;
	real_gethostbyaddr_r_fn gethostbyaddr_r;
	real_getnameinfo_fn getnameinfo;
	real_getpeername_fn getpeername;
	real_getsockopt_fn getsockopt;
	real_setsockopt_fn setsockopt;
	real_send_fn send;
	real_sendto_fn sendto;
	real_sendmsg_fn sendmsg;
	real_sendmmsg_fn sendmmsg;
	real_recvfrom_fn recvfrom;
	real_recvmsg_fn recvmsg;
	real_recvmmsg_fn recvmmsg;
	real_close_fn close;
	real_dup_fn dup;
	real_dup2_fn dup2;
	real_dup3_fn dup3;
	real_fcntl_fn fcntl;
	real_fcntl_fn fcntl64; /* NULL before glibc 2.28; fcntl then */
	real_close_range_fn close_range; /* NULL before glibc 2.34 */
	real_closefrom_fn closefrom;     /* NULL before glibc 2.34 */
};

/* Filled once by real_init(); read-only afterwards. */
extern struct real_fns real LDMESH_HIDDEN;

/* Resolve every symbol (idempotent, under pthread_once). Aborts with a
 * message on stderr when a required one is missing or resolves back into
 * this library: a hook calling itself would recurse until the stack ends. */
void real_init(void) LDMESH_HIDDEN;

/* Instead, in a program that links the core without the hooks and
 * interposes nothing (ldmesh-exec, a static binary with no RTLD_NEXT to
 * resolve through): libc's own functions are the real ones. The core
 * outside the hooks uses real.close, real.socket and real.sendto alone;
 * only those are set. Call before
 * anything calls real_init(), which then does nothing. */
void real_init_unhooked(void) LDMESH_HIDDEN;

/* Whether p lies in the object that holds this code (libldmesh.so, or the
 * program the core is linked into). False for everything before
 * real_init(). */
bool real_is_self(const void *p) LDMESH_HIDDEN;

#endif
