/* SPDX-License-Identifier: MIT */
/*
 * model_update: an edit applied in place gives exactly what a full resolve
 * of the folder gives, over random edits of real files read by sources.c
 * (so the retired versions are the ones the agent would hand over).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "model.h"
#include "sources.h"
#include "testutil.h"

#define N_SVC_FILES 5
#define N_SLICE_FILES 6
#define N_POD_FILES 6
#define ROUNDS 400
#define N_EXTRAS 8 /* x0..x6 bring their addresses; x7 needs one allocated */

struct fx {
	char *dir;
	struct sources src;
	struct model_opts o;
	struct model_out inc;
	struct tu_diag t;
	unsigned seed;
	unsigned ports_variant[N_SVC_FILES];
	bool clash;                 /* file 4 holds a conflict */
	int extra_file[N_EXTRAS];   /* where extra Service x<b> is, or -1 */
	unsigned extra_ip[N_EXTRAS]; /* its address variant */
	unsigned allocated;         /* edits in place that allocated one */
};

static unsigned rnd(struct fx *f, unsigned n)
{
	f->seed = f->seed * 1103515245u + 12345u;
	return (f->seed >> 16) % n;
}

static size_t cat(char *buf, size_t cap, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	len += (size_t)vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
	assert_true(len < cap);
	return len;
}

/* x6 asks for s1's address on every other change of its own. */
static bool x6_clashes(const struct fx *f, unsigned b)
{
	return b == 6 && f->extra_ip[b] % 4 == 1;
}

/* Two Services per file, s<2k> and s<2k+1>: even ones select pods, odd
 * ones take slices. With f->clash, file 4 also holds a second definition
 * of s0 (loses) and a Service asking for s1's address (left out).
 * `variant` changes what an edit may change without moving table-wide
 * decisions: ports and the selector. The extra Services x<b> placed in
 * this file (f->extra_file) come and go, move between files and change
 * address: table-wide changes, in place where the model allows. */
static void write_services(struct fx *f, unsigned k, unsigned variant)
{
	char text[8192], rel[64];
	size_t len = 0;

	for (unsigned i = 2 * k; i < 2 * k + 2; i++) {
		len = cat(text, sizeof(text), len,
			  "---\napiVersion: v1\nkind: Service\nmetadata: {name: s%u, namespace: ns%u}\n"
			  "spec:\n%s  ports:\n  - {name: http, port: 80, targetPort: %s}\n",
			  i, i % 2, i == 1 ? "  clusterIP: 10.96.0.50\n" : "",
			  variant % 3 == 2 ? "web" : "8080");
		if (variant % 2)
			len = cat(text, sizeof(text), len,
				  "  - {name: metrics, port: 9100, targetPort: 9100}\n");
		if (i % 2 == 0)
			len = cat(text, sizeof(text), len, "  selector: {app: a%u%s}\n",
				  (i / 2 + variant) % 4, variant % 4 == 3 ? ", tier: t1" : "");
	}
	if (k == 4 && f->clash)
		len = cat(text, sizeof(text), len,
			  "---\napiVersion: v1\nkind: Service\nmetadata: {name: s0, namespace: ns0}\n"
			  "spec:\n  ports: [{port: 1}]\n"
			  "---\napiVersion: v1\nkind: Service\nmetadata: {name: clash, namespace: ns1}\n"
			  "spec:\n  clusterIP: 10.96.0.50\n  ports: [{port: 2}]\n");
	for (unsigned b = 0; b < N_EXTRAS; b++) {
		char ip[48] = "";
		if (f->extra_file[b] != (int)k)
			continue;
		if (x6_clashes(f, b)) /* s1's address: x6 is left out */
			snprintf(ip, sizeof(ip), "  clusterIP: 10.96.0.50\n");
		else if (b + 1 < N_EXTRAS)
			snprintf(ip, sizeof(ip), "  clusterIP: 10.96.%u.%u\n", 1 + f->extra_ip[b] % 2, b + 1);
		len = cat(text, sizeof(text), len,
			  "---\napiVersion: v1\nkind: Service\nmetadata: {name: x%u, namespace: ns0}\n"
			  "spec:\n%s  selector: {app: a%u}\n  ports: [{port: 3, targetPort: 7001}]\n",
			  b, ip, b % 4);
	}
	snprintf(rel, sizeof(rel), "svc-%u.yaml", k);
	tu_write(f->dir, rel, text);
}

