/* SPDX-License-Identifier: MIT */
/*
 * ldmesh snapshot format, version 3: the one contract between ldmesh-agent
 * (writer) and everything that reads the table (libldmesh.so, ldmeshctl,
 * tests).
 *
 * A table is a directory (default /run/ldmesh/table) owned by the agent:
 *
 *   <table>/control         struct ldmesh_control, never replaced, only
 *                           rewritten in place, so a reader maps it once;
 *                           on tmpfs FS_IMMUTABLE_FL once the agent has
 *                           mapped it (it cannot be truncated under readers)
 *   <table>/snap.<gen>      one immutable snapshot per generation, <gen> in
 *                           decimal; created O_EXCL|O_NOFOLLOW, mode 0444,
 *                           FS_IMMUTABLE_FL where the filesystem has it
 *
 * Bases and deltas. A snapshot is either a base (base_generation == 0: the
 * whole table) or a delta over one base (base_generation names snap.<base>,
 * itself a base): the services added or changed since that base, plus
 * shadows, index slots whose service is LDMESH_SHADOW, for keys the base
 * has and the table no longer does. A reader of a delta maps its base too
 * and looks a key up in the delta first: a record answers, a shadow says
 * "absent", no slot sends it on to the base. So publishing an edit writes
 * a file the size of what changed since the base, not of the table; the
 * agent writes a new base when the delta grows past a share of it. The
 * SUPERSEDED section lists, sorted, the base's services the delta replaces
 * or removes, so a tool listing the table skips them.
 *
 * Trust. A reader uses a table only when the directory is a directory and
 * control and every snapshot are regular files, each owned by root or by
 * the reader's effective uid and writable by neither group nor others
 * (the directory when the control page is opened and then once a second;
 * each snapshot when it is mapped, and it must be the file the control
 * page's record names).
 * Even then no byte is trusted: a reader checks the header when it maps a
 * snapshot (magic, version, header checksum, total_size == file size,
 * every section inside the file) and bounds-checks every record, index and
 * string on every access, reading each field once into its own memory, so
 * bytes changed after the check give wrong answers, never a fault, an
 * out-of-bounds read or an unbounded loop. Nothing a reader does per
 * generation is O(table): there is no whole-file checksum, and a process
 * touches only the pages its lookups need.
 *
 * Publishing: the agent writes snap.<gen> completely, then its record in
 * the control page (below), then stores <gen> into control->generation
 * with release order. A reader loads the generation with acquire order;
 * when it differs from what it holds it opens snap.<gen>, checks that it is
 * the file the record names, takes the header from the record and maps the
 * file PROT_READ (and, for a delta, its base, whose header it reads with
 * pread). A base that only folds deltas (it says what the current
 * generation says) is announced ahead instead (ldmesh_control.ahead, 3.2)
 * and made current a few seconds later: a reader's once-a-second check
 * maps it meanwhile, and the switch to it then makes no system call. The
 * snapshots a reader switched from stay mapped until its once-a-second
 * check, so the connect that switches does not pay for unmapping them. The agent keeps the current snapshot, the previous one
 * and the base of each, and unlinks the rest; mappings readers still hold
 * stay valid. It also holds each file it unlinks open for a few seconds
 * (bounded in count and bytes), so that the pages of a retired base are
 * freed by the agent, not by the last process to let go of it. A reader
 * that finds a file gone (the table moved on meanwhile) keeps what it has
 * and tries the newer generation.
 *
 * Every field is little-endian and fixed-width. Offsets are relative to the
 * start of the file; there are no pointers. A reader refuses a snapshot whose
 * version_major differs from LDMESH_SNAP_VERSION_MAJOR; a minor bump may only
 * add sections or give meaning to reserved fields, which writers zero.
 *
 * Version history: 1 carried a whole-file checksum that every reader
 * verified on every new generation (O(table) per process); 2 checks the
 * header only and bounds-checks every access instead; 3 adds deltas over a
 * base (base_generation, LDMESH_SHADOW, the SUPERSEDED section), so a
 * publish costs O(change): a version 2 reader would take a delta for the
 * whole table, hence the major bump. 3.1 adds the control page's
 * publication records (struct ldmesh_control_record), 3.2 the base
 * announced ahead (ldmesh_control.ahead); 3.3 gives the header's flags a
 * meaning (LDMESH_SNAP_F_INCOMPLETE; an older reader ignores it and
 * answers from the table as if it were complete). 3.4 adds the control
 * page's heartbeat (ldmesh_control.heartbeat_mono_ns, heartbeat_pid; an
 * older reader ignores it, an older agent leaves it zero) and reverse
 * names in the name index (ldmesh/arpa.h: "<address>.in-addr.arpa" or
 * ".ip6.arpa" naming a service by its ClusterIP, or an endpoint of a
 * headless service by its address; an older reader never asks for one).
 * 3.5 adds traffic splits (Gateway API TCPRoutes attached to a Service,
 * GAMMA): the SPLITS section, described by the header's `splits` (was
 * reserved: an older writer leaves it zero, an older reader ignores it
 * and routes a split service to its own endpoints), and each service's
 * first_split/split_count (were reserved[2]); and the endpoint flag
 * LDMESH_EP_F_EJECTED (the agent's verified ejections, ordered out of the
 * chosen endpoints, so an older reader follows them too); and the control
 * page's flags (LDMESH_CONTROL_F_METRICS).
 */
