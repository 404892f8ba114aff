/* SPDX-License-Identifier: MIT */
/*
 * The live table's parts (ldmesh_table in ldmesh/reader.h), one job a
 * file: table.c (init, acquire and release: the connect path), table_msg.c
 * (messages), table_clock.c (the tick deadline), table_open.c (opening and
 * trusting the directory and its files), table_slots.c (the mappings
 * held), table_switch.c (mapping a generation and making it current),
 * table_refresh.c (following the generation counter and the directory).
 * Hidden: none of this is exported from the preload.
 */
#ifndef LDMESH_READER_TABLE_PRIV_H
#define LDMESH_READER_TABLE_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "ldmesh/reader.h"

/* --- table_msg.c --- */

/* A bounded message builder: snprintf is not async-signal-safe. */
struct table__msg {
	char buf[LDMESH_PATH_MAX + 96]; /* a path, "/snap.<20 digits>", a reason */
	size_t len;
};

void table__put(struct table__msg *m, const char *s);
void table__put_u64(struct table__msg *m, uint64_t v);
/* "path[/name]: reason", or the error `err` named when `reason` is NULL. */
void table__why(struct table__msg *m, const char *path, const char *name, const char *reason,
		int err);
/* "snap.<gen>" */
void table__snap_name(char out[40], uint64_t gen);
void table__event(struct ldmesh_table *t, enum ldmesh_table_event ev, uint64_t gen,
		  const char *why);

/* --- table_clock.c --- */

static inline uint64_t table__now_ns(void)
{
	struct timespec ts;

	/* COARSE is served from the vDSO without entering the kernel. */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Arm the fast check for the deadline next_dir_check_ns. */
void table__arm(struct ldmesh_table *t, uint64_t now_ns);

/* --- table_open.c --- */

/* Why status `st` may not be trusted by this process, or NULL. */
const char *table__trust(const struct stat *st, bool want_dir);
/* Open `name` in `dirfd` (AT_FDCWD: a full path) and check it may be
 * trusted: the descriptor, or -1 with errno and the reason in `why`. */
int table__open_file(struct ldmesh_table *t, int dirfd, const char *name, struct stat *st,
		     struct table__msg *why);
/* Map the control page of the directory now at the path: 0, or -1 after
 * reporting why. Called with `refreshing` held. */
int table__open_control(struct ldmesh_table *t);
/* Whether the table path names another directory than the one followed;
 * *found: whether it names one (its status in *st). */
bool table__dir_moved(struct ldmesh_table *t, struct stat *st, bool *found);
/* The once-a-second look: whether the path names another directory, or
 * the directory another control page (and whether it is still trusted). */
bool table__dir_replaced(struct ldmesh_table *t);

/* --- table_slots.c --- */

void table__unmap(struct ldmesh_table *t, const struct ldmesh_snap *snap);
/* Unmap every non-current slot nobody is inside and no delta links. */
void table__reclaim(struct ldmesh_table *t);
/* A free slot (reclaiming if need be), or -1 when every slot is pinned. */
int table__free_slot(struct ldmesh_table *t);
void table__install(struct ldmesh_table *t, int i, const struct ldmesh_snap *snap,
		    struct ldmesh_file_id id, int base_slot);
bool table__same_id(const struct ldmesh_file_id *a, const struct ldmesh_file_id *b);
/* The slot of a mapped base of generation `gen` (the file `id` if its ino
 * is not 0), or -1. */
int table__find_base(struct ldmesh_table *t, uint64_t gen, const struct ldmesh_file_id *id);
void table__ahead_drop(struct ldmesh_table *t);
bool table__ahead_is(struct ldmesh_table *t, uint64_t gen, const struct ldmesh_file_id *id);
/* The slot of the base announced ahead if it is the file `id` of `gen`
 * (no longer kept as announced), else -1. */
int table__take_ahead(struct ldmesh_table *t, uint64_t gen, const struct ldmesh_file_id *id);

/* --- table_switch.c --- */

/* What switching to a generation came to. */
enum table_switch {
	TABLE_SWITCHED,     /* the generation is current */
	TABLE_BUSY,         /* every slot pinned by a reader: the current
	                       snapshot stays, the generation is tried again
	                       on a later call */
	TABLE_REFUSED,      /* reported */
	TABLE_GONE,         /* snap.<gen> removed, a newer generation is
	                       current: not reported */
	TABLE_DIR_REPLACED, /* the path names another directory now */
};

/* What mapping one file (table__map), or a delta's base (table__base),
 * came to. */
enum table_map {
	TABLE_MAPPED,      /* mapped and checked (a base: linked) */
	TABLE_MAP_BUSY,    /* no free slot for a base: every slot pinned */
	TABLE_MAP_REFUSED, /* the reason in `why`, not reported yet */
	TABLE_MAP_GONE,    /* the file is gone, and the control page has
	                      moved past the generation wanted */
};

/* What the control page's record says of a file about to be mapped. */
struct table__expect {
	struct ldmesh_file_id id;                /* which file */
	const struct ldmesh_snap_header *header; /* its header, or NULL */
};

enum table_map table__map(struct ldmesh_table *t, uint64_t gen, uint64_t want,
			  const struct table__expect *ex, struct ldmesh_snap *snap,
			  struct ldmesh_file_id *id, struct table__msg *why);
enum table_switch table__switch(struct ldmesh_table *t, uint64_t gen);

/* --- table_refresh.c --- */

/* Follow the control page (and once a second the directory); called
 * without `refreshing`, which it takes or leaves to the thread holding it. */
void table__refresh(struct ldmesh_table *t);

#endif
