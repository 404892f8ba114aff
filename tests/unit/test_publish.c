/* cmocka tests for the table writer (agent/publish/publish.c): directory and file
 * safety, generation sequence across restarts, reclamation of old files,
 * and a full filesystem never damaging the published table. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ldmesh/reader.h"
#include "publish.h"
#include "snap_build.h"
#include "testutil.h"

static int exists(const char *dir, const char *name)
{
	struct stat st;
	char *p = tu_path_in(dir, name);
	int r = lstat(p, &st) == 0;

	free(p);
	return r;
}

/* Names of snap.* files in dir, sorted, joined with ",". */
static void snap_files(const char *dir, char *out, size_t len)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);

	assert_true(n >= 0);
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		if (!strncmp(ents[i]->d_name, "snap.", 5)) {
			if (out[0])
				strncat(out, ",", len - strlen(out) - 1);
			strncat(out, ents[i]->d_name, len - strlen(out) - 1);
		}
		free(ents[i]);
	}
	free(ents);
}

static int slurp(const char *path, void **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	char *b = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			b = realloc(b, cap);
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (!r)
			break;
	}
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
}

/* Publish a snapshot whose header says it is a delta over `base` (the
 * content is a whole table: retention only goes by the names). */
static void publish_over(struct publisher *p, uint64_t base)
{
	struct ldmesh_snap_header h;
	void *bytes;
	size_t size;
	char why[256] = "";

	tu_make_snap(publish_next_generation(p), 1, &bytes, &size);
	memcpy(&h, bytes, sizeof(h));
	h.base_generation = base;
	ldmesh_snap_header_seal(bytes, &h);
	if (publish_snapshot(p, bytes, size, base, why, sizeof(why)))
		fail_msg("publish failed: %s", why);
	free(bytes);
}

static void expect_files(const char *dir, const char *want)
{
	char names[256];

	snap_files(dir, names, sizeof(names));
	assert_string_equal(names, want);
}

