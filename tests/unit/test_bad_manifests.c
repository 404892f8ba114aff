/* SPDX-License-Identifier: MIT */
/*
 * The bad-manifest corpus (tests/fixtures/bad-manifests/): every file is
 * refused with a "path:line:col: message" naming the right place, nothing
 * crashes, parsing stays within a memory bound, the last good version of a
 * file stays in force when a bad one replaces it, and `ldmesh-agent
 * --check` exits 1 on it.
 *
 * Decided as *not* errors (listed with a NULL place below):
 *  - an empty file, a file of comments, a file of bare `---`/`...`: a
 *    manifest folder may hold a placeholder; it defines no objects, so the
 *    file simply contributes nothing (kubectl apply says "no objects
 *    passed", not an error in the file).
 *  - JSON with a trailing comma (`[{"port": 80},]`): JSON is read as YAML
 *    (DESIGN.md) and a trailing comma is legal YAML flow syntax with one
 *    meaning, so refusing it would need a second, JSON-only grammar.
 *  - a UTF-8 or UTF-16 byte-order mark at the start of the file (YAML 1.2
 *    allows one); the corpus still checks positions after it, and a BOM in
 *    the middle of a stream is refused (bom-mid-stream.yaml).
 *
 * Made at test time, not committed: a 100 MB sparse file, a 3 MiB scalar,
 * a symlink loop and a directory named like a manifest.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "manifest.h"
#include "sources.h"
#include "testutil.h"

#define BAD LDMESH_FIXTURES "/bad-manifests"
#define AGENT LDMESH_BINARY_DIR "/agent/ldmesh-agent"

/*
 * Peak memory one parse may add, measured as the growth of the resident
 * high-water mark (VmHWM after resetting it through /proc/self/clear_refs).
 * The corpus files are at most a few KB; their worst case is the alias
 * bomb, bounded by YAML_TREE_MAX_NODES charged at the alias, before any
 * expansion, so it allocates only what it reads. 16 MiB leaves room for
 * libyaml's buffers and malloc's arenas; under ASan (redzones, quarantine,
 * shadow) the bound is 4x. The 100 MB file must not be read at all: it may
 * add no more than MEM_HUGE_MAX.
 */
#if defined(__SANITIZE_ADDRESS__)
#define MEM_SCALE 4
#else
#define MEM_SCALE 1
#endif
#define MEM_PARSE_MAX ((size_t)16 * MEM_SCALE << 20)
#define MEM_HUGE_MAX ((size_t)1 * MEM_SCALE << 20)

struct expect {
	const char *file;
	const char *pos;  /* "line:col", or NULL when the file is accepted */
	const char *msg;  /* a substring of the message at pos */
};

