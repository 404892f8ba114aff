/* SPDX-License-Identifier: MIT */
/* The table as the metrics' resolver (resolve.c). */
#ifndef LDMESH_AGENT_METRICS_SNAP_H
#define LDMESH_AGENT_METRICS_SNAP_H

#include "ldmesh/reader.h"
#include "metrics.h"

/* metrics_resolve_fn over snapshot `s` (may be NULL: nothing known). */
bool metrics_resolve_snap(const struct ldmesh_snap *s, const uint8_t vip[16], uint16_t port,
			  uint8_t protocol, struct metrics_service *out);

#endif
