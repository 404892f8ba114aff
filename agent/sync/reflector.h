/* SPDX-License-Identifier: MIT */
/*
 * The reflector: for every resource of the table (resources.h), list then
 * watch, as client-go's reflector does, writing each object to the folder
 * (folder.h), all on one thread over one curl multi handle.
 *
 * Each resource moves through these states:
 *
 *	WAIT --(time)--> LIST page --(continue)--> LIST page ... --(last page:
 *	    prune what the list lacks)--> WATCH from the list's version
 *	WATCH --(clean end)--> WATCH again from the last version seen
 *	WATCH/LIST --(410 Gone, HTTP or ERROR event)--> LIST from scratch
 *	any --(error)--> WAIT (backoff.h), then the same step again (a list
 *	    restarts from its first page)
 *	LIST --(404 on an optional resource)--> ABSENT for good
 */
#ifndef LDMESH_SYNC_REFLECTOR_H
#define LDMESH_SYNC_REFLECTOR_H

#include <signal.h>

#include "sync_config.h"

/* Items asked for per list page (client-go's pager uses 500). */
#define SYNC_LIST_LIMIT 500
/* Whole-transfer bound on a list page. */
#define SYNC_LIST_TIMEOUT 120L
/* A watch asks the server to end it after 5-10 min (client-go's
 * minWatchTimeout with its jitter) and gives up itself 30 s after that. */
#define SYNC_WATCH_MIN 300
/* Default for --lost-after: how long every request may fail before the
 * marker goes. */
#define SYNC_LOST_AFTER 60.0

struct sync_opts {
	const char *dir;          /* the manifest folder */
	const char *node;         /* this node's name, or NULL: no Node */
	double lost_after;        /* seconds */
	const struct sync_config *cfg;
	volatile sig_atomic_t *stop; /* set by a signal: return 0 */
};

/* Runs until *stop. 0, or -errno if it cannot start (folder, curl). */
int sync_run(const struct sync_opts *o);

#endif
