/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *log__program = "ldmesh";
static bool log__verbose;

void log_init(const char *program, bool verbose)
{
	log__program = program;
	log__verbose = verbose;
}

static void log__line(const char *level, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s: %s", log__program, level);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	/* One fputs of a whole line: lines stay whole in a shared log. */
	strncat(buf, "\n", sizeof(buf) - strlen(buf) - 1);
	fputs(buf, stderr);
}

#define LOG_FN(fn, level, cond)                         \
	void fn(const char *fmt, ...)                   \
	{                                               \
		va_list ap;                             \
		if (!(cond))                            \
			return;                         \
		va_start(ap, fmt);                      \
		log__line(level, fmt, ap);              \
		va_end(ap);                             \
	}
LOG_FN(log_info, "", true)
LOG_FN(log_error, "error: ", true)
LOG_FN(log_debug, "", log__verbose)

static void log__diag(void *ctx, const char *line)
{
	fprintf(stderr, "%s\n", line);
}

static void log__diag_note(void *ctx, const char *line)
{
	if (log__verbose)
		fprintf(stderr, "%s\n", line);
}

void log_diag_init(struct diag *d)
{
	memset(d, 0, sizeof(*d));
	d->report = log__diag;
	d->note = log__diag_note;
	d->warn = log__diag;
}