static const struct expect expects[] = {
	{ "alias-bomb-map.yaml", "10:13", "more than 1000000 nodes" },
	{ "alias-bomb.yaml", "6:29", "more than 1000000 nodes" },
	{ "alias-deep.yaml", "2:34", "alias expands deeper than 64" },
	{ "api-version-int.yaml", "1:13", "apiVersion: must be a string, not the integer 1" },
	{ "bom-mid-stream.yaml", "10:1", "did not find expected <document start>" },
	{ "bom-utf16le-port-0.yaml", "7:11", "port: 0 is not a port" },
	{ "bom-utf8-api-int.yaml", "1:13", "apiVersion: must be a string, not the integer 1" },
	{ "cluster-ip-cidr.yaml", "6:14", "\"10.96.0.0/12\" is not a valid IP address" },
	{ "cluster-ip-hostname.yaml", "6:14", "\"backend.local\" is not a valid IP address" },
	{ "cluster-ip-int.yaml", "6:14", "spec.clusterIP: must be a string, not the integer" },
	{ "cluster-ip-loopback.yaml", "6:14", "\"127.0.0.1\": may not be in the loopback range" },
	{ "cluster-ip-octet-300.yaml", "6:14", "\"10.96.0.300\" is not a valid IP address" },
	{ "cluster-ip-v6-bad.yaml", "6:14", "\"fd00:::1\" is not a valid IP address" },
	{ "cluster-ip-v6-multicast.yaml", "6:14", "\"ff02::1\": may not be a multicast address" },
	{ "cluster-ips-mismatch.yaml", "7:16", "must match clusterIP \"10.96.0.10\"" },
	{ "comments-only.yaml", NULL, NULL },
	{ "container-port-0.yaml", "10:22", "containerPort: 0 is not a port" },
	{ "control-char.yaml", "8:12", "control characters are not allowed (#07)" },
	{ "deep-nesting-block.yaml", "66:127", "nesting deeper than 64" },
	{ "deep-nesting-flow.yaml", "5:73", "nesting deeper than 64" },
	{ "doc-is-list.yaml", "1:1", "a document must be a map, not a sequence" },
	{ "doc-is-scalar.yaml", "9:1", "a document must be a map, not the string \"just a string\"" },
	{ "dup-key-port.yaml", "9:5", "duplicate key \"port\" (first at line 7)" },
	{ "dup-key.json", "6:3", "duplicate key \"kind\" (first at line 3)" },
	{ "dup-key.yaml", "5:3", "duplicate key \"name\" (first at line 4)" },
	{ "dup-pod-in-list.yaml", "8:3", "duplicate Pod default/web (first defined at line 4)" },
	{ "dup-port-name.yaml", "9:5", "spec.ports[1].name: Duplicate value: \"web\"" },
	{ "dup-service.yaml", "9:1", "duplicate Service default/backend (first defined at line 1)" },
	{ "empty.yaml", NULL, NULL },
	{ "endpoints-ip-bad.yaml", "8:9", "\"10.244.1.500\" is not a valid IP address" },
	{ "external-ip-bad.yaml", "6:28", "spec.externalIPs[1]: \"1.2.3\" is not a valid IP" },
	{ "external-ip-metadata.yaml", "7:31", "spec.externalIPs[1]: Invalid value: \"169.254.169.254\": may not be in the link-local range" },
	{ "external-ip-unspecified.yaml", "8:5", "\"0.0.0.0\": may not be unspecified" },
	{ "external-name-bad.yaml", "7:17", "\"not a host!\" is not a valid DNS-1123 subdomain" },
	{ "json-port-0.json", "5:31", "port: 0 is not a port" },
	{ "json-trailing-comma.json", NULL, NULL },
	{ "json-unclosed.json", "6:1", "did not find expected ',' or '}'" },
	{ "key-is-map.yaml", "5:5", "a map key must be a scalar, not a map" },
	{ "label-key-bad.yaml", "6:5", "\"-app\" is not a valid label key" },
	{ "label-key-prefix-bad.yaml", "6:5", "\"Example_Com/app\" is not a valid label key" },
	{ "label-value-int.yaml", "6:11", "labels.tier: must be a string, not the integer 5" },
	{ "label-value-too-long.yaml", "6:10", "is not a valid label value" },
	{ "labels-is-list.yaml", "6:3", "metadata.labels: must be a map, not a sequence" },
	{ "list-item-scalar.yaml", "11:3", "items[1]: must be a map, not the integer 42" },
	{ "list-items-not-list.yaml", "3:8", "items: must be a list, not the integer 5" },
	{ "missing-api-version.yaml", "1:1", "apiVersion: Required value" },
	{ "missing-kind.yaml", "1:1", "kind: Required value" },
	{ "missing-metadata.yaml", "1:1", "metadata.name: Required value" },
	{ "missing-name.yaml", "4:3", "metadata.name: Required value" },
	{ "missing-port.yaml", "7:5", "spec.ports[0].port: Required value" },
	{ "name-int.yaml", "4:9", "metadata.name: must be a string, not the integer 42" },
	{ "name-too-long.yaml", "4:9", "is not a valid DNS-1035 label" },
	{ "name-uppercase.yaml", "4:9", "\"Backend\" is not a valid DNS-1035 label" },
	{ "namespace-bad.yaml", "5:14", "\"my_ns\" is not a valid DNS-1123 label" },
	{ "node-port-negative.yaml", "9:15", "nodePort: -1 is not a port" },
	{ "non-utf8-name.yaml", "4:13", "octet #E9 is not followed by a continuation octet" },
	{ "non-utf8-overlong.yaml", "8:13", "invalid length of a UTF-8 sequence" },
	{ "non-utf8-truncated.yaml", "8:12", "incomplete UTF-8 octet sequence" },
	{ "nul-byte.yaml", "8:12", "control characters are not allowed (#00)" },
	{ "only-separators.yaml", NULL, NULL },
	{ "pod-ip-bad.yaml", "13:10", "status.podIP: \"10.244.1.5.6\" is not a valid IP" },
	{ "pod-ip-link-local.yaml", "7:10", "status.podIP: Invalid value: \"fe80::1\": may not be in the link-local range" },
	{ "pod-phase-int.yaml", "10:10", "status.phase: must be a string, not the integer 3" },
	{ "port-0.yaml", "7:11", "port: 0 is not a port (1-65535)" },
	{ "port-70000.yaml", "7:11", "port: 70000 is not a port (1-65535)" },
	{ "port-bool.yaml", "7:11", "must be an integer, not the boolean true" },
	{ "port-float-exp.yaml", "7:11", "must be an integer, not the number 8.0e1" },
	{ "port-float.yaml", "7:11", "must be an integer, not the number 80.5" },
	{ "port-huge.yaml", "7:11", "99999999999999999999999999999 is not a port" },
	{ "port-map.yaml", "7:11", "port: must be an integer, not a map" },
	{ "port-negative.yaml", "7:11", "port: -80 is not a port" },
	{ "port-quoted.yaml", "7:11", "must be an integer, not the string \"80\"" },
	{ "ports-not-list.yaml", "6:10", "spec.ports: must be a list, not the integer 80" },
	{ "protocol-lowercase.yaml", "8:15", "unsupported value \"tcp\"" },
	{ "protocol-unknown.yaml", "8:15", "unsupported value \"HTTP\"" },
	{ "publish-not-ready-string.yaml", "6:29", "must be a boolean, not the string \"yes\"" },
	{ "selector-key-bad.yaml", "7:5", "spec.selector: \"app name\" is not a valid label key" },
	{ "session-affinity-unknown.yaml", "6:20", "unsupported value \"Cookie\"" },
	{ "slice-addr-bad.yaml", "12:15", "\"10.244.1\" is not a valid IP address" },
	{ "slice-address-multicast.yaml", "9:15", "\"224.0.0.251\": may not be a multicast address" },
	{ "slice-address-type-bad.yaml", "7:14", "addressType: unsupported value \"IPv5\"" },
	{ "slice-port-70000.yaml", "9:9", "ports[0].port: 70000 is not a port" },
	{ "spec-is-string.yaml", "5:7", "spec: must be a map, not the string" },
	{ "syntax-bad-indent.yaml", "5:14", "mapping values are not allowed in this c" },
	{ "syntax-block-seq-in-map.yaml", "9:2", "did not find expected key" },
	{ "syntax-missing-colon-space.yaml", "10:9", "mapping values are not allowed in this c" },
	{ "syntax-unclosed-flow.yaml", "7:8", "did not find expected ',' or '}'" },
	{ "syntax-unclosed-quote.yaml", "5:1", "found unexpected end of stream while scanning a quoted scalar" },
	{ "tab-indent-seq.yaml", "7:1", "found character that cannot start any token" },
	{ "tab-indent.yaml", "4:1", "found character that cannot start any token" },
	{ "target-port-70000.yaml", "8:17", "targetPort: 70000 is not a port" },
	{ "target-port-name-bad.yaml", "8:17", "\"Http_Port\" is not a valid port name" },
	{ "timeout-float.yaml", "9:23", "timeoutSeconds: must be an integer, not the number 10.5" },
	{ "timeout-huge.yaml", "9:23", "timeoutSeconds: 18446744073709551617 is out of range" },
	{ "timeout-negative.yaml", "9:23", "timeoutSeconds: -5 is out of range" },
	{ "type-unknown.yaml", "6:9", "spec.type: unsupported value \"Internal\"" },
	{ "unknown-alias.yaml", "7:5", "unknown alias \"*http\"" },
};

