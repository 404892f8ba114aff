/* SPDX-License-Identifier: MIT */
/*
 * The preload's one piece of process state: configuration and the live
 * table, initialised once under pthread_once by the first hook that has
 * business with it. Not at load: the library is in every process on the
 * node, and most of them never connect to an IP or resolve a name, so they
 * never read resolv.conf, the namespace file or the table.
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

/*
 * The state if it is initialised already, else NULL; never initialises.
 * For hooks that only keep what connect and socket recorded in step
 * (close, dup*, fcntl, getpeername): before the state exists nothing was
 * recorded. real.* is usable either way.
 */
struct preload_state *state_peek(void) LDMESH_HIDDEN;

struct lookup_result;
/*
 * Resolve `name` against the current snapshot (lookup_name) and note a
 * name the table holds for warming (ldmesh_table_note_name); when the real
 * resolver is to be asked (LOOKUP_PASS, LOOKUP_EXTERNAL), point this
 * thread's nameservers that are Service VIPs at live backends
 * (resolver.h). False when
 * there is no table (r->status is then LOOKUP_PASS, r->skip_search
 * false).
 */
bool state_lookup_name(struct preload_state *st, const char *name,
		       struct lookup_result *r) LDMESH_HIDDEN;
/* The same for an address (lookup_addr); nothing to steer or warm: a miss
 * goes to the real resolver as it would without the preload. */
bool state_lookup_addr(struct preload_state *st, const uint8_t addr[16],
		       struct lookup_result *r) LDMESH_HIDDEN;

#endif
