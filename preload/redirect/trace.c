/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "trace.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"

atomic_int trace_fd = -1;
static atomic_int trace__pid;
static bool trace__own_fd; /* a LDMESH_TRACE_FILE we opened, not stderr */

/* NULL when stack traces work, else why not (one trace line says it). */
static const char *trace__unwind_init(void);

void trace_set_fd(int fd, int pid)
{
	atomic_store(&trace__pid, pid);
	atomic_store(&trace_fd, fd);
}

/* What config_load could not use, said once, now that there is a trace:
 * "LDMESH_CONNECT_ATTEMPTS=abc: not a whole number from 1 to 10; using 3". */
static void trace__config_bad(const struct preload_config *c)
{
	for (unsigned i = 0; i < c->n_bad; i++) {
		const struct config_bad *b = &c->bad[i];
		struct trace_line l;

		trace_begin(&l, b->name);
		trace_str(&l, "=");
		trace_str(&l, b->value);
		trace_str(&l, ": ");
		trace_str(&l, b->why);
		trace_str(&l, "; using ");
		trace_str(&l, b->instead);
		trace_emit(&l);
	}
}

void trace_init(const struct preload_config *c)
{
	int fd = 2, err = 0;

	if (c->trace == CONFIG_TRACE_OFF)
		return;
	if (c->trace_file[0]) {
		fd = open(c->trace_file,
			  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
			  0644);
		if (fd < 0) {
			err = errno;
			fd = 2; /* better on stderr than nowhere */
		} else {
			trace__own_fd = true;
		}
	}
	trace_set_fd(fd, (int)getpid());
	if (err) {
		struct trace_line l;

		trace_begin(&l, "LDMESH_TRACE_FILE=");
		trace_str(&l, c->trace_file);
		trace_str(&l, ": cannot open: ");
		trace_str(&l, strerror(err));
		trace_str(&l, "; tracing to stderr");
		trace_emit(&l);
	}
	trace__config_bad(c);
	if (c->trace == CONFIG_TRACE_STACK) {
		const char *why = trace__unwind_init();
		if (why) {
			struct trace_line l;
			trace_begin(&l, "stack traces unavailable: ");
			trace_str(&l, why);
			trace_emit(&l);
		}
	}
}

void trace_after_fork(void)
{
	atomic_store(&trace__pid, (int)getpid());
}

void trace_fd_closing(int fd)
{
	int cur = atomic_load_explicit(&trace_fd, memory_order_relaxed);

	/* Daemons close every fd, then open their own; our file's number
	 * would then name one of theirs. stderr is theirs to begin with. */
	if (fd == cur && trace__own_fd)
		atomic_compare_exchange_strong(&trace_fd, &cur, -1);
}

void trace_fd_range_closing(unsigned int first, unsigned int last)
{
	int cur = atomic_load_explicit(&trace_fd, memory_order_relaxed);

	if (cur >= 0 && (unsigned int)cur >= first && (unsigned int)cur <= last)
		trace_fd_closing(cur);
}

static void trace__put(struct trace_line *l, const char *s, size_t n)
{
	/* keep room for "...\n" and a NUL so a cut line still ends like one */
	size_t room = sizeof(l->buf) - 5 - l->n;

	if (l->cut)
		return;
	if (n > room) {
		n = room;
		l->cut = true;
	}
	memcpy(l->buf + l->n, s, n);
	l->n += n;
}

void trace_strn(struct trace_line *l, const char *s, size_t n)
{
	trace__put(l, s, n);
}

void trace_str(struct trace_line *l, const char *s)
{
	trace__put(l, s, strlen(s));
}

void trace_u64(struct trace_line *l, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	trace__put(l, tmp + i, sizeof(tmp) - i);
}

void trace_i64(struct trace_line *l, int64_t v)
{
	if (v < 0) {
		trace__put(l, "-", 1);
		trace_u64(l, (uint64_t)0 - (uint64_t)v);
		return;
	}
	trace_u64(l, (uint64_t)v);
}

