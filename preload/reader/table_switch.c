/* SPDX-License-Identifier: MIT */
/*
 * Switching to a generation: its file (and its base, for a delta) opened,
 * checked against what the control page published, mapped into a free
 * slot and made current. Called with `refreshing` held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "table_priv.h"

static bool table__same_file(const struct ldmesh_file_id *id, const struct stat *st)
{
	struct ldmesh_file_id got = ldmesh_file_id_of(st);

	return table__same_id(&got, id);
}

/* Whether the control page has moved past `want`, the generation being
 * switched to: then a file gone or a record torn meanwhile is news, not
 * a fault. */
static bool table__moved_past(struct ldmesh_table *t, uint64_t want)
{
	return __atomic_load_n(&atomic_load(&t->control)->generation, __ATOMIC_ACQUIRE) != want;
}

/*
 * Open, check and map snap.<gen> into *snap (which file in *id); called
 * with `refreshing` held. With `ex` (a valid record): only the file it
 * names, and its header copy if it has one; without, the caller checked
 * the directory.
 * TABLE_MAPPED (the caller owns the mapping), TABLE_MAP_GONE when the
 * file is gone and the control page has moved past `want`, else
 * TABLE_MAP_REFUSED with the reason in `why` (not reported yet).
 */
enum table_map table__map(struct ldmesh_table *t, uint64_t gen, uint64_t want,
			  const struct table__expect *ex, struct ldmesh_snap *snap,
			  struct ldmesh_file_id *id, struct table__msg *why)
{
	char name[40];
	struct table__msg path = { .len = 0 };
	struct ldmesh_snap_header h;
	const char *verdict;
	struct stat st;
	ssize_t got;
	void *base;
	int fd;

	table__snap_name(name, gen);
	table__put(&path, t->dir);
	table__put(&path, "/");
	table__put(&path, name);
	fd = table__open_file(t, AT_FDCWD, path.buf, &st, why);
	/* gone because newer generations came meanwhile: not a refusal (for
	 * a base too: the agent removes a base only after publishing past
	 * every delta over it) */
	if (fd < 0 && errno == ENOENT && table__moved_past(t, want))
		return TABLE_MAP_GONE;
	if (fd < 0)
		return TABLE_MAP_REFUSED;
	if (ex && (st.st_dev != t->dir_dev || !table__same_file(&ex->id, &st))) {
		t->sys->close(fd);
		if (table__moved_past(t, want))
			return TABLE_MAP_GONE;
		table__why(why, t->dir, name,
			   "not the file the control page published (replaced?)", 0);
		return TABLE_MAP_REFUSED;
	}
	*id = ldmesh_file_id_of(&st);
	/* The header's own size is checked against this one below: a file
	 * that is not what its header says is refused before any lookup. It
	 * comes from the record, or is read with pread, not through the
	 * mapping: a page fault costs more than a system call (~8-10 against
	 * ~5 us right after the agent wrote a 91 MB base, bench_table
	 * --switch-only), and lookups rarely need that page again. */
	if (ex && ex->header) {
		h = *ex->header;
	} else {
		got = st.st_size < (off_t)sizeof(h) ? 0 : t->sys->pread(fd, &h, sizeof(h), 0);
		if (got != (ssize_t)sizeof(h)) {
			table__why(why, t->dir, name,
				   got < 0 ? NULL : "shorter than a snapshot header",
				   got < 0 ? errno : 0);
			t->sys->close(fd);
			return TABLE_MAP_REFUSED;
		}
	}
	base = t->sys->mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	t->sys->close(fd);
	if (base == MAP_FAILED) {
		table__why(why, t->dir, name, NULL, errno);
		return TABLE_MAP_REFUSED;
	}
	verdict = NULL;
	if (ldmesh_snap_init_header(snap, &h, base, (size_t)st.st_size, &verdict) < 0)
		;
	else if (snap->generation != gen)
		verdict = "generation in the header differs from the name";
	if (verdict) {
		table__why(why, t->dir, name, verdict, 0);
		t->sys->munmap(base, (size_t)st.st_size);
		return TABLE_MAP_REFUSED;
	}
	return TABLE_MAPPED;
}

