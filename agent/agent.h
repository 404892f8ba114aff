/* SPDX-License-Identifier: MIT */
/*
 * The agent proper: the sources, the model and the publisher tied together,
 * and the event loop that keeps the table in step with the folder
 * (agent.c, its rules in settle.h); publishing in agent_publish.c.
 */
#ifndef LDMESH_AGENT_AGENT_H
#define LDMESH_AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "health.h"
#include "inbox.h"
#include "model.h"
#include "publish.h"
#include "sources.h"

struct agent_opts {
	const char *manifests;
	const char *table;
	const char *node;
	const char *zone;           /* --zone, or NULL */
	const char *cluster_domain;
	struct ipalloc_cidrs cidrs; /* --service-cidr */
	const char *state;          /* --state: last good copies, or NULL
	                               (--state none) */
	struct manifest_policy policy; /* --external-ips; its cidrs are
	                                  filled from `cidrs` (agent_init) */
	bool require_sync;          /* --require-sync: the table is complete
	                               only while the folder's synced marker
	                               is fresh (ldmesh/marker.h) */
	size_t max_files;           /* --max-files; 0: SCAN_MAX_FILES */
	/* Node-wide health (agent_health.c): verified ejection */
	bool no_health;             /* --no-health: reports are not acted on */
	unsigned health_interval_ms; /* --health-interval; 0: 5 s */
	unsigned max_ejection_percent; /* --max-ejection-percent; 0: 50 */
	const char *metrics_addr;   /* --metrics ADDR:PORT, or NULL (off) */
	size_t metrics_max_series;  /* --metrics-max-series; 0: the default */
};

struct agent {
	struct agent_opts o;
	struct sources src;
	struct laststate last;
	struct publisher pub;
	int lock_fd;              /* holds the table's lock (table_lock.h) */
	uint64_t seen_ns;         /* CLOCK_REALTIME up to which every change of
	                             the folder is in the model (complete.h) */
	bool complete;            /* as last judged (complete.h); false at
	                             start with --require-sync */
	struct diag diag;
	struct model_out model;   /* the last resolve, edited in place by
	                             the edits that allow it */
	struct snap_cache *cache; /* the base's shadows and the overlay's blocks */
	uint64_t current_base_hash; /* what the current snapshot says, when it
	                               is a base this agent published; else 0 */
	uint64_t allocations_hash; /* of the allocations last saved */
	bool need_base;        /* the next publish writes a base (a failed
	                          publish, a new table directory) */
	bool need_full;        /* the last resolve failed: resolve in full */
	char state_off[512];   /* why --state is not used, or "" */
	char table_stale[600]; /* why new processes could not take the
	                          current generation when last checked, or "" */
	char dir_refused[600]; /* why nothing is published into the table
	                          directory now, or "" */
	bool said_unsealed;    /* publish_unsealed was logged */
	/* How the folder is followed (agent_run): by inotify alone, or, where
	 * it cannot watch (too many directories, the kernel's bound, no
	 * watch at all), by inotify and a rescan on a timer too. Said once
	 * in the log at each change, and in the status while it lasts. */
	enum agent_follow { AGENT_FOLLOW_WATCH, AGENT_FOLLOW_PARTIAL, AGENT_FOLLOW_POLL } follow;
	char follow_note[384];
	char incomplete[600];  /* why the table is published incomplete
	                          (--require-sync), or "": said at each change */
	int rescan_err;        /* the last rescan's error, said once */
	struct inbox *inbox;   /* <table>.sock (inbox.h), or NULL when it could
	                          not be bound (said in the log and status) */
	char inbox_off[600];   /* why there is no inbox, or "" */
	struct health *health; /* probes and the ejected set, or NULL */
	struct snap_ejected ejected; /* health's set, sorted, as the snapshot
	                                orders endpoints out (snap_input.h) */
	struct snap_ejected_backend ejected_v[HEALTH_EJECTED_MAX];
	/* the ready (address, target port) pairs of the model, sorted: the
	 * backends a report may name (agent_health.c), built for `generation` */
	struct snap_ejected_backend *backends;
	size_t n_backends;
	uint64_t backends_gen;
	struct health_backend changed[HEALTH_PROBES]; /* ejected or re-admitted
	                                             since the last publish */
	size_t n_changed;
	bool changed_lost;     /* more than fit: every Service is republished */
	struct agent_metrics *metrics; /* --metrics (agent_metrics.h), or NULL */
};

