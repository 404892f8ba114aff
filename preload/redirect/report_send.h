/* SPDX-License-Identifier: MIT */
/*
 * Datagrams to the agent (ldmesh/report.h): failure reports and counters,
 * from the preload and from ldmesh-exec alike. Off every success path: a
 * caller sends only on a failure, or at most once a second.
 */
#ifndef LDMESH_PRELOAD_REPORT_SEND_H
#define LDMESH_PRELOAD_REPORT_SEND_H

#include <stddef.h>

#include "export.h"

/* Send `len` bytes (a struct ldmesh_report_hdr and its entries) to the
 * socket beside the table `table_dir` (its path plus
 * LDMESH_REPORT_SOCK_SUFFIX). Never blocks, keeps errno, holds no
 * descriptor after it returns (a program that closes or dup2s over every
 * descriptor it does not know cannot make us write into one of its own).
 * Returns 0, or -errno: no agent socket, one not owned by root or our
 * effective uid, a full queue (dropped). */
int report_send(const char *table_dir, const void *msg, size_t len) LDMESH_HIDDEN;

/* Whether report_send would find a socket to send to (there, trusted):
 * 0 or its -errno. Counters wait for one rather than be lost. Keeps
 * errno. */
int report_reachable(const char *table_dir) LDMESH_HIDDEN;

#endif