#define N_EXPECTS (sizeof(expects) / sizeof(expects[0]))

/* ---- helpers ------------------------------------------------------------ */

static char *path_of(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	assert_true(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	assert_int_equal(close(out), 0);
}

/* Reset VmHWM to the current RSS (Linux >= 4.0); false when not possible,
 * and then the memory checks are skipped, not failed. */
static bool hwm_reset(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, "5", 1) == 1;
	close(fd);
	return ok && tu_status_kb("VmHWM");
}

/* Parse `path`; fill `t`; return the load's result and the peak memory it
 * added (bytes) in *peak, or SIZE_MAX when it cannot be measured. */
static int load_measured(const char *path, struct tu_diag *t, size_t *peak)
{
	struct manifest_set set = { .services = NULL };
	bool measure = hwm_reset();
	size_t before = measure ? tu_status_kb("VmRSS") : 0;
	int ret;

	tu_diag_init(t);
	ret = manifest_load_file(path, &set, &t->d);
	*peak = measure ? (tu_status_kb("VmHWM") - before) * 1024 : SIZE_MAX;
	manifest_set_free(&set);
	return ret;
}

static const struct expect *expect_for(const char *file)
{
	for (size_t i = 0; i < N_EXPECTS; i++)
		if (!strcmp(expects[i].file, file))
			return &expects[i];
	return NULL;
}