/* Check the folder only: every problem reported; returns the error count
 * (files that failed to load), or -errno when the folder cannot be read. */
int agent_check(const struct agent_opts *o);

/* Open the table (0 or -errno, reported). */
int agent_init(struct agent *a, const struct agent_opts *o);

/* <table>/status (mode 0600: errors quote manifests): when the folder was
 * last read, what stays wrong until someone acts ("note" lines: state
 * that cannot be written, parts of the folder not watched, directories not
 * read, symlinks leading out, ...), and every file now refused with its
 * first error (ldmeshctl status shows it). */
void agent_write_status(struct agent *a);

/* The table directory or its control page was removed or replaced: mark
 * the old page retired and write the path afresh (0 or -errno, reported);
 * the next agent_publish publishes even an unchanged table. */
int agent_restore_table(struct agent *a);

/* Bring the model up to date with the sources (in place when the edit
 * allows, else in full) and publish what changed: a delta over the base,
 * or a new base after a full resolve; when the delta has grown past a
 * share of the base, a new base announced ahead too. 0 (published or
 * unchanged) or -errno (reported; the last snapshot stays). */
int agent_publish(struct agent *a);

/*
 * The look at what was published, once a second (agent_run) and at once
 * after an event in the table directory: whether new processes can still
 * take the current generation (publish_verify), and whether the directory
 * may still be published into. True when a publish is due (after a
 * changed file, it writes a new base). Said once per cause.
 */
bool agent_check_table(struct agent *a);

/* Whether the table's completeness (--require-sync: the synced marker
 * fresh) changed since the last build: a marker going stale makes no
 * event, so it is looked at once a second. True when a publish is due;
 * a change is logged once. */
bool agent_check_complete(struct agent *a);

/* `clock` (CLOCK_MONOTONIC for deadlines and timings, CLOCK_REALTIME for
 * the header's time) now, in nanoseconds. */
uint64_t agent_now_ns(clockid_t clock);

/* Make the base a fold announced ahead current (the loop calls it when
 * publish_ahead_wait_ms says it is time). 0, or -errno (reported; the
 * delta in force says the same, and the next publish writes a base). */
int agent_commit_ahead(struct agent *a);

/* Publish `n` services of the model as it is (no resolve): a delta, as
 * an ejection needs. 0 or -errno (reported). */
int agent_publish_services(struct agent *a, const struct snap_change *changes, size_t n);

/*
 * Node-wide health (agent_health.c): failure reports from the inbox are
 * believed only for a ready endpoint of the table, then verified by a
 * probe (health.h); what is ejected or re-admitted is published at once,
 * as a delta of the Services that hold the backend.
 */
void agent_health_init(struct agent *a);
/* The probes' sockets, into fds[0..cap): how many. */
size_t agent_health_pollfds(struct agent *a, struct pollfd *fds, size_t cap);
/* After poll: finish probes, start re-checks, publish what changed. */
void agent_health_step(struct agent *a, const struct pollfd *fds, size_t n);
/* Milliseconds until agent_health_step is due, or -1. */
int agent_health_timeout_ms(const struct agent *a);
/* The status file's lines for the ejected backends, into out (cap). */
size_t agent_health_status(const struct agent *a, char *out, size_t cap);
void agent_health_fini(struct agent *a);

/* Watch and republish until SIGTERM/SIGINT (returns 0) or a fatal error. */
int agent_run(struct agent *a);

void agent_fini(struct agent *a);

#endif
