/* SPDX-License-Identifier: MIT */
/*
 * The control page's publication records (snapshot.h): the one module
 * that writes and reads their bytes. The page is shared between the agent
 * writing it and every reader, so both sides move it in 8-byte atomic
 * words: a reader never reads a word half-written, and a record copied
 * while its next generation overwrites it fails its checksum.
 */
#include <string.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"

#define RECORD_WORDS (sizeof(struct ldmesh_control_record) / sizeof(uint64_t))
_Static_assert(sizeof(struct ldmesh_control_record) % sizeof(uint64_t) == 0,
	       "records move in whole words");

static uint64_t control__checksum(const struct ldmesh_control_record *rec)
{
	return ldmesh_hash64((const uint8_t *)rec + sizeof(rec->checksum),
			     sizeof(*rec) - sizeof(rec->checksum), 0);
}

static uint64_t *control__slot(struct ldmesh_control *c, uint64_t gen)
{
	return (uint64_t *)((unsigned char *)c + LDMESH_CONTROL_OFF_RECORDS +
			    (gen & 1) * LDMESH_CONTROL_RECORD_SIZE);
}

struct ldmesh_file_id ldmesh_file_id_of(const struct stat *st)
{
	struct ldmesh_file_id id = {
		.ino = (uint64_t)st->st_ino,
		.ctime_ns = (uint64_t)st->st_ctim.tv_sec * 1000000000ULL +
			    (uint64_t)st->st_ctim.tv_nsec,
	};

	return id;
}

void ldmesh_control_record_seal(struct ldmesh_control_record *rec, const void *file,
				struct ldmesh_file_id snap, struct ldmesh_file_id base)
{
	memset(rec, 0, sizeof(*rec));
	memcpy(&rec->header, file, sizeof(rec->header));
	rec->generation = rec->header.generation;
	rec->snap = snap;
	rec->base = base;
	rec->checksum = control__checksum(rec);
}

void ldmesh_control_record_put(struct ldmesh_control *c,
			       const struct ldmesh_control_record *rec)
{
	uint64_t *slot = control__slot(c, rec->generation);

	/* Orders the store that published gen - 1 before these words: a
	 * reader that copies any of them and then reloads the generation
	 * finds it moved past the record they replace (gen - 2). */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (size_t i = 0; i < RECORD_WORDS; i++) {
		uint64_t w;

		memcpy(&w, (const unsigned char *)rec + i * sizeof(w), sizeof(w));
		__atomic_store_n(&slot[i], w, __ATOMIC_RELAXED);
	}
}

int ldmesh_control_record_get(const struct ldmesh_control *c, uint64_t gen,
			      struct ldmesh_control_record *out)
{
	const uint64_t *slot = control__slot((struct ldmesh_control *)c, gen);

	for (size_t i = 0; i < RECORD_WORDS; i++) {
		uint64_t w = __atomic_load_n(&slot[i], __ATOMIC_RELAXED);

		memcpy((unsigned char *)out + i * sizeof(w), &w, sizeof(w));
	}
	/* pairs with the fence in _put: see the generation reload in table.c */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (!gen || out->generation != gen || out->checksum != control__checksum(out) ||
	    out->header.generation != gen ||
	    (out->header.base_generation == 0) != (out->base.ino == 0))
		return -1;
	return 0;
}