/*
 * The slot holding the base of the delta `snap`, linked: a slot that
 * already holds it, else snap.<base> mapped into a free one (the file
 * `base_id` when the record named one, else ino 0). TABLE_MAPPED with the
 * slot in *slot (its `links` counts this delta), TABLE_MAP_BUSY when every
 * slot is pinned, TABLE_MAP_GONE, or TABLE_MAP_REFUSED with `why`.
 */
static enum table_map table__base(struct ldmesh_table *t, struct ldmesh_snap *snap,
				  struct ldmesh_file_id base_id, int *slot,
				  struct table__msg *why)
{
	struct ldmesh_snap base;
	struct ldmesh_file_id id;
	const char *verdict;
	int b = table__find_base(t, snap->base_generation, &base_id);

	if (b < 0) {
		const struct table__expect ex = { .id = base_id, .header = NULL };
		enum table_map m = table__map(t, snap->base_generation, snap->generation,
					      base_id.ino ? &ex : NULL, &base, &id, why);

		if (m != TABLE_MAPPED)
			return m;
		b = table__free_slot(t);
		if (b < 0) {
			table__unmap(t, &base);
			return TABLE_MAP_BUSY;
		}
		/* unlinked until the link below: reclaimable if that fails */
		table__install(t, b, &base, id, -1);
	}
	if (ldmesh_snap_link(snap, &t->slots[b].snap, &verdict) < 0) {
		char name[40];

		table__snap_name(name, snap->generation);
		table__why(why, t->dir, name, verdict, 0);
		return TABLE_MAP_REFUSED;
	}
	t->slots[b].links++;
	*slot = b;
	return TABLE_MAPPED;
}

/* Every slot pinned by a slow reader: the current snapshot stays, and
 * `snap` (mapped, not installed) goes; a later call tries again. */
static enum table_switch table__busy(struct ldmesh_table *t, const struct ldmesh_snap *snap)
{
	table__unmap(t, snap);
	atomic_store(&t->seen_generation, 0);
	return TABLE_BUSY;
}

/*
 * Map generation `gen` (the file `ex` names, or NULL: the directory was
 * checked) and its base if it is a delta, and make it current.
 * TABLE_SWITCHED, TABLE_BUSY, TABLE_GONE, or TABLE_REFUSED with `why`
 * (not reported yet).
 */
static enum table_switch table__switch_to(struct ldmesh_table *t, uint64_t gen,
					  const struct table__expect *ex,
					  struct ldmesh_file_id base_id, struct table__msg *why)
{
	struct ldmesh_snap snap;
	struct ldmesh_file_id id;
	enum table_map m = table__map(t, gen, gen, ex, &snap, &id, why);
	int b = -1, idx;

	if (m != TABLE_MAPPED)
		return m == TABLE_MAP_GONE ? TABLE_GONE : TABLE_REFUSED;
	if (snap.base_generation) {
		m = table__base(t, &snap, base_id, &b, why);
		if (m == TABLE_MAP_BUSY)
			return table__busy(t, &snap);
		if (m != TABLE_MAPPED) {
			table__unmap(t, &snap);
			return m == TABLE_MAP_GONE ? TABLE_GONE : TABLE_REFUSED;
		}
	}
	idx = table__free_slot(t);
	if (idx < 0) {
		if (b >= 0)
			t->slots[b].links--;
		return table__busy(t, &snap);
	}
	table__install(t, idx, &snap, id, b);
	atomic_store(&t->current, idx);
	/* an announced base not taken is passed over; a delta over it
	 * links it (table__base) */
	if (t->ahead_slot >= 0 && atomic_load(&t->slots[t->ahead_slot].generation) <= gen)
		table__ahead_drop(t);
	/* The snapshots switched from stay mapped until the once-a-second
	 * check (table__refresh) or a switch that finds no free slot: the
	 * call that switches is a connect someone is waiting for, and tearing
	 * down a base's mapping costs more than making one (~10-30 us at
	 * 100,000 services right after the agent wrote it). The agent holds
	 * the files it retires open for longer than that (agent/retired.h),
	 * so letting go later never frees a whole table here. */
	table__event(t, LDMESH_TABLE_SWITCHED, gen, "");
	return TABLE_SWITCHED;
}

