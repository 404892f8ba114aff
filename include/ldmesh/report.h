/* SPDX-License-Identifier: MIT */
/*
 * What processes tell the agent: failure reports and counters, one
 * datagram each, on a unix datagram socket beside the table.
 *
 *   <table>.sock   e.g. /run/ldmesh/table.sock, in the table's parent, which
 *                  pods bind-mount read-only: a read-only mount does not
 *                  stop a connect or sendto on a socket file (the kernel
 *                  asks for write permission on the socket's inode, which
 *                  the agent grants everyone, not on the mount), and pods
 *                  cannot create, replace or remove anything there.
 *
 * The agent creates it (under the table's lock, so it may unlink a stale
 * one) with mode 0666. A process sends to it only when the path is a socket
 * owned by root or by its own effective uid, with MSG_DONTWAIT: a full
 * queue, a missing agent or any error drops the datagram, never blocks or
 * fails the caller. The agent believes nothing it receives: a failure
 * report is a hint it verifies with its own probe before it ejects a
 * backend; counters only ever label the sender's own series; the sender is
 * known by SCM_CREDENTIALS (its pid and uid, which the kernel vouches for),
 * and every sender is rate-limited and every queue bounded.
 *
 * Every field is little-endian and fixed-width. A datagram is one header
 * followed by `count` entries of `entry_size` bytes; the agent drops a
 * datagram whose magic, version, type or sizes are wrong, and reads an
 * entry_size larger than it knows as the prefix it knows (a newer sender
 * may append fields).
 */
#ifndef LDMESH_REPORT_H
#define LDMESH_REPORT_H

#include <assert.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LDMESH_REPORT_MAGIC 0x524d444cU /* "LDMR" */
#define LDMESH_REPORT_VERSION 1
#define LDMESH_REPORT_SOCK_SUFFIX ".sock" /* appended to the table's path */
#define LDMESH_REPORT_MAX 65536           /* bytes per datagram, at most */

enum ldmesh_report_type {
	LDMESH_REPORT_FAILURES = 1, /* struct ldmesh_report_failure[] */
	LDMESH_REPORT_COUNTS = 2,   /* counters (metrics), defined below */
};

struct ldmesh_report_hdr {
	uint32_t magic;      /* LDMESH_REPORT_MAGIC */
	uint16_t version;    /* LDMESH_REPORT_VERSION */
	uint16_t type;       /* enum ldmesh_report_type */
	uint32_t count;      /* entries after the header */
	uint32_t entry_size; /* bytes per entry */
};
static_assert(sizeof(struct ldmesh_report_hdr) == 16, "report header layout");

/* Why a connect to a backend failed, as the process saw it. */
enum ldmesh_fail_reason {
	LDMESH_FAIL_REFUSED = 1,     /* ECONNREFUSED */
	LDMESH_FAIL_TIMEOUT = 2,     /* ETIMEDOUT, our connect timeout, or a
	                                socket closed while still connecting */
	LDMESH_FAIL_UNREACHABLE = 3, /* EHOSTUNREACH, ENETUNREACH, EHOSTDOWN,
	                                EINVAL (the address is gone) */
	LDMESH_FAIL_RESET = 4,       /* ECONNRESET before any byte */
	LDMESH_FAIL_REASONS = 5,     /* reasons are 1 .. LDMESH_FAIL_REASONS-1 */
};

/* A connect to backend addr:port (reached through the Service VIP
 * vip:vip_port) failed. */
struct ldmesh_report_failure {
	uint8_t addr[16];    /* IPv4-mapped for v4 */
	uint8_t vip[16];     /* the address the program dialled */
	uint16_t port;       /* host order, as all fields */
	uint16_t vip_port;
	uint8_t protocol;    /* LDMESH_PROTO_* */
	uint8_t reason;      /* enum ldmesh_fail_reason */
	uint16_t reserved;
};
static_assert(sizeof(struct ldmesh_report_failure) == 40, "failure entry layout");

#ifdef __cplusplus
}
#endif

#endif
