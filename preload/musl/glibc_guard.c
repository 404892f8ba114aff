/* SPDX-License-Identifier: MIT */
/*
 * libldmesh-musl.so in a glibc program: say so and stop, before any hook.
 *
 * The musl library's only DT_NEEDED is "libc.so.6" (preload/CMakeLists.txt):
 * musl's loader takes every "libc.*" name for itself, and glibc's loads
 * glibc, so a glibc program gets this far instead of dying in ld.so with
 * "libc.so: invalid ELF header". Code compiled against musl's headers must
 * not go on inside glibc (other struct layouts, other errno and stdio), so
 * this constructor, first of the library's (priority 101), stops the
 * program the way the loader would have (127), with a message naming the
 * library to preload instead. Only write(2) and _exit(2) run: both are
 * plain syscalls under either libc.
 *
 * gnu_get_libc_version exists only in glibc (and in gcompat, which runs
 * glibc programs on musl and is not a case ldmesh meets): a weak reference
 * to it is null under musl.
 */
#include <unistd.h>

extern const char *gnu_get_libc_version(void) __attribute__((weak));

__attribute__((constructor(101))) static void glibc_guard__ctor(void)
{
	static const char msg[] =
		"ldmesh: libldmesh-musl.so is for musl programs (Alpine images) and "
		"this program uses glibc: preload libldmesh.so instead\n";

	if (!gnu_get_libc_version)
		return;
	/* a failed write changes nothing: the exit status still tells */
	ssize_t n = write(2, msg, sizeof(msg) - 1);
	(void)n;
	_exit(127);
}
