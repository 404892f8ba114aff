/* SPDX-License-Identifier: MIT */
/*
 * The live table: follows the agent's generation counter and keeps a
 * mapping of the current snapshot whose header was checked.
 *
 * Read side (every connect): one acquire load of the generation and one
 * read of the CPU's tick counter, then pin the current slot with a reference count and
 * re-check that it is still current. Refresh side: one thread at a time
 * (an atomic flag, never waited on: a thread that loses the race keeps
 * using the current snapshot) maps the new file into a free slot, makes it
 * current, and unmaps slots nobody is inside. Once a second it also asks
 * whether the directory was replaced (a new device/inode at the path, or
 * the old control page retired) and follows the new one, and whether it
 * is still one to trust.
 *
 * Only async-signal-safe calls, all through t->sys; messages are built by
 * hand from constant reasons.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ldmesh/reader.h"

/* A bounded message builder: snprintf is not async-signal-safe. */
struct table__msg {
	char buf[LDMESH_PATH_MAX + 96]; /* a path, "/snap.<20 digits>", a reason */
	size_t len;
};

static void table__put(struct table__msg *m, const char *s)
{
	while (*s && m->len + 1 < sizeof(m->buf))
		m->buf[m->len++] = *s++;
	m->buf[m->len] = '\0';
}

static void table__put_u64(struct table__msg *m, uint64_t v)
{
	char digits[21];
	int i = sizeof(digits) - 1;

	digits[i] = '\0';
	do
		digits[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 0);
	table__put(m, digits + i);
}

/* strerror may translate (locale, allocation) and musl has no
 * strerrordesc_np: name the errors a table open can meet, number the
 * rest. */
