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
	int control_fd;                 /* open on it, for its flags */
	uint32_t control_flags;         /* LDMESH_CONTROL_F_*, stored with
	                                   each heartbeat */
	bool control_fs_known;          /* control_on_tmpfs is known */
	bool control_on_tmpfs;
	ino_t control_ino;
	uint64_t generation;            /* the last one published */
	uint64_t base_generation;       /* its base, 0 when it is one */
	uint64_t previous;              /* the one before it, 0 if none */
	uint64_t previous_base;         /* and that one's base */
	uint64_t numbered;              /* the last generation number taken
	                                   (published or announced ahead) */
	uint64_t ahead;                 /* a base announced ahead, not current
	                                   yet (publish_ahead), or 0 */
	uint64_t ahead_due_ns;          /* when it is to become current */
	struct ldmesh_control_record ahead_record;
	uint64_t written_base;          /* the last base this publisher wrote */
	struct stat written_base_st;    /* and its status once sealed */
	struct retired retired;         /* unlinked files still held open */
	struct ldmesh_file_id current_id;      /* snap.<generation> as its record
	                                          names it; ino 0: no record */
	struct ldmesh_file_id current_base_id; /* and its base; ino 0: none */
	int seal_err;                   /* the first FS_IMMUTABLE_FL that
	                                   could not be set (-errno), or 0 */
	char dir[256];
};

/* The parent of table directory `dir` ("." for a bare name), which pods
 * mount and the agent keeps. */
void publish_parent_of(const char *dir, char *out, size_t out_len);

/* Create (mode 0755) or adopt the table directory; continue the generation
 * sequence of a control page left by an earlier agent (past a base it
 * announced ahead, whose announcement is withdrawn), and remove snapshot
 * files other than its current one and that one's base (partial files of
 * a killed agent, an announced base).
 * The control page is written whole before it is mapped, so a full
 * filesystem is -ENOSPC, never SIGBUS. A page whose generation no agent
 * could have published (past 2^53, or backed by neither its record nor
 * its file: root wrote into it) is rebuilt from the snapshots on disk
 * rather than continued towards the wrap. 0 or -errno, with a reason in
 * `why`; on success `why` is empty, or says what was repaired (to log). */
int publish_open(struct publisher *p, const char *dir, char *why, size_t why_len);

/* 1 when the table directory or its control page was removed or replaced
 * since publish_open (new readers would not find this publisher's page). */
int publish_check(const struct publisher *p);

/* Abandon the old directory (its control page says RETIRED, so readers
 * look for the new one at once) and open the path afresh, continuing the
 * generation sequence. The caller republishes. 0 or -errno with `why`. */
int publish_reopen(struct publisher *p, char *why, size_t why_len);

/*
 * Whether new readers can take the current generation: its file and its
 * base are still the very files its record names (inode and change
 * time), and the control page still says it. `chattr -i` then `+i` with
 * no byte changed moves the change time, and readers rightly refuse a
 * file that is not provably the one published (its bytes may have been
 * rewritten meanwhile): the caller publishes a new base, which readers
 * take at once. 0, or -ESTALE with what changed in `why`. Three fstatat
 * at most; nothing to check before the first publish.
 */
int publish_verify(const struct publisher *p, char *why, size_t why_len);

/* Whether the table directory may still be published into, as at
 * publish_open: owned by the agent's user and writable by it alone.
 * Readers refuse it otherwise. 0, or -EPERM with why in `why`. */
int publish_dir_trusted(const struct publisher *p, char *why, size_t why_len);

/* When a published file could not be made immutable (no
 * CAP_LINUX_IMMUTABLE, a filesystem without the flag): what to say, in
 * `buf`; else "". */
const char *publish_unsealed(const struct publisher *p, char *buf, size_t len);

/* Whether base `generation` is still the file this publisher wrote: the
 * same inode, size and change time. Root can lift a snapshot's immutable
 * flag and rewrite it; every delta over a damaged base would carry the
 * damage, so the agent writes a new base instead. False for a base this
 * publisher did not write, or one gone. One fstatat. */
bool publish_base_intact(const struct publisher *p, uint64_t generation);

/* Take the base readers have (the current snapshot, or the current
 * delta's base), which an earlier publisher wrote (at restart), as if this
 * one had written it: deltas over it may follow, publish_base_intact
 * watching it from now. 0; -EINVAL when nothing is published; -ESTALE
 * when the file is not the one the control page's record names; -errno
 * from fstatat. `st_out` (may be NULL): its status, for the caller to
 * check the file it maps is this one. */
int publish_adopt_base(struct publisher *p, struct stat *st_out);
/* The generation publish_adopt_base took (the base readers have), or 0. */
static inline uint64_t publish_adopted_base(const struct publisher *p)
{
	return p->written_base;
}

/* The generation the next snapshot must carry. */
static inline uint64_t publish_next_generation(const struct publisher *p)
{
	return p->numbered + 1;
}

/* Write `bytes` (built with publish_next_generation) as snap.<gen>, then make
 * it current. `base_generation` is the header's: 0 for a base, else the
 * base this delta is over, which must be in the directory (published by
 * this publisher, announced by it, or kept by publish_open). Kept
 * afterwards: the new file, its base, the previous file (a reader may
 * have loaded its generation an instant ago) and that one's base; older
 * files (and an announced base passed over) are unlinked, and held open
 * for a while (retired.h, publish_release). On failure (-ENOSPC, -EIO,
 * ...) nothing is published, the partial file is removed and the
 * previous snapshot stays in force. */
int publish_snapshot(struct publisher *p, const void *bytes, size_t size,
		     uint64_t base_generation, char *why, size_t why_len);

/*
 * Write `bytes`, a base (built with publish_next_generation) that says
 * what the current generation says, as snap.<gen> and announce it in the
 * control page's `ahead` record (snapshot.h, 3.2) instead of making it
 * current: readers map it at their next once-a-second check, so the
 * switch to it later makes no system call in any of them. It becomes
 * current with publish_ahead_commit once publish_ahead_wait_ms says so
 * (LDMESH_AHEAD_LEAD_NS after `now_ns`, CLOCK_MONOTONIC); a snapshot
 * published before that (a delta over it, or a base) takes the next
 * number, and the announced file stays only as that delta's base. On
 * failure nothing is announced and the current generation stays.
 */
int publish_ahead(struct publisher *p, const void *bytes, size_t size, uint64_t now_ns,
		  char *why, size_t why_len);

/* -1 when no base is announced, else the ms until it is to become
 * current (0: now). */
int publish_ahead_wait_ms(const struct publisher *p, uint64_t now_ns);

/* Make the announced base current; 0 (also when there is none), or
 * -ESTALE with `why` when its file changed or went since it was written:
 * then it is dropped and the current generation, which says the same,
 * stays in force. */
int publish_ahead_commit(struct publisher *p, char *why, size_t why_len);

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

/* The control page's heartbeat (snapshot.h, 3.4): this agent's pid and
 * CLOCK_MONOTONIC now, and its control_flags (3.5), relaxed stores (a reader needs the word whole, not
 * ordered with anything). Called once a second by the agent's loop and by
 * publish_open, so a page is alive from the moment it is mapped. Nothing
 * before publish_open succeeded. */
void publish_heartbeat(struct publisher *p);

/* Let go of the retired files whose hold is over (retired.h) at
 * CLOCK_MONOTONIC `now_ns`: the ms until the next is due, or -1. */
int publish_release(struct publisher *p, uint64_t now_ns);

void publish_close(struct publisher *p);

#endif