/* Kept: the current file, its base, the previous file and its base. */
static void test_retention_keeps_bases(void **state)
{
	char *dir = tu_tmpdir("pub");
	struct publisher p;
	char why[256] = "";

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	publish_over(&p, 0);
	publish_over(&p, 1);
	publish_over(&p, 1);
	expect_files(dir, "snap.1,snap.2,snap.3");
	publish_over(&p, 1);
	expect_files(dir, "snap.1,snap.3,snap.4");
	/* a new base: the old one stays while the previous delta needs it */
	publish_over(&p, 0);
	expect_files(dir, "snap.1,snap.4,snap.5");
	publish_over(&p, 5);
	expect_files(dir, "snap.5,snap.6");
	publish_over(&p, 5);
	expect_files(dir, "snap.5,snap.6,snap.7");
	publish_over(&p, 0);
	publish_over(&p, 0);
	expect_files(dir, "snap.8,snap.9");
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

/* A restarted agent keeps the current snapshot and the base it names,
 * and takes the name only as a name: never a newer file. */
static void test_restart_keeps_current_base(void **state)
{
	char *dir = tu_tmpdir("pub");
	struct publisher p;
	char why[256] = "";

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	publish_over(&p, 0);
	publish_over(&p, 1);
	publish_over(&p, 1);
	publish_close(&p);
	tu_write(dir, "snap.9", "left by someone");
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	expect_files(dir, "snap.1,snap.3");
	assert_int_equal(p.base_generation, 1);
	/* the next delta over the same base keeps all three */
	publish_over(&p, 1);
	expect_files(dir, "snap.1,snap.3,snap.4");
	/* a header naming a later generation as its base spares nothing */
	publish_over(&p, 9);
	publish_close(&p);
	tu_write(dir, "snap.9", "planted");
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_int_equal(p.base_generation, 0);
	expect_files(dir, "snap.5");
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

/* Announce the next generation, a base of `n_services`, at `now_ns`. */
static uint64_t announce_ok(struct publisher *p, unsigned n_services, uint64_t now_ns)
{
	uint64_t gen = publish_next_generation(p);
	void *bytes;
	size_t size;
	char why[256] = "";

	tu_make_snap(gen, n_services, &bytes, &size);
	if (publish_ahead(p, bytes, size, now_ns, why, sizeof(why)))
		fail_msg("announce failed: %s", why);
	free(bytes);
	return gen;
}

/* What `ldmeshctl -t dir [-o json] status` prints (the first 4 KB). */
static void ctl_status(const char *dir, bool json, char *out, size_t len)
{
	char cmd[512];
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s/agent/ldmeshctl -t '%s'%s status", LDMESH_BINARY_DIR, dir,
		 json ? " -o json" : "");
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	assert_int_equal(pclose(f), 0);
}

/* The generation the control page's `ahead` announces, 0 for none. */
static uint64_t announced(const struct publisher *p)
{
	struct ldmesh_control_record rec;

	return ldmesh_control_ahead_get(p->control, &rec) == 0 ? rec.generation : 0;
}

/*
 * A base announced ahead: written and announced, not current, until its
 * time comes; then current with its record. Published over in the
 * meantime: a delta over it keeps it as its base, a base removes it. The
 * generation numbers never go back or repeat.
 */
static void test_ahead_announced_then_current(void **state)
{
	char *dir = tu_tmpdir("pub");
	struct publisher p;
	struct ldmesh_control_record rec;
	char why[256] = "";
	const uint64_t t0 = 1000000000ULL;

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_int_equal(publish_ahead_wait_ms(&p, t0), -1);
	tu_publish_ok(&p, 2);
	assert_int_equal(announce_ok(&p, 3, t0), 2);
	expect_files(dir, "snap.1,snap.2");
	assert_int_equal(p.control->generation, 1);
	assert_int_equal(announced(&p), 2);
	tu_expect_reader(dir, 1, 2);
	/* and ldmeshctl says so */
	char out[4096];
	ctl_status(dir, false, out, sizeof(out));
	assert_non_null(strstr(out, "\nannounced:   2 (a base"));
	ctl_status(dir, true, out, sizeof(out));
	assert_non_null(strstr(out, "\"announcedGeneration\":2,"));
	assert_int_equal(publish_ahead_wait_ms(&p, t0), LDMESH_AHEAD_LEAD_NS / 1000000 + 1);
	assert_int_equal(publish_ahead_wait_ms(&p, t0 + LDMESH_AHEAD_LEAD_NS), 0);
	assert_int_equal(publish_ahead_commit(&p, why, sizeof(why)), 0);
	assert_int_equal(p.control->generation, 2);
	assert_int_equal(ldmesh_control_record_get(p.control, 2, &rec), 0);
	assert_int_equal(publish_ahead_wait_ms(&p, t0 + LDMESH_AHEAD_LEAD_NS), -1);
	tu_expect_reader(dir, 2, 3);
	expect_files(dir, "snap.1,snap.2");
	ctl_status(dir, false, out, sizeof(out));
	assert_null(strstr(out, "announced:"));
	ctl_status(dir, true, out, sizeof(out));
	assert_non_null(strstr(out, "\"announcedGeneration\":null,"));

	/* an edit before its time: a delta over it, the next number */
	assert_int_equal(announce_ok(&p, 4, t0), 3);
	publish_over(&p, 3);
	assert_int_equal(p.control->generation, 4);
	assert_int_equal(p.base_generation, 3);
	assert_int_equal(publish_ahead_wait_ms(&p, t0), -1);
	expect_files(dir, "snap.2,snap.3,snap.4");

	/* a base before its time: the announced file goes */
	assert_int_equal(announce_ok(&p, 5, t0), 5);
	tu_publish_ok(&p, 6);
	assert_int_equal(p.control->generation, 6);
	assert_false(exists(dir, "snap.5"));
	tu_expect_reader(dir, 6, 6);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

/* A restarted agent finds a base announced by the one before: it zeroes
 * the announcement, removes the file (readers may have mapped it ahead)
 * and numbers past it, so no reader ever meets another file under that
 * number. A committed base changed since it was written is dropped, the
 * generation in force stays. */
static void test_ahead_across_restart_and_tampering(void **state)
{
	char *dir = tu_tmpdir("pub");
	struct publisher p;
	char why[256] = "", *path;

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 2);
	assert_int_equal(announce_ok(&p, 3, 0), 2);
	publish_close(&p);
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_int_equal(announced(&p), 0);
	assert_int_equal(p.generation, 1);
	assert_int_equal(publish_next_generation(&p), 3);
	expect_files(dir, "snap.1");
	tu_expect_reader(dir, 1, 2);

	assert_int_equal(announce_ok(&p, 3, 0), 3);
	path = tu_path_in(dir, "snap.3");
	tu_unseal(path);
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(publish_ahead_commit(&p, why, sizeof(why)), -ESTALE);
	assert_non_null(strstr(why, "snap.3 changed or went since it was written"));
	assert_int_equal(p.control->generation, 1);
	assert_int_equal(announced(&p), 0);
	assert_int_equal(publish_ahead_wait_ms(&p, 0), -1);
	expect_files(dir, "snap.1");
	assert_int_equal(publish_next_generation(&p), 4);
	free(path);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

/* ---- directory and control page ---------------------------------------- */

static void test_open_creates_dir_0755_and_control_0644(void **state)
{
	char *base = tu_tmpdir("pub"), *dir = tu_path_in(base, "table"), *ctl;
	struct publisher p;
	struct stat st;
	char why[256] = "";
	mode_t old = umask(077); /* modes must not depend on the umask */

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	umask(old);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	ctl = tu_path_in(dir, "control");
	assert_int_equal(lstat(ctl, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_size, 4096);
	assert_int_equal(p.control->magic, LDMESH_CONTROL_MAGIC);
	assert_int_equal(p.control->version_major, LDMESH_SNAP_VERSION_MAJOR);
	assert_int_equal(p.control->generation, 0);
	assert_int_equal(p.generation, 0);
	assert_int_equal(publish_next_generation(&p), 1);
	tu_expect_reader(dir, 0, 0); /* nothing published yet */
	publish_close(&p);
	free(ctl);
	free(dir);
	tu_rmtree(base);
	free(base);
}

static void test_open_tightens_existing_dir_mode(void **state)
{
	char *dir = tu_tmpdir("pub"); /* mkdtemp: 0700 */
	struct publisher p;
	struct stat st;
	char why[256] = "";

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755); /* pods can read it */
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

static void test_symlink_table_path_refused(void **state)
{
	char *base = tu_tmpdir("pub"), *real = tu_path_in(base, "real"),
	     *link = tu_path_in(base, "link");
	struct publisher p;
	char why[256] = "";

	(void)state;
	assert_int_equal(mkdir(real, 0755), 0);
	assert_int_equal(symlink(real, link), 0);
	/* Linux: O_DIRECTORY|O_NOFOLLOW on a symlink to a dir is ENOTDIR */
	int ret = publish_open(&p, link, why, sizeof(why));
	assert_true(ret == -ENOTDIR || ret == -ELOOP);
	assert_non_null(strstr(why, link));
	assert_false(exists(real, "control"));
	assert_int_equal(p.dir_fd, -1);
	assert_null(p.control);
	free(real);
	free(link);
	tu_rmtree(base);
	free(base);
}

static void test_writable_by_others_refused(void **state)
{
	char *dir = tu_tmpdir("pub");
	struct publisher p;
	char why[256] = "";

	(void)state;
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "writable"));
	assert_false(exists(dir, "control"));
	assert_int_equal(chmod(dir, 0775), 0); /* group-writable too */
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), -EPERM);
	assert_false(exists(dir, "control"));
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

