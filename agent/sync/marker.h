/* SPDX-License-Identifier: MIT */
/*
 * DIR/.ldmesh-synced: present and recent while the folder mirrors the API
 * server. Its content is the time it was last written, RFC 3339 in UTC
 * ("2026-12-07T22:15:00Z\n"). ldmesh-sync writes it once every resource has
 * been listed completely, rewrites it every SYNC_MARKER_REFRESH seconds
 * while every watch is healthy, and removes it once the server has been lost
 * (every request failing) for longer than --lost-after (default 60 s). A
 * hidden name: the agent's scanner never reads it as a manifest.
 */
#ifndef LDMESH_SYNC_MARKER_H
#define LDMESH_SYNC_MARKER_H

#include <time.h>

#include "ldmesh/marker.h"

#define SYNC_MARKER_NAME LDMESH_MARKER_NAME
/* Well inside LDMESH_MARKER_FRESH_S (30 s), the agent's "fresh". */
#define SYNC_MARKER_REFRESH 10.0

int sync_marker_write(const char *dir, time_t now);  /* 0 or -errno */
int sync_marker_remove(const char *dir);             /* 0 or -errno */

#endif