static void write_slices(struct fx *f, unsigned k)
{
	char text[8192], rel[64];
	size_t len = 0;
	unsigned n = rnd(f, 4);

	for (unsigned s = 0; s < n; s++) {
		unsigned svc = 2 * rnd(f, 6) + 1; /* odd: the slice-fed ones, and s11 (none) */
		unsigned eps = rnd(f, 4);
		len = cat(text, sizeof(text), len,
			  "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
			  "metadata: {name: sl%u-%u, namespace: ns1, labels: "
			  "{kubernetes.io/service-name: s%u}}\naddressType: IPv4\n"
			  "ports: [{name: http, port: %u, protocol: TCP}]\nendpoints:\n",
			  k, s, svc, 8000 + rnd(f, 3));
		if (!eps)
			len = cat(text, sizeof(text), len, "- addresses: [10.1.9.9]\n"
				  "  conditions: {ready: false, serving: true, terminating: true}\n");
		for (unsigned e = 0; e < eps; e++)
			len = cat(text, sizeof(text), len,
				  "- addresses: [10.1.%u.%u]\n  conditions: {ready: %s}\n"
				  "  nodeName: n%u\n",
				  rnd(f, 3), rnd(f, 8), rnd(f, 4) ? "true" : "false", rnd(f, 2));
	}
	snprintf(rel, sizeof(rel), "sl-%u.yaml", k);
	tu_write(f->dir, rel, n ? text : "# none\n");
}

static void write_pods(struct fx *f, unsigned k)
{
	char text[8192], rel[64];
	size_t len = 0;
	unsigned n = rnd(f, 5);

	for (unsigned p = 0; p < n; p++)
		len = cat(text, sizeof(text), len,
			  "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p%u-%u\n  namespace: ns0\n"
			  "  labels: {app: a%u, tier: t%u}\n"
			  "spec:\n  nodeName: n%u\n  containers:\n  - name: c\n"
			  "    ports: [{name: web, containerPort: %u}]\n"
			  "status:\n  phase: %s\n  podIP: 10.2.%u.%u\n"
			  "  conditions: [{type: Ready, status: '%s'}]\n",
			  k, p, rnd(f, 4), rnd(f, 2), rnd(f, 2), 7000 + rnd(f, 3),
			  rnd(f, 8) ? "Running" : "Succeeded", rnd(f, 2), rnd(f, 6),
			  rnd(f, 4) ? "True" : "False");
	snprintf(rel, sizeof(rel), "pod-%u.yaml", k);
	tu_write(f->dir, rel, n ? text : "# none\n");
}

static void refresh(struct fx *f, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	assert_true(sources_update(&f->src, path, true, &f->t.d) >= 0);
}

static void assert_same_service(const struct snap_service_in *a, const struct snap_service_in *b)
{
	assert_string_equal(a->ns, b->ns);
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->cache_key, b->cache_key);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->n_cluster_ips, b->n_cluster_ips);
	assert_memory_equal(a->cluster_ips, b->cluster_ips, sizeof(a->cluster_ips));
	assert_int_equal(a->n_ports, b->n_ports);
	for (size_t p = 0; p < a->n_ports; p++) {
		assert_int_equal(a->ports[p].port, b->ports[p].port);
		assert_int_equal(a->ports[p].target_port, b->ports[p].target_port);
	}
	assert_int_equal(a->n_endpoints, b->n_endpoints);
	for (size_t e = 0; e < a->n_endpoints; e++) {
		const struct snap_endpoint_in *x = &a->endpoints[e], *y = &b->endpoints[e];
		assert_memory_equal(x->addr, y->addr, 16);
		assert_int_equal(x->flags, y->flags);
		assert_string_equal(x->node ? x->node : "", y->node ? y->node : "");
		assert_string_equal(x->target ? x->target : "", y->target ? y->target : "");
		for (size_t p = 0; p < a->n_ports; p++)
			assert_int_equal(x->ports[p], y->ports[p]);
	}
}

