/* SPDX-License-Identifier: MIT */
/*
 * The live table: follows the agent's generation counter and keeps a
 * validated mapping of the current snapshot.
 *
 * Read side (every connect): one acquire load of the generation, then pin
 * the current slot with a reference count and re-check that it is still
 * current. Refresh side: one thread at a time (an atomic flag, never
 * waited on: a thread that loses the race keeps using the current snapshot)
 * maps the new file into a free slot, makes it current, and unmaps slots
 * nobody is inside. Only async-signal-safe calls: open, fstat, mmap, munmap,
 * close, clock_gettime; messages are formatted by hand.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ldmesh/reader.h"

/* A bounded message builder: snprintf is not async-signal-safe. */
struct table__msg {
	char buf[192];
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

static void table__put_errno(struct table__msg *m, const char *what, int err)
{
	/* strerrordesc_np, unlike strerror, never translates (no locale
	 * lookup, no allocation). */
	const char *desc = strerrordesc_np(err);

	table__put(m, what);
	table__put(m, ": ");
	table__put(m, desc ? desc : "unknown error");
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

static int table__path(const struct ldmesh_table *t, char *out, size_t cap,
		       const char *name, uint64_t gen, bool with_gen)
{
	struct table__msg m = { .len = 0 };

	table__put(&m, t->dir);
	table__put(&m, "/");
	table__put(&m, name);
	if (with_gen)
		table__put_u64(&m, gen);
	if (m.len + 1 >= sizeof(m.buf) || m.len + 1 > cap)
		return -ENAMETOOLONG;
	memcpy(out, m.buf, m.len + 1);
	return 0;
}

int ldmesh_table_init(struct ldmesh_table *t, const char *dir,
		      ldmesh_table_event_fn on_event, void *event_ctx)
{
	size_t len = strlen(dir);

	/* Room for "/snap." and 20 digits after the directory. */
	if (len + 32 >= sizeof(t->dir))
		return -ENAMETOOLONG;
	memset(t, 0, sizeof(*t));
	memcpy(t->dir, dir, len + 1);
	atomic_init(&t->control, NULL);
	atomic_init(&t->current, -1);
	atomic_init(&t->seen_generation, 0);
	atomic_init(&t->next_retry_ns, 0);
	atomic_flag_clear(&t->refreshing);
	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++) {
		atomic_init(&t->slots[i].refs, 0);
		atomic_init(&t->slots[i].used, false);
	}
	t->on_event = on_event;
	t->event_ctx = event_ctx;
	return 0;
}

/* Map the control page; called with `refreshing` held. */
static void table__open_control(struct ldmesh_table *t)
{
	char path[LDMESH_PATH_MAX];
	struct table__msg why = { .len = 0 };
	const struct ldmesh_control *c;
	struct stat st;
	int fd;

	table__path(t, path, sizeof(path), LDMESH_CONTROL_NAME, 0, false);
	/* O_NONBLOCK: a FIFO planted here must not hang the host process's
	 * connect() in open(); the S_ISREG check then refuses it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		table__put_errno(&why, path, errno);
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		table__put_errno(&why, path, errno);
		close(fd);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		table__put(&why, path);
		table__put(&why, ": not a regular file");
		close(fd);
		goto fail;
	}
	if (st.st_size < (off_t)sizeof(*c)) {
		table__put(&why, path);
		table__put(&why, ": too short for a control page");
		close(fd);
		goto fail;
	}
	c = mmap(NULL, sizeof(*c), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (c == MAP_FAILED) {
		table__put_errno(&why, "mmap control", errno);
		goto fail;
	}
	if (c->magic != LDMESH_CONTROL_MAGIC ||
	    c->version_major != LDMESH_SNAP_VERSION_MAJOR) {
		table__put(&why, path);
		table__put(&why, ": not a control page of format version ");
		table__put_u64(&why, LDMESH_SNAP_VERSION_MAJOR);
		munmap((void *)c, sizeof(*c));
		goto fail;
	}
	atomic_store(&t->control, c);
	return;
fail:
	table__event(t, LDMESH_TABLE_MISSING, 0, why.buf);
}

/* Unmap every non-current slot nobody is inside. The seq_cst pair (the
 * current store before, the refs load here; a reader's refs increment then
 * its current load) guarantees a reader that still uses a slot is seen. */
static void table__reclaim(struct ldmesh_table *t)
{
	int cur = atomic_load(&t->current);

	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++) {
		struct ldmesh_table_slot *slot = &t->slots[i];
		if (i == cur || !atomic_load(&slot->used) || atomic_load(&slot->refs))
			continue;
		munmap((void *)slot->snap.base, slot->snap.size);
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

/* Map and switch to generation `gen`; called with `refreshing` held. */
static void table__switch(struct ldmesh_table *t, uint64_t gen)
{
	char path[LDMESH_PATH_MAX], verdict[160];
	struct table__msg why = { .len = 0 };
	struct ldmesh_snap snap;
	struct stat st;
	void *base;
	int fd, idx;

	if (table__path(t, path, sizeof(path), LDMESH_SNAP_PREFIX, gen, true) < 0)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		table__put_errno(&why, path, errno);
		goto refuse;
	}
	if (fstat(fd, &st) < 0) {
		table__put_errno(&why, path, errno);
		close(fd);
		goto refuse;
	}
	if (!S_ISREG(st.st_mode)) {
		table__put(&why, path);
		table__put(&why, ": not a regular file");
		close(fd);
		goto refuse;
	}
	if (st.st_size <= 0) {
		table__put(&why, path);
		table__put(&why, ": empty");
		close(fd);
		goto refuse;
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED) {
		table__put_errno(&why, "mmap snapshot", errno);
		goto refuse;
	}
	if (ldmesh_snap_init(&snap, base, (size_t)st.st_size, verdict,
			     sizeof(verdict)) < 0) {
		table__put(&why, verdict);
		goto unmap;
	}
	if (snap.generation != gen) {
		table__put(&why, "generation in file differs from its name");
		goto unmap;
	}
	idx = table__free_slot(t);
	if (idx < 0) {
		/* Every slot pinned by a slow reader: keep the current
		 * snapshot and come back on a later call. */
		munmap(base, (size_t)st.st_size);
		atomic_store(&t->seen_generation, 0);
		return;
	}
	t->slots[idx].snap = snap;
	atomic_store(&t->slots[idx].used, true);
	atomic_store(&t->current, idx);
	table__reclaim(t);
	table__event(t, LDMESH_TABLE_SWITCHED, gen, "");
	return;
unmap:
	munmap(base, (size_t)st.st_size);
refuse:
	table__event(t, LDMESH_TABLE_REFUSED, gen, why.buf);
}

static void table__refresh(struct ldmesh_table *t)
{
	const struct ldmesh_control *c;
	uint64_t gen;

	if (atomic_flag_test_and_set(&t->refreshing))
		return;
	c = atomic_load(&t->control);
	if (!c) {
		uint64_t now = table__now_ns();
		if (now < atomic_load(&t->next_retry_ns))
			goto out;
		atomic_store(&t->next_retry_ns, now + LDMESH_TABLE_RETRY_NS);
		table__open_control(t);
		c = atomic_load(&t->control);
		if (!c)
			goto out;
	}
	gen = __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE);
	/* Each generation is tried once: a refused one is not re-read on
	 * every call, only when the agent publishes the next. */
	if (gen != atomic_load(&t->seen_generation)) {
		atomic_store(&t->seen_generation, gen);
		if (gen)
			table__switch(t, gen);
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

const struct ldmesh_snap *ldmesh_table_acquire(struct ldmesh_table *t,
					       int *slot)
{
	const struct ldmesh_control *c = atomic_load_explicit(&t->control,
							      memory_order_acquire);

	if (!c || __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE) !=
			  atomic_load_explicit(&t->seen_generation,
					       memory_order_relaxed))
		table__refresh(t);
	if (atomic_load(&t->current) < 0)
		table__wait_refresher(t);

	for (int n = 0; n < TABLE_PIN_TRIES; n++) {
		int cur = atomic_load(&t->current);
		if (cur < 0)
			return NULL;
		atomic_fetch_add(&t->slots[cur].refs, 1);
		if (atomic_load(&t->current) == cur) {
			*slot = cur;
			return &t->slots[cur].snap;
		}
		atomic_fetch_sub(&t->slots[cur].refs, 1);
	}
	return NULL;
}

void ldmesh_table_release(struct ldmesh_table *t, int slot)
{
	atomic_fetch_sub_explicit(&t->slots[slot].refs, 1, memory_order_release);
}

void ldmesh_table_close(struct ldmesh_table *t)
{
	const struct ldmesh_control *c = atomic_load(&t->control);

	atomic_store(&t->current, -1);
	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++) {
		if (atomic_load(&t->slots[i].used))
			munmap((void *)t->slots[i].snap.base, t->slots[i].snap.size);
		atomic_store(&t->slots[i].used, false);
		atomic_store(&t->slots[i].refs, 0);
	}
	if (c)
		munmap((void *)c, sizeof(*c));
	atomic_store(&t->control, NULL);
	atomic_store(&t->seen_generation, 0);
	atomic_store(&t->next_retry_ns, 0);
}

void ldmesh_table_after_fork(struct ldmesh_table *t)
{
	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++)
		atomic_store(&t->slots[i].refs, 0);
	atomic_flag_clear(&t->refreshing);
}

int ldmesh_snap_map_file(struct ldmesh_snap *s, const char *path, char *why,
			 size_t why_len)
{
	struct stat st;
	void *base;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		snprintf(why, why_len, "%s: %s", path, strerror(-err));
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(why, why_len, "%s: not a regular file", path);
		return -EINVAL;
	}
	if (st.st_size <= 0) {
		close(fd);
		snprintf(why, why_len, "%s: empty", path);
		return -EINVAL;
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	err = base == MAP_FAILED ? -errno : 0;
	close(fd);
	if (err) {
		snprintf(why, why_len, "mmap %s: %s", path, strerror(-err));
		return err;
	}
	err = ldmesh_snap_init(s, base, (size_t)st.st_size, why, why_len);
	if (err)
		munmap(base, (size_t)st.st_size);
	return err;
}

void ldmesh_snap_unmap(struct ldmesh_snap *s)
{
	if (s->base)
		munmap((void *)s->base, s->size);
	s->base = NULL;
}
