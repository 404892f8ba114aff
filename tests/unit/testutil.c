#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "publish.h"
#include "snap_build.h"

static void tu__record(void *ctx, const char *line)
{
	struct tu_diag *t = ctx;
	if (t->n < TU_DIAG_MAX)
		snprintf(t->lines[t->n++], sizeof(t->lines[0]), "%s", line);
}

static void tu__note(void *ctx, const char *line)
{
	struct tu_diag *t = ctx;
	if (t->n_notes < TU_DIAG_MAX)
		snprintf(t->notes[t->n_notes++], sizeof(t->notes[0]), "%s", line);
}

#define TU_WAIT_S_DEFAULT 60

int tu_wait_ms(void)
{
	const char *env = getenv("LDMESH_TEST_WAIT_S");
	long s = env ? strtol(env, NULL, 10) : 0;

	return (s > 0 && s < 86400 ? (int)s : TU_WAIT_S_DEFAULT) * 1000;
}

static uint64_t tu__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool tu_wait(tu_cond_fn done, void *ctx)
{
	uint64_t end = tu__now_ms() + (uint64_t)tu_wait_ms();
	long pause_us = 500;

	while (tu__now_ms() < end) {
		if (done(ctx))
			return true;
		/* from half a millisecond up to 20: quick when the state is
		 * about to hold, light on a loaded machine when it is not */
		struct timespec ts = { 0, pause_us * 1000 };
		nanosleep(&ts, NULL);
		pause_us = pause_us * 2 < 20000 ? pause_us * 2 : 20000;
	}
	return done(ctx);
}

void tu_diag_init(struct tu_diag *t)
{
	memset(t, 0, sizeof(*t));
	t->d.report = tu__record;
	t->d.note = tu__note;
	t->d.ctx = t;
}

int tu_diag_has(const struct tu_diag *t, const char *needle)
{
	for (unsigned i = 0; i < t->n; i++)
		if (strstr(t->lines[i], needle))
			return 1;
	return 0;
}

char *tu_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path;
	if (asprintf(&path, "%s/ldmesh-%s-XXXXXX", base ? base : "/tmp", tag) < 0 ||
	    !mkdtemp(path))
		abort();
	return path;
}

static void tu__mkparents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			abort();
		*p = '/';
	}
}

void tu_write(const char *dir, const char *rel, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	tu__mkparents(path);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

void tu_unseal(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), fl;

	if (fd < 0)
		return;
	if (ioctl(fd, FS_IOC_GETFLAGS, &fl) == 0 && (fl & FS_IMMUTABLE_FL)) {
		fl &= ~FS_IMMUTABLE_FL;
		(void)ioctl(fd, FS_IOC_SETFLAGS, &fl);
	}
	close(fd);
}

static int tu__rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	/* published snapshots are immutable (publish.c): lift that first */
	if (flag == FTW_F)
		tu_unseal(path);
	return remove(path);
}

void tu_rmtree(const char *dir)
{
	nftw(dir, tu__rm, 16, FTW_DEPTH | FTW_PHYS);
}

#define TU_RING 8

const struct ldmesh_vip_slot *tu_vip(const struct ldmesh_snap *s,
				     const uint8_t addr[16], uint16_t port,
				     uint8_t protocol)
{
	static __thread struct ldmesh_vip_slot ring[TU_RING];
	static __thread unsigned next;
	struct ldmesh_vip_slot *v = &ring[next++ % TU_RING];

	return ldmesh_snap_find_vip(s, addr, port, protocol, v) ? v : NULL;
}

const struct ldmesh_name_slot *tu_name(const struct ldmesh_snap *s,
				       const char *fqdn, size_t len)
{
	static __thread struct ldmesh_name_slot ring[TU_RING];
	static __thread unsigned next;
	struct ldmesh_name_slot *n = &ring[next++ % TU_RING];

	return ldmesh_snap_find_name(s, fqdn, len, n) ? n : NULL;
}

const char *tu_str(const struct ldmesh_snap *s, ldmesh_str_t ref)
{
	static __thread char ring[TU_RING][LDMESH_STR_MAX + 1];
	static __thread unsigned next;

	return ldmesh_snap_strcpy(s, ref, ring[next++ % TU_RING], sizeof(ring[0]));
}

int tu_snap_init(struct ldmesh_snap *s, const void *base, size_t size,
		 char *why, size_t why_len)
{
	const char *reason = "";
	int err = ldmesh_snap_init(s, base, size, &reason);

	if (why && why_len)
		snprintf(why, why_len, "%s", reason);
	return err;
}

void tu_make_snap(uint64_t gen, unsigned n, void **bytes, size_t *size)
{
	static const struct snap_port_in port = { .name = "http", .port = 80,
		.target_port = 8080, .protocol = LDMESH_PROTO_TCP };
	struct snap_service_in *s = calloc(n, sizeof(*s));
	char (*names)[32] = calloc(n, sizeof(*names));
	struct snap_input in = {
		.cluster_domain = "cluster.local",
		.service_cidr_prefix = 108,
		.generation = gen,
		.created_unix_ns = 1000 + gen,
		.services = s,
		.n_services = n,
	};

	assert_non_null(s);
	assert_non_null(names);
	in.service_cidr[10] = in.service_cidr[11] = 0xff;
	in.service_cidr[12] = 10;
	in.service_cidr[13] = 96;
	for (unsigned i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "svc-%u", i);
		s[i].ns = "default";
		s[i].name = names[i];
		s[i].n_cluster_ips = 1;
		s[i].cluster_ips[0][10] = s[i].cluster_ips[0][11] = 0xff;
		s[i].cluster_ips[0][12] = 10;
		s[i].cluster_ips[0][13] = 96;
		s[i].cluster_ips[0][14] = (uint8_t)(i >> 8);
		s[i].cluster_ips[0][15] = (uint8_t)(i + 1);
		s[i].ports = &port;
		s[i].n_ports = 1;
	}
	assert_int_equal(snap_build(&in, bytes, size), 0);
	free(s);
	free(names);
}

char *tu_path_in(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

void tu_expect_reader(const char *dir, uint64_t gen, uint32_t n_services)
{
	struct ldmesh_table t;
	const struct ldmesh_snap *s;
	int slot;

	assert_int_equal(ldmesh_table_init(&t, dir, &ldmesh_reader_libc, NULL, NULL), 0);
	s = ldmesh_table_acquire(&t, &slot);
	if (!gen) {
		assert_null(s);
	} else {
		assert_non_null(s);
		assert_int_equal(s->generation, gen);
		assert_int_equal(s->n_services, n_services);
		ldmesh_table_release(&t, slot);
	}
	ldmesh_table_close(&t);
}

void tu_publish_ok(struct publisher *p, unsigned n_services)
{
	void *bytes;
	size_t size;
	char why[256] = "";

	tu_make_snap(publish_next_generation(p), n_services, &bytes, &size);
	if (publish_snapshot(p, bytes, size, 0, why, sizeof(why)))
		fail_msg("publish failed: %s", why);
	free(bytes);
}

size_t tu_status_kb(const char *key)
{
	char line[256];
	size_t kb = 0, klen = strlen(key);
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			kb = strtoul(line + klen + 1, NULL, 10);
	fclose(f);
	return kb;
}
