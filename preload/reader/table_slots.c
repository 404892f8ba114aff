/* SPDX-License-Identifier: MIT */
/*
 * The table's slots: the mappings a process holds (the current snapshot,
 * the ones readers are still inside, the bases deltas link, the base
 * announced ahead), filled, found and let go.
 */
#define _GNU_SOURCE

#include "table_priv.h"

void table__unmap(struct ldmesh_table *t, const struct ldmesh_snap *snap)
{
	t->sys->munmap((void *)snap->base, snap->size);
}

/* Unmap every non-current slot nobody is inside and no delta links. The
 * seq_cst pair (the current store before, the pin counts' loads here; a
 * reader's count up in its stripe, then its current load) guarantees a
 * reader that still uses a slot is seen. A reader pins a delta's slot only, never its base:
 * the delta slot's link (`links` on the base slot, dropped only when the
 * delta slot is unmapped here, after no reader is inside it) is what
 * keeps the base mapped under that reader. A base whose last link goes in
 * the first pass goes in the second. */
void table__reclaim(struct ldmesh_table *t)
{
	int cur = atomic_load(&t->current);

	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < LDMESH_TABLE_SLOTS; i++) {
			struct ldmesh_table_slot *slot = &t->slots[i];

			if (i == cur || !atomic_load(&slot->used) ||
			    ldmesh_table_pinned(t, i) || slot->links)
				continue;
			table__unmap(t, &slot->snap);
			if (slot->base_slot >= 0)
				t->slots[slot->base_slot].links--;
			slot->base_slot = -1;
			atomic_store(&slot->used, false);
		}
}

int table__free_slot(struct ldmesh_table *t)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < LDMESH_TABLE_SLOTS; i++)
			if (!atomic_load(&t->slots[i].used))
				return i;
		table__reclaim(t);
	}
	return -1;
}

/* Fill the free slot `i` with `snap`, the file `id`, linked to slot
 * `base_slot` (or -1); still not current. */
void table__install(struct ldmesh_table *t, int i, const struct ldmesh_snap *snap,
			   struct ldmesh_file_id id, int base_slot)
{
	struct ldmesh_table_slot *slot = &t->slots[i];

	slot->snap = *snap;
	slot->id = id;
	slot->base_slot = base_slot;
	slot->links = 0;
	slot->dir_epoch = t->dir_epoch;
	atomic_store(&slot->generation, snap->generation);
	atomic_store(&slot->used, true);
}

bool table__same_id(const struct ldmesh_file_id *a, const struct ldmesh_file_id *b)
{
	return a->ino == b->ino && a->ctime_ns == b->ctime_ns;
}

/* A mapped base of generation `gen` of the directory followed now: the
 * file `id` when a record names one (ino not 0). A number alone is not
 * enough since bases are announced ahead: a restarted agent may publish
 * another file under the number of one announced and mapped before. */
int table__find_base(struct ldmesh_table *t, uint64_t gen,
			    const struct ldmesh_file_id *id)
{
	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++) {
		struct ldmesh_table_slot *slot = &t->slots[i];

		if (atomic_load(&slot->used) && slot->dir_epoch == t->dir_epoch &&
		    atomic_load(&slot->generation) == gen && !slot->snap.base_generation &&
		    (!id->ino || table__same_id(&slot->id, id)))
			return i;
	}
	return -1;
}

/* Let go of the base announced ahead: reclaimable once nothing else
 * links it. */
void table__ahead_drop(struct ldmesh_table *t)
{
	if (t->ahead_slot < 0)
		return;
	t->slots[t->ahead_slot].links--;
	t->ahead_slot = -1;
}

/* Whether the base announced ahead and mapped is the file `id` of
 * generation `gen` (a slot of a replaced directory never is: following
 * one drops it). */
bool table__ahead_is(struct ldmesh_table *t, uint64_t gen,
			    const struct ldmesh_file_id *id)
{
	int i = t->ahead_slot;

	return i >= 0 && atomic_load(&t->slots[i].generation) == gen &&
	       table__same_id(&t->slots[i].id, id);
}

/* The base announced ahead when it is the file `id` of generation `gen`:
 * its slot, no longer kept as announced; else -1. */
int table__take_ahead(struct ldmesh_table *t, uint64_t gen,
			     const struct ldmesh_file_id *id)
{
	int i = t->ahead_slot;

	if (!table__ahead_is(t, gen, id))
		return -1;
	table__ahead_drop(t);
	return i;
}
