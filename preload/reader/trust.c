/* SPDX-License-Identifier: MIT */
/*
 * Who may steer a reader. A table decides where every connect on the node
 * goes, so a reader follows one only if nobody but root or the reader's
 * own user could have written it: owned by uid 0 or the effective uid,
 * and writable by neither group nor others. World-writable parents like
 * /dev/shm are why this is checked on the table itself: anyone can create
 * a directory there first.
 */
#include "ldmesh/reader.h"

const char *ldmesh_trust_check(const struct stat *st, bool want_dir, uid_t euid)
{
	if (want_dir && !S_ISDIR(st->st_mode))
		return "not a directory";
	if (!want_dir && !S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_uid != 0 && st->st_uid != euid)
		return "owned by another user (not root, not this process's uid)";
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return "writable by group or others";
	return NULL;
}
