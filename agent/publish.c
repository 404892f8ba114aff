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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
 */
static void publish__immutable(int fd, bool on)
{
	int flags;

	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
		return;
	if (!!(flags & FS_IMMUTABLE_FL) == on)
		return;
	flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
	(void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
}

/* Unlink a snapshot of ours, lifting its immutable flag first. */
static void publish__unlink(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0) {
		publish__immutable(fd, false);
		close(fd);
	}
	unlinkat(dir_fd, name, 0);
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

/* Remove every snap.N but `keep`: files a killed agent left half written,
 * and old generations no reader can still be opening. */
static void publish__sweep(struct publisher *p, uint64_t keep)
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
		if (publish__snap_name(e->d_name, &gen) && gen != keep)
			publish__unlink(p->dir_fd, e->d_name);
	closedir(d);
}

static int publish__open_dir(struct publisher *p, const char *dir, char *why,
			     size_t why_len)
{
	struct stat st;

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
	/* Pods only read: make sure whatever created the folder allowed that. */
	if ((st.st_mode & 0755) != 0755 && fchmod(p->dir_fd, 0755) < 0)
		return publish__fail(why, why_len, -errno, "chmod", dir);
	return 0;
}

int publish_open(struct publisher *p, const char *dir, char *why, size_t why_len)
{
	struct stat st;
	void *map;
	int fd, err;

	memset(p, 0, sizeof(*p));
	p->dir_fd = -1;
	if (strlen(dir) >= sizeof(p->dir)) {
		snprintf(why, why_len, "table path too long: %s", dir);
		return -ENAMETOOLONG;
	}
	strcpy(p->dir, dir);
	if ((err = publish__open_dir(p, dir, why, why_len)))
		goto fail;
	fd = openat(p->dir_fd, LDMESH_CONTROL_NAME,
		    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = publish__fail(why, why_len, -errno, "open control in", dir);
		goto fail;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    fchmod(fd, 0644) < 0 ||
	    (st.st_size < PUBLISH_CONTROL_BYTES && ftruncate(fd, PUBLISH_CONTROL_BYTES) < 0)) {
		err = publish__fail(why, why_len, errno ? -errno : -EPERM,
				    "prepare control in", dir);
		close(fd);
		goto fail;
	}
	map = mmap(NULL, PUBLISH_CONTROL_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		err = publish__fail(why, why_len, -errno, "mmap control in", dir);
		goto fail;
	}
	p->control = map;
	if (p->control->magic == LDMESH_CONTROL_MAGIC &&
	    p->control->version_major == LDMESH_SNAP_VERSION_MAJOR) {
		/* A restarted agent continues the sequence: readers only ever
		 * see the generation move forward. */
		p->generation = __atomic_load_n(&p->control->generation, __ATOMIC_ACQUIRE);
	} else {
		memset(p->control, 0, sizeof(*p->control));
		p->control->version_major = LDMESH_SNAP_VERSION_MAJOR;
		p->control->version_minor = LDMESH_SNAP_VERSION_MINOR;
		__atomic_store_n(&p->control->magic, LDMESH_CONTROL_MAGIC, __ATOMIC_RELEASE);
	}
	publish__sweep(p, p->generation);
	return 0;
fail:
	publish_close(p);
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

int publish_snapshot(struct publisher *p, const void *bytes, size_t size,
		     char *why, size_t why_len)
{
	uint64_t gen = publish_next_generation(p);
	char name[64];
	struct timespec now;
	int fd, err;

	snprintf(name, sizeof(name), LDMESH_SNAP_PREFIX "%" PRIu64, gen);
	fd = openat(p->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd < 0 && errno == EEXIST) {
		/* Left by an agent killed mid-write before it could publish. */
		publish__unlink(p->dir_fd, name);
		fd = openat(p->dir_fd, name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	}
	if (fd < 0)
		return publish__fail(why, why_len, -errno, "create", name);
	err = publish__write_all(fd, bytes, size);
	if (!err && fchmod(fd, 0444) < 0) /* whatever the umask */
		err = -errno;
	if (!err)
		publish__immutable(fd, true);
	if (close(fd) < 0 && !err)
		err = -errno;
	if (err) {
		publish__unlink(p->dir_fd, name);
		return publish__fail(why, why_len, err, "write", name);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	p->control->published_unix_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	p->control->agent_pid = (uint32_t)getpid();
	/* The release store is the publication: a reader that sees `gen`
	 * also sees the complete file behind it. */
	__atomic_store_n(&p->control->generation, gen, __ATOMIC_RELEASE);
	p->generation = gen;
	/* Keep the previous file for a reader that loaded the old generation
	 * an instant ago and is about to open it; older ones go. */
	if (gen > 1) {
		snprintf(name, sizeof(name), LDMESH_SNAP_PREFIX "%" PRIu64, gen - 2);
		publish__unlink(p->dir_fd, name);
	}
	return 0;
}

void publish_close(struct publisher *p)
{
	if (p->control)
		munmap(p->control, PUBLISH_CONTROL_BYTES);
	if (p->dir_fd >= 0)
		close(p->dir_fd);
	p->control = NULL;
	p->dir_fd = -1;
}
