/* SPDX-License-Identifier: MIT */
/*
 * A pod's /etc/resolv.conf names the cluster DNS by its ClusterIP
 * (`nameserver 10.96.0.10`). glibc's resolver sends its queries with its
 * own internal socket calls, which no preload sees, so on a node without
 * kube-proxy every name the table does not answer would fail with
 * ENETUNREACH. Before the real resolver is asked, the calling thread's
 * resolver state (_res, per thread) is pointed at a live backend of each
 * nameserver that is a UDP Service VIP, as glibc documents for changing
 * nameservers at run time; the thread keeps that backend while the table
 * lists it, and gets another one when it leaves.
 */
#ifndef LDMESH_PRELOAD_RESOLVER_H
#define LDMESH_PRELOAD_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>

#include "export.h"
#include "ldmesh/reader.h"

struct preload_state;

/* Steer this thread's nameservers by snapshot `s` (pinned by the caller).
 * glibc only (musl's resolver reads resolv.conf on every lookup and has no
 * state to steer: a no-op there); errno and h_errno are kept. */
/* A live backend for a `family` socket of the nameserver vip:port when it
 * is a UDP Service VIP of `s` (pinned by the caller): the pick and trace
 * both libcs' paths share (musl's: mresolv.c). False when it is not a
 * VIP, or nothing live backs it. */
bool resolver_backend(struct preload_state *st, const struct ldmesh_snap *s,
		      const uint8_t vip[16], uint16_t port, int family, uint8_t backend[16],
		      uint16_t *backend_port) LDMESH_HIDDEN;

void resolver_steer(struct preload_state *st, const struct ldmesh_snap *s) LDMESH_HIDDEN;

#endif
