/* SPDX-License-Identifier: MIT */
/*
 * One agent per table. Two agents publishing into one directory would each
 * continue the other's generation sequence, sweep each other's files and
 * overwrite each other's control records: readers would flip between two
 * tables. An agent therefore holds a write lock on "<table>.lock", in the
 * table's parent (it outlives a table directory removed and recreated), for
 * as long as it runs; the kernel drops it when the agent dies, however it
 * dies, so a restart never waits for a stale lock.
 *
 * A POSIX write lock needs a descriptor open for writing: pods, which
 * mount the parent read-only, cannot take it and so cannot keep the agent
 * from starting. F_GETLK names the holder's pid for the error.
 */
#ifndef LDMESH_AGENT_TABLE_LOCK_H
#define LDMESH_AGENT_TABLE_LOCK_H

#include <stddef.h>

/* Take the lock of table directory `table` (creating its parent 0755 and
 * the lock file 0600 if missing): the open descriptor that holds it, or
 * -EBUSY when another process holds it, or -errno; `why` says which. */
int table_lock_take(const char *table, char *why, size_t why_len);

#endif