void trace_hex(struct trace_line *l, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[16];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = digits[v & 15];
		v >>= 4;
	} while (v);
	trace__put(l, tmp + i, sizeof(tmp) - i);
}

void trace_ip(struct trace_line *l, const uint8_t a[16])
{
	static const char digits[] = "0123456789abcdef";
	int best = -1, best_len = 0;

	if (addr_is_v4(a)) {
		for (int i = 12; i < 16; i++) {
			if (i > 12)
				trace__put(l, ".", 1);
			trace_u64(l, a[i]);
		}
		return;
	}
	/* RFC 5952: the longest run of two or more zero groups becomes "::" */
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && !a[2 * j] && !a[2 * j + 1])
			j++;
		if (j - i > best_len && j - i >= 2) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		unsigned g = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
		char tmp[4];
		int n = 0;

		if (i == best) {
			trace__put(l, "::", 2);
			i += best_len - 1;
			continue;
		}
		if (i && i != best + best_len)
			trace__put(l, ":", 1);
		for (int sh = 12; sh >= 0; sh -= 4)
			if (n || (g >> sh) & 15 || sh == 0)
				tmp[n++] = digits[(g >> sh) & 15];
		trace__put(l, tmp, (size_t)n);
	}
}

void trace_ipport(struct trace_line *l, const uint8_t a[16], uint16_t port)
{
	bool v6 = !addr_is_v4(a);

	if (v6)
		trace__put(l, "[", 1);
	trace_ip(l, a);
	trace__put(l, v6 ? "]:" : ":", v6 ? 2 : 1);
	trace_u64(l, port);
}

void trace_svc(struct trace_line *l, const struct ldmesh_snap *s,
	       ldmesh_str_t ns_ref, ldmesh_str_t name_ref)
{
	struct ldmesh_strv ns = ldmesh_snap_string(s, ns_ref);
	struct ldmesh_strv name = ldmesh_snap_string(s, name_ref);

	trace_str(l, " svc=");
	trace_strn(l, ns.p, ns.len);
	trace__put(l, "/", 1);
	trace_strn(l, name.p, name.len);
}

/* " split=<backendRef FQDN> weight=W/TOTAL" of a traffic split (3.5). */
static void trace__split(struct trace_line *l, const struct ldmesh_snap *s,
			 const struct route_result *r)
{
	struct ldmesh_strv t = ldmesh_snap_string(s, r->split_target);

	trace_str(l, " split=");
	if (t.len)
		trace_strn(l, t.p, t.len);
	else
		trace_str(l, "(refused)");
	trace_str(l, " weight=");
	trace_u64(l, r->split_weight);
	trace_str(l, "/");
	trace_u64(l, r->split_total);
}

void trace_route(struct trace_line *l, const struct ldmesh_snap *s,
		 const struct route_result *r, bool with_position)
{
	if (r->split_total)
		trace__split(l, s, r);
	if (r->verdict == ROUTE_REDIRECT) {
		trace_str(l, " -> ");
		trace_ipport(l, r->backend, r->backend_port);
		trace_svc(l, s, r->svc_ns, r->svc_name);
		if (with_position) {
			trace_str(l, " ep=");
			trace_u64(l, r->ep_pos);
			trace_str(l, "/");
			trace_u64(l, r->ep_count);
		}
	} else {
		trace_str(l, " refused");
		trace_svc(l, s, r->svc_ns, r->svc_name);
		trace_str(l, " ");
		trace_str(l, r->why);
	}
}

void trace_begin(struct trace_line *l, const char *what)
{
	l->n = 0;
	l->cut = false;
	trace_str(l, "ldmesh[");
	trace_u64(l, (uint64_t)atomic_load_explicit(&trace__pid,
						    memory_order_relaxed));
	trace_str(l, "] ");
	trace_str(l, what);
}

