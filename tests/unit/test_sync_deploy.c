/* SPDX-License-Identifier: MIT */
/* The deployment in examples/: every file parses with the agent's own YAML
 * reader, the ClusterRole grants exactly what ldmesh-sync asks the API
 * server for (agent/sync/resources.c), and the objects that must agree do:
 * the binding names the role and the DaemonSet's account, both containers
 * share the folder, the agent holds one capability and the probes are the
 * ones ldmeshctl answers. A change to either side that breaks the other
 * fails here, not on a cluster. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "ldmesh/snapshot.h"
#include "resources.h"
#include "testutil.h"
#include "yaml_tree.h"

#define EXAMPLES LDMESH_FIXTURES "/../../examples"
#define DEPLOY EXAMPLES "/deploy/ldmesh.yaml"

typedef const struct yaml_tree_node node_t;

/* The node at a dotted path of map keys, or NULL. */
static node_t *at(node_t *n, const char *dotted)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", dotted);
	for (char *k = strtok_r(buf, ".", &save); k && n; k = strtok_r(NULL, ".", &save))
		n = yaml_tree_map_get(n, k);
	return n;
}

static const char *str_at(node_t *n, const char *dotted)
{
	n = at(n, dotted);
	return n && n->kind == YAML_TREE_SCALAR ? n->str : NULL;
}

static bool is(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static bool seq_has(node_t *seq, const char *s)
{
	for (size_t i = 0; seq && seq->kind == YAML_TREE_SEQ && i < seq->n; i++)
		if (seq->child[i]->kind == YAML_TREE_SCALAR && !strcmp(seq->child[i]->str, s))
			return true;
	return false;
}

/* The seq's scalars joined by spaces (a command line). */
static const char *seq_join(node_t *seq, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; seq && seq->kind == YAML_TREE_SEQ && i < seq->n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " " : "",
					seq->child[i]->kind == YAML_TREE_SCALAR ? seq->child[i]->str
										 : "?");
	return buf;
}

static struct yaml_tree_stream load(const char *path)
{
	struct yaml_tree_stream s;
	struct yaml_tree_error err;
	int rc = yaml_tree_load_file(path, 1 << 20, &s, &err);

	if (rc)
		fail_msg("%s:%u:%u: %s", path, err.line, err.col, err.msg);
	return s;
}

/* The document of `kind` in the stream (exactly one). */
static node_t *doc(const struct yaml_tree_stream *s, const char *kind)
{
	node_t *found = NULL;

	for (size_t i = 0; i < s->n_docs; i++) {
		const char *k = str_at(s->docs[i].root, "kind");
		if (is(k, kind)) {
			if (found)
				fail_msg("%s: two documents of kind %s", DEPLOY, kind);
			found = s->docs[i].root;
		}
	}
	if (!found)
		fail_msg("%s: no %s", DEPLOY, kind);
	return found;
}

static unsigned parse_tree(const char *dir)
{
	unsigned n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[1024];
		struct stat st;
		const char *dot = strrchr(de->d_name, '.');

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_int_equal(stat(path, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			n += parse_tree(path);
		} else if (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml") ||
				   !strcmp(dot, ".json"))) {
			struct yaml_tree_stream s = load(path);
			assert_true(s.n_docs > 0);
			yaml_tree_free(&s);
			n++;
		}
	}
	closedir(d);
	return n;
}

static void test_every_example_parses(void **state)
{
	(void)state;
	/* deploy/ldmesh.yaml, deploy/app.yaml and the demo's manifests */
	assert_true(parse_tree(EXAMPLES) >= 6);
}

/* "v1" -> "", "discovery.k8s.io/v1" -> "discovery.k8s.io" */
static void group_of(const char *api_version, char *out, size_t len)
{
	const char *slash = strchr(api_version, '/');

	snprintf(out, len, "%.*s", slash ? (int)(slash - api_version) : 0, api_version);
}

static const struct sync_resource *sync_resource_of(const char *group, const char *resource)
{
	for (size_t i = 0; i < sync_n_resources; i++) {
		char g[128];

		group_of(sync_resources[i].api_version, g, sizeof(g));
		if (!strcmp(g, group) && !strcmp(sync_resources[i].name, resource))
			return &sync_resources[i];
	}
	return NULL;
}