#ifndef LDMESH_SNAPSHOT_H
#define LDMESH_SNAPSHOT_H

#include <assert.h> /* static_assert: C11's macro, C++'s keyword */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LDMESH_CONTROL_MAGIC 0x434d444cU /* "LDMC" */
#define LDMESH_SNAP_MAGIC 0x534d444cU    /* "LDMS" */
#define LDMESH_SNAP_VERSION_MAJOR 3
#define LDMESH_SNAP_VERSION_MINOR 5

/* Under /run: a root-only parent, so no other user can create the table
 * directory before the agent does (in world-writable /dev/shm anyone can).
 * Pods bind-mount /run/ldmesh, which the agent keeps; the table below it
 * may be removed and recreated and the mount still shows the new one. */
#define LDMESH_TABLE_DEFAULT "/run/ldmesh/table"
/* the agent's --state for the default table: outside what pods mount */
#define LDMESH_STATE_DEFAULT "/run/ldmesh-state"
#define LDMESH_CONTROL_NAME "control"
#define LDMESH_SNAP_PREFIX "snap."


/*
 * Strings live in the STRINGS section. A string reference (ldmesh_str_t) is
 * the byte offset of its length byte within that section: one length byte,
 * then that many bytes, then a NUL. Readers go by the length byte alone
 * (checked against the section on every access), never by the NUL.
 * Offset 0 is the empty string. Every Kubernetes name stored here is at most
 * 253 bytes (DNS-1123 subdomain), so one length byte suffices; the writer
 * refuses longer input.
 */
typedef uint32_t ldmesh_str_t;
#define LDMESH_STR_MAX 253

/* Sections, in the order they appear in the file. */
enum ldmesh_section_id {
	LDMESH_SEC_STRINGS = 0,        /* string pool, entry_size 1 */
	LDMESH_SEC_SERVICES = 1,       /* struct ldmesh_service[] */
	LDMESH_SEC_PORTS = 2,          /* struct ldmesh_port[] */
	LDMESH_SEC_ENDPOINTS = 3,      /* struct ldmesh_endpoint[] */
	LDMESH_SEC_ENDPOINT_PORTS = 4, /* uint16_t[]: per endpoint, its port
	                                  for each port of its service */
	LDMESH_SEC_VIP_INDEX = 5,      /* struct ldmesh_vip_slot[], 2^k slots */
	LDMESH_SEC_NAME_INDEX = 6,     /* struct ldmesh_name_slot[], 2^k slots */
	LDMESH_SEC_AFFINITY = 7,       /* uint32_t[]: consistent-hash tables */
	LDMESH_SEC_SUPERSEDED = 8,     /* uint32_t[], ascending: in a delta, the
	                                  base's service indexes it replaces or
	                                  removes; empty in a base */
	LDMESH_SEC_COUNT = 9,
};

