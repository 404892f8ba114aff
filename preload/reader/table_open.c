/* SPDX-License-Identifier: MIT */
/*
 * Opening what the table is made of, each checked before use: the
 * directory (trusted: root's or the process's, writable by no one else),
 * its control page, the snapshot files; and the once-a-second look at
 * whether the path names another directory now.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "table_priv.h"

/* Whether status `st` may be trusted by this process. The euid is asked
 * for only when root does not own the file: it is a system call, and a
 * process may change its euid, so it is not cached. */
const char *table__trust(const struct stat *st, bool want_dir)
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
int table__open_file(struct ldmesh_table *t, int dirfd, const char *name,
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
int table__open_control(struct ldmesh_table *t)
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

/* Whether the table path names another directory than the one followed;
 * its status in *st when it names one. */
bool table__dir_moved(struct ldmesh_table *t, struct stat *st, bool *found)
{
	*found = t->sys->fstatat(AT_FDCWD, t->dir, st, AT_SYMLINK_NOFOLLOW) == 0;
	return *found && (st->st_dev != t->dir_dev || st->st_ino != t->dir_ino);
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
bool table__dir_replaced(struct ldmesh_table *t)
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
