/* The real ldmesh-agent binary against a temporary folder: every change a
 * user makes to the folder shows up in the table, read through the same
 * reader API the preload uses. Every wait is bounded. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "ldmesh/reader.h"
#include "testutil.h"

#define AGENT LDMESH_BINARY_DIR "/agent/ldmesh-agent"

struct env {
	char *dir, *table;
	char log[600];  /* the agent's stderr (run with -v) */
	pid_t pid;
	struct ldmesh_table t;
};

/* Run argv; its stderr goes to `log` (appended) when given, else away. */
static pid_t spawn_log(char *const argv[], int *status_out, const char *log)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0644)
			     : open("/dev/null", O_WRONLY);
		if (!getenv("LDMESH_TEST_VERBOSE") || log)
			dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (status_out) {
		waitpid(pid, status_out, 0);
		return 0;
	}
	return pid;
}

static pid_t spawn(char *const argv[], int *status_out)
{
	return spawn_log(argv, status_out, NULL);
}

/* Lines of the agent's log that contain `needle`. */
static int log_count(const struct env *e, const char *needle)
{
	FILE *f = fopen(e->log, "r");
	char line[1024];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

struct log_wait {
	const struct env *e;
	const char *needle;
	int before;
};

static bool log_grew(void *ctx)
{
	const struct log_wait *l = ctx;

	return log_count(l->e, l->needle) > l->before;
}

/* Wait (tu_wait) until the log has more than `before` lines with `needle`:
 * the agent has observably reacted. */
static void wait_log(const struct env *e, const char *needle, int before)
{
	struct log_wait l = { e, needle, before };

	if (!tu_wait(log_grew, &l))
		fail_msg("the agent never logged \"%s\" (log: %s)", needle, e->log);
}

static const char *svc_yaml(const char *name, const char *ip, int n_eps)
{
	static char buf[4096];
	int len = snprintf(buf, sizeof(buf),
		"apiVersion: v1\nkind: Service\nmetadata: {name: %s}\n"
		"spec:\n  clusterIP: %s\n  ports: [{port: 80, targetPort: 8080}]\n"
		"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		"metadata:\n  name: %s-x\n  labels: {kubernetes.io/service-name: %s}\n"
		"addressType: IPv4\nports: [{port: 8080, protocol: TCP}]\nendpoints:\n",
		name, ip, name, name);
	for (int i = 0; i < n_eps; i++)
		len += snprintf(buf + len, sizeof(buf) - (size_t)len,
				"- addresses: [\"10.244.0.%d\"]\n  conditions: {ready: true}\n", i + 1);
	if (!n_eps)
		snprintf(buf + len, sizeof(buf) - (size_t)len, "  []\n");
	return buf;
}

/* Endpoint count of default/<name>, or -1 when the service is absent. */
static int endpoints_of(struct env *e, const char *name, uint64_t *gen)
{
	char fqdn[256];
	int slot, n = -1;
	const struct ldmesh_snap *s = ldmesh_table_acquire(&e->t, &slot);

	if (!s)
		return -2;
	snprintf(fqdn, sizeof(fqdn), "%s.default.svc.cluster.local", name);
	const struct ldmesh_name_slot *ns = tu_name(s, fqdn, strlen(fqdn));
	struct ldmesh_service svc;
	/* through the accessor: the index may be a base's, read via a delta */
	if (ns && ldmesh_snap_service(s, ns->service, &svc))
		n = (int)svc.endpoint_count;
	if (gen)
		*gen = s->generation;
	ldmesh_table_release(&e->t, slot);
	return n;
}

struct eps_wait {
	struct env *e;
	const char *name;
	int want, got;
};

static bool eps_reached(void *ctx)
{
	struct eps_wait *w = ctx;

	w->got = endpoints_of(w->e, w->name, NULL);
	return w->got == w->want;
}

/* Wait (tu_wait) until default/<name> has `want` endpoints (-1: absent);
 * returns the count last seen. */
static int wait_endpoints(struct env *e, const char *name, int want)
{
	struct eps_wait w = { e, name, want, -3 };

	tu_wait(eps_reached, &w);
	return w.got;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	e->dir = tu_tmpdir("agent-m");
	e->table = tu_tmpdir("agent-t");
	tu_write(e->dir, "base.yaml", svc_yaml("base", "10.96.0.5", 1));
	snprintf(e->log, sizeof(e->log), "%s.log", e->table);
	char *argv[] = { AGENT, "-v", "--manifests", e->dir, "--table", e->table, NULL };
	e->pid = spawn_log(argv, NULL, e->log);
	assert_int_equal(ldmesh_table_init(&e->t, e->table, &ldmesh_reader_libc, NULL, NULL), 0);
	*state = e;
	assert_int_equal(wait_endpoints(e, "base", 1), 1);
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	if (e->pid > 0) {
		kill(e->pid, SIGKILL);
		waitpid(e->pid, NULL, 0);
	}
	ldmesh_table_close(&e->t);
	tu_rmtree(e->dir);
	tu_rmtree(e->table);
	char state_dir[600];
	snprintf(state_dir, sizeof(state_dir), "%s-state", e->table);
	tu_rmtree(state_dir);
	unlink(e->log);
	free(e->dir);
	free(e->table);
	free(e);
	return 0;
}

static void path_of(char *out, size_t len, const struct env *e, const char *rel)
{
	snprintf(out, len, "%s/%s", e->dir, rel);
}

static void test_create_edit_delete(void **state)
{
	struct env *e = *state;
	char p[512];

	tu_write(e->dir, "web.yaml", svc_yaml("web", "10.96.0.6", 2));
	assert_int_equal(wait_endpoints(e, "web", 2), 2);
	tu_write(e->dir, "web.yaml", svc_yaml("web", "10.96.0.6", 3));
	assert_int_equal(wait_endpoints(e, "web", 3), 3);
	path_of(p, sizeof(p), e, "web.yaml");
	assert_int_equal(unlink(p), 0);
	assert_int_equal(wait_endpoints(e, "web", -1), -1);
	/* The other file's objects were never touched. */
	assert_int_equal(endpoints_of(e, "base", NULL), 1);
}

static void test_rename_in_out(void **state)
{
	struct env *e = *state;
	char a[512], b[512], outside[512];

	/* An editor's save: write a temp name, rename over the real one. */
	tu_write(e->dir, ".web.yaml.swp", svc_yaml("web", "10.96.0.6", 2));
	path_of(a, sizeof(a), e, ".web.yaml.swp");
	path_of(b, sizeof(b), e, "web.yaml");
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(wait_endpoints(e, "web", 2), 2);
	/* Renamed to a name that is not a manifest: gone. */
	path_of(a, sizeof(a), e, "web.yaml.bak");
	assert_int_equal(rename(b, a), 0);
	assert_int_equal(wait_endpoints(e, "web", -1), -1);
	/* Moved out of the tree and back in. */
	snprintf(outside, sizeof(outside), "%s.outside.yaml", e->dir);
	assert_int_equal(rename(a, outside), 0);
	path_of(b, sizeof(b), e, "sub/dir/web.json");
	tu_write(e->dir, "sub/dir/keep.txt", "x");
	assert_int_equal(rename(outside, b), 0);
	assert_int_equal(wait_endpoints(e, "web", 2), 2);
}

static void test_bad_edit_keeps_last_good(void **state)
{
	struct env *e = *state;
	uint64_t gen_before, gen_after;

	tu_write(e->dir, "web.yaml", svc_yaml("web", "10.96.0.6", 2));
	assert_int_equal(wait_endpoints(e, "web", 2), 2);
	endpoints_of(e, "web", &gen_before);
	int seen = log_count(e, "web.yaml:");
	tu_write(e->dir, "web.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web\n");
	/* The agent reported it (observable), and nothing moved. */
	wait_log(e, "web.yaml:", seen);
	assert_int_equal(endpoints_of(e, "web", &gen_after), 2);
	assert_int_equal(gen_after, gen_before);
	/* A good version again is taken. */
	tu_write(e->dir, "web.yaml", svc_yaml("web", "10.96.0.6", 1));
	assert_int_equal(wait_endpoints(e, "web", 1), 1);
}

static void test_configmap_data_swap(void **state)
{
	struct env *e = *state;
	char link[512], data[512], tmp[512];

	/* The kubelet's atomic writer: files behind ..data, swapped whole. */
	tu_write(e->dir, "cm/..v1/web.yaml", svc_yaml("web", "10.96.0.6", 1));
	tu_write(e->dir, "cm/..v2/web.yaml", svc_yaml("web", "10.96.0.6", 3));
	path_of(data, sizeof(data), e, "cm/..data");
	assert_int_equal(symlink("..v1", data), 0);
	path_of(link, sizeof(link), e, "cm/web.yaml");
	assert_int_equal(symlink("..data/web.yaml", link), 0);
	assert_int_equal(wait_endpoints(e, "web", 1), 1);
	path_of(tmp, sizeof(tmp), e, "cm/..data_tmp");
	assert_int_equal(symlink("..v2", tmp), 0);
	assert_int_equal(rename(tmp, data), 0);
	assert_int_equal(wait_endpoints(e, "web", 3), 3);
}

static void test_sighup_and_sigterm_keep_table(void **state)
{
	struct env *e = *state;
	int status;
	uint64_t gen;

	int seen = log_count(e, "no change; generation");
	kill(e->pid, SIGHUP);
	/* everything read again, and found the same: the table stays */
	wait_log(e, "no change; generation", seen);
	assert_int_equal(endpoints_of(e, "base", &gen), 1);
	kill(e->pid, SIGTERM);
	assert_int_equal(waitpid(e->pid, &status, 0), e->pid);
	e->pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Pods keep working while the agent is away. */
	assert_int_equal(endpoints_of(e, "base", NULL), 1);

	/* A restarted agent continues the generation sequence, and gives the
	 * same answers. */
	tu_write(e->dir, "web.yaml", svc_yaml("web", "10.96.0.6", 2));
	char *argv[] = { AGENT, "-v", "--manifests", e->dir, "--table", e->table, NULL };
	e->pid = spawn_log(argv, NULL, e->log);
	assert_int_equal(wait_endpoints(e, "web", 2), 2);
	uint64_t gen2;
	endpoints_of(e, "web", &gen2);
	assert_true(gen2 > gen);
}

static void test_check_and_once(void **state)
{
	struct env *e = *state;
	int status;
	char *check[] = { AGENT, "--check", "--manifests", e->dir, NULL };

	spawn(check, &status);
	assert_int_equal(WEXITSTATUS(status), 0);
	/* a conflict fails the check too: two Services on one address */
	tu_write(e->dir, "clash.yaml",
		 "apiVersion: v1\nkind: Service\nmetadata: {name: clash}\n"
		 "spec: {clusterIP: 10.96.0.5, ports: [{port: 80}]}\n");
	spawn(check, &status);
	assert_int_equal(WEXITSTATUS(status), 1);
	char clash[512];
	snprintf(clash, sizeof(clash), "%s/clash.yaml", e->dir);
	assert_int_equal(unlink(clash), 0);
	tu_write(e->dir, "bad.yaml",
		 "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\n"
		 "spec: {ports: [{port: 70000}]}\n");
	spawn(check, &status);
	assert_int_equal(WEXITSTATUS(status), 1);

	char *table = tu_tmpdir("agent-once");
	char *once[] = { AGENT, "--once", "--manifests", e->dir, "--table", table, NULL };
	/* --once publishes what was good and exits 1: a file had an error */
	spawn(once, &status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	char snap[512];
	snprintf(snap, sizeof(snap), "%s/snap.1", table);
	struct ldmesh_snap s;
	char why[256];
	assert_int_equal(ldmesh_snap_map_file(&s, snap, why, sizeof(why)), 0);
	/* The good file published, the bad one reported and skipped. */
	const char *fq = "base.default.svc.cluster.local";
	assert_non_null(tu_name(&s, fq, strlen(fq)));
	fq = "bad.default.svc.cluster.local";
	assert_null(tu_name(&s, fq, strlen(fq)));
	ldmesh_snap_unmap(&s);
	/* and 0 once every file is good */
	char bad[512];
	snprintf(bad, sizeof(bad), "%s/bad.yaml", e->dir);
	assert_int_equal(unlink(bad), 0);
	spawn(once, &status);
	assert_int_equal(WEXITSTATUS(status), 0);
	tu_rmtree(table);
	char state_dir[600];
	snprintf(state_dir, sizeof(state_dir), "%s-state", table);
	tu_rmtree(state_dir);
	free(table);
}

static void test_folder_deleted_and_recreated(void **state)
{
	struct env *e = *state;
	char p[512];

	path_of(p, sizeof(p), e, "base.yaml");
	unlink(p);
	assert_int_equal(wait_endpoints(e, "base", -1), -1);
	tu_write(e->dir, "web.yaml", svc_yaml("web", "10.96.0.6", 2));
	assert_int_equal(wait_endpoints(e, "web", 2), 2);
	/* The folder itself goes: the agent notices (observable), and the
	 * last good state stays in force. */
	int seen = log_count(e, "is missing; keeping the last good objects");
	tu_rmtree(e->dir);
	wait_log(e, "is missing; keeping the last good objects", seen);
	assert_int_equal(endpoints_of(e, "web", NULL), 2);
	/* Back with new content: picked up (the agent polls for the root). */
	tu_write(e->dir, "web.yaml", svc_yaml("web", "10.96.0.6", 3));
	assert_int_equal(wait_endpoints(e, "web", 3), 3);
}

struct trickle {
	struct env *e;
	unsigned writes;
};

/* One more write to busy.yaml, then whether default/web is gone. */
static bool web_gone_while_writing(void *ctx)
{
	struct trickle *t = ctx;

	tu_write(t->e->dir, "busy.yaml", svc_yaml("busy", "10.96.0.7", 1 + (int)(t->writes++ % 3)));
	return endpoints_of(t->e, "web", NULL) == -1;
}

/* A removal that nothing is written beside is held until the folder has
 * been quiet (the agent's rule for rm -rf). A folder written to all the
 * time, as ldmesh-sync's is, is never quiet: the removal is applied with
 * the next write, not held for as long as the writes go on. Each poll of
 * the wait writes once, every 20 ms at most: far more often than the
 * folder's quiet period. */
static void test_removal_amid_writes(void **state)
{
	struct env *e = *state;
	struct trickle t = { e, 0 };
	char p[512];

	tu_write(e->dir, "web.yaml", svc_yaml("web", "10.96.0.6", 2));
	assert_int_equal(wait_endpoints(e, "web", 2), 2);
	path_of(p, sizeof(p), e, "web.yaml");
	int held = log_count(e, "holding the table");
	assert_int_equal(unlink(p), 0);
	/* held first: the writes come after, not in the same batch */
	wait_log(e, "holding the table", held);
	assert_true(tu_wait(web_gone_while_writing, &t));
	assert_int_equal(endpoints_of(e, "base", NULL), 1);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_edit_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_in_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_edit_keeps_last_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_configmap_data_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sighup_and_sigterm_keep_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_and_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folder_deleted_and_recreated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removal_amid_writes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
