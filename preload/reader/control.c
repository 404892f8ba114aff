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

/* Stores `rec` into `words` of the shared page. The fence orders what the
 * writer published before (the generation the record is not yet, the
 * file behind an announced base) before these words. */
static void control__store(uint64_t *words, const struct ldmesh_control_record *rec)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (size_t i = 0; i < RECORD_WORDS; i++) {
		uint64_t w;

		memcpy(&w, (const unsigned char *)rec + i * sizeof(w), sizeof(w));
		__atomic_store_n(&words[i], w, __ATOMIC_RELAXED);
	}
}

/* Copies `words` of the shared page into *out; 0 when it is a valid
 * record of a generation (any), -1 when not or copied torn. */
static int control__load(const uint64_t *words, struct ldmesh_control_record *out)
{
	for (size_t i = 0; i < RECORD_WORDS; i++) {
		uint64_t w = __atomic_load_n(&words[i], __ATOMIC_RELAXED);

		memcpy((unsigned char *)out + i * sizeof(w), &w, sizeof(w));
	}
	/* pairs with the fence in control__store: see the generation reload
	 * in table.c */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (!out->generation || out->checksum != control__checksum(out) ||
	    out->header.generation != out->generation ||
	    (out->header.base_generation == 0) != (out->base.ino == 0))
		return -1;
	return 0;
}

void ldmesh_control_record_put(struct ldmesh_control *c,
			       const struct ldmesh_control_record *rec)
{
	/* The fence also orders the store that published gen - 1 before
	 * these words: a reader that copies any of them and then reloads
	 * the generation finds it moved past the record they replace
	 * (gen - 2). */
	control__store(control__slot(c, rec->generation), rec);
}

int ldmesh_control_record_get(const struct ldmesh_control *c, uint64_t gen,
			      struct ldmesh_control_record *out)
{
	if (control__load(control__slot((struct ldmesh_control *)c, gen), out) < 0 ||
	    out->generation != gen)
		return -1;
	return 0;
}

static uint64_t *control__ahead(struct ldmesh_control *c)
{
	return (uint64_t *)((unsigned char *)c + LDMESH_CONTROL_OFF_AHEAD);
}

void ldmesh_control_ahead_put(struct ldmesh_control *c,
			      const struct ldmesh_control_record *rec)
{
	static const struct ldmesh_control_record none;

	control__store(control__ahead(c), rec ? rec : &none);
}

int ldmesh_control_ahead_get(const struct ldmesh_control *c,
			     struct ldmesh_control_record *out)
{
	if (control__load(control__ahead((struct ldmesh_control *)c), out) < 0 ||
	    out->header.base_generation)
		return -1;
	return 0;
}
