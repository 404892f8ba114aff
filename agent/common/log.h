/* SPDX-License-Identifier: MIT */
/* Short log lines on stderr, prefixed with the program name. */
#ifndef LDMESH_AGENT_LOG_H
#define LDMESH_AGENT_LOG_H

#include <stdbool.h>

#include "diag.h"

void log_init(const char *program, bool verbose);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A diag that prints each "path:line:col: message" line as it is and
 * counts it in d->errors. */
void log_diag_init(struct diag *d);

#endif