/* The recorded line "path:pos: ...msg..." exists. */
static bool diag_has_at(const struct tu_diag *t, const char *path,
			const char *pos, const char *msg)
{
	char prefix[PATH_MAX + 64];

	snprintf(prefix, sizeof(prefix), "%s:%s: ", path, pos);
	for (unsigned i = 0; i < t->n; i++)
		if (!strncmp(t->lines[i], prefix, strlen(prefix)) &&
		    strstr(t->lines[i] + strlen(prefix), msg))
			return true;
	return false;
}

static void dump_diag(const struct tu_diag *t)
{
	for (unsigned i = 0; i < t->n; i++)
		print_message("  reported: %s\n", t->lines[i]);
}

/* `ldmesh-agent --check -m dir`: its exit status (output discarded). */
static int run_check(const char *dir)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execl(AGENT, AGENT, "--check", "-m", dir, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* ---- the corpus --------------------------------------------------------- */

/* Every file is in the table and every table entry is a file: a new
 * fixture cannot go unchecked, a renamed one cannot silently vanish. */
static void test_table_matches_corpus(void **state)
{
	DIR *d = opendir(BAD);
	struct dirent *e;
	size_t files = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (!expect_for(e->d_name))
			fail_msg("%s: not in the expectations table", e->d_name);
		files++;
	}
	closedir(d);
	assert_int_equal(files, N_EXPECTS);
	assert_true(files >= 50);
}

static void test_positions_and_memory(void **state)
{
	unsigned bad = 0;

	for (size_t i = 0; i < N_EXPECTS; i++) {
		const struct expect *x = &expects[i];
		char *path = path_of(BAD, x->file);
		struct tu_diag t;
		size_t peak;
		int ret = load_measured(path, &t, &peak);

		if (!x->pos) {
			if (ret != 0 || t.n) {
				dump_diag(&t);
				fail_msg("%s: accepted by design, got %d", x->file, ret);
			}
		} else {
			if (ret != -EINVAL || !diag_has_at(&t, path, x->pos, x->msg)) {
				dump_diag(&t);
				fail_msg("%s: expected -EINVAL and \"%s:%s: ...%s...\", got %d",
					 x->file, path, x->pos, x->msg, ret);
			}
			bad++;
		}
		if (peak != SIZE_MAX && peak > MEM_PARSE_MAX)
			fail_msg("%s: parsing added %zu KiB, bound %zu KiB", x->file,
				 peak >> 10, MEM_PARSE_MAX >> 10);
		free(path);
	}
	assert_true(bad >= 50);
}