static void test_dir_owned_by_other_user_refused(void **state)
{
	char *dir = tu_tmpdir("pub");
	struct publisher p;
	char why[256] = "";

	(void)state;
	if (geteuid() != 0) {
		tu_rmtree(dir);
		free(dir);
		skip();
	}
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), -EPERM);
	assert_false(exists(dir, "control"));
	tu_rmtree(dir);
	free(dir);
}

static void test_planted_control_symlink_not_followed(void **state)
{
	char *dir = tu_tmpdir("pub"), *victim_dir = tu_tmpdir("victim");
	char *victim = tu_path_in(victim_dir, "victim"), *ctl = tu_path_in(dir, "control");
	struct publisher p;
	char why[256] = "";
	void *buf;
	size_t len;

	(void)state;
	tu_write(victim_dir, "victim", "precious\n");
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(symlink(victim, ctl), 0);
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), -ELOOP);
	assert_int_equal(slurp(victim, &buf, &len), 0);
	assert_int_equal(len, 9);
	assert_memory_equal(buf, "precious\n", 9);
	free(buf);
	free(victim);
	free(ctl);
	tu_rmtree(dir);
	free(dir);
	tu_rmtree(victim_dir);
	free(victim_dir);
}

static void test_name_too_long(void **state)
{
	char dir[400];
	struct publisher p;
	char why[256] = "";

	(void)state;
	memset(dir, 'a', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = 0;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), -ENAMETOOLONG);
}