/* Whether `rules` grants `verb` on group/resource. */
static bool grants(node_t *rules, const char *group, const char *resource, const char *verb)
{
	for (size_t i = 0; rules && i < rules->n; i++)
		if (seq_has(at(rules->child[i], "apiGroups"), group) &&
		    seq_has(at(rules->child[i], "resources"), resource) &&
		    seq_has(at(rules->child[i], "verbs"), verb))
			return true;
	return false;
}

static void test_rbac_is_what_sync_requests(void **state)
{
	struct yaml_tree_stream s = load(DEPLOY);
	node_t *rules = at(doc(&s, "ClusterRole"), "rules");

	(void)state;
	assert_non_null(rules);
	assert_int_equal(rules->kind, YAML_TREE_SEQ);
	/* everything ldmesh-sync lists and watches is granted ... */
	for (size_t i = 0; i < sync_n_resources; i++) {
		char g[128];

		group_of(sync_resources[i].api_version, g, sizeof(g));
		if (!grants(rules, g, sync_resources[i].name, "list") ||
		    !grants(rules, g, sync_resources[i].name, "watch"))
			fail_msg("%s: ClusterRole lacks list+watch on %s (group \"%s\")", DEPLOY,
				 sync_resources[i].name, g);
	}
	/* ... and nothing else: no other resource, verb, wildcard, URL or
	 * name restriction (which would break the all-namespaces list) */
	for (size_t i = 0; i < rules->n; i++) {
		node_t *r = rules->child[i], *groups = at(r, "apiGroups"),
		       *res = at(r, "resources"), *verbs = at(r, "verbs");

		assert_non_null(groups);
		assert_non_null(res);
		assert_non_null(verbs);
		assert_null(at(r, "nonResourceURLs"));
		assert_null(at(r, "resourceNames"));
		for (size_t v = 0; v < verbs->n; v++)
			if (strcmp(verbs->child[v]->str, "list") && strcmp(verbs->child[v]->str, "watch"))
				fail_msg("%s:%u: verb %s: ldmesh-sync only lists and watches", DEPLOY,
					 verbs->child[v]->line, verbs->child[v]->str);
		for (size_t g = 0; g < groups->n; g++)
			for (size_t k = 0; k < res->n; k++)
				if (!sync_resource_of(groups->child[g]->str, res->child[k]->str))
					fail_msg("%s:%u: %s in group \"%s\": ldmesh-sync does not "
						 "request it", DEPLOY, res->child[k]->line,
						 res->child[k]->str, groups->child[g]->str);
	}
	yaml_tree_free(&s);
}

/* The container named `name` of the pod spec. */
static node_t *container(node_t *pod, const char *name)
{
	node_t *cs = at(pod, "containers");

	for (size_t i = 0; cs && i < cs->n; i++)
		if (is(str_at(cs->child[i], "name"), name))
			return cs->child[i];
	fail_msg("%s: no container %s", DEPLOY, name);
	return NULL;
}

/* The value of `--flag=VALUE` in a container's command, or NULL. */
static const char *flag(node_t *c, const char *prefix)
{
	node_t *cmd = at(c, "command");

	for (size_t i = 0; cmd && i < cmd->n; i++)
		if (!strncmp(cmd->child[i]->str, prefix, strlen(prefix)))
			return cmd->child[i]->str + strlen(prefix);
	return NULL;
}

/* The hostPath behind the volume a container mounts at `mount_path`. */
static const char *host_path(node_t *pod, node_t *c, const char *mount_path)
{
	node_t *mounts = at(c, "volumeMounts"), *vols = at(pod, "volumes");

	for (size_t i = 0; mounts && i < mounts->n; i++) {
		if (!is(str_at(mounts->child[i], "mountPath"), mount_path))
			continue;
		for (size_t v = 0; vols && v < vols->n; v++)
			if (is(str_at(vols->child[v], "name"), str_at(mounts->child[i], "name")))
				return str_at(vols->child[v], "hostPath.path");
	}
	return NULL;
}

