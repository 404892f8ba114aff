/* Helpers shared by the cmocka tests: temporary folders, files, and a diag
 * sink that keeps every reported line. */
#ifndef LDMESH_TESTUTIL_H
#define LDMESH_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "ldmesh/reader.h"
#include "manifest.h"

#define TU_DIAG_MAX 64

struct tu_diag {
	struct diag d;
	char lines[TU_DIAG_MAX][512];
	unsigned n;
	char notes[TU_DIAG_MAX][512]; /* what was passed over (diag.note) */
	unsigned n_notes;
};

/*
 * Waiting. Every wait in the unit tests goes through tu_wait: it returns as
 * soon as done(ctx) is true, so a quiet machine is fast, and gives up only
 * after a deadline generous enough for a loaded one: LDMESH_TEST_WAIT_S
 * seconds (default 60). done() runs at least once, and once more after the
 * deadline, so a slow check cannot lose the state it was about to see.
 * Returns whether done() became true. A test asserts what happened, never
 * how fast.
 */
typedef bool (*tu_cond_fn)(void *ctx);
bool tu_wait(tu_cond_fn done, void *ctx);
/* That deadline in milliseconds, for a wait that is a poll() on an fd. */
int tu_wait_ms(void);

/* A diag that records lines into `t`. */
void tu_diag_init(struct tu_diag *t);
/* True when some recorded line contains `needle`. */
int tu_diag_has(const struct tu_diag *t, const char *needle);

/* mkdtemp under $TMPDIR (or /tmp); returns a static-lifetime copy. */
char *tu_tmpdir(const char *tag);
/* Write `text` to dir/rel, creating parent folders. Aborts on failure. */
void tu_write(const char *dir, const char *rel, const char *text);
/* rm -rf dir (tests clean up after themselves). */
/* Lift a file's FS_IMMUTABLE_FL (the agent seals what it publishes), as
 * root may; a missing file is left alone. */
void tu_unseal(const char *path);
void tu_rmtree(const char *dir);

/*
 * The reader's lookups as pointers, for assertions: NULL when absent, else
 * a checked copy in one of eight per-thread buffers (so a test can hold a
 * few at once). Strings likewise, NUL-terminated.
 */
const struct ldmesh_vip_slot *tu_vip(const struct ldmesh_snap *s,
				     const uint8_t addr[16], uint16_t port,
				     uint8_t protocol);
const struct ldmesh_name_slot *tu_name(const struct ldmesh_snap *s,
				       const char *fqdn, size_t len);
const char *tu_str(const struct ldmesh_snap *s, ldmesh_str_t ref);
/* ldmesh_snap_init with the reason copied into `why`. */
int tu_snap_init(struct ldmesh_snap *s, const void *base, size_t size,
		 char *why, size_t why_len);

/* A valid snapshot of generation `gen` with `n` services (default/svc-0
 * ... at 10.96.0.1 ..., port 80 -> 8080), built by the agent's own
 * snap_build: caller-owned *bytes (free). */
void tu_make_snap(uint64_t gen, unsigned n, void **bytes, size_t *size);
struct publisher;
/* Publish the next generation of `p` as a base of `n_services` (fails the
 * test if it cannot). */
void tu_publish_ok(struct publisher *p, unsigned n_services);
/* What a new process sees through the table at `dir`: generation `gen`
 * with `n_services`, or (gen 0) nothing (cmocka assertions). */
void tu_expect_reader(const char *dir, uint64_t gen, uint32_t n_services);
/* "dir/name", malloc'd (free). */
char *tu_path_in(const char *dir, const char *name);
/* kB from a "Key:   123 kB" line of /proc/self/status (VmRSS, VmHWM), or 0. */
size_t tu_status_kb(const char *key);

#endif
