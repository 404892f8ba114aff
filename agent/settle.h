/* SPDX-License-Identifier: MIT */
/*
 * When the agent applies what the folder told it, and when it publishes:
 * the rules of its control loop (agent_run), apart from the loop. Pure:
 * the time is passed in, decisions come out; no clock read, no system
 * call, no log. The loop looks at the world when asked (struct
 * settle_look), feeds what happened (settle_watch, settle_rescan,
 * settle_changed, settle_applied, settle_published) and waits as long as
 * settle_timeout_ms says.
 *
 * The rules, each with its reason beside its constant below:
 *  - debounce: a burst of events is applied once the folder has been
 *    quiet SETTLE_QUIET_MS, or SETTLE_MAX_DELAY_MS after its first event;
 *  - removals: a batch that removes files and writes none is held until
 *    the folder has been quiet SETTLE_HOLD_MS (settle_judge);
 *  - retries: a missing folder, a failed rescan or a failed publish is
 *    tried again SETTLE_RETRY_MS later, not at once;
 *  - the timed rescan where the folder is not all watched (settle_poll_ms);
 *  - the once-a-second checks (settle_check_due).
 */
#ifndef LDMESH_AGENT_SETTLE_H
#define LDMESH_AGENT_SETTLE_H

#include <stdbool.h>
#include <stdint.h>

/* Coalescing: an editor's save or a kubectl apply of a folder arrives as a
 * burst of events; apply once the folder has been quiet this long, but
 * never later than the cap after the first event, so a steady trickle of
 * writes cannot hold back a publish. */
#define SETTLE_QUIET_MS 2
#define SETTLE_MAX_DELAY_MS 50
/* While the folder is missing, or a rescan or a publish failed (e.g.
 * /dev/shm full), try again this often. */
#define SETTLE_RETRY_MS 1000
/* How often the agent looks at what it published: as often as readers
 * look at the directory. No event says that a file's flags changed
 * (chattr makes no inotify event), so it is looked at. */
#define SETTLE_CHECK_MS 1000
/*
 * Removals. `rm -rf` of the folder arrives as one delete per file (and a
 * rescan per subdirectory), then the folder's own removal; applied as they
 * came, they would publish tables with a shrinking share of the services
 * before the folder's removal kept the last good state. How many files
 * `rm` has removed when the agent looks, and how long it takes in all,
 * depend on how fast it runs: a rule that counts the files gone or caps
 * how long a removal may be held works on one machine and publishes a
 * partial table on a busier one. The rule here counts nothing:
 *
 *  - A batch that removes something (a reported path that no longer
 *    exists, or a rescan the watch asked for while a file the agent holds
 *    is gone) and writes nothing is held, and so is every batch after it
 *    that writes nothing.
 *  - The folder's own removal ends the hold: the last good state stays
 *    (the agent's apply keeps every object of a missing folder).
 *  - A batch that writes (a reported path that exists) applies everything
 *    held with it: someone is filling the folder, not removing it, and a
 *    rename's two halves are applied together.
 *  - Otherwise the hold is applied once nothing at all has happened in the
 *    folder for SETTLE_HOLD_MS, and the watch's queue has been read just
 *    before, found empty: an agent that was itself slow to run never
 *    mistakes the events it has not read yet for quiet.
 *
 * So a removal of the folder publishes nothing, however long it runs and
 * however loaded the machine is, unless it stops for SETTLE_HOLD_MS
 * between two deletions (nothing tells such a stop from a user who deleted
 * some files and is done); a deletion meant alone is applied that much
 * later. Deletions with no write between them, each within SETTLE_HOLD_MS
 * of the last, are held for as long as they go on.
 */
#define SETTLE_HOLD_MS 2000
/*
 * Where the folder is not all watched, a rescan finds what inotify cannot:
 * every SETTLE_POLL_MIN_MS, or ten times as long as the last rescan took,
 * whichever is longer, so the rescans cost at most a tenth of the agent's
 * time whatever the folder's size.
 */
#define SETTLE_POLL_MIN_MS 2000
#define SETTLE_POLL_FACTOR 10

/* Times are CLOCK_MONOTONIC nanoseconds; 0 means "none". */
struct settle {
	bool rescan;        /* a rescan of the folder is due */
	bool structural;    /* the watch asked for it: files may be gone */
	bool dirty;         /* a publish is due */
	bool missing;       /* the folder was missing at the last apply */
	bool polling;       /* the folder is not all watched: timed rescans */
	bool hold_began;    /* the last settle_judge began a hold (say so) */
	uint64_t first_ns;  /* the batch's first event */
	uint64_t last_ns;   /* and its last (a held removal waits on it) */
	uint64_t retry_ns;  /* nothing is applied before this */
	uint64_t hold_ns;   /* holding removals since */
	uint64_t check_ns;  /* the next once-a-second check */
	uint64_t poll_ns;   /* the next timed rescan (when polling) */
	unsigned poll_ms;   /* the period of the timed rescans */
	int wait_ms;        /* what settle_step/settle_judge ask to wait
	                       (the folder's part of the timeout), -1: no limit */
};