struct ldmesh_section {
	uint64_t offset;     /* from start of file; 8-byte aligned */
	uint64_t size;       /* bytes; == count * entry_size */
	uint32_t count;      /* entries */
	uint32_t entry_size; /* bytes per entry; must equal this header's sizeof */
};
static_assert(sizeof(struct ldmesh_section) == 24, "section layout");

/*
 * The header. Only the reader library's snap_header.c reads or writes these
 * bytes; everyone else goes through it. The offsets below are part of the
 * format (tests damage fields by them), checked against the struct.
 */
struct ldmesh_snap_header {
	uint32_t magic;             /* LDMESH_SNAP_MAGIC */
	uint16_t version_major;     /* LDMESH_SNAP_VERSION_MAJOR */
	uint16_t version_minor;     /* LDMESH_SNAP_VERSION_MINOR */
	uint64_t header_checksum;   /* ldmesh_hash64 of header bytes
	                               [LDMESH_SNAP_OFF_TOTAL_SIZE,
	                               LDMESH_SNAP_HEADER_SIZE), seed 0: catches
	                               a torn or garbled header in O(1) */
	uint64_t total_size;        /* must equal the file size */
	uint32_t header_size;       /* sizeof(struct ldmesh_snap_header); a
	                               minor version may grow it, to 4096 at
	                               most; sections start after it */
	uint32_t flags;             /* LDMESH_SNAP_F_* (3.3; reserved, 0,
	                               before: read as complete) */
	uint64_t generation;        /* equals the <gen> in the file name */
	uint64_t created_unix_ns;   /* wall clock when built */
	ldmesh_str_t cluster_domain; /* e.g. "cluster.local", no dots at ends */
	ldmesh_str_t node_name;     /* the agent's --node; "" if unset */
	uint32_t vip_max_probe;     /* longest probe sequence in VIP_INDEX */
	uint32_t name_max_probe;    /* longest probe sequence in NAME_INDEX */
	struct ldmesh_section sections[LDMESH_SEC_COUNT];
	uint8_t service_cidr[16];   /* --service-cidr base, IPv4-mapped */
	uint8_t service_cidr_prefix; /* prefix length in IPv6 terms (96 + v4) */
	uint8_t reserved0[7];
	ldmesh_str_t node_zone;     /* the agent's zone (--zone, or its Node's
	                               topology.kubernetes.io/zone); "" if
	                               unknown (given meaning in 2.0's lifetime:
	                               was reserved, so zero reads as unknown) */
	uint32_t reserved1;
	uint64_t base_generation;   /* 0: a base; else a delta over
	                               snap.<base_generation>, which is a base
	                               and older than this snapshot */
	struct ldmesh_section splits; /* (3.5) struct ldmesh_split[], after
	                               every section above; all zero: none
	                               (was uint64_t reserved[3]) */
};
/*
 * Header flags (since 3.3).
 *
 * INCOMPLETE: the folder the agent read is not known to hold the whole
 * cluster (it runs with --require-sync, and ldmesh-sync's marker is
 * missing or stale: a first list not finished, the API server lost). A
 * name in the cluster domain that such a table lacks is passed to the
 * resolver as if ldmesh were not there, not answered "not found"; the
 * services it has are answered as always.
 */
#define LDMESH_SNAP_F_INCOMPLETE (1U << 0)

#define LDMESH_SNAP_OFF_MAGIC 0
#define LDMESH_SNAP_OFF_VERSION_MAJOR 4
#define LDMESH_SNAP_OFF_HEADER_CHECKSUM 8
#define LDMESH_SNAP_OFF_TOTAL_SIZE 16
#define LDMESH_SNAP_OFF_HEADER_SIZE 24
#define LDMESH_SNAP_OFF_GENERATION 32
#define LDMESH_SNAP_OFF_CREATED 40
/* Everything from here to the end of the file is what the snapshot says;
 * the bytes before it are when and as which generation it said it. */