static void test_daemonset_agrees(void **state)
{
	struct yaml_tree_stream s = load(DEPLOY);
	node_t *sa = doc(&s, "ServiceAccount"), *role = doc(&s, "ClusterRole"),
	       *bind = doc(&s, "ClusterRoleBinding"), *ds = doc(&s, "DaemonSet");
	node_t *pod = at(ds, "spec.template.spec"), *subjects = at(bind, "subjects");
	node_t *sync = container(pod, "sync"), *agent = container(pod, "agent");
	const char *sa_name = str_at(sa, "metadata.name"), *sa_ns = str_at(sa, "metadata.namespace");
	char cmd[512], parent[sizeof(LDMESH_TABLE_DEFAULT)];
	bool bound = false;

	(void)state;
	assert_string_equal(str_at(doc(&s, "Namespace"), "metadata.name"), sa_ns);
	/* the binding gives the role to the account the pods run as */
	assert_string_equal(str_at(bind, "roleRef.kind"), "ClusterRole");
	assert_string_equal(str_at(bind, "roleRef.name"), str_at(role, "metadata.name"));
	for (size_t i = 0; subjects && i < subjects->n; i++)
		bound |= is(str_at(subjects->child[i], "kind"), "ServiceAccount") &&
			 is(str_at(subjects->child[i], "name"), sa_name) &&
			 is(str_at(subjects->child[i], "namespace"), sa_ns);
	assert_true(bound);
	assert_string_equal(str_at(ds, "metadata.namespace"), sa_ns);
	assert_string_equal(str_at(pod, "serviceAccountName"), sa_name);
	assert_string_equal(str_at(pod, "priorityClassName"), "system-node-critical");
	/* every taint tolerated: an empty key with operator Exists */
	node_t *tol = at(pod, "tolerations");
	assert_non_null(tol);
	assert_string_equal(str_at(tol->child[0], "operator"), "Exists");
	assert_null(at(tol->child[0], "key"));
	assert_non_null(at(ds, "spec.updateStrategy.rollingUpdate.maxUnavailable"));
	assert_null(at(ds, "spec.updateStrategy.rollingUpdate.maxSurge"));

	/* one folder: ldmesh-sync writes what the agent reads, and the
	 * agent waits for its marker */
	const char *dir = flag(sync, "--manifests=");
	assert_non_null(dir);
	assert_string_equal(flag(agent, "--manifests="), dir);
	assert_non_null(host_path(pod, sync, dir));
	assert_string_equal(host_path(pod, sync, dir), host_path(pod, agent, dir));
	assert_non_null(flag(agent, "--require-sync"));
	/* the agent's default table, below the parent pods mount */
	assert_null(flag(agent, "--table"));
	snprintf(parent, sizeof(parent), "%s", LDMESH_TABLE_DEFAULT);
	assert_string_equal(host_path(pod, agent, dirname(parent)), parent);

	/* privileges: none but the agent's one capability */
	node_t *all[] = { sync, agent, at(pod, "initContainers")->child[0] };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		node_t *sc = at(all[i], "securityContext");
		assert_null(at(sc, "privileged"));
		assert_string_equal(str_at(sc, "allowPrivilegeEscalation"), "false");
		assert_true(seq_has(at(sc, "capabilities.drop"), "ALL"));
		assert_non_null(str_at(all[i], "resources.limits.memory"));
		assert_non_null(str_at(all[i], "resources.requests.memory"));
		assert_non_null(str_at(all[i], "resources.requests.cpu"));
	}
	assert_null(at(sync, "securityContext.capabilities.add"));
	node_t *add = at(agent, "securityContext.capabilities.add");
	assert_int_equal(add->n, 1);
	assert_string_equal(add->child[0]->str, "LINUX_IMMUTABLE");

	/* the probes ldmeshctl answers */
	assert_string_equal(seq_join(at(agent, "livenessProbe.exec.command"), cmd, sizeof(cmd)),
			    "ldmeshctl status --probe live");
	assert_string_equal(seq_join(at(agent, "readinessProbe.exec.command"), cmd, sizeof(cmd)),
			    "ldmeshctl status --probe ready");
	yaml_tree_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_example_parses),
		cmocka_unit_test(test_rbac_is_what_sync_requests),
		cmocka_unit_test(test_daemonset_agrees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