static void table__put_errno(struct table__msg *m, int err)
{
	static const struct {
		int err;
		const char *text;
	} names[] = {
		{ ENOENT, "No such file or directory" },
		{ EACCES, "Permission denied" },
		{ EPERM, "Operation not permitted" },
		{ ENOTDIR, "Not a directory" },
		{ ELOOP, "Too many levels of symbolic links (a symlink?)" },
		{ EMFILE, "Too many open files" },
		{ ENFILE, "Too many open files in system" },
		{ ENOMEM, "Cannot allocate memory" },
		{ ENODEV, "No such device" },
		{ EINVAL, "Invalid argument" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == err) {
			table__put(m, names[i].text);
			return;
		}
	table__put(m, "errno ");
	table__put_u64(m, (uint64_t)err);
}

static void table__why(struct table__msg *m, const char *path,
		       const char *name, const char *reason, int err)
{
	table__put(m, path);
	if (name) {
		table__put(m, "/");
		table__put(m, name);
	}
	table__put(m, ": ");
	if (reason)
		table__put(m, reason);
	else
		table__put_errno(m, err);
}

static void table__event(struct ldmesh_table *t, enum ldmesh_table_event ev,
			 uint64_t gen, const char *why)
{
	if (t->on_event)
		t->on_event(t->event_ctx, ev, gen, why);
}

static uint64_t table__now_ns(void)
{
	struct timespec ts;

	/* COARSE is served from the vDSO without entering the kernel. */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * "Is a second up?" is asked on every acquire. A clock_gettime call costs
 * tens of instructions even from the vDSO; the CPU's tick counter
 * (ldmesh_tick) is one instruction. Its rate is measured against the clock
 * over the first second (until then a low guess makes checks early, never
 * late: an early one only re-arms). Elsewhere the clock is the tick.
 */
#define TABLE_TICKS_GUESS 100000000ULL /* per second: lower than any real rate */
#define TABLE_CALIBRATE_NS 500000000ULL

/* Arm the fast check for the deadline next_dir_check_ns. */
static void table__arm(struct ldmesh_table *t, uint64_t now_ns)
{
	uint64_t tick = ldmesh_tick(), rate = atomic_load(&t->ticks_per_s);
	uint64_t due = atomic_load(&t->next_dir_check_ns);
	uint64_t wait_ns = due > now_ns ? due - now_ns : 0;

	if (!LDMESH_TICKS) {
		atomic_store(&t->next_check_tick, due);
		return;
	}
	if (!rate && now_ns - t->ns0 >= TABLE_CALIBRATE_NS && tick > t->tick0) {
		rate = (uint64_t)((double)(tick - t->tick0) * 1e9 / (double)(now_ns - t->ns0));
		atomic_store(&t->ticks_per_s, rate);
	}
	if (!rate)
		rate = TABLE_TICKS_GUESS;
	atomic_store(&t->next_check_tick,
		     tick + (uint64_t)((double)wait_ns * (double)rate / 1e9));
}

int ldmesh_table_init(struct ldmesh_table *t, const char *dir,
		      const struct ldmesh_reader_sys *sys,
		      ldmesh_table_event_fn on_event, void *event_ctx)
{
	size_t len = strlen(dir);

	/* Room for "/snap." and 20 digits after the directory in messages. */
	if (len + 32 >= sizeof(t->dir))
		return -ENAMETOOLONG;
	memset(t, 0, sizeof(*t));
	memcpy(t->dir, dir, len + 1);
	t->sys = sys;
	atomic_init(&t->control, NULL);
	atomic_init(&t->current, -1);
	atomic_init(&t->seen_generation, 0);
	atomic_init(&t->next_retry_ns, 0);
	atomic_init(&t->next_dir_check_ns, 0);
	atomic_init(&t->next_check_tick, 0);
	atomic_init(&t->ticks_per_s, 0);
	t->ahead_slot = -1;
	t->tick0 = ldmesh_tick();
	t->ns0 = table__now_ns();
	atomic_flag_clear(&t->refreshing);
	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++) {
		atomic_init(&t->slots[i].refs, 0);
		atomic_init(&t->slots[i].used, false);
		atomic_init(&t->slots[i].generation, 0);
		t->slots[i].base_slot = -1;
	}
	t->on_event = on_event;
	t->event_ctx = event_ctx;
	return 0;
}

/* Whether status `st` may be trusted by this process. The euid is asked
 * for only when root does not own the file: it is a system call, and a
 * process may change its euid, so it is not cached. */
static const char *table__trust(const struct stat *st, bool want_dir)
{
	return ldmesh_trust_check(st, want_dir, st->st_uid ? geteuid() : 0);
}

/* Open the directory and check it may be trusted; its status in *st.
 * Returns the descriptor, or -1 with the reason in `why`. */
static int table__open_dir(struct ldmesh_table *t, struct stat *st,
			   struct table__msg *why)
{
	const char *bad;
	int fd;

	/* O_NOFOLLOW: the table is the directory itself, never a link that
	 * someone else could point elsewhere. */
	fd = t->sys->openat(AT_FDCWD, t->dir,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		table__why(why, t->dir, NULL, NULL, errno);
		return -1;
	}
	if (t->sys->fstat(fd, st) < 0) {
		table__why(why, t->dir, NULL, NULL, errno);
		t->sys->close(fd);
		return -1;
	}
	if ((bad = table__trust(st, true))) {
		table__why(why, t->dir, NULL, bad, 0);
		t->sys->close(fd);
		return -1;
	}
	return fd;
}

/* Open `name` in the directory `dirfd` and check it may be trusted. */
static int table__open_file(struct ldmesh_table *t, int dirfd, const char *name,
			    struct stat *st, struct table__msg *why)
{
	/* `name` is the full path when opened from AT_FDCWD */
	const char *dir = dirfd == AT_FDCWD ? name : t->dir;
	const char *file = dirfd == AT_FDCWD ? NULL : name;
	const char *bad;
	int fd;

	/* O_NONBLOCK: a FIFO planted here must not hang the host process's
	 * connect() in open(); the trust check then refuses it. */
	fd = t->sys->openat(dirfd, name,
			    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		table__why(why, dir, file, NULL, errno);
		return -1;
	}
	if (t->sys->fstat(fd, st) < 0) {
		table__why(why, dir, file, NULL, errno);
		t->sys->close(fd);
		return -1;
	}
	if ((bad = table__trust(st, false))) {
		table__why(why, dir, file, bad, 0);
		t->sys->close(fd);
		errno = EACCES; /* not ENOENT: the caller tells a vanished file apart */
		return -1;
	}
	return fd;
}

/*
 * Map the control page of the directory now at the path; called with
 * `refreshing` held. The first one is mapped anywhere; a replacement is
 * checked in a mapping of its own, then mapped over the first with
 * MAP_FIXED, which swaps the pages atomically for every thread: readers
 * that loaded the pointer keep a valid page, now the new directory's.
 * Returns 0, or -1 after reporting why.
 */
static int table__open_control(struct ldmesh_table *t)
{
	const struct ldmesh_control *old = atomic_load(&t->control), *c;
	struct table__msg why = { .len = 0 };
	struct stat dst, st;
	int dirfd, fd = -1;
	void *map;

	dirfd = table__open_dir(t, &dst, &why);
	if (dirfd < 0)
		goto fail;
	fd = table__open_file(t, dirfd, LDMESH_CONTROL_NAME, &st, &why);
	t->sys->close(dirfd);
	if (fd < 0)
		goto fail;
	if (st.st_size < (off_t)sizeof(*c)) {
		table__why(&why, t->dir, LDMESH_CONTROL_NAME,
			   "too short for a control page", 0);
		goto fail;
	}
	map = t->sys->mmap(NULL, sizeof(*c), PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		table__why(&why, t->dir, LDMESH_CONTROL_NAME, NULL, errno);
		goto fail;
	}
	c = map;
	if (c->magic != LDMESH_CONTROL_MAGIC ||
	    c->version_major != LDMESH_SNAP_VERSION_MAJOR) {
		table__why(&why, t->dir, LDMESH_CONTROL_NAME,
			   "not a control page of this format version", 0);
		t->sys->munmap(map, sizeof(*c));
		goto fail;
	}
	if (old) {
		void *fixed = t->sys->mmap((void *)old, sizeof(*c), PROT_READ,
					   MAP_SHARED | MAP_FIXED, fd, 0);
		t->sys->munmap(map, sizeof(*c));
		if (fixed == MAP_FAILED) {
			table__why(&why, t->dir, LDMESH_CONTROL_NAME, NULL, errno);
			goto fail;
		}
	} else {
		atomic_store(&t->control, c);
	}
	t->sys->close(fd);
	t->dir_dev = dst.st_dev;
	t->dir_ino = dst.st_ino;
	t->control_ino = st.st_ino;
	t->dir_bad = NULL; /* just checked */
	return 0;
fail:
	if (fd >= 0)
		t->sys->close(fd);
	table__event(t, LDMESH_TABLE_MISSING, 0, why.buf);
	return -1;
}

static void table__unmap(struct ldmesh_table *t, const struct ldmesh_snap *snap)
{
	t->sys->munmap((void *)snap->base, snap->size);
}

/* Unmap every non-current slot nobody is inside and no delta links. The
 * seq_cst pair (the current store before, the refs load here; a reader's
 * refs increment then its current load) guarantees a reader that still
 * uses a slot is seen. A reader pins a delta's slot only, never its base:
 * the delta slot's link (`links` on the base slot, dropped only when the
 * delta slot is unmapped here, after no reader is inside it) is what
 * keeps the base mapped under that reader. A base whose last link goes in
 * the first pass goes in the second. */
static void table__reclaim(struct ldmesh_table *t)
{
	int cur = atomic_load(&t->current);

	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < LDMESH_TABLE_SLOTS; i++) {
			struct ldmesh_table_slot *slot = &t->slots[i];

			if (i == cur || !atomic_load(&slot->used) ||
			    atomic_load(&slot->refs) || slot->links)
				continue;
			table__unmap(t, &slot->snap);
			if (slot->base_slot >= 0)
				t->slots[slot->base_slot].links--;
			slot->base_slot = -1;
			atomic_store(&slot->used, false);
		}
}