#define LDMESH_SNAP_OFF_CONTENT 48
#define LDMESH_SNAP_OFF_VIP_MAX_PROBE 56
#define LDMESH_SNAP_OFF_NAME_MAX_PROBE 60
#define LDMESH_SNAP_OFF_SECTIONS 64
#define LDMESH_SNAP_OFF_BASE_GENERATION 312
#define LDMESH_SNAP_OFF_SPLITS 320
#define LDMESH_SNAP_HEADER_SIZE 344
static_assert(offsetof(struct ldmesh_snap_header, magic) == LDMESH_SNAP_OFF_MAGIC, "magic");
static_assert(offsetof(struct ldmesh_snap_header, version_major) ==
		       LDMESH_SNAP_OFF_VERSION_MAJOR, "version");
static_assert(offsetof(struct ldmesh_snap_header, header_checksum) ==
		       LDMESH_SNAP_OFF_HEADER_CHECKSUM, "checksum");
static_assert(offsetof(struct ldmesh_snap_header, total_size) ==
		       LDMESH_SNAP_OFF_TOTAL_SIZE, "total_size");
static_assert(offsetof(struct ldmesh_snap_header, header_size) ==
		       LDMESH_SNAP_OFF_HEADER_SIZE, "header_size");
static_assert(offsetof(struct ldmesh_snap_header, generation) ==
		       LDMESH_SNAP_OFF_GENERATION, "generation");
static_assert(offsetof(struct ldmesh_snap_header, created_unix_ns) ==
		       LDMESH_SNAP_OFF_CREATED, "created");
static_assert(offsetof(struct ldmesh_snap_header, cluster_domain) ==
		       LDMESH_SNAP_OFF_CONTENT, "content");
static_assert(offsetof(struct ldmesh_snap_header, vip_max_probe) ==
		       LDMESH_SNAP_OFF_VIP_MAX_PROBE, "vip_max_probe");
static_assert(offsetof(struct ldmesh_snap_header, name_max_probe) ==
		       LDMESH_SNAP_OFF_NAME_MAX_PROBE, "name_max_probe");
static_assert(offsetof(struct ldmesh_snap_header, sections) ==
		       LDMESH_SNAP_OFF_SECTIONS, "sections start at 64");
static_assert(offsetof(struct ldmesh_snap_header, base_generation) ==
		       LDMESH_SNAP_OFF_BASE_GENERATION, "base_generation");
static_assert(offsetof(struct ldmesh_snap_header, splits) ==
		       LDMESH_SNAP_OFF_SPLITS, "splits (3.5) in the old reserved words");
static_assert(sizeof(struct ldmesh_snap_header) == LDMESH_SNAP_HEADER_SIZE,
	       "header layout");

