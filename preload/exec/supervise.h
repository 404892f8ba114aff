/* SPDX-License-Identifier: MIT */
/*
 * The supervisor: answers the seccomp notifications of the program under
 * ldmesh-exec exactly as libldmesh.so's hooks decide (the same reader, table,
 * lookup rules and trace), acting on the program's own sockets through
 * copies of its descriptors:
 *
 *  - connect to a service VIP: a backend is chosen and the program's socket
 *    connected to it; the call returns what the kernel said (EINPROGRESS for
 *    a non-blocking socket), after failover to other backends and with
 *    ejected ones passed over, by the preload's own code (failover.h). A
 *    blocking connect is started without waiting and finished by one
 *    waiter thread (epoll), so no number of slow backends holds up another
 *    call or ties up a thread each. Anything else continues in the kernel
 *    untouched (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
 *  - getpeername on a redirected socket answers the VIP, as the preload.
 *  - getsockopt(SO_ERROR) on a redirected socket: the error read as the
 *    kernel hands it over, and counted toward its backend's ejection.
 *  - sendto or sendmsg to a UDP VIP: the datagram goes to a backend chosen
 *    per datagram; with MSG_FASTOPEN to a TCP VIP, decided as a connect.
 * A call whose arguments the kernel would refuse (a length over
 * sizeof(struct sockaddr_storage), an unreadable address) continues, so
 * the kernel answers it.
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
/* Receivers at most. A receiver waits only on a send to a blocking socket
 * (a full buffer, a Fast Open handshake) and on a connect the waiter's
 * epoll set refuses; one more is started for the others each time. */
#define SUPERVISE_RECEIVERS_MAX 256

struct sup_dial;

struct supervise_socket {
	uint64_t ino;            /* 0: free */
	int family;
	int type;                /* SOCK_STREAM or SOCK_DGRAM, read once */
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
	int epoll;               /* the waiter's: blocking connects under way */
	int wake;                /* eventfd: a new deadline for the waiter */
	pthread_mutex_t dials_lock;
	struct sup_dial *dials;  /* connects in the waiter */
};

/* 0 or -errno. `cfg` has been loaded and tracing set up. */
int supervise_init(struct supervisor *s, int listener, const struct preload_config *cfg);

/* Start the receivers and the waiter, which answer calls until the
 * process exits.
 * 0 or -errno. */
int supervise_start(struct supervisor *s);

#endif
