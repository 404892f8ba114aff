/* SPDX-License-Identifier: MIT */
/*
 * What a process tells the agent (ldmesh/report.h), shared by the preload
 * and ldmesh-exec: a failure report for every backend failure it sees, and
 * counters per (Service VIP, backend) that leave at most once a second and
 * at exit. Nothing here runs on a connect's success path but
 * counts_opened (from a close, or from a flush, for the preload).
 *
 * The counters are a fixed table of COUNTS_MAX keys, each field an atomic
 * that a flush swaps to zero, so no lock is taken and no increment is
 * lost or sent twice; a key the table has no room for is not counted. Two
 * threads inserting the same key at once may each take a slot: the agent
 * adds entries up, so that costs a few bytes, never a wrong sum.
 */
#ifndef LDMESH_PRELOAD_COUNTS_H
#define LDMESH_PRELOAD_COUNTS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "export.h"
#include "ldmesh/reader.h"

/* Distinct (VIP, backend) pairs one process counts; their datagram
 * (16 + 128 + 184 * 256 bytes) fits LDMESH_REPORT_MAX. */
#define COUNTS_MAX 256
/* A backend is reported failing at most once in this long. */
#define COUNTS_REPORT_EVERY_NS 100000000ULL
/* Counters leave at most once in this long (and at exit). */
#define COUNTS_FLUSH_EVERY_NS 1000000000ULL

struct counts_key {
	uint8_t vip[16];      /* IPv4-mapped for v4, as the table's */
	uint8_t backend[16];
	uint16_t vip_port;
	uint16_t backend_port;
	uint8_t protocol;     /* LDMESH_PROTO_* */
};

/* Where reports go and who sends them: `cfg` (table_dir, ns, hostname)
 * and `table` (its tick rate) outlive the process; set once at init.
 * `collect`, when not NULL, runs before each flush to count what the
 * caller keeps aside (the preload's connects not counted yet). */
void counts_setup(const struct preload_config *cfg, struct ldmesh_table *table,
		  void (*collect)(void)) LDMESH_HIDDEN;

/* The enum ldmesh_fail_reason of a connect error (0: none of them). */
unsigned counts_reason(int err) LDMESH_HIDDEN;

/* A connect to k->backend failed with `err` (a backend failure): counted,
 * and reported unless that backend was reported less than
 * COUNTS_REPORT_EVERY_NS ago. Never blocks; keeps errno. */
void counts_failure(const struct counts_key *k, int err) LDMESH_HIDDEN;

/* A connect succeeded after `latency_ns` (UINT64_MAX: not measured). */
void counts_opened(const struct counts_key *k, uint64_t latency_ns) LDMESH_HIDDEN;
/* An opened connection closed, with what TCP_INFO said of it (rtt_us
 * UINT32_MAX: none); `opened`: its connect is counted here too, as by
 * counts_opened(k, latency_ns), in the same look-up. */
void counts_closed(const struct counts_key *k, bool opened, uint64_t latency_ns, uint64_t sent,
		   uint64_t received, uint32_t rtt_us) LDMESH_HIDDEN;
/* An attempt moved off k->backend to another one. */
void counts_failover(const struct counts_key *k) LDMESH_HIDDEN;
/* A pick passed k->backend over as ejected. */
void counts_ejected(const struct counts_key *k) LDMESH_HIDDEN;

/* ldmesh_tick() ticks as ns, by the table's measured rate. */
uint64_t counts_ticks_ns(uint64_t ticks) LDMESH_HIDDEN;

/* Send what was counted since the last send, if a second has passed since
 * then (`force`: now; a destructor does so at exit). Never blocks: a flush under way on
 * another thread makes this one skip. Keeps errno. */
void counts_flush(bool force) LDMESH_HIDDEN;

/* Whether the agent serves what processes count (its control page's
 * LDMESH_CONTROL_F_METRICS): otherwise a close reads no TCP_INFO for a
 * connection known open and no counters leave (failure reports do). */
bool counts_wanted(void) LDMESH_HIDDEN;

/* In a forked child: the parent's counts are the parent's to send. */
void counts_after_fork(void) LDMESH_HIDDEN;

#endif