/*
 * The control page; the file is one page long.
 *
 * Publication records (since 3.1). Before it stores <gen> into generation,
 * the agent writes records[gen & 1]: which file snap.<gen> is (and its
 * base), and a copy of its header. A reader switching to <gen> then takes
 * the header from the record instead of reading the file, and maps
 * snap.<gen> only if the file it opened is that one (inode and change
 * time) on the table's device. The record, not the directory, says which file is meant, so the
 * directory is not re-checked at each switch (only once a second), and a
 * file put in the published one's place, or a directory renamed over the
 * table between a check and an open, is refused. A record is valid for
 * <gen> when its generation is <gen>, its checksum matches, and base.ino
 * is 0 exactly when the header names no base. The record for <gen> is
 * rewritten only when <gen + 2> is published, after generation moved past
 * <gen>: a reader that copied it torn finds the checksum wrong and the
 * generation moved. With no valid record (a 3.0 agent, or a torn copy) a
 * reader checks the directory by path and reads the header with pread,
 * as 3.0 readers do.
 *
 * The base announced ahead (since 3.2). A new base that says what the
 * current generation already says (the agent folding its deltas) need not
 * be used at once, so the agent writes it, puts its record into `ahead`
 * and makes it current only LDMESH_AHEAD_LEAD_NS later. Meanwhile each
 * reader's once-a-second check maps the file `ahead` names (as it would
 * at a switch, checks included) and keeps it; the switch to it, or to a
 * delta over it, then makes no system call. (The reader in this tree also
 * reads there the pages its recent lookups will need: reader.h,
 * ldmesh_snap_warm. That is the reader's business; the format only gives
 * it the time.) A reader that did not check
 * in time switches as before. `ahead` is a record as above, of a base
 * (base zero); it is valid while its generation is newer than the
 * current one, and it is rewritten only while nothing reads it as
 * current, so a reader that copies it torn finds the checksum wrong and
 * maps nothing ahead. A reader never takes an announced file for a
 * generation unless that generation's own record names the same file
 * (inode and change time): an agent restarted meanwhile may write other
 * files under those numbers, though it continues the sequence past the
 * announced one and zeroes `ahead`. A 3.1 agent leaves `ahead` zero.
 *
 * The heartbeat (since 3.4). An agent with nothing new to publish writes
 * nothing else, so the publish time says nothing of whether it still
 * runs. Once a second (and when it opens the page) the agent stores its
 * pid, then CLOCK_MONOTONIC in heartbeat_mono_ns, each with a relaxed
 * store: tools (ldmeshctl status, its probes) read the age against their
 * own monotonic clock. Monotonic, not the wall clock: an NTP step must not
 * make a live agent look dead, or a dead one live; the table lives on the
 * node's tmpfs, read on that node, so every reader shares the clock (a
 * page left from an earlier boot has a time ahead of the clock or far
 * behind it: dead either way). Zero: no heartbeat (an agent before 3.4).
 * The two fields may be read torn (a new agent's pid, the old one's
 * time): the time alone says whether the page is kept up.
 */
/* Which file: an inode number alone may be reused as soon as a file is
 * removed (ext4 does so at once), its change time to the nanosecond
 * with it is not, short of setting the clock. */
struct ldmesh_file_id {
	uint64_t ino;             /* st_ino */
	uint64_t ctime_ns;        /* st_ctim, in ns since the epoch */
};

struct ldmesh_control_record {
	uint64_t checksum;        /* ldmesh_hash64 of the record's bytes after
	                             this field, seed 0 */
	uint64_t generation;      /* the generation described; 0 = none */
	struct ldmesh_file_id snap; /* snap.<generation>, as published */
	struct ldmesh_file_id base; /* snap.<header.base_generation>; zero for
	                             a base */
	struct ldmesh_snap_header header; /* the first LDMESH_SNAP_HEADER_SIZE
	                             bytes of snap.<generation> */
};
#define LDMESH_CONTROL_RECORD_SIZE 392
static_assert(sizeof(struct ldmesh_control_record) == LDMESH_CONTROL_RECORD_SIZE,
	       "record layout");

struct ldmesh_control {
	uint32_t magic;           /* LDMESH_CONTROL_MAGIC */
	uint16_t version_major;   /* LDMESH_SNAP_VERSION_MAJOR */
	uint16_t version_minor;   /* LDMESH_SNAP_VERSION_MINOR */
	uint64_t generation;      /* current snapshot; 0 = none published yet;
	                             LDMESH_GENERATION_RETIRED = this directory
	                             is abandoned, reopen the table path.
	                             Written with release, read with acquire. */
	uint64_t published_unix_ns; /* wall clock of the last publish */
	uint32_t agent_pid;       /* pid of the agent that published last */
	uint32_t heartbeat_pid;   /* pid of the agent keeping the heartbeat
	                             (since 3.4; was reserved0) */
	uint64_t heartbeat_mono_ns; /* CLOCK_MONOTONIC of its last heartbeat,
	                             0 = none (since 3.4; was reserved[0]) */
	uint32_t flags;           /* LDMESH_CONTROL_F_* (3.5; was reserved) */
	uint32_t reserved1;
	uint64_t reserved[2];
	struct ldmesh_control_record records[2]; /* [gen & 1], since 3.1 */
	struct ldmesh_control_record ahead;      /* a base about to be
	                                            current, since 3.2 */
};
#define LDMESH_CONTROL_OFF_GENERATION 8
#define LDMESH_CONTROL_OFF_HEARTBEAT 32
#define LDMESH_CONTROL_OFF_RECORDS 64
#define LDMESH_CONTROL_OFF_AHEAD (LDMESH_CONTROL_OFF_RECORDS + 2 * LDMESH_CONTROL_RECORD_SIZE)
#define LDMESH_CONTROL_SIZE (LDMESH_CONTROL_OFF_AHEAD + LDMESH_CONTROL_RECORD_SIZE)
/* How long the agent waits between announcing a base and making it
 * current: two of the readers' once-a-second checks
 * (LDMESH_TABLE_DIR_CHECK_NS), and half a second for a busy machine. */
