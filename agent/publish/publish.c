/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "publish.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "ldmesh/reader.h"

#define PUBLISH_CONTROL_BYTES 4096 /* one page, as readers map it */

static int publish__fail(char *why, size_t len, int err, const char *what,
			 const char *path)
{
	snprintf(why, len, "%s %s: %s", what, path, strerror(-err));
	return err;
}

/*
 * A published snapshot can be neither rewritten nor truncated, not even by
 * root without first undoing this: readers map it, and a truncated mapping
 * is SIGBUS in every process on the node. Filesystems without the flag
 * (EOPNOTSUPP, ENOTTY) and agents without CAP_LINUX_IMMUTABLE (EPERM) still
 * have mode 0444 and root ownership; the flag is a second lock.
 * FS_NOATIME_FL with it: a snapshot's access time means nothing, and
 * updating it made the first process to map a new file write its inode
 * inside the connect that switched (mmap under relatime, ~1.5 us right
 * after a 91 MB base).
 */
static int publish__immutable(int fd, bool on)
{
	int flags, set;

	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
		return -errno;
	if (!!(flags & FS_IMMUTABLE_FL) == on)
		return 0;
	set = on ? flags | FS_IMMUTABLE_FL | FS_NOATIME_FL : flags & ~FS_IMMUTABLE_FL;
	if (ioctl(fd, FS_IOC_SETFLAGS, &set) == 0)
		return 0;
	if (!on)
		return -errno;
	/* a filesystem that takes the one flag and not the other */
	set = flags | FS_IMMUTABLE_FL;
	return ioctl(fd, FS_IOC_SETFLAGS, &set) < 0 ? -errno : 0;
}

/* Seal a file just written; the first failure is kept for the agent to
 * say once (publish_unsealed). */
static void publish__seal(struct publisher *p, int fd)
{
	int err = publish__immutable(fd, true);

	if (err && !p->seal_err)
		p->seal_err = err;
}

/*
 * `chattr -R +i` on the table (the README's way back after `-R -i`) seals
 * the directory too, and then no file can be created or removed in it:
 * the agent lifts that, as it owns the directory (FS_APPEND_FL likewise).
 * One ioctl; called before the agent writes into the directory.
 */
static void publish__dir_writable(int dir_fd)
{
	int flags, set;

	if (ioctl(dir_fd, FS_IOC_GETFLAGS, &flags) < 0 ||
	    !(flags & (FS_IMMUTABLE_FL | FS_APPEND_FL)))
		return;
	set = flags & ~(FS_IMMUTABLE_FL | FS_APPEND_FL);
	(void)ioctl(dir_fd, FS_IOC_SETFLAGS, &set);
}

/* Open a file of the table read-only and lift its immutable flag.
 * Returns it open (for the caller to close), or -1. */
static int publish__unseal_open(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		(void)publish__immutable(fd, false);
	return fd;
}

/* Unlink a snapshot of ours, lifting its immutable flag first. Returns
 * it still open (for the caller to close), or -1. */
static int publish__unlink_open(int dir_fd, const char *name)
{
	int fd = publish__unseal_open(dir_fd, name);

	unlinkat(dir_fd, name, 0);
	return fd;
}

static void publish__unlink(int dir_fd, const char *name)
{
	int fd = publish__unlink_open(dir_fd, name);

	if (fd >= 0)
		close(fd);
}

static bool publish__snap_name(const char *name, uint64_t *gen)
{
	char *end;

	if (strncmp(name, LDMESH_SNAP_PREFIX, strlen(LDMESH_SNAP_PREFIX)))
		return false;
	name += strlen(LDMESH_SNAP_PREFIX);
	if (*name < '0' || *name > '9')
		return false;
	errno = 0;
	*gen = strtoull(name, &end, 10);
	return !errno && !*end;
}

/* Remove every snap.N but `keep` and `keep_base`: files a killed agent
 * left half written, and old generations no reader can still be
 * opening. */
static void publish__sweep(struct publisher *p, uint64_t keep, uint64_t keep_base)
{
	int fd = openat(p->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	uint64_t gen;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)))
		if (publish__snap_name(e->d_name, &gen) && gen != keep &&
		    (!keep_base || gen != keep_base))
			publish__unlink(p->dir_fd, e->d_name);
	closedir(d);
}

/*
 * The table's parent is what pods bind-mount (the default layout:
 * /run/ldmesh kept, the table at /run/ldmesh/table). A bind mount pins the
 * directory it was made from: one removed and recreated on the host is a
 * new directory the mount never sees. So the agent recreates the table
 * below the parent but only ever creates the parent (one level, 0755),
 * never removes it, and follows no link at its last component. Nobody but
 * the agent's user (or root) may replace entries in it: owned by one of
 * them, and not writable by group or others unless sticky (as /tmp, where
 * others cannot rename or remove what they do not own).
 */
