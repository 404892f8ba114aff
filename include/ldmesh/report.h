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

/*
 * Counters (LDMESH_REPORT_COUNTS): a datagram is the header, then one
 * struct ldmesh_report_source, then `count` entries. Each entry holds what
 * happened since the sender's previous datagram for that (Service VIP,
 * backend): the agent adds them up, so a datagram lost loses its counts
 * and never counts twice. A process sends at most once a second and at
 * exit.
 */
/* Connect latency buckets: upper bounds in microseconds, the last bucket
 * unbounded (Prometheus' "+Inf"). */
#define LDMESH_LATENCY_BOUNDS_US                                                      \
	{ 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, \
	  500000, 1000000, 2500000 }
#define LDMESH_LATENCY_BUCKETS 16

/* Who counted, as the process says (LDMESH_NAMESPACE or the service
 * account's namespace file; the hostname, which is the pod's name): labels
 * of the sender's own series only, NUL-padded. */
struct ldmesh_report_source {
	char ns[64];
	char pod[64];
};
static_assert(sizeof(struct ldmesh_report_source) == 128, "source layout");

struct ldmesh_report_count {
	uint8_t vip[16];         /* the Service address dialled */
	uint8_t backend[16];     /* the backend chosen */
	uint16_t vip_port;
	uint16_t backend_port;
	uint8_t protocol;        /* LDMESH_PROTO_* */
	uint8_t reserved0[3];
	uint32_t opened;         /* connects that succeeded */
	uint32_t closed;         /* of those, closed since */
	uint32_t failed[LDMESH_FAIL_REASONS]; /* by enum ldmesh_fail_reason;
	                            [0]: any other error */
	uint32_t failovers;      /* attempts moved off this backend */
	uint32_t ejections;      /* times this process passed it over as
	                            ejected (its own outlier state or the
	                            table's) */
	uint32_t latency[LDMESH_LATENCY_BUCKETS]; /* successful connects */
	uint32_t reserved1;
	uint64_t latency_us_sum;
	uint64_t bytes_sent;     /* at close, TCP_INFO tcpi_bytes_acked */
	uint64_t bytes_received; /* at close, tcpi_bytes_received */
	uint64_t rtt_us_sum;     /* at close, tcpi_rtt (smoothed) */
	uint32_t rtt_count;
	uint32_t reserved2;
};
static_assert(sizeof(struct ldmesh_report_count) == 184, "count entry layout");

#ifdef __cplusplus
}
#endif

#endif
