/* SPDX-License-Identifier: MIT */
/*
 * Trace mode (LDMESH_TRACE): one line per decision, built in a bounded
 * buffer by an async-signal-safe formatter (no stdio, no malloc) and written
 * with exactly one write(2), so lines from threads never interleave.
 */
#ifndef LDMESH_PRELOAD_TRACE_H
#define LDMESH_PRELOAD_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "export.h"
#include "ldmesh/reader.h"
#include "route.h"

/* One decision line: two names of at most 253 bytes each and a handful of
 * addresses fit; anything longer is cut and marked with "...". */
#define TRACE_LINE_MAX 768
#define TRACE_STACK_FRAMES 8

struct trace_line {
	size_t n;
	bool cut;
	char buf[TRACE_LINE_MAX];
};

/* -1 when tracing is off; read on every hook, so a plain atomic int. */
extern atomic_int trace_fd LDMESH_HIDDEN;

static inline bool trace_on(void)
{
	return atomic_load_explicit(&trace_fd, memory_order_relaxed) >= 0;
}

/* Open the trace sink of `c` (stderr or LDMESH_TRACE_FILE, O_APPEND) and,
 * for LDMESH_TRACE=stack, dlopen libunwind. */
void trace_init(const struct preload_config *c) LDMESH_HIDDEN;
/* Direct the trace to `fd` (tests); -1 turns it off. */
void trace_set_fd(int fd, int pid) LDMESH_HIDDEN;
/* In a forked child: the prefix carries the new pid. */
void trace_after_fork(void) LDMESH_HIDDEN;
/* The application is closing or replacing `fd`: if it is our trace file,
 * stop writing there before the number is reused for something else. */
void trace_fd_closing(int fd) LDMESH_HIDDEN;
/* The same for every descriptor in [first, last]. */
void trace_fd_range_closing(unsigned int first, unsigned int last) LDMESH_HIDDEN;

/* "ldmesh[<pid>] <what>" */
void trace_begin(struct trace_line *l, const char *what) LDMESH_HIDDEN;
void trace_str(struct trace_line *l, const char *s) LDMESH_HIDDEN;
void trace_strn(struct trace_line *l, const char *s, size_t n) LDMESH_HIDDEN;
void trace_u64(struct trace_line *l, uint64_t v) LDMESH_HIDDEN;
void trace_i64(struct trace_line *l, int64_t v) LDMESH_HIDDEN;
void trace_hex(struct trace_line *l, uint64_t v) LDMESH_HIDDEN;
/* An address as stored in the snapshot: dotted quad for IPv4-mapped. */
void trace_ip(struct trace_line *l, const uint8_t a[16]) LDMESH_HIDDEN;
/* "10.0.0.1:80" or "[fd00::1]:80" */
void trace_ipport(struct trace_line *l, const uint8_t a[16],
		  uint16_t port) LDMESH_HIDDEN;
/* " svc=<ns>/<name>" */
/* A connect decision: " -> backend svc=ns/name[ ep=k/n]", or
 * " refused svc=ns/name why". */
void trace_route(struct trace_line *l, const struct ldmesh_snap *s,
		 const struct route_result *r, bool with_position) LDMESH_HIDDEN;
void trace_svc(struct trace_line *l, const struct ldmesh_snap *s,
	       ldmesh_str_t ns, ldmesh_str_t name) LDMESH_HIDDEN;
/* Terminate with '\n' and write the line with one write(2); errno is
 * preserved. */
void trace_emit(struct trace_line *l) LDMESH_HIDDEN;
/* Format into `out` only (tests; returns the length without the NUL). */
size_t trace_finish(struct trace_line *l) LDMESH_HIDDEN;

/* With LDMESH_TRACE=stack: the caller's frames, skipping `skip` frames of
 * our own, all in one write. Call it from the exported hook itself. */
void trace_stack(unsigned skip) LDMESH_HIDDEN;

/* struct ldmesh_table's on_event: "table gen=42 switched" and friends. */
void trace_table_event(void *ctx, enum ldmesh_table_event ev,
		       uint64_t generation, const char *why) LDMESH_HIDDEN;

#endif