/* What settle_step says the loop does now. */
enum settle_step {
	SETTLE_IDLE,   /* nothing to apply: wait for events */
	SETTLE_GATHER, /* a batch is open: wait (a burst not over, a retry) */
	SETTLE_LOOK,   /* the window closed: look at the batch (struct
	                  settle_look) and ask settle_judge */
};

/* What the loop found when it looked at the batch. */
struct settle_look {
	bool wrote;      /* a reported path exists: written */
	bool removed;    /* a reported path no longer exists */
	bool lost;       /* paths were lost (out of memory): a rescan */
	bool known_gone; /* a file the agent holds objects of is gone; looked
	                    at only when settle_needs_known_gone says (one stat
	                    per file), else false */
	bool root_gone;  /* the folder itself cannot be stat'ed */
	bool queued;     /* the watch has events not read yet */
};

/* What settle_judge decides for the batch. */
enum settle_verdict {
	SETTLE_APPLY,         /* apply it now */
	SETTLE_APPLY_WRITTEN, /* now: a write ends a hold, applied with it */
	SETTLE_APPLY_QUIET,   /* now: a hold that has been quiet long enough */
	SETTLE_HOLD,          /* it removes files and writes none: wait
	                         (publish what was applied before, if due) */
	SETTLE_READ_QUEUE,    /* a hold quiet long enough, but the watch has
	                         events not read yet: read them first */
};

/* What applying a batch came to. */
struct settle_applied {
	bool missing;       /* the folder is gone (the last good state kept) */
	bool rescanned;     /* a rescan was made (found the folder) */
	bool rescan_failed; /* the rescan did not read the folder: try again */
	bool changed;       /* the sources changed: publish */
	bool polling;       /* the folder is not all watched now */
	unsigned poll_ms;   /* from settle_poll_ms, when rescanned */
};

/* The first state: a rescan and a publish due at once, the checks too. */
void settle_init(struct settle *s);

/* Where the loop stands at `now`; sets wait_ms. Also makes the timed
 * rescan due when its time has come. `pending`: paths reported since the
 * last apply. */
enum settle_step settle_step(struct settle *s, uint64_t now, bool pending);

/* Whether the batch's look needs known_gone (a rescan the watch asked for,
 * nothing written or removed among the paths reported, no hold yet). */
bool settle_needs_known_gone(const struct settle *s, const struct settle_look *l);

/* The rule for removals on a batch whose window closed (SETTLE_LOOK);
 * sets wait_ms, and hold_began when a hold begins. */
enum settle_verdict settle_judge(struct settle *s, uint64_t now, const struct settle_look *l);

/* A batch was applied; `after`: when the apply was done (the timed rescan
 * counts from there). Ends any hold; the retry is set by settle_closed
 * once the publish is done. */
void settle_applied(struct settle *s, uint64_t after, const struct settle_applied *r);

/* The publish made at `now` (settle.dirty) worked or failed: a failed one
 * is retried SETTLE_RETRY_MS later. */
void settle_published(struct settle *s, uint64_t now, bool ok);

/* The apply begun at `now` is over: a new batch starts, and whatever is
 * still due (the folder missing, a rescan or a publish that failed) is
 * retried SETTLE_RETRY_MS later. */
void settle_closed(struct settle *s, uint64_t now);

/* The watch's queue was read at `now`: `lost` when events may have been
 * lost or it asked for a rescan (its subdirectories changed), `pending`
 * when paths are reported. */
void settle_watch(struct settle *s, uint64_t now, bool lost, bool pending);

/* Read every file again (SIGHUP). */
void settle_rescan(struct settle *s);

/* Something outside the folder asks for a publish (the table removed by
 * hand, a stale file, the completeness changed). True when none was due. */
bool settle_changed(struct settle *s);

/* Whether the once-a-second checks are due at `now`; when they are, the
 * next is set a second later. */
bool settle_check_due(struct settle *s, uint64_t now);

/* The period of the timed rescans after one that took `rescan_ms`. */
unsigned settle_poll_ms(uint64_t rescan_ms);

/* How long poll() may wait at `now`: the folder's part (wait_ms), the next
 * check and the next timed rescan; -1: no limit. */
int settle_timeout_ms(const struct settle *s, uint64_t now);

#endif