static int table__free_slot(struct ldmesh_table *t)
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
static void table__install(struct ldmesh_table *t, int i, const struct ldmesh_snap *snap,
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

static bool table__same_id(const struct ldmesh_file_id *a, const struct ldmesh_file_id *b)
{
	return a->ino == b->ino && a->ctime_ns == b->ctime_ns;
}

/* A mapped base of generation `gen` of the directory followed now: the
 * file `id` when a record names one (ino not 0). A number alone is not
 * enough since bases are announced ahead: a restarted agent may publish
 * another file under the number of one announced and mapped before. */
static int table__find_base(struct ldmesh_table *t, uint64_t gen,
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
static void table__ahead_drop(struct ldmesh_table *t)
{
	if (t->ahead_slot < 0)
		return;
	t->slots[t->ahead_slot].links--;
	t->ahead_slot = -1;
}

static void table__snap_name(char out[40], uint64_t gen)
{
	struct table__msg m = { .len = 0 };

	table__put(&m, LDMESH_SNAP_PREFIX);
	table__put_u64(&m, gen);
	memcpy(out, m.buf, m.len + 1);
}

enum table_switch {
	TABLE_SWITCHED,     /* in use, or kept for later (no free slot) */
	TABLE_REFUSED,      /* reported */
	TABLE_GONE,         /* snap.<gen> removed, a newer generation is
	                       current: not reported */
	TABLE_DIR_REPLACED, /* the path names another directory now */
};

/* What the control page's record says of a file about to be mapped. */
struct table__expect {
	struct ldmesh_file_id id;                /* which file */
	const struct ldmesh_snap_header *header; /* its header, or NULL */
};

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
 * TABLE_SWITCHED when mapped (the caller owns the mapping), TABLE_GONE
 * when the file is gone and the control page has moved past `want`, else
 * TABLE_REFUSED with the reason in `why` (not reported yet).
 */
static enum table_switch table__map(struct ldmesh_table *t, uint64_t gen, uint64_t want,
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
		return TABLE_GONE;
	if (fd < 0)
		return TABLE_REFUSED;
	if (ex && (st.st_dev != t->dir_dev || !table__same_file(&ex->id, &st))) {
		t->sys->close(fd);
		if (table__moved_past(t, want))
			return TABLE_GONE;
		table__why(why, t->dir, name,
			   "not the file the control page published (replaced?)", 0);
		return TABLE_REFUSED;
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
			return TABLE_REFUSED;
		}
	}
	base = t->sys->mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	t->sys->close(fd);
	if (base == MAP_FAILED) {
		table__why(why, t->dir, name, NULL, errno);
		return TABLE_REFUSED;
	}
	verdict = NULL;
	if (ldmesh_snap_init_header(snap, &h, base, (size_t)st.st_size, &verdict) < 0)
		;
	else if (snap->generation != gen)
		verdict = "generation in the header differs from the name";
	if (verdict) {
		table__why(why, t->dir, name, verdict, 0);
		t->sys->munmap(base, (size_t)st.st_size);
		return TABLE_REFUSED;
	}
	return TABLE_SWITCHED;
}

/*
 * The slot holding the base of the delta `snap`, linked: a slot that
 * already holds it, else snap.<base> mapped into a free one (the file
 * `base_id` when the record named one, else ino 0). Returns the slot (its
 * `links` counts this delta), -1 when every slot is pinned, or -2 with
 * *r saying why not (GONE, or REFUSED with `why`).
 */
static int table__base(struct ldmesh_table *t, struct ldmesh_snap *snap,
		       struct ldmesh_file_id base_id, enum table_switch *r,
		       struct table__msg *why)
{
	struct ldmesh_snap base;
	struct ldmesh_file_id id;
	const char *verdict;
	int b = table__find_base(t, snap->base_generation, &base_id);

	if (b < 0) {
		const struct table__expect ex = { .id = base_id, .header = NULL };

		*r = table__map(t, snap->base_generation, snap->generation,
				base_id.ino ? &ex : NULL, &base, &id, why);
		if (*r != TABLE_SWITCHED)
			return -2;
		b = table__free_slot(t);
		if (b < 0) {
			table__unmap(t, &base);
			return -1;
		}
		/* unlinked until the link below: reclaimable if that fails */
		table__install(t, b, &base, id, -1);
	}
	if (ldmesh_snap_link(snap, &t->slots[b].snap, &verdict) < 0) {
		char name[40];

		table__snap_name(name, snap->generation);
		table__why(why, t->dir, name, verdict, 0);
		*r = TABLE_REFUSED;
		return -2;
	}
	t->slots[b].links++;
	return b;
}

/* Whether the table path names another directory than the one followed;
 * its status in *st when it names one. */
static bool table__dir_moved(struct ldmesh_table *t, struct stat *st, bool *found)
{
	*found = t->sys->fstatat(AT_FDCWD, t->dir, st, AT_SYMLINK_NOFOLLOW) == 0;
	return *found && (st->st_dev != t->dir_dev || st->st_ino != t->dir_ino);
}

/* Whether the base announced ahead and mapped is the file `id` of
 * generation `gen` (a slot of a replaced directory never is: following
 * one drops it). */
static bool table__ahead_is(struct ldmesh_table *t, uint64_t gen,
			    const struct ldmesh_file_id *id)
{
	int i = t->ahead_slot;

	return i >= 0 && atomic_load(&t->slots[i].generation) == gen &&
	       table__same_id(&t->slots[i].id, id);
}

/* The base announced ahead when it is the file `id` of generation `gen`:
 * its slot, no longer kept as announced; else -1. */
static int table__take_ahead(struct ldmesh_table *t, uint64_t gen,
			     const struct ldmesh_file_id *id)
{
	int i = t->ahead_slot;

	if (!table__ahead_is(t, gen, id))
		return -1;
	table__ahead_drop(t);
	return i;
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
 * record (a 3.0 agent, or one copied torn): the directory checked by path
 * (still the one control came from, still trusted), the header by pread.
 */
static enum table_switch table__switch(struct ldmesh_table *t, uint64_t gen)
{
	struct table__msg why = { .len = 0 };
	struct ldmesh_control_record rec;
	struct table__expect ex;
	const struct table__expect *bound = NULL; /* &ex when the record is valid */
	struct ldmesh_snap snap;
	struct ldmesh_file_id id;
	enum table_switch r;
	const char *bad;
	struct stat dst;
	bool found;
	int idx, b = -1;

	if (ldmesh_control_record_get(atomic_load(&t->control), gen, &rec) == 0) {
		if (t->dir_bad) {
			table__why(&why, t->dir, NULL, t->dir_bad, 0);
			goto refuse;
		}
		ex.id = rec.snap;
		ex.header = &rec.header;
		bound = &ex;
		/* a base this process mapped when it was announced: no
		 * system call at all (snapshot.h, 3.2) */
		if (!rec.header.base_generation &&
		    (idx = table__take_ahead(t, gen, &rec.snap)) >= 0) {
			atomic_store(&t->current, idx);
			table__event(t, LDMESH_TABLE_SWITCHED, gen, "mapped ahead");
			return TABLE_SWITCHED;
		}
	} else {
		if (table__moved_past(t, gen))
			return TABLE_GONE;
		if (table__dir_moved(t, &dst, &found))
			return TABLE_DIR_REPLACED;
		if (!found) {
			table__why(&why, t->dir, NULL, NULL, errno);
			goto refuse;
		}
		if ((bad = table__trust(&dst, true))) {
			table__why(&why, t->dir, NULL, bad, 0);
			goto refuse;
		}
		rec.base = (struct ldmesh_file_id){ 0, 0 };
	}
	r = table__map(t, gen, gen, bound, &snap, &id, &why);
	if (r == TABLE_GONE)
		return r;
	if (r != TABLE_SWITCHED)
		goto refuse;
	if (snap.base_generation) {
		b = table__base(t, &snap, rec.base, &r, &why);
		if (b == -2) {
			table__unmap(t, &snap);
			if (r == TABLE_GONE)
				return r;
			goto refuse;
		}
		if (b == -1)
			goto busy;
	}
	idx = table__free_slot(t);
	if (idx < 0) {
		if (b >= 0)
			t->slots[b].links--;
		goto busy;
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
busy:
	/* Every slot pinned by a slow reader: keep the current snapshot and
	 * come back on a later call. */
	table__unmap(t, &snap);
	atomic_store(&t->seen_generation, 0);
	return TABLE_SWITCHED;
refuse:
	/* a file missing or not the published one because the path names
	 * another directory now: follow that, nothing to report */
	if (bound && table__dir_moved(t, &dst, &found))
		return TABLE_DIR_REPLACED;
	table__event(t, LDMESH_TABLE_REFUSED, gen, why.buf);
	return TABLE_REFUSED;
}

/*
 * The once-a-second look at the directory. Whether the path now names
 * another directory than the one followed, or the directory another
 * control page (an agent that found its page removed writes a new one).
 * And whether the directory is still one to trust: a switch bound to the
 * control page's record does not look at it, so a directory made
 * writable by others is refused from here on, within a second, and taken
 * again once it is not.
 */
static bool table__dir_replaced(struct ldmesh_table *t)
{
	char path[LDMESH_PATH_MAX];
	struct table__msg m = { .len = 0 };
	const char *bad;
	struct stat st;
	bool found;

	/* A vanished directory is not a replacement: the last good snapshot
	 * stays in force until one appears. */
	if (table__dir_moved(t, &st, &found))
		return true;
	if (!found)
		return false;
	bad = table__trust(&st, true);
	if (bad != t->dir_bad) {
		if (bad) {
			table__why(&m, t->dir, NULL, bad, 0);
			table__event(t, LDMESH_TABLE_REFUSED, 0, m.buf);
			m.len = 0;
		} else {
			/* what was refused meanwhile is tried again */
			atomic_store(&t->seen_generation, 0);
		}
		t->dir_bad = bad;
	}
	table__put(&m, t->dir);
	table__put(&m, "/" LDMESH_CONTROL_NAME);
	memcpy(path, m.buf, m.len + 1);
	return t->sys->fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       st.st_ino != t->control_ino;
}

/* Warm the base announced ahead in slot `i` for the keys this process
 * looked up lately (ldmesh_table_note_*); how many it holds. */
static unsigned table__warm(struct ldmesh_table *t, int i)
{
	uint64_t vip[LDMESH_TABLE_USED], name[LDMESH_TABLE_USED];

	for (int k = 0; k < LDMESH_TABLE_USED; k++) {
		vip[k] = atomic_load_explicit(&t->used_vip[k], memory_order_relaxed);
		name[k] = atomic_load_explicit(&t->used_name[k], memory_order_relaxed);
	}
	return ldmesh_snap_warm(&t->slots[i].snap, vip, LDMESH_TABLE_USED, name,
				LDMESH_TABLE_USED, LDMESH_TABLE_WARM_PAGES);
}

/*
 * Map the base the agent announced ahead (snapshot.h, 3.2), if it is
 * newer than the current generation and not mapped yet: the once-a-second
 * check pays the system calls a switch to it would (open, fstat, mmap,
 * close), so the connect that meets the new generation makes none. And
 * the page faults: it reads, in the new base, the pages this process's
 * recent lookups will read there (table__warm), each check until the
 * switch, so keys noted meanwhile are warmed too. The same checks as a
 * switch; a file that fails them is not reported here (the switch to it
 * will be, if it comes), and one no longer announced is let go.
 */
static void table__premap(struct ldmesh_table *t)
{
	const struct ldmesh_control *c = atomic_load(&t->control);
	uint64_t cur = __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE);
	struct table__msg why = { .len = 0 }, warmed = { .len = 0 };
	struct ldmesh_control_record rec;
	struct table__expect ex;
	struct ldmesh_snap snap;
	struct ldmesh_file_id id;
	unsigned n;
	int i;

	if (t->dir_bad || cur == LDMESH_GENERATION_RETIRED ||
	    ldmesh_control_ahead_get(c, &rec) < 0 || rec.generation < cur) {
		table__ahead_drop(t);
		return;
	}
	/* kept until the switch (it may be current already, and this
	 * process not switched yet: that comes right after the check) */
	if (table__ahead_is(t, rec.generation, &rec.snap)) {
		table__warm(t, t->ahead_slot);
		return;
	}
	table__ahead_drop(t);
	if (rec.generation == cur)
		return;
	ex.id = rec.snap;
	ex.header = &rec.header;
	if (table__map(t, rec.generation, cur, &ex, &snap, &id, &why) != TABLE_SWITCHED)
		return;
	i = table__free_slot(t);
	if (i < 0) {
		table__unmap(t, &snap);
		return;
	}
	table__install(t, i, &snap, id, -1);
	t->slots[i].links++;
	t->ahead_slot = i;
	n = table__warm(t, i);
	table__put(&warmed, "warmed for ");
	table__put_u64(&warmed, n);
	table__put(&warmed, n == 1 ? " key this process looked up" : " keys this process looked up");
	table__event(t, LDMESH_TABLE_AHEAD, rec.generation, warmed.buf);
}

static void table__follow(struct ldmesh_table *t)
{
	if (table__open_control(t) < 0)
		return;
	table__ahead_drop(t);
	/* its generations are not the old directory's: no slot mapped so
	 * far may serve as one of its bases */
	t->dir_epoch++;
	table__event(t, LDMESH_TABLE_REPLACED, 0, t->dir);
	/* Whatever the new directory's generation, it is news. */
	atomic_store(&t->seen_generation, 0);
}

#define TABLE_GONE_TRIES 8

static void table__refresh(struct ldmesh_table *t)
{
	const struct ldmesh_control *c;
	uint64_t gen, now;

	if (atomic_flag_test_and_set(&t->refreshing))
		return;
	now = table__now_ns();
	c = atomic_load(&t->control);
	if (!c) {
		if (now < atomic_load(&t->next_retry_ns))
			goto out;
		atomic_store(&t->next_retry_ns, now + LDMESH_TABLE_RETRY_NS);
		if (table__open_control(t) < 0)
			goto out;
		atomic_store(&t->next_dir_check_ns, now + LDMESH_TABLE_DIR_CHECK_NS);
		c = atomic_load(&t->control);
	} else if (now >= atomic_load(&t->next_dir_check_ns)) {
		atomic_store(&t->next_dir_check_ns, now + LDMESH_TABLE_DIR_CHECK_NS);
		if (table__dir_replaced(t))
			table__follow(t);
		table__premap(t);
		/* what earlier switches left mapped (table__switch), and
		 * an announced base let go */
		table__reclaim(t);
	}
	table__arm(t, now);
	/* Each generation is tried once: a refused one is not re-read on
	 * every call, only when the agent publishes the next. A file gone
	 * before it could be opened means newer ones were published in the
	 * meantime (the agent keeps the previous one, removes the older):
	 * take the newest at once rather than stay on an older snapshot
	 * until the next publish. Bounded: a busy agent cannot keep a reader
	 * here. */
	for (int tries = 0; tries < TABLE_GONE_TRIES; tries++) {
		enum table_switch r;

		gen = __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE);
		if (gen == atomic_load(&t->seen_generation))
			break;
		atomic_store(&t->seen_generation, gen);
		if (gen == LDMESH_GENERATION_RETIRED) {
			/* The agent abandoned this directory: look for its
			 * successor now, and again each second until it
			 * appears. */
			if (table__dir_replaced(t))
				table__follow(t);
			break;
		}
		if (!gen)
			break;
		r = table__switch(t, gen);
		if (r == TABLE_DIR_REPLACED)
			table__follow(t);
		if (r != TABLE_GONE)
			break;
		if (tries + 1 == TABLE_GONE_TRIES)
			table__event(t, LDMESH_TABLE_REFUSED, gen,
				     "snapshot removed before it could be opened");
	}
out:
	atomic_flag_clear(&t->refreshing);
}

/* Bound on pin retries: `current` only moves on a publish, so losing the
 * race more than a few times in a row means something is badly wrong; pass
 * through rather than spin. */
#define TABLE_PIN_TRIES 16

/* Before the first snapshot is mapped there is nothing to pin, so a call
 * that finds another thread in table__refresh (holding `refreshing`, maybe
 * mapping that first snapshot right now) would pass through although the
 * table exists. Wait for that thread instead, bounded in time: this happens
 * only while no snapshot is mapped (startup, or a table that appears late). */
#define TABLE_FIRST_WAIT_NS 100000000ULL

static void table__wait_refresher(struct ldmesh_table *t)
{
	uint64_t deadline = 0;

	while (atomic_load(&t->current) < 0) {
		if (!atomic_flag_test_and_set(&t->refreshing)) {
			/* nobody is refreshing: whatever it did is done */
			atomic_flag_clear(&t->refreshing);
			return;
		}
		if (!deadline)
			deadline = table__now_ns() + TABLE_FIRST_WAIT_NS;
		else if (table__now_ns() > deadline)
			return;
		sched_yield();
	}
}

/*
 * The snapshot in use is more than one generation behind the control page
 * while another thread is mapping the newest (it holds `refreshing`, maybe
 * preempted): wait for it rather than route from a table two or more
 * publishes old. A switch takes tens of microseconds, but a refresher
 * preempted in it waits for the CPU for as long as the run queue ahead of
 * it takes: with a 3 ms slice and a few runnable tasks per core that is
 * several ms (2 ms was exceeded by 2 of 39,709 connects of
 * e2e_test_stress_connect with both cores busy). 20 ms covers that and
 * still keeps a refresher stopped for good (SIGSTOP, a debugger) from
 * holding connects up for long. Taken only while two publishes behind.
 */
#define TABLE_CATCH_UP_NS 20000000ULL

/* Out of line: rarely taken, and the connect path pays for code it runs. */
__attribute__((noinline)) static void table__catch_up(struct ldmesh_table *t,
							uint64_t want)
{
	uint64_t deadline = 0;
	int cur;

	if (want == LDMESH_GENERATION_RETIRED)
		return;
	while (atomic_flag_test_and_set(&t->refreshing)) {
		if (!deadline)
			deadline = table__now_ns() + TABLE_CATCH_UP_NS;
		else if (table__now_ns() > deadline)
			return;
		sched_yield();
	}
	/* the other thread is done; whatever is newer still, map it now */
	atomic_flag_clear(&t->refreshing);
	cur = atomic_load(&t->current);
	if (cur >= 0 && atomic_load(&t->slots[cur].generation) + 1 < want)
		table__refresh(t);
}

/* The general case of ldmesh_table_acquire: a generation to follow, a
 * check due, no snapshot yet, or a lost race to pin. Out of line, so the
 * connect path's common case saves no registers for it. */
__attribute__((noinline)) static const struct ldmesh_snap *
table__acquire_slow(struct ldmesh_table *t, int *slot)
{
	const struct ldmesh_control *c = atomic_load(&t->control);
	uint64_t gen = c ? __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE) : 0;

	if (!c || gen != atomic_load(&t->seen_generation) ||
	    ldmesh_tick() >= atomic_load(&t->next_check_tick))
		table__refresh(t);
	if (atomic_load(&t->current) < 0)
		table__wait_refresher(t);

	for (int n = 0; n < TABLE_PIN_TRIES; n++) {
		int cur = atomic_load(&t->current);
		if (cur < 0)
			return NULL;
		if (n == 0 && atomic_load_explicit(&t->slots[cur].generation,
						   memory_order_relaxed) + 1 < gen) {
			table__catch_up(t, gen);
			continue;
		}
		atomic_fetch_add(&t->slots[cur].refs, 1);
		if (atomic_load(&t->current) == cur) {
			*slot = cur;
			return &t->slots[cur].snap;
		}
		atomic_fetch_sub(&t->slots[cur].refs, 1);
	}
	return NULL;
}