#define LDMESH_AHEAD_LEAD_NS 2500000000ULL
static_assert(offsetof(struct ldmesh_control, generation) ==
		       LDMESH_CONTROL_OFF_GENERATION,
	       "generation must be naturally aligned for atomic access");
static_assert(offsetof(struct ldmesh_control, heartbeat_mono_ns) ==
		       LDMESH_CONTROL_OFF_HEARTBEAT,
	       "the heartbeat takes the first reserved word, naturally aligned");
static_assert(offsetof(struct ldmesh_control, flags) == LDMESH_CONTROL_OFF_HEARTBEAT + 8,
	       "the flags take the next reserved word");
static_assert(offsetof(struct ldmesh_control, records) == LDMESH_CONTROL_OFF_RECORDS,
	       "records follow the 3.0 page, 8-byte aligned");
static_assert(offsetof(struct ldmesh_control, ahead) == LDMESH_CONTROL_OFF_AHEAD,
	       "the announced base follows the records");
static_assert(sizeof(struct ldmesh_control) == LDMESH_CONTROL_SIZE, "control layout");
#define LDMESH_GENERATION_RETIRED UINT64_MAX
/* (3.5) The agent serves the counters processes send (--metrics): only
 * then does a process count its connections, reading TCP_INFO at the close
 * of a Service socket and sending counters datagrams (ldmesh/report.h).
 * Clear (an older agent, or none asked), a close costs nothing more than
 * before; failure reports are sent either way. Kept by the agent's
 * heartbeat, so it follows a restart with other flags within a second. */
#define LDMESH_CONTROL_F_METRICS (1U << 0)

/* Service types (spec.type; a headless service has LDMESH_SVC_F_HEADLESS). */
enum ldmesh_svc_type {
	LDMESH_SVC_CLUSTER_IP = 0,
	LDMESH_SVC_NODE_PORT = 1,
	LDMESH_SVC_LOAD_BALANCER = 2,
	LDMESH_SVC_EXTERNAL_NAME = 3,
};

#define LDMESH_SVC_F_HEADLESS (1U << 0)          /* clusterIP: None */
#define LDMESH_SVC_F_AFFINITY_CLIENT_IP (1U << 1) /* sessionAffinity: ClientIP */
#define LDMESH_SVC_F_INTERNAL_LOCAL (1U << 2)    /* internalTrafficPolicy: Local */
#define LDMESH_SVC_F_EXTERNAL_LOCAL (1U << 3)    /* externalTrafficPolicy: Local */
#define LDMESH_SVC_F_PUBLISH_NOT_READY (1U << 4) /* publishNotReadyAddresses */
#define LDMESH_SVC_F_ALLOCATED_IP (1U << 5)      /* ClusterIP allocated by the
                                                    agent, not from the spec */
#define LDMESH_SVC_F_TOPOLOGY (1U << 6)          /* topology-aware routing
                                                    asked for (trafficDistribution,
                                                    or the topology annotation) */
#define LDMESH_SVC_F_ZONE_CHOSEN (1U << 7)       /* and used: the chosen endpoints
                                                    are those hinted for node_zone */

#define LDMESH_MAX_CLUSTER_IPS 2 /* dual-stack: at most one per family */

/*
 * One service. Its endpoints are stored contiguously and ordered by the
 * writer for this node: first the `ready_count` endpoints a connect should
 * use (ready, and eligible under the traffic policy), then the
 * `fallback_count` serving+terminating ones kube-proxy falls back to when no
 * endpoint is ready, then the rest (shown by tools, never chosen): (3.5)
 * first among them those the agent ejected (LDMESH_EP_F_EJECTED).
 */
