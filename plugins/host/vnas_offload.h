/* vnas_offload.h — the vnas host offload plugin, C ABI.
 *
 * Modeled on the VAAI-NAS plugin interface: a hypervisor-side agent starts a
 * session per datastore (NFS server + export, plus the vnasd control
 * endpoint), executes primitives on files of that datastore, and ends the
 * session.
 *
 *   Clone file      Asks vnasd to clone by sharing extents (Control.CloneFile).
 *                   When vnasd refuses (with its reason), cannot be reached,
 *                   or source and destination are on different datastores,
 *                   the plugin copies the file on the host through libnfs
 *                   (pipelined 1 MiB requests, zero chunks skipped so sparse
 *                   files stay sparse, COMMIT at the end). The result says
 *                   which happened and why.
 *   Reserve space   Thick-provisions [0, size) of a file (Control.ReserveSpace).
 *   Extended stats  Logical / allocated / unique bytes (Control.ExtendedStats).
 *
 * Paths. A path argument is either relative to the session's export
 * ("vm1/vm1.vmdk"), absolute including the export ("/vnas/vm1/vm1.vmdk"), or
 * a full libnfs URL ("nfs://10.0.0.5/vnas/vm1/vm1.vmdk?nfsport=2049&
 * mountport=2049"). A URL on another server or export names another
 * datastore: a clone to or from it is always a host copy.
 *
 * Errors. Every function returns a vnas_status; on failure the session's
 * last-error text (vnas_last_error) says what happened in human words.
 *
 * Thread safety. A session may be used by one thread at a time. Distinct
 * sessions are independent. The progress callback runs on the calling
 * thread.
 *
 * Memory. The library never changes the host process's allocator settings.
 * A host copy keeps its chunk buffers in a pool it owns (depth x 1 MiB,
 * mapped once per copy). libnfs itself mallocs ~1 MiB per READ reply and
 * WRITE request; with glibc's default dynamic thresholds those are trimmed
 * and faulted in again, which costs fallback-copy speed. A host agent that
 * wants the full speed can, in its own main(), raise the thresholds as the
 * vnas-offload CLI does (mallopt(M_MMAP_THRESHOLD, 32 << 20) and
 * mallopt(M_TRIM_THRESHOLD, 256 << 20)), or start with
 * GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456
 *
 * Example:
 *   vnas_session_params p = {0};
 *   p.server = "127.0.0.1"; p.export_path = "/vnas";
 *   p.control_endpoint = "127.0.0.1:50051"; p.timeout_ms = 30000;
 *   vnas_session* s = NULL;
 *   if (vnas_session_start(&p, &s) != VNAS_OK) { ...vnas_last_error(NULL)... }
 *   vnas_primitive_args a = {0};
 *   a.primitive = VNAS_PRIM_CLONE_FILE;
 *   a.src_path = "vm1/vm1.vmdk"; a.dst_path = "vm2/vm2.vmdk";
 *   vnas_primitive_result r;
 *   int rc = vnas_execute_primitive(s, &a, &r);
 *   if (rc == VNAS_OK && r.outcome == VNAS_OUTCOME_FELL_BACK) puts(r.reason);
 *   vnas_session_end(s);
 */
#ifndef VNAS_PLUGINS_HOST_VNAS_OFFLOAD_H_
#define VNAS_PLUGINS_HOST_VNAS_OFFLOAD_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VNAS_OFFLOAD_API_VERSION 1

/* Return codes. Stable: never renumbered. */
typedef enum vnas_status {
  VNAS_OK = 0,
  VNAS_ERR_INVALID_ARGUMENT = 1, /* bad parameter, path or URL */
  VNAS_ERR_NOT_FOUND = 2,        /* source file / directory missing */
  VNAS_ERR_EXISTS = 3,           /* GUARDED and the destination exists */
  VNAS_ERR_NO_SPACE = 4,         /* the datastore is full */
  VNAS_ERR_UNREACHABLE = 5,      /* neither offload nor NFS reachable */
  VNAS_ERR_CANCELLED = 6,        /* the progress callback asked to stop */
  VNAS_ERR_TIMEOUT = 7,          /* no progress within the session timeout */
  VNAS_ERR_IO = 8,               /* NFS or server I/O failure */
  VNAS_ERR_PERMISSION = 9,       /* access denied / bad token */
  VNAS_ERR_REFUSED = 10,         /* refused, and no fallback allowed */
  VNAS_ERR_UNSUPPORTED = 11,     /* primitive not available */
  VNAS_ERR_INTERNAL = 12
} vnas_status;

/* Primitives (VAAI-NAS names in brackets). */
typedef enum vnas_primitive {
  VNAS_PRIM_CLONE_FILE = 1,     /* [Full File Clone / Fast File Clone] */
  VNAS_PRIM_RESERVE_SPACE = 2,  /* [Reserve Space] */
  VNAS_PRIM_EXTENDED_STATS = 3  /* [Extended Statistics] */
} vnas_primitive;

