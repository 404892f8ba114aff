/* SPDX-License-Identifier: MIT */
/*
 * Which sockets ldmesh redirected, indexed by fd, so getpeername can answer
 * the ClusterIP the application dialled (as Cilium's socket LB does).
 * Lock-free: every entry is a small seqlock; close/dup/dup2/dup3/F_DUPFD keep
 * it in step with the fd table.
 */
#ifndef LDMESH_PRELOAD_FDMAP_H
#define LDMESH_PRELOAD_FDMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "export.h"

/*
 * Sockets at fd numbers below this are tracked. The default soft
 * RLIMIT_NOFILE is 1024 and fds are handed out lowest-first, so almost every
 * process's sockets live here; 4096 entries of 48 bytes are 192 KiB of .bss
 * that the kernel backs only where an entry was touched. A socket above the
 * bound simply keeps the real getpeername (the backend's address).
 */
#define FDMAP_MAX 4096

struct fdmap_view {
	int family;           /* the family the application dialled */
	uint8_t vip[16];      /* the ClusterIP it dialled */
	uint16_t vip_port;
	uint8_t backend[16];  /* where the connect really went */
	uint16_t backend_port;
	unsigned tag;         /* FDMAP_TAG_* | table generation << 8 */
};

/* The socket sends datagrams to the VIP without being connected: the
 * entry is its remembered choice, not a connection (sendto, hook_udp.c). */
#define FDMAP_TAG_UNCONNECTED 1u
/* The low 24 bits of the table generation its backend was last checked
 * against, in a tag. */
#define FDMAP_TAG_GEN(gen) ((unsigned)((gen) & 0xffffff) << 8)

void fdmap_set(int fd, int family, const uint8_t vip[16], uint16_t vip_port,
	       const uint8_t backend[16], uint16_t backend_port) LDMESH_HIDDEN;
/* A tracked `fd` goes to another backend now (a failover's next try). */
void fdmap_set_backend(int fd, const uint8_t backend[16], uint16_t backend_port) LDMESH_HIDDEN;
void fdmap_clear(int fd) LDMESH_HIDDEN;
/* fdmap_set for a datagram socket, with its tag. */
void fdmap_set_datagram(int fd, int family, const uint8_t vip[16], uint16_t vip_port,
			const uint8_t backend[16], uint16_t backend_port, unsigned tag) LDMESH_HIDDEN;
/* A tracked `fd`'s tag only. */
void fdmap_set_tag(int fd, unsigned tag) LDMESH_HIDDEN;
/* `to` now names what `from` names (dup family): copy or clear. */
void fdmap_copy(int from, int to) LDMESH_HIDDEN;
/* False when `fd` is not tracked (or a racing writer kept the read from
 * settling; the caller then answers with the real peer). */
bool fdmap_get(int fd, struct fdmap_view *out) LDMESH_HIDDEN;

#endif