/* ---- publishing -------------------------------------------------------- */

static void test_publish_then_read_back(void **state)
{
	char *dir = tu_tmpdir("pub"), *f;
	struct publisher p;
	struct ldmesh_table t;
	const struct ldmesh_snap *s;
	struct stat st;
	char why[256] = "";
	void *bytes, *disk;
	size_t size, disk_len;
	int slot;

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_int_equal(ldmesh_table_init(&t, dir, &ldmesh_reader_libc, NULL, NULL), 0);
	assert_null(ldmesh_table_acquire(&t, &slot));

	tu_make_snap(1, 3, &bytes, &size);
	assert_int_equal(publish_snapshot(&p, bytes, size, 0, why, sizeof(why)), 0);
	assert_int_equal(p.generation, 1);
	assert_int_equal(p.control->generation, 1);
	assert_int_equal(p.control->agent_pid, (uint32_t)getpid());
	assert_true(p.control->published_unix_ns > 0);

	f = tu_path_in(dir, "snap.1");
	assert_int_equal(lstat(f, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0444);
	assert_int_equal(slurp(f, &disk, &disk_len), 0);
	assert_int_equal(disk_len, size);
	assert_memory_equal(disk, bytes, size);

	s = ldmesh_table_acquire(&t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, 1);
	assert_int_equal(s->size, size);
	assert_memory_equal(s->base, bytes, size);
	assert_int_equal(s->n_services, 3);
	ldmesh_table_release(&t, slot);

	/* a second generation is picked up by the same reader */
	free(bytes);
	tu_make_snap(2, 5, &bytes, &size);
	assert_int_equal(publish_snapshot(&p, bytes, size, 0, why, sizeof(why)), 0);
	s = ldmesh_table_acquire(&t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, 2);
	assert_memory_equal(s->base, bytes, size);
	ldmesh_table_release(&t, slot);

	ldmesh_table_close(&t);
	publish_close(&p);
	free(bytes);
	free(disk);
	free(f);
	tu_rmtree(dir);
	free(dir);
}

static void test_old_snapshots_unlinked(void **state)
{
	char *dir = tu_tmpdir("pub");
	struct publisher p;
	struct ldmesh_table t;
	const struct ldmesh_snap *held;
	char why[256] = "", names[256];
	int slot;

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 1);
	snap_files(dir, names, sizeof(names));
	assert_string_equal(names, "snap.1");
	/* a reader pins generation 1 */
	assert_int_equal(ldmesh_table_init(&t, dir, &ldmesh_reader_libc, NULL, NULL), 0);
	held = ldmesh_table_acquire(&t, &slot);
	assert_non_null(held);
	tu_publish_ok(&p, 2);
	snap_files(dir, names, sizeof(names));
	assert_string_equal(names, "snap.1,snap.2"); /* previous kept */
	tu_publish_ok(&p, 3);
	snap_files(dir, names, sizeof(names));
	assert_string_equal(names, "snap.2,snap.3");
	tu_publish_ok(&p, 4);
	snap_files(dir, names, sizeof(names));
	assert_string_equal(names, "snap.3,snap.4");
	/* the unlinked file's mapping is still whole for its reader */
	assert_int_equal(held->generation, 1);
	assert_int_equal(held->n_services, 1);
	assert_string_equal(tu_str(held, held->services[0].name), "svc-0");
	ldmesh_table_release(&t, slot);
	ldmesh_table_close(&t);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

/* Descriptors of this process open on unlinked files of `dir`. */
static unsigned held_deleted(const char *dir)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char link[512], target[512];
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		n += !strncmp(target, dir, strlen(dir)) && strstr(target, "/snap.") &&
		     strstr(target, " (deleted)");
	}
	closedir(d);
	return n;
}