void publish_parent_of(const char *dir, char *out, size_t out_len)
{
	size_t len = strlen(dir);

	while (len > 1 && dir[len - 1] == '/')
		len--;
	while (len && dir[len - 1] != '/')
		len--;
	while (len > 1 && dir[len - 1] == '/')
		len--;
	snprintf(out, out_len, "%.*s", len ? (int)len : 1, len ? dir : ".");
}

static int publish__parent(const char *dir, char *why, size_t why_len)
{
	char parent[sizeof(((struct publisher *)0)->dir)];
	struct stat st;

	publish_parent_of(dir, parent, sizeof(parent));
	if (mkdir(parent, 0755) < 0 && errno != EEXIST)
		return publish__fail(why, why_len, -errno, "mkdir table parent", parent);
	if (lstat(parent, &st) < 0)
		return publish__fail(why, why_len, -errno, "stat table parent", parent);
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, why_len, "table parent %s is not a directory%s", parent,
			 S_ISLNK(st.st_mode) ? " (a symbolic link)" : "");
		return -ENOTDIR;
	}
	if ((st.st_uid != geteuid() && st.st_uid != 0) ||
	    ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
		snprintf(why, why_len,
			 "table parent %s must be owned by uid %u or root and writable by it alone (or sticky)",
			 parent, (unsigned)geteuid());
		return -EPERM;
	}
	return 0;
}

static int publish__open_dir(struct publisher *p, const char *dir, char *why,
			     size_t why_len)
{
	struct stat st;
	int err;

	if ((err = publish__parent(dir, why, why_len)))
		return err;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return publish__fail(why, why_len, -errno, "mkdir", dir);
	/* O_NOFOLLOW on the last component: a symlink planted at the table
	 * path would let someone else choose where the agent writes. */
	p->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (p->dir_fd < 0)
		return publish__fail(why, why_len, -errno, "open table directory", dir);
	if (fstat(p->dir_fd, &st) < 0)
		return publish__fail(why, why_len, -errno, "fstat", dir);
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(why, why_len,
			 "table directory %s must be owned by uid %u and writable by it alone",
			 dir, (unsigned)geteuid());
		return -EPERM;
	}
	publish__dir_writable(p->dir_fd);
	/* Pods only read: make sure whatever created the folder allowed that. */
	if ((st.st_mode & 0755) != 0755 && fchmod(p->dir_fd, 0755) < 0)
		return publish__fail(why, why_len, -errno, "chmod", dir);
	return 0;
}

static int publish__write_all(int fd, const uint8_t *bytes, size_t size);

/*
 * `control` is rewritten in place through the agent's mapping, so it is
 * not sealed like a snapshot; yet truncating it to nothing (an operator's
 * `> control`, a `cp` over it) is SIGBUS in every process that maps it, at
 * its next call. On tmpfs, where tables live, FS_IMMUTABLE_FL set after
 * mapping leaves the agent's mapping writable (shmem has no write-fault
 * hook to refuse it) while truncate and open for writing get EPERM. On
 * ext4 the first write fault after it is SIGBUS in the writer, so nowhere
 * but tmpfs.
 */
static void publish__seal_control(struct publisher *p, int fd)
{
	struct statfs fs;

	if (fstatfs(fd, &fs) == 0 && fs.f_type == TMPFS_MAGIC)
		publish__seal(p, fd);
}

/*
 * A `control` that is a FIFO, a device or a socket (planted, or made by
 * a mistaken mknod) is no page anyone can map: it is removed, and said in
 * `why`, so a new one is written. Never opened: opening a device may do
 * anything. A symlink is left for the open to refuse (ELOOP).
 */
static void publish__control_odd(struct publisher *p, char *why, size_t why_len)
{
	struct stat st;
	const char *what;

	if (fstatat(p->dir_fd, LDMESH_CONTROL_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    S_ISREG(st.st_mode) || S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode))
		return;
	what = S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ? "a socket"
					       : "a device";
	if (unlinkat(p->dir_fd, LDMESH_CONTROL_NAME, 0) == 0)
		snprintf(why, why_len, "%s/" LDMESH_CONTROL_NAME " was %s, not a regular file: "
			 "replaced by a new control page", p->dir, what);
}

/* Open `control` for writing (*created: this call made it); one an earlier
 * agent sealed (publish__seal_control) is unsealed first. Whose it is, the
 * caller checks on what this returns. */
static int publish__open_control(struct publisher *p, bool *created)
{
	const int flags = O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	int fd = openat(p->dir_fd, LDMESH_CONTROL_NAME, flags | O_CREAT | O_EXCL, 0644);
	int ro;

	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = openat(p->dir_fd, LDMESH_CONTROL_NAME, flags);
	if (fd >= 0 || errno != EPERM)
		return fd;
	ro = publish__unseal_open(p->dir_fd, LDMESH_CONTROL_NAME);
	if (ro < 0) {
		errno = EPERM;
		return -1;
	}
	close(ro);
	return openat(p->dir_fd, LDMESH_CONTROL_NAME, flags);
}

