/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the snapshot header check, then every read a reader
 * makes (tests/snap_exercise.h: each record through the checked accessors,
 * each string, every index slot looked up by its key, backend choice, the
 * preload's name and route paths) on whatever the header check accepts.
 * Format 2 checks only the header when mapping, so these reads are the
 * whole defence: ASan turns any stray read into a crash, a loop without
 * bound into a timeout.
 *
 * Random bytes almost never carry a valid header checksum, so each input is
 * tried twice: as given, and with total_size and the header checksum
 * patched in, which lets the fuzzer reach everything behind the header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"
#include "../snap_exercise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t fz_sink;

static void fz__try(const uint8_t *buf, size_t size)
{
	struct ldmesh_snap s;

	if (ldmesh_snap_init(&s, buf, size, NULL) == 0) {
		struct ldmesh_name_slot miss;

		fz_sink += exercise_snap(&s, 0, UINT32_MAX);
		/* a miss on the empty name */
		fz_sink += ldmesh_snap_find_name(&s, "", 0, &miss);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;

	/* Snapshots are mmapped, so page-aligned; the structs need 8, which
	 * malloc gives (16). An exact-size copy puts ASan's redzone right
	 * after the last byte, where libFuzzer's own buffer would not. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	fz__try(buf, size);
	if (size >= LDMESH_SNAP_HEADER_SIZE) {
		uint64_t total = size, sum;

		memcpy(buf + LDMESH_SNAP_OFF_TOTAL_SIZE, &total, sizeof(total));
		sum = ldmesh_hash64(buf + LDMESH_SNAP_OFF_TOTAL_SIZE,
				    LDMESH_SNAP_HEADER_SIZE - LDMESH_SNAP_OFF_TOTAL_SIZE, 0);
		memcpy(buf + LDMESH_SNAP_OFF_HEADER_CHECKSUM, &sum, sizeof(sum));
		fz__try(buf, size);
	}
	free(buf);
	return 0;
}
