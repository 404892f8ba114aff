/* SPDX-License-Identifier: MIT */
/*
 * Whether the table the agent publishes is complete (the header's
 * LDMESH_SNAP_F_INCOMPLETE): pure, the facts passed in.
 *
 * Complete means "a cluster name this table lacks does not exist", so it
 * needs two things. The agent read the whole folder: not when it stopped
 * at its file bound (--max-files). And, with --require-sync, the folder
 * holds the whole cluster and the agent has read it that far: the feeder's
 * marker (ldmesh/marker.h) is fresh, and the agent's view of the folder is
 * at least as new as the marker. The feeder writes every object before the
 * marker, so a view taken after the marker was written holds them all; a
 * view older than the marker may lack the last objects of a first list
 * (the agent sees the marker once a second, while the files of a burst
 * wait for their batch to settle). That wait is for becoming complete: the
 * feeder rewrites a fresh marker every few seconds, and a table that is
 * complete stays so while the marker stays fresh.
 */
#ifndef LDMESH_AGENT_COMPLETE_H
#define LDMESH_AGENT_COMPLETE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* File times come from the kernel's coarse clock, up to a tick (4-10 ms)
 * behind the time a process reads: a view must be this much newer than the
 * marker's mtime before it is known to hold what was written before it. */
#define COMPLETE_CLOCK_SLACK_NS 50000000LL

struct complete_facts {
	bool require_sync;
	bool truncated;          /* the last scan stopped at the bound */
	size_t max_files;        /* that bound */
	const char *folder;      /* for the reasons */
	int marker_err;          /* lstat of the marker: 0 or -errno */
	bool marker_regular;
	int64_t marker_mtime_ns; /* CLOCK_REALTIME */
	int64_t seen_ns;         /* CLOCK_REALTIME up to which every change of
	                            the folder is in the agent's view; 0: none */
	int64_t now_ns;          /* CLOCK_REALTIME */
	bool was_complete;       /* the table published last is complete */
};

/* True when complete; else false and the reason in `why` ("" when true). */
bool complete_judge(const struct complete_facts *f, char *why, size_t n);

#endif