/* The model after an edit: in place when it can be, else in full, as the
 * agent does. Returns whether it was in place. */
static bool apply(struct fx *f)
{
	const struct snap_change *ch;
	size_t n_ch;
	int r = model_update(&f->inc, f->src.v, f->src.n, f->src.retired, f->src.n_retired,
			     &f->o, &f->t.d, &ch, &n_ch);

	assert_true(r >= 0);
	f->allocated += r == 1 && f->inc.n_allocated;
	if (r) {
		/* every service named is one of the model's, once, or a
		 * removed one (NULL) */
		for (size_t i = 0; i < n_ch; i++) {
			assert_true(!ch[i].svc || (ch[i].svc >= f->inc.services &&
						   ch[i].svc < f->inc.services + f->inc.n_services));
			for (size_t k = 0; k < i && ch[i].svc; k++)
				assert_ptr_not_equal(ch[i].svc, ch[k].svc);
		}
	} else {
		struct model_out out;
		assert_int_equal(model_resolve(f->src.v, f->src.n, &f->o, &f->inc, &out, &f->t.d), 0);
		model_out_free(&f->inc);
		f->inc = out;
	}
	sources_retired_free(&f->src);
	return r == 1;
}

/* The model edited in place says what a full resolve of the folder says,
 * service by service (in place, services may come in another order). */
static void assert_matches_full_resolve(struct fx *f)
{
	struct model_out ref;

	assert_int_equal(model_resolve(f->src.v, f->src.n, &f->o, NULL, &ref, &f->t.d), 0);
	assert_int_equal(f->inc.n_services, ref.n_services);
	for (size_t i = 0; i < ref.n_services; i++) {
		size_t k = 0;
		while (k < f->inc.n_services &&
		       (strcmp(f->inc.services[k].ns, ref.services[i].ns) ||
			strcmp(f->inc.services[k].name, ref.services[i].name)))
			k++;
		assert_true(k < f->inc.n_services);
		assert_same_service(&f->inc.services[k], &ref.services[i]);
	}
	model_out_free(&ref);
}

static void refresh_services(struct fx *f, unsigned k)
{
	char rel[64];

	write_services(f, k, f->ports_variant[k]);
	snprintf(rel, sizeof(rel), "svc-%u.yaml", k);
	refresh(f, rel);
}

/* A table-wide edit: an extra Service comes, goes, moves or changes its
 * address (*changed; the draw may also leave it where it was). Returns
 * whether the model may follow it in place. */
static bool edit_extra(struct fx *f, bool *changed)
{
	unsigned b = rnd(f, N_EXTRAS), what = rnd(f, 3);
	int was = f->extra_file[b];

	bool moved = false;

	if (what == 0 || was < 0) { /* comes, goes, or moves */
		f->extra_file[b] = was < 0 || rnd(f, 2) ? (int)rnd(f, N_SVC_FILES) : -1;
		moved = f->extra_file[b] != was;
	} else if (b + 1 < N_EXTRAS) {
		f->extra_ip[b]++;
		moved = true;
	}
	if (was >= 0)
		refresh_services(f, (unsigned)was);
	if (f->extra_file[b] >= 0 && f->extra_file[b] != was)
		refresh_services(f, (unsigned)f->extra_file[b]);
	/* x7 needs an address allocated when it comes: in place too, as the
	 * edit's one allocation */
	*changed = moved;
	return !moved || (!f->clash && !(x6_clashes(f, b) && f->extra_file[b] >= 0));
}