/* A retired file stays open in the publisher for RETIRED_HOLD_NS, so a
 * reader that lets its mapping go meanwhile never frees the file's pages
 * (the publisher's close does); then it is let go. */
static void test_retired_files_held_then_released(void **state)
{
	char *dir = tu_tmpdir("pub");
	struct publisher p;
	struct timespec ts;
	char why[256] = "";
	uint64_t now;

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 1);
	tu_publish_ok(&p, 1);
	assert_int_equal(held_deleted(dir), 0);
	assert_int_equal(publish_release(&p, 0), -1);
	tu_publish_ok(&p, 1); /* snap.1 retired */
	tu_publish_ok(&p, 1); /* snap.2 retired */
	expect_files(dir, "snap.3,snap.4");
	assert_int_equal(held_deleted(dir), 2);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	assert_true(publish_release(&p, now) > 0);
	assert_int_equal(held_deleted(dir), 2);
	assert_int_equal(publish_release(&p, now + RETIRED_HOLD_NS), -1);
	assert_int_equal(held_deleted(dir), 0);
	/* and publish_close lets go of whatever is still held */
	tu_publish_ok(&p, 1);
	assert_int_equal(held_deleted(dir), 1);
	publish_close(&p);
	assert_int_equal(held_deleted(dir), 0);
	tu_rmtree(dir);
	free(dir);
}

static void test_restart_continues_generation(void **state)
{
	char *dir = tu_tmpdir("pub");
	struct publisher p, q;
	char why[256] = "", names[256];

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 1);
	tu_publish_ok(&p, 2);
	publish_close(&p);

	assert_int_equal(publish_open(&q, dir, why, sizeof(why)), 0);
	assert_int_equal(q.generation, 2);
	assert_int_equal(publish_next_generation(&q), 3);
	/* the current snapshot stays readable across the restart ... */
	tu_expect_reader(dir, 2, 2);
	snap_files(dir, names, sizeof(names));
	assert_string_equal(names, "snap.2");
	/* ... and the sequence moves on */
	tu_publish_ok(&q, 3);
	assert_int_equal(q.control->generation, 3);
	tu_expect_reader(dir, 3, 3);
	publish_close(&q);
	tu_rmtree(dir);
	free(dir);
}

static bool sealed(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), flags = 0;
	bool on;

	assert_true(fd >= 0);
	on = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL);
	close(fd);
	return on;
}

/* Whether the filesystem of `dir` takes FS_IMMUTABLE_FL (tmpfs since Linux
 * 6.0), tried on a file of its own. */
static bool takes_immutable(const char *dir)
{
	char *f = tu_path_in(dir, "probe");
	int fd = open(f, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644), flags;
	bool ok = false;

	assert_true(fd >= 0);
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags |= FS_IMMUTABLE_FL;
		ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
	}
	close(fd);
	tu_unseal(f);
	assert_int_equal(unlink(f), 0);
	free(f);
	return ok;
}