size_t trace_finish(struct trace_line *l)
{
	if (l->cut) {
		memcpy(l->buf + l->n, "...", 3);
		l->n += 3;
	}
	l->buf[l->n++] = '\n';
	l->buf[l->n] = 0; /* room: trace__put keeps 5 bytes back */
	return l->n;
}

static void trace__write(const char *buf, size_t n)
{
	int fd = atomic_load_explicit(&trace_fd, memory_order_relaxed);
	int saved = errno;
	ssize_t r;

	if (fd < 0)
		return;
	do
		r = write(fd, buf, n);
	while (r < 0 && errno == EINTR);
	errno = saved;
}

void trace_emit(struct trace_line *l)
{
	size_t n = trace_finish(l);
	trace__write(l->buf, n);
}

void trace_table_event(void *ctx, enum ldmesh_table_event ev,
		       uint64_t generation, const char *why)
{
	struct trace_line l;

	if (!trace_on())
		return;
	trace_begin(&l, "table");
	switch (ev) {
	case LDMESH_TABLE_SWITCHED:
		trace_str(&l, " gen=");
		trace_u64(&l, generation);
		trace_str(&l, " switched");
		if (why && *why) {
			trace_str(&l, " (");
			trace_str(&l, why);
			trace_str(&l, ")");
		}
		break;
	case LDMESH_TABLE_AHEAD:
		trace_str(&l, " gen=");
		trace_u64(&l, generation);
		trace_str(&l, " mapped ahead (announced, not current yet)");
		if (why && *why) {
			trace_str(&l, ", ");
			trace_str(&l, why);
		}
		break;
	case LDMESH_TABLE_REFUSED:
		trace_str(&l, " gen=");
		trace_u64(&l, generation);
		trace_str(&l, " refused: ");
		trace_str(&l, why ? why : "?");
		break;
	case LDMESH_TABLE_MISSING:
		trace_str(&l, " missing: ");
		trace_str(&l, why ? why : "?");
		break;
	case LDMESH_TABLE_REPLACED:
		trace_str(&l, " replaced: following the new directory at ");
		trace_str(&l, why ? why : "?");
		break;
	}
	trace_emit(&l);
}

/* ---- LDMESH_TRACE=stack ------------------------------------------------- */

#if __has_include(<libunwind.h>)
#define UNW_LOCAL_ONLY
#include <libunwind.h>

/*
 * The public unw_* names are macros for per-architecture symbols
 * (_Ux86_64_getcontext, _ULx86_64_step, ...); stringising the macros gives
 * the right name for whatever architecture this is built for.
 */
#define TRACE__STR2(x) #x
#define TRACE__STR(x) TRACE__STR2(x)

typedef int (*trace_unw_getcontext_fn)(unw_context_t *);
typedef int (*trace_unw_init_local_fn)(unw_cursor_t *, unw_context_t *);
typedef int (*trace_unw_step_fn)(unw_cursor_t *);
typedef int (*trace_unw_get_proc_name_fn)(unw_cursor_t *, char *, size_t,
					  unw_word_t *);
typedef int (*trace_unw_get_reg_fn)(unw_cursor_t *, unw_regnum_t,
				    unw_word_t *);

static struct {
	trace_unw_getcontext_fn getcontext;
	trace_unw_init_local_fn init_local;
	trace_unw_step_fn step;
	trace_unw_get_proc_name_fn get_proc_name;
	trace_unw_get_reg_fn get_reg;
} trace__unw;

