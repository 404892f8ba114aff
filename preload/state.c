/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "state.h"

#include "counts.h"
#include "fdcount.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "lookup.h"
#include "outlier.h"
#include "resolver.h"
#include "real.h"
#include "rng.h"
#include "trace.h"

enum {
	STATE_UNINIT = 0,
	STATE_ACTIVE = 1,
	STATE_PASSTHROUGH = 2,
};

static struct preload_state state__g;
static atomic_int state__mode;
static pthread_once_t state__once = PTHREAD_ONCE_INIT;
static __thread int state__initialising LDMESH_TLS_IE;

/* The table's syscalls: libc's, but close() through real.close: a plain
 * close from inside this library binds to our own exported hook. */
static struct ldmesh_reader_sys state__sys;

static int state__close(int fd)
{
	return real.close(fd);
}

static void state__after_fork_child(void)
{
	/* only the forking thread exists here: nobody is inside a mapping */
	ldmesh_table_after_fork(&state__g.table);
	rng_after_fork();
	trace_after_fork();
	fdcount_after_fork();
}

static void state__trace_init(const struct preload_config *c)
{
	struct trace_line l;

	if (!trace_on())
		return;
	trace_begin(&l, "init ns=");
	trace_str(&l, c->ns);
	trace_str(&l, " table=");
	trace_str(&l, c->table_dir);
	trace_str(&l, " ndots=");
	trace_u64(&l, c->ndots);
	trace_str(&l, " search=");
	for (unsigned i = 0; i < c->n_search; i++) {
		if (i)
			trace_str(&l, ",");
		trace_str(&l, config_search(c, i));
	}
	trace_emit(&l);
}

static void state__init(void)
{
	struct preload_config *c = &state__g.cfg;
	int saved = errno;
	int mode = STATE_PASSTHROUGH;

	state__initialising = 1;
	real_init();
	config_load(c);
	if (!c->disabled) {
		trace_init(c);
		rng_init();
		outlier_configure(&c->outlier);
		/* reports and counters go beside the table (counts.h) */
		counts_setup(c, &state__g.table, fdcount_collect);
		state__sys = ldmesh_reader_libc;
		state__sys.close = state__close;
		if (ldmesh_table_init(&state__g.table, c->table_dir, &state__sys,
				      trace_table_event, NULL) == 0 &&
		    pthread_atfork(NULL, NULL, state__after_fork_child) == 0)
			mode = STATE_ACTIVE;
		state__trace_init(c);
	}
	atomic_store_explicit(&state__mode, mode, memory_order_release);
	state__initialising = 0;
	errno = saved;
}

struct preload_state *state_get(void)
{
	int mode = atomic_load_explicit(&state__mode, memory_order_acquire);

	if (__builtin_expect(mode == STATE_UNINIT, 0)) {
		if (state__initialising) {
			real_init();
			return NULL;
		}
		pthread_once(&state__once, state__init);
		mode = atomic_load_explicit(&state__mode, memory_order_acquire);
	}
	return mode == STATE_ACTIVE ? &state__g : NULL;
}

struct preload_state *state_peek(void)
{
	int mode = atomic_load_explicit(&state__mode, memory_order_acquire);

	if (__builtin_expect(mode == STATE_UNINIT, 0)) {
		real_init();
		return NULL;
	}
	return mode == STATE_ACTIVE ? &state__g : NULL;
}

bool state_lookup_name(struct preload_state *st, const char *name, struct lookup_result *r)
{
	const struct ldmesh_snap *s;
	int slot;

	/* without a table the answer is "pass", and all of it: callers read
	 * skip_search of a pass */
	r->status = LOOKUP_PASS;
	r->skip_search = false;
	s = ldmesh_table_acquire(&st->table, &slot);
	if (!s)
		return false;
	lookup_name(s, &st->cfg, name, rng_next(), r);
	/* the real resolver is asked next: its nameservers reachable */
	if (r->status == LOOKUP_PASS || r->status == LOOKUP_EXTERNAL)
		resolver_steer(st, s);
	ldmesh_table_release(&st->table, slot);
	if (r->name_hash)
		ldmesh_table_note_name(&st->table, r->name_hash);
	return true;
}

bool state_lookup_addr(struct preload_state *st, const uint8_t addr[16], struct lookup_result *r)
{
	const struct ldmesh_snap *s;
	int slot;

	r->status = LOOKUP_PASS;
	s = ldmesh_table_acquire(&st->table, &slot);
	if (!s)
		return false;
	lookup_addr(s, addr, r);
	ldmesh_table_release(&st->table, slot);
	return true;
}
