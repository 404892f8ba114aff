/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "table_lock.h"
#include "publish.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "<table without trailing slashes>.lock", beside the table in its parent. */
static int table_lock__path(const char *table, char *lock, size_t lock_len)
{
	size_t len = strlen(table);

	while (len > 1 && table[len - 1] == '/')
		len--;
	return (size_t)snprintf(lock, lock_len, "%.*s.lock", (int)len, table) >= lock_len
		       ? -ENAMETOOLONG : 0;
}

int table_lock_take(const char *table, char *why, size_t why_len)
{
	char lock[PATH_MAX], parent[PATH_MAX];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat st;
	int fd, err;

	if ((err = table_lock__path(table, lock, sizeof(lock)))) {
		snprintf(why, why_len, "table path too long: %s", table);
		return err;
	}
	publish_parent_of(table, parent, sizeof(parent));
	/* the parent's ownership and mode are checked when the table is
	 * opened, right after; an untrusted one stops the agent there */
	if (mkdir(parent, 0755) < 0 && errno != EEXIST) {
		err = -errno;
		snprintf(why, why_len, "mkdir table parent %s: %s", parent, strerror(errno));
		return err;
	}
	fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0) {
		err = -errno;
		snprintf(why, why_len, "open %s: %s", lock, strerror(errno));
		return err;
	}
	/* a file someone else planted is not ours to lock (or to let them
	 * hold open against us) */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(why, why_len, "%s: not a regular file owned by uid %u", lock,
			 (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	if (fcntl(fd, F_SETLK, &fl) == 0)
		return fd;
	err = errno == EACCES || errno == EAGAIN ? -EBUSY : -errno;
	if (err == -EBUSY && fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		snprintf(why, why_len, "another ldmesh-agent (pid %ld) publishes %s: two agents "
			 "on one table would undo each other's generations; stop it first "
			 "(it holds %s)", (long)fl.l_pid, table, lock);
	else
		snprintf(why, why_len, "lock %s: %s", lock, strerror(-err));
	close(fd);
	return err;
}
