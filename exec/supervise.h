/* SPDX-License-Identifier: MIT */
/*
 * The supervisor: answers the seccomp notifications of the program under
 * ldmesh-exec exactly as libldmesh.so's hooks decide (the same reader, table,
 * lookup rules and trace), acting on the program's own sockets through
 * copies of its descriptors:
 *
 *  - connect to a service VIP: a backend is chosen and the program's socket
 *    connected to it; the call returns what the kernel said (EINPROGRESS for
 *    a non-blocking socket). Several receivers take calls; one that waits
 *    on a blocking connect first makes sure another is free, so a slow
 *    backend never holds up another call. Anything else
 *    continues in the kernel untouched (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
 *  - getpeername on a redirected socket answers the VIP, as the preload.
 *  - sendto or sendmsg to a UDP VIP: the datagram goes to a backend chosen
 *    per datagram.
 */
#ifndef LDMESH_EXEC_SUPERVISE_H
#define LDMESH_EXEC_SUPERVISE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "ldmesh/reader.h"

/* Redirected sockets remembered for getpeername, by socket inode, in a
 * direct-mapped table. */
#define SUPERVISE_SOCKETS_LOG2 13
#define SUPERVISE_SOCKETS (1u << SUPERVISE_SOCKETS_LOG2)
/* Receivers at most: blocking connects waiting at once beyond this wait for
 * one another. */
#define SUPERVISE_RECEIVERS_MAX 256

struct supervise_socket {
	uint64_t ino;            /* 0: free */
	int family;
	uint8_t vip[16], backend[16];
	uint16_t vip_port, backend_port;
};

struct supervisor {
	int listener;
	struct preload_config cfg;
	struct ldmesh_table table;
	pthread_mutex_t lock;    /* the socket map */
	struct supervise_socket sockets[SUPERVISE_SOCKETS];
	bool any_sockets;        /* getpeername has nothing to answer before */
	atomic_int receivers;    /* threads taking calls */
	atomic_int waiting;      /* of them, waiting for one */
};

/* 0 or -errno. `cfg` has been loaded and tracing set up. */
int supervise_init(struct supervisor *s, int listener, const struct preload_config *cfg);

/* Start the receivers, which answer calls until the process exits.
 * 0 or -errno. */
int supervise_start(struct supervisor *s);

#endif
