/* SPDX-License-Identifier: MIT */
/*
 * The log of ldmesh-agent and ldmesh-sync: one line per event on stderr,
 * each with its time (RFC 3339, UTC, milliseconds) and level, as text
 *
 *   2026-12-08T01:02:03.456Z info ldmesh-agent: published generation 4 ...
 *
 * or, with --log-format json, one JSON object per line:
 *
 *   {"time":"2026-12-08T01:02:03.456Z","level":"error","program":"ldmesh-agent",
 *    "msg":"did not find ...","file":"m/a.yaml","line":4,"col":1}
 *
 * (file, line and col only on a manifest problem that names them).
 */
#ifndef LDMESH_AGENT_LOG_H
#define LDMESH_AGENT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "diag.h"

enum log_level {
	LOG_DEBUG, /* only with -v */
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
};

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

void log_init(const char *program, bool verbose);
/* "text" or "json" (--log-format): 0, or -EINVAL for anything else. */
int log_set_format(const char *name);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A diag that logs each "path:line:col: message" line (an error, a
 * warning, or with -v a note), with the position as fields in JSON.
 * The caller counts errors in d->errors as usual. */
void log_diag_init(struct diag *d);

/* ---- the formatter, pure (the unit tests call it) ---------------------- */

/* Longest line written; a longer message is cut, still one valid line. */
#define LOG_LINE_MAX 8192

/* "2026-12-08T01:02:03.456Z" into buf (at least 25 bytes); its length. */
size_t log_format_time(char *buf, size_t cap, const struct timespec *t);

/* Append `s` to out[*n..cap) as the inside of a JSON string: quotes,
 * backslashes and control characters escaped, bytes that are not UTF-8 as
 * U+FFFD, so any input gives valid JSON. Stops (returns false) before a
 * character that would not fit. */
bool log_json_escape(char *out, size_t *n, size_t cap, const char *s, size_t len);

/* One whole line for `msg`, ending in '\n'; its length. `position`: the
 * message may begin with "path:line[:col]: ", which JSON splits into
 * fields. */
size_t log_format_line(char *out, size_t cap, enum log_format f, const struct timespec *t,
		       enum log_level level, const char *program, const char *msg,
		       bool position);

#endif