struct ldmesh_service {
	ldmesh_str_t ns;            /* metadata.namespace */
	ldmesh_str_t name;          /* metadata.name */
	ldmesh_str_t external_name; /* spec.externalName for EXTERNAL_NAME */
	uint8_t type;               /* enum ldmesh_svc_type */
	uint8_t ip_count;           /* valid entries in cluster_ips */
	uint16_t flags;             /* LDMESH_SVC_F_* */
	uint32_t affinity_timeout_s; /* sessionAffinityConfig timeoutSeconds */
	uint8_t cluster_ips[LDMESH_MAX_CLUSTER_IPS][16]; /* IPv4-mapped for v4 */
	uint32_t first_port;        /* index into PORTS */
	uint32_t port_count;
	uint32_t first_endpoint;    /* index into ENDPOINTS */
	uint32_t endpoint_count;    /* all endpoints, chosen or not */
	uint32_t ready_count;       /* endpoints [0, ready_count) are chosen */
	uint32_t fallback_count;    /* then these when ready_count == 0 */
	uint32_t first_endpoint_port; /* index into ENDPOINT_PORTS; the matrix
	                                 is endpoint_count rows x port_count */
	uint32_t affinity_offset;   /* index into AFFINITY of this service's
	                               table, valid when affinity_size > 0 */
	uint32_t affinity_size;     /* entries; each an endpoint index 0-based
	                               within the chosen (ready) endpoints */
	uint32_t first_split;       /* (3.5) index into SPLITS (was reserved) */
	uint32_t split_count;       /* (3.5) 0: connects use this service's own
	                               endpoints (was reserved) */
};
static_assert(sizeof(struct ldmesh_service) == 96, "service layout");

/*
 * Traffic splits (3.5): a Gateway API TCPRoute whose parentRef is this
 * service (GAMMA) sends each connect to the service, or to one port of it,
 * to one of its backendRefs, drawn by weight; the connect then goes to an
 * endpoint of that backend Service's port, as a connect to it would. A
 * service's splits are contiguous: those of one winning route per parent
 * port (parent_port 0: the route names no port and applies to every port
 * without a route of its own). A target of 0 (the empty string) is a
 * backendRef that cannot be followed (another kind, or another namespace
 * without a ReferenceGrant): its share of connects is refused, as the
 * Gateway API asks. So is the share of a target the table does not have,
 * or one without endpoints. Weights 0 get nothing; all 0: refuse.
 */
#define LDMESH_SPLIT_WEIGHT_MAX 1000000U /* the Gateway API's bound */
#define LDMESH_SPLITS_MAX 256            /* per service; readers stop there */

struct ldmesh_split {
	ldmesh_str_t target;        /* "<name>.<ns>.svc.<domain>": the backend
	                               Service's FQDN, looked up in NAME_INDEX;
	                               0: a backendRef refused */
	uint32_t weight;            /* 0..LDMESH_SPLIT_WEIGHT_MAX */
	uint16_t port;              /* the backend Service's port */
	uint16_t parent_port;       /* the parent's port it applies to, 0: all */
	uint32_t reserved;
};
static_assert(sizeof(struct ldmesh_split) == 16, "split layout");

/* IANA protocol numbers, as in struct ldmesh_port::protocol. */
#define LDMESH_PROTO_TCP 6
#define LDMESH_PROTO_UDP 17
#define LDMESH_PROTO_SCTP 132

struct ldmesh_port {
	ldmesh_str_t name;          /* spec.ports[].name, may be "" */
	ldmesh_str_t target_port_name; /* named targetPort, "" if numeric */
	ldmesh_str_t app_protocol;  /* spec.ports[].appProtocol, may be "" */
	uint16_t port;              /* spec.ports[].port, 1..65535 */
	uint16_t target_port;       /* numeric targetPort, 0 if named */
	uint16_t node_port;         /* spec.ports[].nodePort, 0 if none */
	uint8_t protocol;           /* LDMESH_PROTO_* */
	uint8_t reserved;
};
static_assert(sizeof(struct ldmesh_port) == 20, "port layout");

