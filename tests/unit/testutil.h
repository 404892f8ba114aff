/* Helpers shared by the cmocka tests: temporary folders, files, and a diag
 * sink that keeps every reported line. */
#ifndef LDMESH_TESTUTIL_H
#define LDMESH_TESTUTIL_H

#include <stddef.h>

#include "manifest.h"

#define TU_DIAG_MAX 64

struct tu_diag {
	struct diag d;
	char lines[TU_DIAG_MAX][512];
	unsigned n;
};

/* A diag that records lines into `t`. */
void tu_diag_init(struct tu_diag *t);
/* True when some recorded line contains `needle`. */
int tu_diag_has(const struct tu_diag *t, const char *needle);

/* mkdtemp under $TMPDIR (or /tmp); returns a static-lifetime copy. */
char *tu_tmpdir(const char *tag);
/* Write `text` to dir/rel, creating parent folders. Aborts on failure. */
void tu_write(const char *dir, const char *rel, const char *text);
/* rm -rf dir (tests clean up after themselves). */
void tu_rmtree(const char *dir);

#endif