/* An empty folder `tag` and the options a test resolves with: the service
 * CIDR `cidr`, this node `node` (may be NULL). */
static void fx_open(struct fx *f, const char *tag, const char *cidr, const char *node)
{
	f->dir = tu_tmpdir(tag);
	f->o = (struct model_opts){ .cluster_domain = "cluster.local", .node_name = node };
	assert_int_equal(ipalloc_parse_cidrs(cidr, &f->o.cidrs), 0);
	tu_diag_init(&f->t);
}

static void fx_close(struct fx *f)
{
	model_out_free(&f->inc);
	sources_free(&f->src);
	tu_rmtree(f->dir);
	free(f->dir);
}

static void run_edits(struct fx *f, unsigned *in_place, unsigned *full, unsigned *wide_in_place)
{
	fx_open(f, "model-update", "10.96.0.0/12", "n1");
	for (unsigned b = 0; b < N_EXTRAS; b++)
		f->extra_file[b] = -1;
	for (unsigned k = 0; k < N_SVC_FILES; k++)
		write_services(f, k, 0);
	for (unsigned k = 0; k < N_SLICE_FILES; k++)
		write_slices(f, k);
	for (unsigned k = 0; k < N_POD_FILES; k++)
		write_pods(f, k);
	assert_true(sources_rescan(&f->src, f->dir, &f->t.d) > 0);
	sources_retired_free(&f->src);
	assert_int_equal(model_resolve(f->src.v, f->src.n, &f->o, NULL, &f->inc, &f->t.d), 0);

	for (unsigned round = 0; round < ROUNDS; round++) {
		/* one to three files per edit, sometimes the same one twice */
		unsigned files = 1 + rnd(f, 3);
		char rel[64];
		bool wide = rnd(f, 6) == 0, may = false, changed = false;

		for (unsigned e = 0; e < files && !wide; e++) {
			unsigned what = rnd(f, 19), k;
			if (what < 7) {
				k = rnd(f, N_SLICE_FILES);
				write_slices(f, k);
				snprintf(rel, sizeof(rel), "sl-%u.yaml", k);
			} else if (what < 14) {
				k = rnd(f, N_POD_FILES);
				write_pods(f, k);
				snprintf(rel, sizeof(rel), "pod-%u.yaml", k);
			} else if (what < 17) {
				k = rnd(f, N_SVC_FILES);
				f->ports_variant[k]++;
				write_services(f, k, f->ports_variant[k]);
				snprintf(rel, sizeof(rel), "svc-%u.yaml", k);
			} else {
				/* a file goes (and comes back on a later edit) */
				char path[512];
				k = rnd(f, N_POD_FILES);
				snprintf(rel, sizeof(rel), "pod-%u.yaml", k);
				snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
				unlink(path);
			}
			refresh(f, rel);
		}
		if (wide)
			may = edit_extra(f, &changed);
		if (apply(f)) {
			(*in_place)++;
			*wide_in_place += changed;
			/* in place only where the model allows it */
			assert_true(!wide || may);
		} else {
			(*full)++;
		}
		assert_matches_full_resolve(f);
	}
	print_message("%u edits in place (%u adding, removing or moving Services, %u "
		      "allocating an address), %u resolved in full\n", *in_place, *wide_in_place,
		      f->allocated, *full);
	fx_close(f);
}

/* Without conflicts, Services with their own addresses come and go in
 * place; one that needs an address allocated is left to a full resolve. */
static void test_update_matches_full_resolve(void **state)
{
	struct fx f = { .seed = 7 };
	unsigned in_place = 0, full = 0, wide = 0;
	(void)state;

	run_edits(&f, &in_place, &full, &wide);
	assert_true(in_place > ROUNDS / 2);
	assert_true(wide > 10);
	assert_true(f.allocated > 0);
	assert_true(full > 2);
}