/*
 * The highest generation a control page may say. Far past any real
 * sequence (a publish every microsecond for 285 years), far below
 * LDMESH_GENERATION_RETIRED and the wrap to 0 that would make every reader
 * see "nothing published", and exact in a JSON number (ldmeshctl -o json).
 * A page saying more was not written by an agent: damage.
 */
#define PUBLISH_GENERATION_MAX (1ULL << 53)
/* How far past the current generation an announced base's number may be:
 * one announcement, after a number taken by each commit that failed. */
#define PUBLISH_AHEAD_SPAN 1024

static int publish__snap_open(const struct publisher *p, uint64_t gen, struct stat *st)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), LDMESH_SNAP_PREFIX "%" PRIu64, gen);
	fd = openat(p->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, st) < 0 || !S_ISREG(st->st_mode))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether an adopted page's generation is one an agent could have
 * published: bounded, and backed by its own record or by its file. */
static bool publish__plausible(const struct publisher *p, const struct ldmesh_control *c)
{
	struct ldmesh_control_record rec;
	struct stat st;
	int fd;

	if (c->generation > PUBLISH_GENERATION_MAX)
		return false;
	if (!c->generation || ldmesh_control_record_get(c, c->generation, &rec) == 0)
		return true;
	fd = publish__snap_open(p, c->generation, &st);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* The record of snap.<gen> as found on disk, when it can be current
 * again: a regular file of ours whose header names `gen`, its own size
 * and an older base that is there. */
static bool publish__found_record(const struct publisher *p, uint64_t gen,
				  struct ldmesh_control_record *rec)
{
	struct ldmesh_file_id base = { 0, 0 };
	struct ldmesh_snap_header h;
	struct stat st, bst;
	int fd = publish__snap_open(p, gen, &st), bfd;
	bool ok;

	if (fd < 0)
		return false;
	ok = st.st_uid == geteuid() && pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	     h.magic == LDMESH_SNAP_MAGIC && h.generation == gen &&
	     h.total_size == (uint64_t)st.st_size && h.base_generation < gen;
	close(fd);
	if (ok && h.base_generation) {
		bfd = publish__snap_open(p, h.base_generation, &bst);
		ok = bfd >= 0;
		if (ok) {
			base = ldmesh_file_id_of(&bst);
			close(bfd);
		}
	}
	if (ok)
		ldmesh_control_record_seal(rec, &h, ldmesh_file_id_of(&st), base);
	return ok && rec->generation == gen;
}

/*
 * A page whose generation is implausible (root wrote into it) is rebuilt
 * from the snapshots on disk into `c`: the newest one that can be current
 * is current again, with its record, so readers keep a table (they check
 * it as any other); numbering goes on past every number on disk. Said in
 * `why`.
 */
static void publish__rebuild(struct publisher *p, struct ldmesh_control *c, char *why,
			     size_t why_len)
{
	int fd = openat(p->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct ldmesh_control_record rec, best_rec;
	uint64_t said = c->generation, gen, best = 0, highest = 0;
	struct dirent *e;

	if (!d && fd >= 0)
		close(fd);
	while (d && (e = readdir(d))) {
		if (!publish__snap_name(e->d_name, &gen) || gen > PUBLISH_GENERATION_MAX)
			continue;
		if (gen > highest)
			highest = gen;
		if (gen > best && publish__found_record(p, gen, &rec)) {
			best = gen;
			best_rec = rec;
		}
	}
	if (d)
		closedir(d);
	memset(c, 0, PUBLISH_CONTROL_BYTES);
	c->magic = LDMESH_CONTROL_MAGIC;
	c->version_major = LDMESH_SNAP_VERSION_MAJOR;
	c->version_minor = LDMESH_SNAP_VERSION_MINOR;
	if (best) {
		ldmesh_control_record_put(c, &best_rec);
		c->generation = best;
	}
	p->generation = best;
	p->numbered = highest;
	snprintf(why, why_len,
		 "control page of %s said generation %" PRIu64 ", which no snapshot backs "
		 "(damaged?): rebuilt from the snapshots on disk, generation %" PRIu64 " current",
		 p->dir, said, best);
}

/*
 * The control page found in `fd` read into `c` (`size` bytes: the whole
 * page): a page of this format continues its sequence (rebuilt from the
 * snapshots on disk when it says what none backs); anything else is
 * started afresh. True when `c` is to be written back.
 */
static bool publish__control_read(struct publisher *p, int fd, struct ldmesh_control *c,
				  size_t size, char *why, size_t why_len)
{
	struct ldmesh_control_record ahead;
	ssize_t got;

	memset(c, 0, size);
	got = pread(fd, c, size, 0);
	if (got != (ssize_t)size || c->magic != LDMESH_CONTROL_MAGIC ||
	    c->version_major != LDMESH_SNAP_VERSION_MAJOR ||
	    c->generation == LDMESH_GENERATION_RETIRED) {
		memset(c, 0, size);
		c->magic = LDMESH_CONTROL_MAGIC;
		c->version_major = LDMESH_SNAP_VERSION_MAJOR;
		c->version_minor = LDMESH_SNAP_VERSION_MINOR;
		return true;
	}
	if (!publish__plausible(p, c)) {
		publish__rebuild(p, c, why, why_len);
		return true;
	}
	/* A restarted agent continues the sequence: readers only ever see
	 * the generation move forward. Past a base announced by the agent
	 * before it, too: readers may have mapped that file ahead, and this
	 * agent's file of that number is another. */
	p->generation = c->generation;
	p->numbered = p->generation;
	if (ldmesh_control_ahead_get(c, &ahead) == 0 && ahead.generation > p->numbered &&
	    ahead.generation - p->numbered <= PUBLISH_AHEAD_SPAN)
		p->numbered = ahead.generation;
	return false;
}

/*
 * Open (or create) the control page and map it. A new or unusable page is
 * written whole with write(2) before it is mapped: a store through a
 * mapping of a page the filesystem has not allocated (a new file on a full
 * tmpfs) is SIGBUS, which killed the agent and left a page without magic
 * that killed every restart. A write says ENOSPC instead.
 */
static int publish__control(struct publisher *p, char *why, size_t why_len)
{
	union {
		struct ldmesh_control c;
		uint8_t page[PUBLISH_CONTROL_BYTES];
	} buf;
	struct stat st;
	bool rewrite, created;
	void *map;
	int fd, err;

	publish__control_odd(p, why, why_len);
	fd = publish__open_control(p, &created);
	if (fd < 0)
		return publish__fail(why, why_len, -errno, "open control in", p->dir);
	if (fstat(fd, &st) < 0) {
		err = publish__fail(why, why_len, -errno, "fstat control in", p->dir);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(why, why_len, "%s/" LDMESH_CONTROL_NAME " must be a regular file owned "
			 "by uid %u", p->dir, (unsigned)geteuid());
		err = -EPERM;
		goto out;
	}
	if (fchmod(fd, 0644) < 0) {
		err = publish__fail(why, why_len, -errno, "chmod control in", p->dir);
		goto out;
	}
	rewrite = publish__control_read(p, fd, &buf.c, sizeof(buf), why, why_len);
	if (rewrite) {
		if (lseek(fd, 0, SEEK_SET) < 0 ||
		    (err = publish__write_all(fd, buf.page, sizeof(buf.page))) ||
		    ftruncate(fd, sizeof(buf.page)) < 0) {
			err = publish__fail(why, why_len, errno ? -errno : -EIO,
					    "write control in", p->dir);
			goto out;
		}
	}
	map = mmap(NULL, PUBLISH_CONTROL_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		err = publish__fail(why, why_len, -errno, "mmap control in", p->dir);
		goto out;
	}
	p->control = map;
	p->control_ino = st.st_ino;
	/* that file is swept (publish_open): readers let go of it */
	ldmesh_control_ahead_put(p->control, NULL);
	publish__seal_control(p, fd);
	p->control_fd = fd;
	fd = -1;
	err = 0;
out:
	/* Nothing half-written: a page this call created and could not
	 * write (a full filesystem) goes, or the next start would find a
	 * 0-byte control. */
	if (err && created)
		unlinkat(p->dir_fd, LDMESH_CONTROL_NAME, 0);
	if (fd >= 0)
		close(fd);
	return err;
}

/*
 * Before a store into the control page's mapping: where the page cannot
 * stay immutable under its writer (ext4 and the like, publish__seal_control),
 * an operator's `chattr +i` (`chattr -R +i` on the table) made the next
 * write fault SIGBUS in the agent. The flag is lifted first: one ioctl.
 * On tmpfs the agent set it itself and it does no harm.
 */
static void publish__control_writable(struct publisher *p)
{
	struct statfs fs;

	if (p->control_fd < 0)
		return;
	if (!p->control_fs_known) {
		p->control_on_tmpfs = fstatfs(p->control_fd, &fs) == 0 && fs.f_type == TMPFS_MAGIC;
		p->control_fs_known = true;
	}
	if (!p->control_on_tmpfs)
		(void)publish__immutable(p->control_fd, false);
}

/*
 * The base a published delta names (its header's base_generation), so a
 * restarted agent keeps that file for the readers of the current one.
 * Not trusted: the value is only a file name to spare, and only an older
 * generation is taken; 0 when there is none or the header is unreadable.
 */
static uint64_t publish__base_of(const struct publisher *p, uint64_t gen)
{
	char name[64];
	uint64_t base = 0;
	struct stat st;
	int fd;

	if (!gen)
		return 0;
	snprintf(name, sizeof(name), LDMESH_SNAP_PREFIX "%" PRIu64, gen);
	fd = openat(p->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    pread(fd, &base, sizeof(base), LDMESH_SNAP_OFF_BASE_GENERATION) != sizeof(base) ||
	    base >= gen)
		base = 0;
	close(fd);
	return base;
}

/* The ids the current generation's record names, for publish_verify; an
 * adopted generation without a record is not checked. */
static void publish__adopt_ids(struct publisher *p)
{
	struct ldmesh_control_record rec;

	if (p->generation && p->control->generation == p->generation &&
	    ldmesh_control_record_get(p->control, p->generation, &rec) == 0 &&
	    rec.header.base_generation == p->base_generation) {
		p->current_id = rec.snap;
		p->current_base_id = rec.base;
	}
}

/* snap.<gen> is the file `id` names: "" or what differs, in `why`. */
static bool publish__is_file(const struct publisher *p, uint64_t gen,
			     const struct ldmesh_file_id *id, char *why, size_t why_len)
{
	struct ldmesh_file_id now;
	struct stat st;
	char name[64];

	snprintf(name, sizeof(name), LDMESH_SNAP_PREFIX "%" PRIu64, gen);
	if (fstatat(p->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(why, why_len, "%s/%s: %s", p->dir, name, strerror(errno));
		return false;
	}
	now = ldmesh_file_id_of(&st);
	if (now.ino != id->ino) {
		snprintf(why, why_len, "%s/%s was replaced by another file", p->dir, name);
		return false;
	}
	if (now.ctime_ns != id->ctime_ns) {
		snprintf(why, why_len,
			 "%s/%s changed since it was published (its inode change time "
			 "moved: chattr, chmod or a rewrite), so new processes refuse it",
			 p->dir, name);
		return false;
	}
	return true;
}

int publish_dir_trusted(const struct publisher *p, char *why, size_t why_len)
{
	struct stat st;

	if (p->dir_fd < 0 || fstat(p->dir_fd, &st) < 0)
		return 0; /* gone: publish_check's business */
	if (st.st_uid == geteuid() && !(st.st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	snprintf(why, why_len, "table directory %s is %s (mode %04o, uid %u): new processes "
		 "refuse it, and the agent publishes nothing into it until it is owned by "
		 "uid %u and writable by it alone", p->dir,
		 st.st_uid != geteuid() ? "someone else's" : "writable by others",
		 (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)geteuid());
	return -EPERM;
}

const char *publish_unsealed(const struct publisher *p, char *buf, size_t len)
{
	if (!p->seal_err)
		return "";
	if (p->seal_err == -EPERM)
		snprintf(buf, len, "files in %s are published without FS_IMMUTABLE_FL: the agent "
			 "lacks CAP_LINUX_IMMUTABLE, so only mode 0444 and ownership keep them "
			 "from being rewritten under readers", p->dir);
	else
		snprintf(buf, len, "files in %s are published without FS_IMMUTABLE_FL (%s: the "
			 "filesystem has no such flag?), so only mode 0444 and ownership keep "
			 "them from being rewritten under readers", p->dir, strerror(-p->seal_err));
	return buf;
}

int publish_verify(const struct publisher *p, char *why, size_t why_len)
{
	uint64_t said;

	if (!p->control || !p->generation)
		return 0;
	said = __atomic_load_n(&p->control->generation, __ATOMIC_ACQUIRE);
	/* (a page written afresh by publish_reopen says 0 until the next
	 * publish, and nothing with a record was published into it yet) */
	if (said != p->generation && (said || p->current_id.ino)) {
		snprintf(why, why_len, "control page of %s says generation %" PRIu64
			 ", not %" PRIu64 " as published (written by someone else?)",
			 p->dir, said, p->generation);
		return -ESTALE;
	}
	if (p->current_id.ino &&
	    !publish__is_file(p, p->generation, &p->current_id, why, why_len))
		return -ESTALE;
	if (p->current_base_id.ino && p->base_generation &&
	    !publish__is_file(p, p->base_generation, &p->current_base_id, why, why_len))
		return -ESTALE;
	return 0;
}

int publish_open(struct publisher *p, const char *dir, char *why, size_t why_len)
{
	int err;

	memset(p, 0, sizeof(*p));
	p->dir_fd = -1;
	p->notify_fd = -1;
	p->control_fd = -1;
	if (why_len)
		why[0] = 0;
	if (strlen(dir) >= sizeof(p->dir)) {
		snprintf(why, why_len, "table path too long: %s", dir);
		return -ENAMETOOLONG;
	}
	strcpy(p->dir, dir);
	if ((err = publish__open_dir(p, dir, why, why_len)) ||
	    (err = publish__control(p, why, why_len)))
		goto fail;
	/* Told at once when someone removes the directory or a file in it
	 * (publish_check then says whether it was the table's own). Without
	 * inotify the next publish still finds out. */
	p->notify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (p->notify_fd >= 0 &&
	    inotify_add_watch(p->notify_fd, dir, IN_DELETE_SELF | IN_MOVE_SELF |
						 IN_DELETE | IN_MOVED_FROM |
						 IN_DONT_FOLLOW) < 0) {
		close(p->notify_fd);
		p->notify_fd = -1;
	}
	p->base_generation = publish__base_of(p, p->generation);
	publish__sweep(p, p->generation, p->base_generation);
	publish__adopt_ids(p);
	publish_heartbeat(p);
	return 0;
fail:
	publish_close(p);
	return err;
}

int publish_check(const struct publisher *p)
{
	struct stat here, ours, ctl;

	if (p->dir_fd < 0 || fstat(p->dir_fd, &ours) < 0)
		return 1;
	/* removed (or renamed away) under us, or replaced by another */
	if (fstatat(AT_FDCWD, p->dir, &here, AT_SYMLINK_NOFOLLOW) < 0 ||
	    here.st_dev != ours.st_dev || here.st_ino != ours.st_ino)
		return 1;
	/* the control page removed or replaced: new readers cannot find ours */
	if (fstatat(p->dir_fd, LDMESH_CONTROL_NAME, &ctl, AT_SYMLINK_NOFOLLOW) < 0 ||
	    ctl.st_ino != p->control_ino)
		return 1;
	return 0;
}

int publish_reopen(struct publisher *p, char *why, size_t why_len)
{
	char dir[sizeof(p->dir)];
	uint64_t generation = p->generation, numbered = p->numbered;
	int err;

	/* Readers still following the old page learn at once that it is
	 * abandoned (they look for the directory's successor). */
	if (p->control) {
		publish__control_writable(p);
		__atomic_store_n(&p->control->generation, LDMESH_GENERATION_RETIRED,
				 __ATOMIC_RELEASE);
	}
	memcpy(dir, p->dir, sizeof(dir));
	publish_close(p);
	err = publish_open(p, dir, why, why_len);
	/* The new page says 0 (nothing yet); the next publish continues
	 * the sequence, so tools never see a generation go back. */
	if (!err && p->generation < generation)
		p->generation = generation;
	if (!err && p->numbered < numbered)
		p->numbered = numbered;
	return err;
}

static int publish__write_all(int fd, const uint8_t *bytes, size_t size)
{
	while (size) {
		ssize_t n = write(fd, bytes, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		bytes += n;
		size -= (size_t)n;
	}
	return 0;
}

static uint64_t publish__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void publish_heartbeat(struct publisher *p)
{
	if (!p->control)
		return;
	publish__control_writable(p);
	__atomic_store_n(&p->control->heartbeat_pid, (uint32_t)getpid(), __ATOMIC_RELAXED);
	__atomic_store_n(&p->control->heartbeat_mono_ns, publish__now_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&p->control->flags, p->control_flags, __ATOMIC_RELAXED);
}

/* Unlink snap.<gen> unless it is one of those kept (publish.h), and
 * hold it open for the readers that still map it (retired.h). */
static void publish__retire(struct publisher *p, uint64_t gen)
{
	char name[64];
	struct stat st;
	int fd;

	if (!gen || gen == p->generation || gen == p->base_generation ||
	    gen == p->previous || gen == p->previous_base || gen == p->ahead)
		return;
	snprintf(name, sizeof(name), LDMESH_SNAP_PREFIX "%" PRIu64, gen);
	fd = publish__unlink_open(p->dir_fd, name);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	retired_hold(&p->retired, fd, (uint64_t)st.st_size,
		     2 * (uint64_t)p->written_base_st.st_size, publish__now_ns());
}

int publish_release(struct publisher *p, uint64_t now_ns)
{
	return retired_release(&p->retired, now_ns);
}

/* The control page's record of snap.<gen>, sealed (snapshot.h): what lets
 * a reader switch to it without checking the directory or reading its
 * header. False when there can be none (no header; its base's inode
 * unknown): readers then check the directory and read the header. */
static bool publish__record(struct publisher *p, uint64_t gen, const void *bytes,
			    size_t size, const struct stat *snap_st, uint64_t base_generation,
			    struct ldmesh_control_record *rec)
{
	struct ldmesh_file_id base = { 0, 0 };
	char name[64];
	struct stat st;

	if (size < LDMESH_SNAP_HEADER_SIZE)
		return false;
	if (base_generation && base_generation == p->written_base) {
		base = ldmesh_file_id_of(&p->written_base_st);
	} else if (base_generation) {
		/* a base kept from before a restart */
		snprintf(name, sizeof(name), LDMESH_SNAP_PREFIX "%" PRIu64, base_generation);
		if (fstatat(p->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return false;
		base = ldmesh_file_id_of(&st);
	}
	ldmesh_control_record_seal(rec, bytes, ldmesh_file_id_of(snap_st), base);
	/* a header of another generation would overwrite a live record */
	return rec->generation == gen;
}

/* Write `bytes` as snap.<gen>, sealed: 0 with its status in *st, or
 * -errno with `why` and nothing left behind. */
static int publish__write_snap(struct publisher *p, uint64_t gen, const void *bytes,
			       size_t size, uint64_t base_generation, struct stat *st,
			       char *why, size_t why_len)
{
	char name[64];
	int fd, err;

	snprintf(name, sizeof(name), LDMESH_SNAP_PREFIX "%" PRIu64, gen);
	publish__dir_writable(p->dir_fd);
	fd = openat(p->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd < 0 && errno == EEXIST) {
		/* Left by an agent killed mid-write before it could publish. */
		publish__unlink(p->dir_fd, name);
		fd = openat(p->dir_fd, name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	}
	if (fd < 0) {
		err = -errno;
		/* the directory was removed under us: say so, the caller
		 * recreates it (publish_check) */
		if (err == -ENOENT)
			return publish__fail(why, why_len, err, "create", p->dir);
		return publish__fail(why, why_len, err, "create", name);
	}
	err = publish__write_all(fd, bytes, size);
	if (!err && fchmod(fd, 0444) < 0) /* whatever the umask */
		err = -errno;
	if (!err)
		publish__seal(p, fd);
	if (!err && fstat(fd, st) < 0)
		err = -errno;
	/* how the base is sealed: publish_base_intact compares with it */
	if (!err && !base_generation) {
		p->written_base_st = *st;
		p->written_base = gen;
	}
	if (close(fd) < 0 && !err)
		err = -errno;
	if (err) {
		publish__unlink(p->dir_fd, name);
		return publish__fail(why, why_len, err, "write", name);
	}
	p->numbered = gen;
	return 0;
}

/* Make the written snap.<gen> current, with its record `rec` if any. */
static void publish__make_current(struct publisher *p, uint64_t gen, uint64_t base_generation,
				  const struct ldmesh_control_record *rec)
{
	uint64_t retired[3] = { p->previous, p->previous_base, p->ahead };
	struct timespec now;

	publish__control_writable(p);
	if (rec)
		ldmesh_control_record_put(p->control, rec);
	/* what publish_verify holds the files to: no record, nothing */
	p->current_id = rec ? rec->snap : (struct ldmesh_file_id){ 0, 0 };
	p->current_base_id = rec ? rec->base : (struct ldmesh_file_id){ 0, 0 };
	clock_gettime(CLOCK_REALTIME, &now);
	p->control->published_unix_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	p->control->agent_pid = (uint32_t)getpid();
	/* The release store is the publication: a reader that sees `gen`
	 * also sees the complete file behind it, and its record. */
	__atomic_store_n(&p->control->generation, gen, __ATOMIC_RELEASE);
	/* Keep the previous file for a reader that loaded the old generation
	 * an instant ago and is about to open it, and each one's base, which
	 * its readers map with it; the ones kept until now may go, and so
	 * may a base announced ahead that this one is not over (it became
	 * current, is this one's base, or was passed over). */
	p->previous = p->generation;
	p->previous_base = p->base_generation;
	p->generation = gen;
	p->base_generation = base_generation;
	p->ahead = 0;
	for (size_t i = 0; i < sizeof(retired) / sizeof(retired[0]); i++)
		publish__retire(p, retired[i]);
}

int publish_snapshot(struct publisher *p, const void *bytes, size_t size,
		     uint64_t base_generation, char *why, size_t why_len)
{
	uint64_t gen = publish_next_generation(p);
	struct ldmesh_control_record rec;
	struct stat st;
	int err = publish__write_snap(p, gen, bytes, size, base_generation, &st, why, why_len);

	if (err)
		return err;
	publish__make_current(p, gen, base_generation,
			      publish__record(p, gen, bytes, size, &st, base_generation, &rec) ?
				      &rec : NULL);
	return 0;
}

int publish_ahead(struct publisher *p, const void *bytes, size_t size, uint64_t now_ns,
		  char *why, size_t why_len)
{
	uint64_t gen = publish_next_generation(p), passed = p->ahead;
	struct stat st;
	int err = publish__write_snap(p, gen, bytes, size, 0, &st, why, why_len);

	if (err)
		return err;
	if (!publish__record(p, gen, bytes, size, &st, 0, &p->ahead_record)) {
		/* nothing to announce it by: make it current now */
		publish__make_current(p, gen, 0, NULL);
		return 0;
	}
	publish__control_writable(p);
	ldmesh_control_ahead_put(p->control, &p->ahead_record);
	p->ahead = gen;
	p->ahead_due_ns = now_ns + LDMESH_AHEAD_LEAD_NS;
	publish__retire(p, passed);
	return 0;
}

int publish_ahead_wait_ms(const struct publisher *p, uint64_t now_ns)
{
	if (!p->ahead)
		return -1;
	return now_ns >= p->ahead_due_ns ? 0 : (int)((p->ahead_due_ns - now_ns) / 1000000ULL) + 1;
}

int publish_ahead_commit(struct publisher *p, char *why, size_t why_len)
{
	uint64_t gen = p->ahead;

	if (!gen)
		return 0;
	if (!publish_base_intact(p, gen)) {
		/* Changed since it was written (root lifted its flag): the
		 * current generation says the same and stays in force. */
		snprintf(why, why_len,
			 "%s/" LDMESH_SNAP_PREFIX "%" PRIu64 " changed or went since it was "
			 "written; generation %" PRIu64 " stays in force",
			 p->dir, gen, p->generation);
		p->ahead = 0;
		publish__control_writable(p);
		ldmesh_control_ahead_put(p->control, NULL);
		publish__retire(p, gen);
		return -ESTALE;
	}
	publish__make_current(p, gen, 0, &p->ahead_record);
	return 0;
}

bool publish_base_intact(const struct publisher *p, uint64_t generation)
{
	char name[64];
	struct stat st;
	const struct stat *w = &p->written_base_st;

	snprintf(name, sizeof(name), LDMESH_SNAP_PREFIX "%" PRIu64, generation);
	return generation && generation == p->written_base &&
	       fstatat(p->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       st.st_dev == w->st_dev && st.st_ino == w->st_ino && st.st_size == w->st_size &&
	       st.st_ctim.tv_sec == w->st_ctim.tv_sec && st.st_ctim.tv_nsec == w->st_ctim.tv_nsec;
}

int publish_adopt_base(struct publisher *p, struct stat *st_out)
{
	const struct ldmesh_file_id *id;
	char name[64], why[256];
	struct stat st;

	uint64_t base = p->base_generation ? p->base_generation : p->generation;

	if (!base)
		return -EINVAL;
	snprintf(name, sizeof(name), LDMESH_SNAP_PREFIX "%" PRIu64, base);
	if (fstatat(p->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* the file the control page's record names, when it names one */
	id = p->base_generation ? &p->current_base_id : &p->current_id;
	if (id->ino && !publish__is_file(p, base, id, why, sizeof(why)))
		return -ESTALE;
	p->written_base = base;
	p->written_base_st = st;
	if (st_out)
		*st_out = st;
	return 0;
}

void publish_close(struct publisher *p)
{
	retired_close_all(&p->retired);
	if (p->control)
		munmap(p->control, PUBLISH_CONTROL_BYTES);
	if (p->dir_fd >= 0)
		close(p->dir_fd);
	if (p->notify_fd >= 0)
		close(p->notify_fd);
	if (p->control_fd >= 0)
		close(p->control_fd);
	p->control = NULL;
	p->dir_fd = -1;
	p->notify_fd = -1;
	p->control_fd = -1;
}

int publish_status(struct publisher *p, const char *text)
{
	static const char tmp[] = "." LDMESH_STATUS_NAME ".tmp";
	size_t len = strlen(text);
	int fd, err;

	if (p->dir_fd < 0)
		return -EBADF;
	/* `chattr -R +i` on the table seals these too: lifted, as for the
	 * files the agent removes, or no status would be written again */
	publish__dir_writable(p->dir_fd);
	publish__unlink(p->dir_fd, tmp);
	fd = openat(p->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = publish__write_all(fd, (const uint8_t *)text, len);
	/* The agent's alone, unlike the table: its errors quote manifest
	 * lines, and pods have no need of it (ldmeshctl run as the agent's
	 * user reads it). */
	if (!err && fchmod(fd, 0600) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && renameat(p->dir_fd, tmp, p->dir_fd, LDMESH_STATUS_NAME) < 0) {
		err = -errno;
		if (err == -EPERM) { /* an immutable status is not replaced */
			int old = publish__unseal_open(p->dir_fd, LDMESH_STATUS_NAME);

			if (old >= 0)
				close(old);
			err = renameat(p->dir_fd, tmp, p->dir_fd, LDMESH_STATUS_NAME) < 0 ? -errno : 0;
		}
	}
	if (err)
		unlinkat(p->dir_fd, tmp, 0);
	return err;
}

void publish_drain(struct publisher *p)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (p->notify_fd >= 0 && read(p->notify_fd, buf, sizeof(buf)) > 0)
		;
}
