/* umem_readable: whether the preload may read what a program handed over,
 * answered without a fault and without side effects (issue 21, item 1). */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "umem.h"

/* Three pages: readable, PROT_NONE, read-only. */
static char *pages;

static int setup(void **state)
{
	pages = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED || mprotect(pages + 4096, 4096, PROT_NONE) ||
	    mprotect(pages + 8192, 4096, PROT_READ))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	return munmap(pages, 3 * 4096);
}

static void test_readable_memory(void **state)
{
	struct sockaddr_in6 on_stack = { .sin6_family = AF_INET6 };

	assert_true(umem_readable(&on_stack, sizeof(on_stack)));
	assert_true(umem_readable(pages, 4096));
	assert_true(umem_readable(pages + 8192, 16));   /* read-only is readable */
	assert_true(umem_readable(pages + 4096 - 4, 4)); /* up to the last byte */
	assert_true(umem_readable(pages + 4095, 1));
	assert_true(umem_readable(pages + 1, 0));
}

static void test_unreadable_memory(void **state)
{
	assert_false(umem_readable(NULL, 16));
	assert_false(umem_readable((void *)16, 16));            /* below mmap_min_addr */
	assert_false(umem_readable(pages + 4096, 4));           /* PROT_NONE */
	assert_false(umem_readable(pages + 4096 - 8, 16));      /* its tail unmapped */
	assert_false(umem_readable(pages + 4096 - 1, 2));       /* one byte over */
	assert_false(umem_readable(pages, 3 * 4096));           /* a hole inside */
	assert_false(umem_readable((void *)UINTPTR_MAX, 8));    /* wraps around */
	assert_false(umem_readable((void *)0xffff800000000000ull, 8)); /* kernel half */
}

static void test_no_side_effects(void **state)
{
	sigset_t before, after;

	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &before), 0);
	errno = 1234;
	assert_true(umem_readable(pages, 64));
	assert_false(umem_readable(pages + 4096, 64));
	assert_int_equal(errno, 1234);
	/* the probe passes the bytes as a signal set with an invalid `how`:
	 * a mask of all ones must block nothing */
	memset(pages, 0xff, 64);
	assert_true(umem_readable(pages, 64));
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &after), 0);
	for (int sig = 1; sig < 65; sig++)
		assert_int_equal(sigismember(&before, sig), sigismember(&after, sig));
}

static void test_sockaddr(void **state)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(80),
				  .sin_addr.s_addr = htonl(0x0a60000a) };
	uint8_t a[16];
	uint16_t port = 0;

	assert_true(umem_sockaddr((struct sockaddr *)&in, sizeof(in), a, &port));
	assert_int_equal(port, 80);
	assert_int_equal(a[15], 10);
	/* lengths the kernel refuses are not read at all */
	assert_false(umem_sockaddr((struct sockaddr *)&in, 200, a, &port));
	assert_false(umem_sockaddr((struct sockaddr *)&in, (socklen_t)-1, a, &port));
	assert_false(umem_sockaddr((struct sockaddr *)&in, 8, a, &port));
	/* a readable head with an unreadable tail */
	memcpy(pages + 4096 - 8, &in, 8);
	assert_false(umem_sockaddr((struct sockaddr *)(pages + 4096 - 8), sizeof(in), a, &port));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readable_memory),
		cmocka_unit_test(test_unreadable_memory),
		cmocka_unit_test(test_no_side_effects),
		cmocka_unit_test(test_sockaddr),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