/* With a conflict in the table (a name defined twice, an address asked
 * for twice), every Service coming or going is resolved in full. */
static void test_update_with_conflicts(void **state)
{
	struct fx f = { .seed = 11, .clash = true };
	unsigned in_place = 0, full = 0, wide = 0;
	(void)state;

	run_edits(&f, &in_place, &full, &wide);
	assert_true(in_place > ROUNDS / 2);
	assert_int_equal(wide, 0);
	assert_int_equal(f.allocated, 0);
	assert_true(full > 10);
}

static void put_service(struct fx *f, const char *rel, const char *name, const char *ip)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: ns0}\n"
		 "spec:\n%s%s%s  ports: [{port: 80}]\n", name, ip ? "  clusterIP: " : "",
		 ip ? ip : "", ip ? "\n" : "");
	tu_write(f->dir, rel, text);
	refresh(f, rel);
}

/* An allocated address stays owned by its Service when removals move
 * it to another index: a Service asking for that address later is the
 * table-wide case (the explicit one takes it, the allocated one gets
 * another), never a second owner. */
static void test_allocated_address_stays_owned(void **state)
{
	struct fx f = { .seed = 3 };
	char alloc_ip[64], path[512];
	(void)state;

	fx_open(&f, "model-update-own", "10.96.0.0/12", NULL);
	put_service(&f, "a.yaml", "gone", "10.96.1.1");
	put_service(&f, "b.yaml", "other", "10.96.1.2");
	put_service(&f, "z.yaml", "alloc", NULL); /* last in path order */
	sources_retired_free(&f.src);
	assert_int_equal(model_resolve(f.src.v, f.src.n, &f.o, NULL, &f.inc, &f.t.d), 0);
	assert_int_equal(f.inc.n_services, 3);
	ipalloc_format(f.inc.services[2].cluster_ips[0], alloc_ip, sizeof(alloc_ip));

	/* "gone" goes: "alloc" takes its index */
	snprintf(path, sizeof(path), "%s/a.yaml", f.dir);
	unlink(path);
	refresh(&f, "a.yaml");
	assert_true(apply(&f));
	put_service(&f, "c.yaml", "third", "10.96.1.3");
	assert_true(apply(&f));
	/* one edit removes "third" (at alloc's old index) and asks for
	 * alloc's address */
	put_service(&f, "c.yaml", "new", alloc_ip);
	apply(&f);
	assert_matches_full_resolve(&f);
	fx_close(&f);
}

/* The edit applied as the agent does, checked against what a full resolve
 * says given the allocations of the model before it (an allocated address
 * sticks to its Service: without them a full resolve may hand out
 * another). A copy, as laststate.c restores them: a full resolve takes
 * what it reuses from its previous result. Returns whether it was in
 * place. */
static bool apply_as_full_resolve(struct fx *f)
{
	struct model_out prev = { .n_allocs = f->inc.n_allocs }, ref;
	size_t bytes = 1;
	bool in_place;

	for (size_t i = 0; i < f->inc.n_allocs; i++)
		if (f->inc.allocs[i].key + f->inc.allocs[i].key_len + 1 > bytes)
			bytes = f->inc.allocs[i].key + f->inc.allocs[i].key_len + 1;
	prev.allocs = malloc((prev.n_allocs + 1) * sizeof(*prev.allocs));
	prev.alloc_keys = malloc(bytes);
	assert_true(prev.allocs && prev.alloc_keys);
	memcpy(prev.allocs, f->inc.allocs, prev.n_allocs * sizeof(*prev.allocs));
	memcpy(prev.alloc_keys, f->inc.alloc_keys, prev.n_allocs ? bytes : 0);
	in_place = apply(f);
	assert_int_equal(model_resolve(f->src.v, f->src.n, &f->o, &prev, &ref, &f->t.d), 0);
	model_out_free(&prev);
	assert_string_equal(f->inc.in.node_zone ? f->inc.in.node_zone : "(none)",
			    ref.in.node_zone ? ref.in.node_zone : "(none)");
	assert_int_equal(f->inc.n_services, ref.n_services);
	for (size_t i = 0; i < ref.n_services; i++) {
		size_t k = 0;
		while (k < f->inc.n_services && (strcmp(f->inc.services[k].ns, ref.services[i].ns) ||
						 strcmp(f->inc.services[k].name, ref.services[i].name)))
			k++;
		assert_true(k < f->inc.n_services);
		assert_same_service(&f->inc.services[k], &ref.services[i]);
	}
	model_out_free(&ref);
	return in_place;
}

