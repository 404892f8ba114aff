/* SPDX-License-Identifier: MIT */
/*
 * Initialise at load time, so configuration errors and the table's first
 * trace lines come before the program's first connect. A hook called
 * earlier (from another library's constructor) initialises lazily through
 * the same pthread_once. Here rather than in state.c: ldmeshctl links the
 * preload's core and must not run it.
 */
#include "state.h"

__attribute__((constructor)) static void hook_init__ctor(void)
{
	(void)state_get();
}