#define LDMESH_EP_F_READY (1U << 0)       /* conditions.ready */
#define LDMESH_EP_F_SERVING (1U << 1)     /* conditions.serving */
#define LDMESH_EP_F_TERMINATING (1U << 2) /* conditions.terminating */
#define LDMESH_EP_F_LOCAL (1U << 3)       /* nodeName == header node_name */
/* (3.5) Ready, but the agent's own probe of it failed after a process
 * reported it (ldmesh/report.h): ordered after the fallback endpoints, out
 * of [0, ready_count), so no process picks it. At most the agent's
 * --max-ejection-percent of a Service's chosen endpoints carry it, and
 * none when all of them would (they are then all used). */
#define LDMESH_EP_F_EJECTED (1U << 4)

struct ldmesh_endpoint {
	uint8_t addr[16];           /* IPv4-mapped for v4 */
	ldmesh_str_t node;          /* nodeName, may be "" */
	ldmesh_str_t zone;          /* zone, may be "" */
	ldmesh_str_t hostname;      /* hostname (headless per-pod DNS) */
	ldmesh_str_t target;        /* targetRef "Kind/name" (the pod), or "" */
	ldmesh_str_t zone_hints;    /* hints.forZones, comma-separated, or "" */
	uint32_t flags;             /* LDMESH_EP_F_* */
};
static_assert(sizeof(struct ldmesh_endpoint) == 40, "endpoint layout");

/*
 * VIP index: open addressing, linear probing, capacity a power of two.
 * Key (addr, port, protocol); slot = ldmesh_vip_hash(...) & (count - 1).
 * An empty slot has service == LDMESH_NONE. A lookup probes at most
 * header.vip_max_probe slots (at most the index's size), so a crafted table
 * cannot make it loop.
 */
#define LDMESH_NONE 0xffffffffU
/* In a delta's index: this key is absent, whatever the base says. */
#define LDMESH_SHADOW 0xfffffffeU

#define LDMESH_VIP_CLUSTER_IP 0  /* spec.clusterIPs */
#define LDMESH_VIP_EXTERNAL_IP 1 /* spec.externalIPs */
#define LDMESH_VIP_LOAD_BALANCER 2 /* status.loadBalancer.ingress[].ip, not
                                      ipMode: Proxy (given meaning in 2.0's
                                      lifetime: a reader that does not know
                                      it redirects it like any VIP, which is
                                      what it means) */

struct ldmesh_vip_slot {
	uint8_t addr[16];
	uint16_t port;              /* host order, as all fields */
	uint8_t protocol;
	uint8_t kind;               /* LDMESH_VIP_* */
	uint32_t service;           /* index into SERVICES, or LDMESH_NONE */
	uint32_t port_index;        /* index within the service's ports */
	uint32_t reserved;
};
static_assert(sizeof(struct ldmesh_vip_slot) == 32, "vip slot layout");

/*
 * Name index: open addressing, linear probing, power-of-two capacity, keyed
 * by the lower-cased FQDN without the trailing dot ("backend.default.svc.
 * cluster.local"). Headless services with endpoint hostnames also get
 * "<hostname>.<svc>.<ns>.svc.<domain>" entries naming that endpoint. Since
 * 3.4 also reverse names (ldmesh/arpa.h): each ClusterIP's, naming its
 * service, and each listed endpoint address of a headless service's,
 * naming that endpoint; the first service (by index) keeps an address two
 * headless services list.
 */
struct ldmesh_name_slot {
	uint64_t hash;              /* ldmesh_hash64(fqdn, len, 0) */
	ldmesh_str_t fqdn;
	uint32_t service;           /* index into SERVICES, or LDMESH_NONE */
	uint32_t endpoint;          /* index into ENDPOINTS, or LDMESH_NONE for
	                               the service name itself */
	uint32_t reserved;
};
static_assert(sizeof(struct ldmesh_name_slot) == 24, "name slot layout");

#ifdef __cplusplus
}
#endif

#endif