/* Clone flags (bit set). */
#define VNAS_CLONE_LAZY 0x1u     /* fast/linked clone via a snapshot */
#define VNAS_CLONE_DRYRUN 0x2u   /* report what would happen; change nothing */
#define VNAS_CLONE_GUARDED 0x4u  /* fail VNAS_ERR_EXISTS if dst exists */
#define VNAS_CLONE_NO_FALLBACK 0x8u /* refusal -> VNAS_ERR_REFUSED, no copy */
#define VNAS_CLONE_NO_OFFLOAD 0x10u /* skip the offload; always host copy */

/* How a clone was served. */
typedef enum vnas_outcome {
  VNAS_OUTCOME_NONE = 0,
  VNAS_OUTCOME_OFFLOADED = 1,  /* done by vnasd, no data crossed the wire */
  VNAS_OUTCOME_FELL_BACK = 2,  /* copied on the host through NFS; see reason */
  VNAS_OUTCOME_DRY_RUN = 3     /* DRYRUN: r.would_offload says what */
} vnas_outcome;

/* Progress callback: `done` of `total` bytes processed so far. Return 0 to
 * continue, non-zero to cancel (the clone then fails VNAS_ERR_CANCELLED and
 * a partially copied destination is removed). */
typedef int (*vnas_progress_fn)(void* ctx, uint64_t done, uint64_t total);

typedef struct vnas_session_params {
  uint32_t api_version;          /* VNAS_OFFLOAD_API_VERSION (0 = current) */
  const char* server;            /* NFS server host name or IPv4 address */
  const char* export_path;       /* e.g. "/vnas"; NULL = "/vnas" */
  uint32_t nfs_port;             /* 0 = ask the portmapper */
  uint32_t mount_port;           /* 0 = ask the portmapper */
  const char* control_endpoint;  /* "host:port"; NULL = "<server>:50051" */
  const char* token;             /* bearer token or NULL (loopback) */
  uint32_t timeout_ms;           /* per call / stall limit; 0 = 30000 */
  const char* client_id;         /* name recorded in receipts, or NULL */
  /* Fallback copy tuning; 0 = default. */
  uint32_t copy_chunk_bytes;     /* bytes per READ/WRITE (default 1 MiB) */
  uint32_t copy_depth;           /* requests in flight (default 8) */
  uint32_t copy_connections;     /* TCP connections per side (default 1) */
  uint64_t copy_commit_every;    /* COMMIT after this many bytes written
                                    (0 = default 64 MiB; UINT64_MAX = only
                                    at the end) */
  const char* tls_ca_file;       /* PEM CA bundle for a TLS control endpoint,
                                    or NULL (system roots; loopback: plain) */
} vnas_session_params;

typedef struct vnas_session vnas_session;

typedef struct vnas_primitive_args {
  vnas_primitive primitive;
  const char* src_path;          /* CLONE source; RESERVE/STATS target */
  const char* dst_path;          /* CLONE destination */
  uint32_t flags;                /* VNAS_CLONE_* */
  uint64_t size;                 /* RESERVE: bytes (0 drops the reservation) */
  vnas_progress_fn progress;     /* may be NULL */
  void* progress_ctx;
} vnas_primitive_args;

typedef struct vnas_primitive_result {
  /* CLONE */
  vnas_outcome outcome;
  int would_offload;             /* DRYRUN: 1 if vnasd would offload */
  char reason[512];              /* why it fell back / was refused ("" if offloaded) */
  char reason_name[64];          /* e.g. "VSS_SIBLING_REDO_LOGS", "UNREACHABLE" */
  uint64_t bytes_total;          /* logical size of the source */
  uint64_t bytes_copied;         /* bytes written by the host copy */
  uint64_t bytes_skipped;        /* zero bytes not written (stay sparse) */
  uint64_t bytes_shared;         /* offloaded: bytes shared with the source */
  uint64_t receipt_seq;          /* vnasd's receipt (0 = none) */
  uint64_t elapsed_us;
  /* RESERVE and STATS */
  uint64_t logical;              /* logical size */
  uint64_t allocated;            /* bytes mapped */
  uint64_t unique;               /* bytes referenced only by this object */
  uint64_t shared;
  uint64_t snapshot_only;
  uint64_t reserved;
} vnas_primitive_result;

/* Starts a session. On success *out owns a session to end with
 * vnas_session_end. Does not contact the server yet (a dead control endpoint
 * only means clones fall back). */
vnas_status vnas_session_start(const vnas_session_params* params,
                               vnas_session** out);

/* Runs one primitive. `result` is always cleared and filled as far as known
 * (also on failure). */
vnas_status vnas_execute_primitive(vnas_session* session,
                                   const vnas_primitive_args* args,
                                   vnas_primitive_result* result);

/* Ends and frees the session; NULL is fine. */
void vnas_session_end(vnas_session* session);

/* The text of the last failure of `session` (or, for NULL, of the last
 * vnas_session_start on this thread). Valid until the next call on the same
 * session / thread. Never NULL. */
const char* vnas_last_error(const vnas_session* session);

/* A stable name for a status code, e.g. "VNAS_ERR_NOT_FOUND". */
const char* vnas_status_name(vnas_status status);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif  /* VNAS_PLUGINS_HOST_VNAS_OFFLOAD_H_ */