/* ns0/<name>'s ClusterIP in the model, as text ("" when it has none). */
static const char *ip_of(struct fx *f, const char *name, char buf[64])
{
	buf[0] = 0;
	for (size_t i = 0; i < f->inc.n_services; i++)
		if (!strcmp(f->inc.services[i].name, name) && f->inc.services[i].n_cluster_ips)
			ipalloc_format(f->inc.services[i].cluster_ips[0], buf, 64);
	return buf;
}

static void unput(struct fx *f, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	unlink(path);
	refresh(f, rel);
}

/* A Service needing an address, alone in its edit, is allocated in place
 * exactly what the full resolve would give it: around taken addresses,
 * the one it had before when that is free; where the full resolve alone
 * can say (its old address held by another, a full CIDR), the edit is
 * resolved in full. */
static void test_allocation_in_place(void **state)
{
	struct fx f = { .seed = 5 };
	struct ipalloc fresh;
	uint8_t hashed[16];
	char want[64], got[64], again[64];
	(void)state;

	fx_open(&f, "model-update-alloc", "10.96.0.0/12", NULL);
	/* the address ns0/new hashes to, held by "blocker" */
	assert_int_equal(ipalloc_init(&fresh, &f.o.cidrs.v[0]), 0);
	assert_int_equal(ipalloc_assign(&fresh, "ns0", "new", hashed), 0);
	ipalloc_free(&fresh);
	put_service(&f, "a.yaml", "blocker", ipalloc_format(hashed, want, sizeof(want)));
	put_service(&f, "b.yaml", "other", "10.96.1.2");
	sources_retired_free(&f.src);
	assert_int_equal(model_resolve(f.src.v, f.src.n, &f.o, NULL, &f.inc, &f.t.d), 0);

	/* in place, stepping around blocker's address */
	put_service(&f, "n.yaml", "new", NULL);
	assert_true(apply_as_full_resolve(&f));
	assert_int_equal(f.inc.n_allocated, 1);
	assert_int_equal(f.inc.n_allocs, 1);
	ip_of(&f, "new", got);
	assert_true(*got && strcmp(got, want));
	/* blocker goes; new keeps its address, and gets it back when it
	 * comes again */
	unput(&f, "a.yaml");
	assert_true(apply_as_full_resolve(&f));
	assert_string_equal(ip_of(&f, "new", again), got);
	unput(&f, "n.yaml");
	assert_true(apply_as_full_resolve(&f));
	put_service(&f, "n.yaml", "new", NULL);
	assert_true(apply_as_full_resolve(&f));
	assert_string_equal(ip_of(&f, "new", again), got);
	assert_int_equal(f.inc.n_allocs, 1); /* the same record, not a second */

	/* its old address taken meanwhile: the full resolve says who keeps it */
	unput(&f, "n.yaml");
	assert_true(apply_as_full_resolve(&f));
	put_service(&f, "c.yaml", "taker", got);
	assert_true(apply_as_full_resolve(&f));
	put_service(&f, "n.yaml", "new", NULL);
	assert_false(apply_as_full_resolve(&f));
	assert_true(tu_diag_has(&f.t, "loses its ClusterIP"));
	assert_string_equal(ip_of(&f, "new", again), want); /* its hash, free again */

	/* two at once: in place too, in the full resolve's order */
	tu_write(f.dir, "m.yaml",
		 "apiVersion: v1\nkind: Service\nmetadata: {name: two-a, namespace: ns0}\n"
		 "spec: {ports: [{port: 80}]}\n---\n"
		 "apiVersion: v1\nkind: Service\nmetadata: {name: two-b, namespace: ns0}\n"
		 "spec: {ports: [{port: 80}]}\n");
	refresh(&f, "m.yaml");
	assert_true(apply_as_full_resolve(&f));
	assert_int_equal(f.inc.n_allocated, 2);
	assert_true(*ip_of(&f, "two-a", got) && strcmp(got, ip_of(&f, "two-b", again)));
	fx_close(&f);

	/* a full CIDR (10.96.0.1 and .2 are all a /30 has): a full resolve,
	 * which reports it */
	f = (struct fx){ .seed = 6 };
	fx_open(&f, "model-update-full", "10.96.0.0/30", NULL);
	put_service(&f, "a.yaml", "one", "10.96.0.1");
	put_service(&f, "b.yaml", "two", "10.96.0.2");
	sources_retired_free(&f.src);
	assert_int_equal(model_resolve(f.src.v, f.src.n, &f.o, NULL, &f.inc, &f.t.d), 0);
	put_service(&f, "c.yaml", "three", NULL);
	assert_false(apply_as_full_resolve(&f));
	assert_true(tu_diag_has(&f.t, "service CIDR is full"));
	fx_close(&f);
}

