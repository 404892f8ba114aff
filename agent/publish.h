/* SPDX-License-Identifier: MIT */
/*
 * The writer side of the table directory (include/ldmesh/snapshot.h): owns
 * <table>/control and writes <table>/snap.<gen> files.
 *
 * Safety: the directory must be a real directory (never a symlink) owned by
 * the agent's user and not writable by group or others; files are created
 * O_EXCL|O_NOFOLLOW, so a link planted in the table cannot redirect a
 * write. Snapshots are mode 0444 and, where the filesystem has it,
 * FS_IMMUTABLE_FL once written (the agent lifts the flag to remove them). The control page is rewritten in place and never
 * replaced: readers map it once for their lifetime.
 */
#ifndef LDMESH_AGENT_PUBLISH_H
#define LDMESH_AGENT_PUBLISH_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ldmesh/snapshot.h"
#include "retired.h"

struct publisher {
	int dir_fd;
	int notify_fd;                  /* inotify on the directory, or -1 */
	struct ldmesh_control *control; /* mapped read-write */
	ino_t control_ino;
	uint64_t generation;            /* the last one published */
	uint64_t base_generation;       /* its base, 0 when it is one */
	uint64_t previous;              /* the one before it, 0 if none */
	uint64_t previous_base;         /* and that one's base */
	uint64_t written_base;          /* the last base this publisher wrote */
	struct stat written_base_st;    /* and its status once sealed */
	struct retired retired;         /* unlinked files still held open */
	char dir[256];
};

/* Create (mode 0755) or adopt the table directory; continue the generation
 * sequence of a control page left by an earlier agent, and remove snapshot
 * files other than its current one and that one's base (partial files of
 * a killed agent).
 * The control page is written whole before it is mapped, so a full
 * filesystem is -ENOSPC, never SIGBUS. 0 or -errno, with a reason in
 * `why`. */
int publish_open(struct publisher *p, const char *dir, char *why, size_t why_len);

/* 1 when the table directory or its control page was removed or replaced
 * since publish_open (new readers would not find this publisher's page). */
int publish_check(const struct publisher *p);

/* Abandon the old directory (its control page says RETIRED, so readers
 * look for the new one at once) and open the path afresh, continuing the
 * generation sequence. The caller republishes. 0 or -errno with `why`. */
int publish_reopen(struct publisher *p, char *why, size_t why_len);

/* Whether base `generation` is still the file this publisher wrote: the
 * same inode, size and change time. Root can lift a snapshot's immutable
 * flag and rewrite it; every delta over a damaged base would carry the
 * damage, so the agent writes a new base instead. False for a base this
 * publisher did not write, or one gone. One fstatat. */
bool publish_base_intact(const struct publisher *p, uint64_t generation);

/* The generation the next snapshot must carry. */
static inline uint64_t publish_next_generation(const struct publisher *p)
{
	return p->generation + 1;
}

/* Write `bytes` (built with publish_next_generation) as snap.<gen>, then make
 * it current. `base_generation` is the header's: 0 for a base, else the
 * base this delta is over, which must be in the directory (published by
 * this publisher, or kept by publish_open). Kept afterwards: the new
 * file, its base, the previous file (a reader may have loaded its
 * generation an instant ago) and that one's base; older files are
 * unlinked, and held open for a while (retired.h, publish_release). On
 * failure (-ENOSPC, -EIO, ...) nothing is published, the partial file is
 * removed and the previous snapshot stays in force. */
int publish_snapshot(struct publisher *p, const void *bytes, size_t size,
		     uint64_t base_generation, char *why, size_t why_len);

/*
 * The agent's own account for tools, replaced whole (write, rename):
 * <table>/status, lines "last-scan <RFC 3339 time>" and
 * "rejected <path>\t<first error>" for every file now refused. 0 or
 * -errno; nothing reads it on the data path.
 */
#define LDMESH_STATUS_NAME "status"
int publish_status(struct publisher *p, const char *text);

/* Read away the directory's pending inotify events (p->notify_fd became
 * readable); then publish_check says whether they mattered. */
void publish_drain(struct publisher *p);

/* Let go of the retired files whose hold is over (retired.h) at
 * CLOCK_MONOTONIC `now_ns`: the ms until the next is due, or -1. */
int publish_release(struct publisher *p, uint64_t now_ns);

void publish_close(struct publisher *p);

#endif