const struct ldmesh_snap *ldmesh_table_acquire(struct ldmesh_table *t,
					       int *slot)
{
	const struct ldmesh_control *c = atomic_load_explicit(&t->control,
							      memory_order_acquire);
	uint64_t gen = c ? __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE) : 0;
	int cur = atomic_load(&t->current);

	/* The common case, which every connect takes: nothing to follow, no
	 * check due, and the current snapshot at most one generation behind
	 * (the refresher marks a generation seen before it maps it; one two
	 * behind is the slow path's to catch up), pinned at the first try. */
	if (__builtin_expect(c && cur >= 0 &&
			     gen == atomic_load_explicit(&t->seen_generation,
							 memory_order_relaxed) &&
			     ldmesh_tick() < atomic_load_explicit(&t->next_check_tick,
								  memory_order_relaxed) &&
			     atomic_load_explicit(&t->slots[cur].generation,
						  memory_order_relaxed) + 1 >= gen, 1)) {
		atomic_fetch_add(&t->slots[cur].refs, 1);
		if (__builtin_expect(atomic_load(&t->current) == cur, 1)) {
			*slot = cur;
			return &t->slots[cur].snap;
		}
		atomic_fetch_sub(&t->slots[cur].refs, 1);
	}
	return table__acquire_slow(t, slot);
}