/* A Node of this node ("n1") or of another, its zone `zone` (may be
 * NULL), and a label `round` so each write is a change. */
static void put_node(struct fx *f, const char *rel, const char *name, const char *zone,
		     unsigned round)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Node\nmetadata:\n  name: %s\n  labels: {round: \"%u\"%s%s}\n",
		 name, round, zone ? ", topology.kubernetes.io/zone: " : "", zone ? zone : "");
	tu_write(f->dir, rel, text);
	refresh(f, rel);
}

/* Batch file `b`: of its pool of 6 names, those `mask` has, without a
 * clusterIP, some with a creation time (the allocation order). */
static void put_batch(struct fx *f, unsigned b, unsigned mask)
{
	char rel[32], text[4096];
	size_t len = 0;

	snprintf(rel, sizeof(rel), "batch-%u.yaml", b);
	for (unsigned j = 0; j < 6; j++) {
		if (!(mask & (1u << j)))
			continue;
		len = cat(text, sizeof(text), len,
			  "---\napiVersion: v1\nkind: Service\nmetadata: {name: b%u-%u, "
			  "namespace: ns%u%s%s%s}\nspec: {ports: [{port: 80}]}\n", b, j, j % 2,
			  j % 3 ? "" : ", creationTimestamp: \"2026-01-0", j % 3 ? "" : (j ? "2" : "1"),
			  j % 3 ? "" : "T00:00:00Z\"");
	}
	if (!len) {
		unput(f, rel);
		return;
	}
	tu_write(f->dir, rel, text);
	refresh(f, rel);
}

/* Random edits of the kinds resolved in full until 2026-12-08, each
 * checked against the full resolve: a Node of another node, this node's
 * Node keeping its zone (in place), or changing it (in full: every key and
 * the header move), and Services without a clusterIP coming several at
 * once, in one file or two, some coming back to the address they had,
 * some going. */