/*
 * On tmpfs the agent seals control once it has mapped it: truncating it,
 * which would be SIGBUS in every process that maps it, is refused; the
 * agent's mapping still publishes; a restarted agent unseals it, continues
 * the sequence and seals it again. Skipped where /dev/shm is no tmpfs, or
 * its tmpfs has no file flags (before Linux 6.0).
 */
static void test_control_sealed_on_tmpfs(void **state)
{
	char dir[] = "/dev/shm/ldmesh-seal-XXXXXX", why[256] = "";
	struct publisher p;
	struct statfs fs;
	char *ctl;

	(void)state;
	if (statfs("/dev/shm", &fs) != 0 || fs.f_type != TMPFS_MAGIC) {
		print_message("skipped: /dev/shm is not a tmpfs\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	if (!takes_immutable(dir)) {
		tu_rmtree(dir);
		print_message("skipped: this tmpfs takes no FS_IMMUTABLE_FL\n");
		skip();
	}
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	ctl = tu_path_in(dir, "control");
	assert_true(sealed(ctl));
	assert_int_equal(truncate(ctl, 0), -1);
	assert_int_equal(errno, EPERM);
	tu_publish_ok(&p, 1);
	assert_int_equal(p.control->generation, 1);
	tu_expect_reader(dir, 1, 1);
	publish_close(&p);

	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_int_equal(p.generation, 1);
	assert_true(sealed(ctl));
	tu_publish_ok(&p, 2);
	tu_expect_reader(dir, 2, 2);
	publish_close(&p);
	tu_rmtree(dir);
	free(ctl);
}

/*
 * A reader that loaded generation 2 and finds snap.2 gone when it opens it
 * (the agent published 3 and 4 meanwhile and removed 2) switches to the
 * newest at once, without reporting a refusal; format 2 readers used to stay
 * on their older snapshot until the next publish. The race is made exact
 * through the reader's own syscall table: opening snap.2 first publishes
 * twice.
 */
static struct publisher *race_pub;

static int race_openat(int dirfd, const char *path, int flags)
{
	size_t n = strlen(path);

	if (n >= 7 && !strcmp(path + n - 7, "/snap.2") && race_pub) {
		struct publisher *p = race_pub;
		race_pub = NULL;
		tu_publish_ok(p, 4); /* 3 */
		tu_publish_ok(p, 5); /* 4; snap.2 goes */
	}
	return openat(dirfd, path, flags);
}

static void on_event_count(void *ctx, enum ldmesh_table_event ev, uint64_t gen,
			   const char *why)
{
	if (ev == LDMESH_TABLE_REFUSED)
		(*(int *)ctx)++;
}

static void test_reader_skips_a_generation_removed_before_open(void **state)
{
	char *dir = tu_tmpdir("pub");
	struct ldmesh_reader_sys sys = ldmesh_reader_libc;
	struct publisher p;
	struct ldmesh_table t;
	const struct ldmesh_snap *s;
	char why[256] = "";
	int slot, refused = 0;

	(void)state;
	sys.openat = race_openat;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 2); /* 1 */
	assert_int_equal(ldmesh_table_init(&t, dir, &sys, on_event_count, &refused), 0);
	s = ldmesh_table_acquire(&t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, 1);
	ldmesh_table_release(&t, slot);
	tu_publish_ok(&p, 3); /* 2 */
	race_pub = &p;
	s = ldmesh_table_acquire(&t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, 4);
	assert_int_equal(s->n_services, 5);
	ldmesh_table_release(&t, slot);
	assert_int_equal(refused, 0);
	ldmesh_table_close(&t);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

static void test_open_removes_stale_snapshots(void **state)
{
	char *dir = tu_tmpdir("pub");
	struct publisher p;
	char why[256] = "", names[256];

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 1);
	tu_publish_ok(&p, 2);
	publish_close(&p);
	/* what a killed agent (or anyone) left behind */
	/* snap.1 is still there from the first publish, immutable */
	tu_write(dir, "snap.3", "half a snapsh");
	tu_write(dir, "snap.17", "");
	tu_write(dir, "snap.0", "");
	tu_write(dir, "not-a-snap", "keep me");

	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	snap_files(dir, names, sizeof(names));
	assert_string_equal(names, "snap.2");
	assert_true(exists(dir, "not-a-snap"));
	tu_expect_reader(dir, 2, 2);
	/* and the next publish is not disturbed by the old partial snap.3 */
	tu_publish_ok(&p, 7);
	tu_expect_reader(dir, 3, 7);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

static void test_fresh_control_removes_every_snapshot(void **state)
{
	char *dir = tu_tmpdir("pub");
	struct publisher p;
	char why[256] = "", names[256];

	(void)state;
	assert_int_equal(chmod(dir, 0755), 0);
	tu_write(dir, "snap.1", "x");
	tu_write(dir, "snap.2", "y");
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_int_equal(p.generation, 0);
	snap_files(dir, names, sizeof(names));
	assert_string_equal(names, "");
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

static void check_victim(const char *victim)
{
	void *buf;
	size_t len;

	assert_int_equal(slurp(victim, &buf, &len), 0);
	assert_int_equal(len, 9);
	assert_memory_equal(buf, "precious\n", 9);
	free(buf);
}

static void test_planted_next_snapshot_not_followed(void **state)
{
	char *dir = tu_tmpdir("pub"), *vdir = tu_tmpdir("victim");
	char *victim = tu_path_in(vdir, "victim"), *planted = tu_path_in(dir, "snap.1"),
	     *hard = tu_path_in(dir, "snap.2");
	struct publisher p;
	struct stat st;
	char why[256] = "";

	(void)state;
	tu_write(vdir, "victim", "precious\n");
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	/* a symlink where the next snapshot will go */
	assert_int_equal(symlink(victim, planted), 0);
	tu_publish_ok(&p, 2);
	check_victim(victim);
	assert_int_equal(lstat(planted, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_nlink, 1);
	tu_expect_reader(dir, 1, 2);
	/* a hard link to the victim: replaced, not written through */
	assert_int_equal(link(victim, hard), 0);
	tu_publish_ok(&p, 3);
	check_victim(victim);
	assert_int_equal(lstat(hard, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	tu_expect_reader(dir, 2, 3);
	publish_close(&p);
	free(victim);
	free(planted);
	free(hard);
	tu_rmtree(dir);
	free(dir);
	tu_rmtree(vdir);
	free(vdir);
}

/* ---- a full filesystem ------------------------------------------------- */

static void test_enospc_keeps_previous_snapshot(void **state)
{
	char *base = tu_tmpdir("pubfs"), *dir = tu_path_in(base, "table");
	struct publisher p;
	struct statvfs before, after;
	char why[256] = "", names[256];
	void *bytes;
	size_t size;

	(void)state;
	/* A private mount namespace: the tmpfs is nobody else's business
	 * and disappears with the process whatever happens. */
	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (mount("tmpfs", base, "tmpfs", 0, "size=64k,mode=0755") < 0) {
		print_message("skipping: cannot mount a tmpfs (%s)\n", strerror(errno));
		tu_rmtree(base);
		free(base);
		skip();
	}
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 2);
	tu_expect_reader(dir, 1, 2);
	assert_int_equal(statvfs(dir, &before), 0);

	tu_make_snap(2, 3000, &bytes, &size);
	assert_true(size > 64 * 1024);
	why[0] = 0;
	assert_int_equal(publish_snapshot(&p, bytes, size, 0, why, sizeof(why)), -ENOSPC);
	assert_string_equal(why, "write snap.2: No space left on device");
	/* nothing published, nothing left behind, no space leaked */
	assert_int_equal(p.generation, 1);
	assert_int_equal(p.control->generation, 1);
	assert_int_equal(publish_next_generation(&p), 2);
	snap_files(dir, names, sizeof(names));
	assert_string_equal(names, "snap.1");
	assert_int_equal(statvfs(dir, &after), 0);
	assert_int_equal(after.f_bfree, before.f_bfree);
	tu_expect_reader(dir, 1, 2);

	/* more room: the same snapshot goes through */
	assert_int_equal(mount(NULL, base, NULL, MS_REMOUNT, "size=4m"), 0);
	assert_int_equal(publish_snapshot(&p, bytes, size, 0, why, sizeof(why)), 0);
	assert_int_equal(p.control->generation, 2);
	tu_expect_reader(dir, 2, 3000);
	snap_files(dir, names, sizeof(names));
	assert_string_equal(names, "snap.1,snap.2");

	publish_close(&p);
	free(bytes);
	umount2(base, MNT_DETACH);
	free(dir);
	tu_rmtree(base);
	free(base);
}

static void test_enospc_then_filler_removed(void **state)
{
	char *base = tu_tmpdir("pubfs"), *dir = tu_path_in(base, "table");
	char *filler = tu_path_in(base, "filler");
	struct publisher p;
	struct statvfs sv;
	char why[256] = "", names[256];
	void *bytes;
	size_t size;

	(void)state;
	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (mount("tmpfs", base, "tmpfs", 0, "size=1m,mode=0755") < 0) {
		print_message("skipping: cannot mount a tmpfs (%s)\n", strerror(errno));
		tu_rmtree(base);
		free(base);
		skip();
	}
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 1);
	tu_make_snap(2, 2000, &bytes, &size);
	/* leave room for half the snapshot */
	assert_int_equal(statvfs(base, &sv), 0);
	size_t fill = (size_t)sv.f_bavail * sv.f_bsize - size / 2;
	int fd = open(filler, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	char *zeros = calloc(1, fill);
	assert_int_equal(write(fd, zeros, fill), (ssize_t)fill);
	free(zeros);
	close(fd);

	assert_int_equal(publish_snapshot(&p, bytes, size, 0, why, sizeof(why)), -ENOSPC);
	assert_int_equal(p.control->generation, 1);
	snap_files(dir, names, sizeof(names));
	assert_string_equal(names, "snap.1");
	tu_expect_reader(dir, 1, 1);

	assert_int_equal(unlink(filler), 0);
	assert_int_equal(publish_snapshot(&p, bytes, size, 0, why, sizeof(why)), 0);
	tu_expect_reader(dir, 2, 2000);
	publish_close(&p);
	free(bytes);
	umount2(base, MNT_DETACH);
	free(filler);
	free(dir);
	tu_rmtree(base);
	free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_creates_dir_0755_and_control_0644),
		cmocka_unit_test(test_open_tightens_existing_dir_mode),
		cmocka_unit_test(test_symlink_table_path_refused),
		cmocka_unit_test(test_writable_by_others_refused),
		cmocka_unit_test(test_dir_owned_by_other_user_refused),
		cmocka_unit_test(test_planted_control_symlink_not_followed),
		cmocka_unit_test(test_name_too_long),
		cmocka_unit_test(test_publish_then_read_back),
		cmocka_unit_test(test_old_snapshots_unlinked),
		cmocka_unit_test(test_retired_files_held_then_released),
		cmocka_unit_test(test_restart_continues_generation),
		cmocka_unit_test(test_control_sealed_on_tmpfs),
		cmocka_unit_test(test_retention_keeps_bases),
		cmocka_unit_test(test_restart_keeps_current_base),
		cmocka_unit_test(test_ahead_announced_then_current),
		cmocka_unit_test(test_ahead_across_restart_and_tampering),
		cmocka_unit_test(test_open_removes_stale_snapshots),
		cmocka_unit_test(test_reader_skips_a_generation_removed_before_open),
		cmocka_unit_test(test_fresh_control_removes_every_snapshot),
		cmocka_unit_test(test_planted_next_snapshot_not_followed),
		cmocka_unit_test(test_enospc_keeps_previous_snapshot),
		cmocka_unit_test(test_enospc_then_filler_removed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