uint64_t ldmesh_table_elapsed_ns(struct ldmesh_table *t, uint64_t since)
{
	uint64_t rate = atomic_load_explicit(&t->ticks_per_s, memory_order_relaxed), now = ldmesh_tick();

	if (!LDMESH_TICKS)
		return now - since;
	if (!rate) {
		/* not calibrated yet: measure the rate since init against the
		 * clock now (a slow path: a failed connect is asking) */
		uint64_t ns = table__now_ns() - t->ns0;
		if (ns < 1000000 || now <= t->tick0)
			return 0;
		rate = (uint64_t)((double)(now - t->tick0) * 1e9 / (double)ns);
	}
	if (!rate || now < since)
		return 0;
	return (uint64_t)((double)(now - since) * 1e9 / (double)rate);
}

void ldmesh_table_release(struct ldmesh_table *t, int slot)
{
	atomic_fetch_sub_explicit(&t->slots[slot].refs, 1, memory_order_release);
}

void ldmesh_table_check_now(struct ldmesh_table *t)
{
	atomic_store(&t->next_dir_check_ns, 0);
	atomic_store(&t->next_check_tick, 0);
}

const struct ldmesh_control *ldmesh_table_control(struct ldmesh_table *t)
{
	return atomic_load(&t->control);
}

void ldmesh_table_close(struct ldmesh_table *t)
{
	const struct ldmesh_control *c = atomic_load(&t->control);

	atomic_store(&t->current, -1);
	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++) {
		if (atomic_load(&t->slots[i].used))
			table__unmap(t, &t->slots[i].snap);
		atomic_store(&t->slots[i].used, false);
		atomic_store(&t->slots[i].refs, 0);
		t->slots[i].base_slot = -1;
		t->slots[i].links = 0;
	}
	t->ahead_slot = -1;
	if (c)
		t->sys->munmap((void *)c, sizeof(*c));
	atomic_store(&t->control, NULL);
	atomic_store(&t->seen_generation, 0);
	atomic_store(&t->next_retry_ns, 0);
	atomic_store(&t->next_dir_check_ns, 0);
	atomic_store(&t->next_check_tick, 0);
}

void ldmesh_table_after_fork(struct ldmesh_table *t)
{
	/* links stay: the child inherits every mapping they guard */
	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++)
		atomic_store(&t->slots[i].refs, 0);
	atomic_flag_clear(&t->refreshing);
}