static void test_nodes_and_allocations_random(void **state)
{
	struct fx f = { .seed = 13 };
	unsigned node_in_place = 0, multi_in_place = 0, zone_full = 0, mask[3] = { 0 };
	char ip[32];
	(void)state;

	/* a small CIDR (30 addresses, at most 26 taken): probes collide, so
	 * the order of allocation shows */
	fx_open(&f, "model-update-wide", "10.96.0.0/27", "n1");
	for (unsigned i = 0; i < 8; i++) {
		char rel[32], name[32];
		snprintf(rel, sizeof(rel), "s-%02u.yaml", i);
		snprintf(name, sizeof(name), "s%u", i);
		snprintf(ip, sizeof(ip), "10.96.0.%u", 10 + i);
		put_service(&f, rel, name, i % 4 ? ip : NULL);
	}
	put_node(&f, "node-n1.yaml", "n1", "z1", 0);
	put_node(&f, "node-other.yaml", "n2", "z1", 0);
	sources_retired_free(&f.src);
	assert_int_equal(model_resolve(f.src.v, f.src.n, &f.o, NULL, &f.inc, &f.t.d), 0);
	for (unsigned round = 1; round <= 300; round++) {
		unsigned what = rnd(&f, 8), b = rnd(&f, 3), zone = rnd(&f, 2);
		bool in_place;

		if (what == 0) {
			put_node(&f, "node-other.yaml", "n2", zone ? "z1" : "z2", round);
		} else if (what == 1) {
			put_node(&f, "node-n1.yaml", "n1", f.inc.in.node_zone, round);
		} else if (what == 2) {
			put_node(&f, "node-n1.yaml", "n1", zone ? "z1" : "z3", round);
		} else { /* one or two batch files, often several Services each */
			mask[b] = rnd(&f, 64);
			put_batch(&f, b, mask[b]);
			if (what == 3) {
				b = (b + 1) % 3;
				mask[b] = rnd(&f, 64);
				put_batch(&f, b, mask[b]);
			}
		}
		const char *was = f.inc.in.node_zone ? f.inc.in.node_zone : "";
		bool zone_moves = what == 2 && strcmp(was, zone ? "z1" : "z3");
		unsigned before = f.allocated;

		in_place = apply_as_full_resolve(&f);
		/* Nodes: in place unless this node's zone moved */
		if (what <= 2)
			assert_true(in_place == !zone_moves);
		node_in_place += what <= 2 && in_place;
		zone_full += zone_moves;
		multi_in_place += in_place && f.allocated > before && f.inc.n_allocated > 1;
	}
	print_message("%u Node edits in place, %u moving the zone in full; %u edits allocating "
		      "two or more in place\n", node_in_place, zone_full, multi_in_place);
	assert_true(node_in_place > 20);
	assert_true(zone_full > 5);
	assert_true(multi_in_place > 10);
	fx_close(&f);
}

/* A Node in a changed file may move this node's zone: a full resolve. */
static void test_node_edit_resolves_in_full(void **state)
{
	struct fx f = { .seed = 1 };
	(void)state;

	fx_open(&f, "model-update-node", "10.96.0.0/12", "n1");
	write_services(&f, 0, 0);
	tu_write(f.dir, "node.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n"
				     "  labels: {topology.kubernetes.io/zone: z1}\n");
	assert_true(sources_rescan(&f.src, f.dir, &f.t.d) > 0);
	sources_retired_free(&f.src);
	assert_int_equal(model_resolve(f.src.v, f.src.n, &f.o, NULL, &f.inc, &f.t.d), 0);
	assert_string_equal(f.inc.in.node_zone, "z1");
	tu_write(f.dir, "node.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n"
				     "  labels: {topology.kubernetes.io/zone: z2}\n");
	refresh(&f, "node.yaml");
	assert_false(apply(&f));
	assert_string_equal(f.inc.in.node_zone, "z2");
	fx_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_update_matches_full_resolve),
		cmocka_unit_test(test_update_with_conflicts),
		cmocka_unit_test(test_allocated_address_stays_owned),
		cmocka_unit_test(test_allocation_in_place),
		cmocka_unit_test(test_node_edit_resolves_in_full),
		cmocka_unit_test(test_nodes_and_allocations_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