/* Report the refusal `why` of `gen`. `bound`: the file was the one the
 * control page's record named; missing or not that one because the path
 * names another directory now, it is that directory to follow, nothing to
 * report. */
static enum table_switch table__refuse(struct ldmesh_table *t, uint64_t gen, bool bound,
				       const struct table__msg *why)
{
	struct stat dst;
	bool found;

	if (bound && table__dir_moved(t, &dst, &found))
		return TABLE_DIR_REPLACED;
	table__event(t, LDMESH_TABLE_REFUSED, gen, why->buf);
	return TABLE_REFUSED;
}

/* Without a record (a 3.0 agent, or one copied torn): the directory
 * checked by path (still the one control came from, still trusted), the
 * header read by pread. */
static enum table_switch table__switch_unbound(struct ldmesh_table *t, uint64_t gen)
{
	struct table__msg why = { .len = 0 };
	enum table_switch r;
	const char *bad;
	struct stat dst;
	bool found;

	if (table__moved_past(t, gen))
		return TABLE_GONE;
	if (table__dir_moved(t, &dst, &found))
		return TABLE_DIR_REPLACED;
	if (!found)
		table__why(&why, t->dir, NULL, NULL, errno);
	else if ((bad = table__trust(&dst, true)))
		table__why(&why, t->dir, NULL, bad, 0);
	else if ((r = table__switch_to(t, gen, NULL, (struct ldmesh_file_id){ 0, 0 }, &why)) !=
		 TABLE_REFUSED)
		return r;
	return table__refuse(t, gen, false, &why);
}

/*
 * Map and switch to generation `gen` (and its base if it is a delta);
 * called with `refreshing` held.
 *
 * With the control page's record of `gen` (the agent writes one since
 * 3.1), four system calls: open, fstat, mmap, close. The record names the
 * file to map and carries its header, so neither the directory is stat'ed
 * by path nor the header read; the file opened must be that one. That
 * binds the switch to what the trusted control page published, with no
 * window between checking a directory and opening a name in it. Without a
 * record: table__switch_unbound.
 */
enum table_switch table__switch(struct ldmesh_table *t, uint64_t gen)
{
	struct table__msg why = { .len = 0 };
	struct ldmesh_control_record rec;
	struct table__expect ex;
	enum table_switch r;
	int idx;

	if (ldmesh_control_record_get(atomic_load(&t->control), gen, &rec) < 0)
		return table__switch_unbound(t, gen);
	if (t->dir_bad) {
		table__why(&why, t->dir, NULL, t->dir_bad, 0);
		return table__refuse(t, gen, false, &why);
	}
	/* a base this process mapped when it was announced: no system call
	 * at all (snapshot.h, 3.2) */
	if (!rec.header.base_generation && (idx = table__take_ahead(t, gen, &rec.snap)) >= 0) {
		atomic_store(&t->current, idx);
		table__event(t, LDMESH_TABLE_SWITCHED, gen, "mapped ahead");
		return TABLE_SWITCHED;
	}
	ex.id = rec.snap;
	ex.header = &rec.header;
	r = table__switch_to(t, gen, &ex, rec.base, &why);
	return r == TABLE_REFUSED ? table__refuse(t, gen, true, &why) : r;
}
