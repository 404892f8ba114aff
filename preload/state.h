/* SPDX-License-Identifier: MIT */
/*
 * The preload's one piece of process state: configuration and the live
 * table, initialised once under pthread_once by whichever comes first, the
 * constructor or a hook (another library's constructor may resolve a name
 * before ours has run).
 */
#ifndef LDMESH_PRELOAD_STATE_H
#define LDMESH_PRELOAD_STATE_H

#include "config.h"
#include "export.h"
#include "ldmesh/reader.h"

struct preload_state {
	struct preload_config cfg;
	struct ldmesh_table table;
};

/*
 * The state, initialised; NULL means pass everything through: the preload
 * is disabled, or this very thread is inside the initialisation (which
 * closes files and so re-enters our hooks). real.* is usable either way.
 */
struct preload_state *state_get(void) LDMESH_HIDDEN;

#endif
