/* SPDX-License-Identifier: MIT */
/* ldmesh-sync's configuration (agent/sync/config.c, kubeconfig.c,
 * base64.c), its backoff (backoff.c), and that the agent's scanner never
 * reads what ldmesh-sync writes beside the objects (agent/source/scan.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backoff.h"
#include "sync_config.h"
#include "scan.h"
#include "testutil.h"

static const char kc_text[] =
	"apiVersion: v1\n"
	"kind: Config\n"
	"current-context: b\n"
	"contexts:\n"
	"- {name: a, context: {cluster: one, user: u1}}\n"
	"- name: b\n"
	"  context: {cluster: two, user: u2}\n"
	"clusters:\n"
	"- {name: one, cluster: {server: 'https://one:6443'}}\n"
	"- name: two\n"
	"  cluster:\n"
	"    server: https://[fd00::1]:443/\n"
	"    certificate-authority: pki/ca.crt\n"
	"    insecure-skip-tls-verify: true\n"
	"users:\n"
	"- {name: u1, user: {token: abc}}\n"
	"- name: u2\n"
	"  user:\n"
	"    tokenFile: /run/token\n"
	"    client-certificate-data: aGVsbG8=\n"
	"    client-key: key.pem\n";

static void test_kubeconfig(void **state)
{
	char *dir = tu_tmpdir("sync-kc"), path[512], err[512];
	struct sync_config c;

	tu_write(dir, "kc", kc_text);
	snprintf(path, sizeof(path), "%s/kc", dir);
	assert_int_equal(sync_config_kubeconfig(&c, path, err, sizeof(err)), 0);
	/* the current context, not the first; trailing '/' dropped */
	assert_string_equal(c.server, "https://[fd00::1]:443");
	assert_true(c.insecure);
	char want[600];
	snprintf(want, sizeof(want), "%s/pki/ca.crt", dir); /* relative to the file */
	assert_string_equal(c.ca_file, want);
	assert_string_equal(c.token_file, "/run/token");
	assert_null(c.token);
	assert_int_equal(c.cert.len, 5);
	assert_memory_equal(c.cert.data, "hello", 5);
	snprintf(want, sizeof(want), "%s/key.pem", dir);
	assert_string_equal(c.key_file, want);
	sync_config_free(&c);
	tu_rmtree(dir);
	free(dir);
}

static void kc_refused(const char *text, const char *says)
{
	char *dir = tu_tmpdir("sync-kc-bad"), path[512], err[512] = "";
	struct sync_config c;

	tu_write(dir, "kc", text);
	snprintf(path, sizeof(path), "%s/kc", dir);
	assert_int_equal(sync_config_kubeconfig(&c, path, err, sizeof(err)), -EINVAL);
	if (!strstr(err, says))
		fail_msg("\"%s\" does not say \"%s\"", err, says);
	assert_non_null(strstr(err, path));
	tu_rmtree(dir);
	free(dir);
}

static void test_kubeconfig_refused(void **state)
{
	kc_refused("current-context: x\ncontexts: []\n", "current-context \"x\" is not in contexts");
	kc_refused("current-context: x\ncontexts: [{name: x, context: {cluster: k, user: u}}]\n"
		   "clusters: [{name: k, cluster: {server: https://k}}]\n"
		   "users: [{name: u, user: {exec: {command: aws}}}]\n",
		   ":4:32: user.exec: credential plugins are not supported");
	kc_refused("current-context: x\ncontexts: [{name: x, context: {cluster: k, user: u}}]\n"
		   "clusters: [{name: k, cluster: {server: https://k}}]\n"
		   "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n",
		   "user.auth-provider: credential plugins are not supported");
	kc_refused("current-context: x\ncontexts: [{name: x, context: {cluster: k}}]\n"
		   "clusters: [{name: k, cluster: {certificate-authority: ca}}]\n",
		   "the cluster has no server");
	kc_refused("current-context: x\ncontexts: [{name: x, context: {cluster: k, user: u}}]\n"
		   "clusters: [{name: k, cluster: {server: https://k}}]\n"
		   "users: [{name: u, user: {client-certificate: c.pem}}]\n",
		   "a client certificate needs its key");
	kc_refused("current-context: x\ncontexts: [{name: x, context: {cluster: k}}]\n"
		   "clusters: [{name: k, cluster: {server: https://k, certificate-authority-data: '!!'}}]\n",
		   "certificate-authority-data: not base64");
	kc_refused("- a\n- b\n", "not a kubeconfig");
}

static void test_in_cluster_and_token(void **state)
{
	char *dir = tu_tmpdir("sync-sa"), err[512], tok[64];
	struct sync_config c;

	tu_write(dir, "ca.crt", "pem");
	tu_write(dir, "token", "first\n");
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(sync_config_in_cluster(&c, dir, err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://[fd00::1]:443");
	assert_int_equal(sync_config_token(&c, tok, sizeof(tok)), 0);
	assert_string_equal(tok, "first");
	/* rotated: the next request reads the new one */
	tu_write(dir, "token", "second");
	assert_int_equal(sync_config_token(&c, tok, sizeof(tok)), 0);
	assert_string_equal(tok, "second");
	sync_config_free(&c);
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_int_equal(sync_config_in_cluster(&c, dir, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
	unsetenv("KUBERNETES_SERVICE_HOST");
	tu_rmtree(dir);
	free(dir);
}

static void test_base64(void **state)
{
	struct sync_blob b;

	assert_int_equal(sync_base64_decode("aGVs\nbG8gd29ybGQ=", &b), 0);
	assert_string_equal(b.data, "hello world");
	free(b.data);
	assert_int_equal(sync_base64_decode("YQ", &b), 0); /* no padding */
	assert_string_equal(b.data, "a");
	free(b.data);
	assert_int_equal(sync_base64_decode("Y", &b), -EINVAL);
	assert_int_equal(sync_base64_decode("YQ==YQ", &b), -EINVAL);
	assert_int_equal(sync_base64_decode("a*b=", &b), -EINVAL);
}

static void test_backoff(void **state)
{
	double prev = 0;

	assert_true(sync_backoff(1, 0) >= 0.4 && sync_backoff(1, 0.999) < 0.8);
	for (unsigned n = 1; n < 100; n++) {
		double lo = sync_backoff(n, 0), hi = sync_backoff(n, 0.999999);

		assert_true(lo >= prev / 2); /* never shrinks by more than jitter */
		assert_true(hi <= SYNC_BACKOFF_MAX);
		assert_true(lo >= SYNC_BACKOFF_FIRST / 2);
		prev = lo;
	}
	assert_true(sync_backoff(99, 0) >= SYNC_BACKOFF_MAX / 2);
}

/* The marker and temporary files sit beside the objects: the agent must
 * never take them for manifests. */
static void test_agent_skips_ours(void **state)
{
	assert_false(scan_is_manifest_name(".ldmesh-synced"));
	assert_false(scan_is_manifest_name(".default__web.json.tmp.Ab12Cd"));
	assert_false(scan_is_manifest_name("..ldmesh-synced.tmp.Ab12Cd"));
	assert_true(scan_is_manifest_name("default__web.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kubeconfig),
		cmocka_unit_test(test_kubeconfig_refused),
		cmocka_unit_test(test_in_cluster_and_token),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_agent_skips_ours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