static const char *trace__unwind_init(void)
{
	/*
	 * RTLD_LOCAL and only on request: linked into every process,
	 * libunwind's _Unwind_* would interpose libgcc_s's and break C++
	 * exceptions. Loaded locally nobody else binds to it.
	 */
	void *h = dlopen("libunwind.so.8", RTLD_LAZY | RTLD_LOCAL);

	if (!h)
		return "libunwind.so.8 could not be loaded";
	trace__unw.getcontext = (trace_unw_getcontext_fn)dlsym(
		h, TRACE__STR(unw_tdep_getcontext));
	trace__unw.init_local =
		(trace_unw_init_local_fn)dlsym(h, TRACE__STR(unw_init_local));
	trace__unw.step = (trace_unw_step_fn)dlsym(h, TRACE__STR(unw_step));
	trace__unw.get_proc_name = (trace_unw_get_proc_name_fn)dlsym(
		h, TRACE__STR(unw_get_proc_name));
	trace__unw.get_reg =
		(trace_unw_get_reg_fn)dlsym(h, TRACE__STR(unw_get_reg));
	if (!trace__unw.getcontext || !trace__unw.init_local ||
	    !trace__unw.step || !trace__unw.get_proc_name ||
	    !trace__unw.get_reg) {
		trace__unw.getcontext = NULL;
		return "libunwind.so.8 lacks the unw_* functions";
	}
	return NULL;
}

/* The file name of a path: "libc.so.6" of "/lib/x86_64-linux-gnu/libc.so.6". */
static const char *trace__base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * " libc.so.6+0x2a1ca (__libc_start_call_main+0x7a)": the module and the
 * offset in it, which addr2line or objdump take whatever the module's load
 * address, and the symbol when one is known. dladdr scans symbol tables
 * and takes the loader's lock: fine here, only with LDMESH_TRACE=stack.
 */
static void trace__frame(struct trace_line *l, unw_cursor_t *cur, unw_word_t ip)
{
	char name[160];
	const char *sym = NULL;
	unw_word_t off = 0;
	Dl_info dl;
	bool mod = dladdr((void *)ip, &dl) && dl.dli_fbase;

	if (mod) {
		/* the main program's link map has no name */
		trace_str(l, " ");
		trace_str(l, dl.dli_fname && *dl.dli_fname ? trace__base_name(dl.dli_fname)
							  : program_invocation_short_name);
		trace_str(l, "+0x");
		trace_hex(l, ip - (unw_word_t)dl.dli_fbase);
	}
	if (trace__unw.get_proc_name(cur, name, sizeof(name), &off) == 0) {
		name[sizeof(name) - 1] = 0;
		sym = name;
	} else if (mod && dl.dli_sname && dl.dli_saddr) {
		sym = dl.dli_sname; /* exported symbols only */
		off = ip - (unw_word_t)dl.dli_saddr;
	}
	if (!sym)
		return;
	trace_str(l, mod ? " (" : " ");
	trace_str(l, sym);
	trace_str(l, "+0x");
	trace_hex(l, off);
	if (mod)
		trace_str(l, ")");
}

void __attribute__((noinline)) trace_stack(unsigned skip)
{
	/* all frames in one buffer, one write: a stack never interleaves */
	char out[TRACE_STACK_FRAMES * TRACE_LINE_MAX / 4];
	size_t used = 0;
	unw_context_t uc;
	unw_cursor_t cur;
	unsigned depth = 0;

	if (!trace_on() || !trace__unw.getcontext)
		return;
	if (trace__unw.getcontext(&uc) < 0 ||
	    trace__unw.init_local(&cur, &uc) < 0)
		return;
	/* frame 0 is this function */
	skip += 1;
	while (depth < skip + TRACE_STACK_FRAMES && trace__unw.step(&cur) > 0) {
		struct trace_line l;
		unw_word_t ip = 0;
		size_t n;

		if (++depth < skip)
			continue;
		trace__unw.get_reg(&cur, UNW_REG_IP, &ip);
		trace_begin(&l, "  #");
		trace_u64(&l, depth - skip);
		trace_str(&l, " 0x");
		trace_hex(&l, ip);
		trace__frame(&l, &cur, ip);
		n = trace_finish(&l);
		if (used + n > sizeof(out))
			break;
		memcpy(out + used, l.buf, n);
		used += n;
	}
	if (used)
		trace__write(out, used);
}
#else
static const char *trace__unwind_init(void)
{
	return "built without libunwind (the musl library has none)";
}

void trace_stack(unsigned skip)
{
}
#endif