/* Made at test time: things that must not be committed or cannot be. */
struct generated {
	char *dir;
	char *huge;  /* 100 MB, sparse */
	char *long_scalar;
	char *loop;  /* loop-a.yaml -> loop-b.yaml -> loop-a.yaml */
	char *dir_yaml;
};

static void generated_make(struct generated *g)
{
	FILE *f;
	int fd;

	g->dir = tu_tmpdir("badgen");
	g->huge = path_of(g->dir, "huge.yaml");
	fd = open(g->huge, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	/* Starts like a manifest; the hole reads as NULs, which would be a
	 * control-character error at 2:1 if anything read that far. */
	assert_int_equal(write(fd, "apiVersion: v1\n", 15), 15);
	assert_int_equal(ftruncate(fd, 100 << 20), 0);
	close(fd);

	g->long_scalar = path_of(g->dir, "long-scalar.yaml");
	f = fopen(g->long_scalar, "w");
	assert_non_null(f);
	fputs("apiVersion: v1\nkind: Service\nmetadata:\n  name: backend\n  annotations:\n    note: ", f);
	for (int i = 0; i < (3 << 20); i++)
		fputc('x', f);
	fputs("\n", f);
	assert_int_equal(fclose(f), 0);

	g->loop = path_of(g->dir, "loop-a.yaml");
	{
		char *b = path_of(g->dir, "loop-b.yaml");

		assert_int_equal(symlink("loop-b.yaml", g->loop), 0);
		assert_int_equal(symlink("loop-a.yaml", b), 0);
		free(b);
	}
	g->dir_yaml = path_of(g->dir, "dir.yaml");
	assert_int_equal(mkdir(g->dir_yaml, 0755), 0);
}

static void generated_free(struct generated *g)
{
	tu_rmtree(g->dir);
	free(g->dir);
	free(g->huge);
	free(g->long_scalar);
	free(g->loop);
	free(g->dir_yaml);
}

/* I/O-type problems have no line: the message is "path: reason". */
static void expect_path_level(const char *path, int want_ret, const char *msg,
			      size_t mem_max)
{
	struct tu_diag t;
	char prefix[PATH_MAX + 8];
	size_t peak;
	int ret = load_measured(path, &t, &peak);

	snprintf(prefix, sizeof(prefix), "%s: ", path);
	if (ret != want_ret || t.n != 1 || strncmp(t.lines[0], prefix, strlen(prefix)) ||
	    !strstr(t.lines[0], msg)) {
		dump_diag(&t);
		fail_msg("%s: expected %d and \"%s...%s\", got %d", path, want_ret,
			 prefix, msg, ret);
	}
	if (peak != SIZE_MAX && peak > mem_max)
		fail_msg("%s: loading added %zu KiB, bound %zu KiB", path,
			 peak >> 10, mem_max >> 10);
}

static void test_generated(void **state)
{
	struct generated g;

	generated_make(&g);
	/* Refused by size before a byte is read: no memory to speak of. */
	expect_path_level(g.huge, -EFBIG, "more than the 33554432 allowed",
			  MEM_HUGE_MAX);
	{
		struct tu_diag t;
		size_t peak;

		assert_int_equal(load_measured(g.long_scalar, &t, &peak), -EINVAL);
		if (!diag_has_at(&t, g.long_scalar, "6:11", "longer than 2097152")) {
			dump_diag(&t);
			fail_msg("long scalar: wrong report");
		}
		assert_true(peak == SIZE_MAX || peak <= MEM_PARSE_MAX);
	}
	expect_path_level(g.loop, -ELOOP, "open: Too many levels of symbolic links",
			  MEM_HUGE_MAX);
	expect_path_level(g.dir_yaml, -EINVAL, "not a regular file", MEM_HUGE_MAX);
	generated_free(&g);
}

/* ---- the last good version stays in force ------------------------------ */

static const char good_yaml[] =
	"apiVersion: v1\nkind: Service\nmetadata:\n  name: keeper\nspec:\n"
	"  clusterIP: 10.96.0.42\n  ports:\n  - port: 80\n";

static void assert_keeper(const struct sources *s, const char *what)
{
	if (s->n != 1 || s->v[0].set->n_services != 1 ||
	    strcmp(s->v[0].set->services[0].meta.name, "keeper") ||
	    s->v[0].set->services[0].ports[0].port != 80)
		fail_msg("%s: the good version is no longer in force", what);
}

/* Load a good file, replace it at the same path by the bad bytes, update:
 * nothing changes and the good objects stay. */
static void test_good_state_kept(void **state)
{
	char *dir = tu_tmpdir("badkeep");
	char *path = path_of(dir, "svc.yaml");
	struct generated g;

	generated_make(&g);
	for (size_t i = 0; i <= N_EXPECTS; i++) {
		struct sources s = { .v = NULL };
		struct tu_diag t;
		const char *what = i < N_EXPECTS ? expects[i].file : "huge.yaml";

		if (i < N_EXPECTS && !expects[i].pos)
			continue; /* accepted: replacing the file is a real change */
		tu_write(dir, "svc.yaml", good_yaml);
		tu_diag_init(&t);
		assert_int_equal(sources_update(&s, path, true, &t.d), 1);
		assert_keeper(&s, "good version");

		if (i < N_EXPECTS) {
			char *bad = path_of(BAD, expects[i].file);

			copy_file(bad, path);
			free(bad);
		} else {
			/* A good file that grows to 100 MB (sparse). */
			assert_int_equal(truncate(path, 100 << 20), 0);
		}
		assert_int_equal(sources_update(&s, path, true, &t.d), 0);
		if (!t.d.errors)
			fail_msg("%s: not reported", what);
		assert_keeper(&s, what);
		sources_free(&s);
	}
	generated_free(&g);
	free(path);
	tu_rmtree(dir);
	free(dir);
}

/* ---- ldmesh-agent --check ------------------------------------------------ */

static void test_agent_check(void **state)
{
	char *dir = tu_tmpdir("badcheck");
	struct generated g;

	for (size_t i = 0; i < N_EXPECTS; i++) {
		char *from = path_of(BAD, expects[i].file);
		char *to = path_of(dir, expects[i].file);
		int want = expects[i].pos ? 1 : 0, got;

		copy_file(from, to);
		got = run_check(dir);
		if (got != want)
			fail_msg("--check on %s: exit %d, expected %d",
				 expects[i].file, got, want);
		unlink(to);
		free(from);
		free(to);
	}
	/* The generated ones, each alone in its folder. */
	generated_make(&g);
	{
		char *paths[] = { g.huge, g.long_scalar };

		for (size_t i = 0; i < 2; i++) {
			char *sub = tu_tmpdir("badcheck1");
			char *to = path_of(sub, "x.yaml");

			assert_int_equal(rename(paths[i], to), 0);
			assert_int_equal(run_check(sub), 1);
			tu_rmtree(sub);
			free(sub);
			free(to);
		}
	}
	/* The loop and the directory: the scan reports them. */
	unlink(g.huge);
	assert_int_equal(run_check(g.dir), 1);
	generated_free(&g);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_matches_corpus),
		cmocka_unit_test(test_positions_and_memory),
		cmocka_unit_test(test_generated),
		cmocka_unit_test(test_good_state_kept),
		cmocka_unit_test(test_agent_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
