/* SPDX-License-Identifier: MIT */
/*
 * The agent's inbox: the unix datagram socket beside the table
 * (ldmesh/report.h) on which processes send failure reports and counters.
 *
 * Nothing a process sends is trusted. Each datagram is checked (magic,
 * version, a known type, sizes that add up) before anything reads its
 * entries; each sender, known by the pid SCM_CREDENTIALS vouches for, has
 * a token bucket, and all of them together one more, so a process that
 * floods (or many that do) costs the agent a bounded amount of work per
 * second; the table of senders is bounded too (the least recently heard
 * is forgotten). What is dropped is counted (inbox_stats).
 *
 * What a datagram means is not the inbox's business: each type has one
 * handler, registered with inbox_on (health for failures, metrics for
 * counters), called with entries already checked for size.
 */
#ifndef LDMESH_AGENT_INBOX_H
#define LDMESH_AGENT_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ldmesh/report.h"

/* Datagrams read per turn of the agent's loop, at most: the rest wait in
 * the socket's queue (bounded by the kernel's buffer) for the next turn. */
#define INBOX_PER_TURN 64
/* Senders whose buckets are kept; past them the least recently heard is
 * forgotten (and starts again with a full bucket: the global bucket
 * bounds what forking buys). */
#define INBOX_SENDERS 256
/* Per sender: a burst of this many datagrams, then this many a second. */
#define INBOX_SENDER_BURST 20
#define INBOX_SENDER_RATE 10
/* All senders together. */
#define INBOX_TOTAL_BURST 400
#define INBOX_TOTAL_RATE 200

/* One checked datagram, as a handler sees it. `entries` holds `count`
 * entries of `entry_size` bytes (at least the size this agent knows, so
 * reading the known prefix of each is safe); `source` is the counters'
 * struct ldmesh_report_source, NULL for other types. */
struct inbox_msg {
	pid_t pid;
	uid_t uid;
	uint16_t type;
	uint32_t count;
	uint32_t entry_size;
	const void *source;
	const unsigned char *entries;
};

typedef void (*inbox_fn)(void *ctx, const struct inbox_msg *m);

struct inbox_stats {
	uint64_t received;     /* datagrams read */
	uint64_t accepted;     /* handed to a handler */
	uint64_t invalid;      /* bad header or sizes, no credentials, truncated */
	uint64_t rate_limited; /* over the sender's or the total bucket */
	uint64_t unhandled;    /* a known type nobody registered for */
	uint64_t evicted;      /* senders forgotten to make room */
};

struct inbox;

/* An inbox with no socket (inbox_feed gives it datagrams): 0 or -ENOMEM. */
int inbox_new(struct inbox **out);

/* Bind `<table>.sock` (the caller holds the table's lock, so a socket file
 * found there is a stale one and is replaced): mode 0666, SO_PASSCRED,
 * non-blocking. 0 or -errno, `why` says what failed. */
int inbox_open(struct inbox *in, const char *table, char *why, size_t why_len);

/* The socket to poll for POLLIN, or -1. */
int inbox_fd(const struct inbox *in);

/* The handler of `type` (one per type; a later call replaces it). */
void inbox_on(struct inbox *in, uint16_t type, inbox_fn fn, void *ctx);

/* Read and dispatch up to INBOX_PER_TURN datagrams; how many were read.
 * `now_ns` is CLOCK_MONOTONIC. */
unsigned inbox_drain(struct inbox *in, uint64_t now_ns);

/* One datagram of `len` bytes from `pid`/`uid`, as if read from the
 * socket: checked, rate-limited, dispatched. 0 when a handler got it, else
 * -EINVAL (bad), -EAGAIN (rate-limited) or -ENOENT (no handler). */
int inbox_feed(struct inbox *in, const void *buf, size_t len, pid_t pid, uid_t uid,
	       uint64_t now_ns);

/* Check a datagram's header and sizes: 0 with *m filled (pid and uid
 * left alone), or -EINVAL. */
int inbox_check(const void *buf, size_t len, struct inbox_msg *m);

const struct inbox_stats *inbox_stats(const struct inbox *in);

/* Senders now in the table (for tests and the status). */
size_t inbox_senders(const struct inbox *in);

/* Close the socket and remove its file (only if it is still ours). */
void inbox_free(struct inbox *in);

#endif
