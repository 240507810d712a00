/* SPDX-License-Identifier: MIT */
/*
 * fdpass: file descriptors over unix sockets, and QEMU's fd stores.
 *
 * Three parts, usable separately:
 *  - transport: send/receive a payload with up to FDPASS_MAX_FDS descriptors
 *    (SCM_RIGHTS) over a unix stream or seqpacket socket;
 *  - named fds: a per-monitor store with the semantics of QMP getfd/closefd;
 *  - fd sets: the process-wide store of QMP add-fd/remove-fd/query-fdsets,
 *    with "/dev/fdset/N" opening by access mode and dup tracking.
 *
 * No GLib, no threads, nothing global: the caller owns every store object.
 * Errors are negative errno values; the store functions also fill an
 * FdPassError with the message QEMU gives for the same failure, so that a QMP
 * server only has to forward it as a GenericError.
 */
#ifndef FDPASS_FDPASS_H
#define FDPASS_FDPASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** FDPASS_MAX_FDS: the most descriptors one message carries. */
#define FDPASS_MAX_FDS 16

/**
 * FdPassError:
 * @code: the negative errno also returned by the function.
 * @msg: a human-readable message, QEMU's wording where QEMU has one; always
 *       NUL-terminated, cut at 255 bytes (a very long name is cut).
 */
typedef struct FdPassError {
    int code;
    char msg[256];
} FdPassError;

/* ------------------------------------------------------------------------ */
/* Transport                                                                 */

/**
 * fdpass_send:
 * @sock: a connected AF_UNIX stream or seqpacket socket.
 * @buf: payload.
 * @len: payload length; must be at least 1 when @nfds > 0 (the descriptors
 *       travel with the first byte).
 * @fds: descriptors to pass (still owned by the caller), or NULL.
 * @nfds: number of descriptors, 0..FDPASS_MAX_FDS.
 *
 * Sends the whole payload. EINTR is retried; a partial write is finished
 * (the descriptors go with the first chunk only). @len 0 without
 * descriptors sends nothing and returns 0 (on a seqpacket socket an empty
 * record would read as end of file). On a non-blocking socket,
 * -EAGAIN is returned only if nothing was sent; once part of the message is
 * out, the call waits for the socket to become writable so that a message is
 * never torn. MSG_NOSIGNAL is used: a closed peer gives -EPIPE, no SIGPIPE.
 *
 * Returns: 0 on success; -EINVAL on bad arguments (@nfds too large, @len 0
 * with descriptors, NULL @buf with non-zero @len, a negative fd in @fds);
 * -EAGAIN (see above); -EPIPE, -ECONNRESET, -EBADF, -ENOTSOCK or another
 * negative errno from sendmsg()/poll().
 */
int fdpass_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/**
 * fdpass_recv:
 * @sock: an AF_UNIX stream or seqpacket socket.
 * @buf: where to store the payload.
 * @len: size of @buf (at least 1).
 * @fds: where to store received descriptors, or NULL when @max_fds is 0.
 * @max_fds: room in @fds, 0..FDPASS_MAX_FDS.
 * @ret_nfds: set to the number of descriptors stored in @fds (may be NULL
 *            only when @max_fds is 0).
 *
 * One recvmsg() with MSG_CMSG_CLOEXEC; EINTR is retried. Received
 * descriptors become the caller's. The control buffer has room for
 * FDPASS_MAX_FDS descriptors plus credentials (SO_PASSCRED) and a security
 * label (SO_PASSSEC). If the kernel truncated the control data (MSG_CTRUNC:
 * the sender attached more than that), or more than @max_fds descriptors
 * arrived, every descriptor that did arrive is closed and -EMSGSIZE is
 * returned: nothing leaks. Control messages other than SCM_RIGHTS are
 * ignored. On a seqpacket socket, a payload longer than @len is also
 * -EMSGSIZE (MSG_TRUNC), and an empty record is indistinguishable from end
 * of file: it returns 0 and any descriptor it carried is closed. On a stream
 * socket the payload bytes of a -EMSGSIZE message are consumed: the caller
 * should drop the connection.
 *
 * *@ret_nfds is 0 whenever the return value is not positive.
 *
 * Returns: the number of payload bytes (> 0); 0 at end of file; -EMSGSIZE
 * (see above; no descriptor is returned); -EINVAL on bad arguments; -EAGAIN
 * on a non-blocking socket with nothing to read; another negative errno from
 * recvmsg().
 */
ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fds, size_t max_fds,
                    size_t *ret_nfds);

/**
 * fdpass_recv_full:
 * Like fdpass_recv() but reads exactly @len bytes, looping over short reads
 * (and, on a non-blocking socket, waiting for more data once the first byte
 * has arrived). Descriptors may arrive with any chunk; their total is bounded
 * by @max_fds. On any error every descriptor received so far is closed and
 * *@ret_nfds is 0. On a seqpacket socket each record is one chunk.
 *
 * Returns: 0 on success; -ECONNRESET if the peer closed the connection
 * before @len bytes arrived (also when nothing had arrived: the caller asked
 * for a message); -EMSGSIZE, -EINVAL, -EAGAIN (nothing read yet) or another
 * negative errno as for fdpass_recv().
 */
int fdpass_recv_full(int sock, void *buf, size_t len, int *fds, size_t max_fds,
                     size_t *ret_nfds);

/**
 * fdpass_close_all:
 * Closes @n descriptors of @fds that are >= 0 and sets them to -1.
 */
void fdpass_close_all(int *fds, size_t n);

/* ------------------------------------------------------------------------ */
/* Named fds (QMP getfd / closefd), one store per monitor                    */

typedef struct FdPassNamed FdPassNamed;

/**
 * fdpass_named_new:
 * Returns: 0 and a new empty store in *@ret; -EINVAL if @ret is NULL; -ENOMEM.
 */
int fdpass_named_new(FdPassNamed **ret);

/**
 * fdpass_named_free:
 * Closes every descriptor still in the store and frees it. NULL is a no-op.
 */
void fdpass_named_free(FdPassNamed *store);

/**
 * fdpass_named_getfd:
 * @store: the monitor's store.
 * @name: the name (QMP "fdname").
 * @fd: the descriptor that came with the command; ownership passes to the
 *      store in every case: on error it is closed.
 * @err: filled on error, may be NULL.
 *
 * Stores @fd under @name; an existing entry of that name is replaced and its
 * old descriptor closed.
 *
 * Returns: 0 on success;
 * -EBADF "No file descriptor supplied via SCM_RIGHTS" if @fd < 0;
 * -EINVAL "Parameter 'fdname' expects a name not starting with a digit" if
 * @name begins with a digit; -EINVAL "Parameter 'fdname' is missing" if
 * @name is NULL; -EINVAL "Invalid argument" if @store is NULL; -ENOMEM.
 * Checked in the order @store, @fd, @name (QEMU looks at the fd first).
 */
int fdpass_named_getfd(FdPassNamed *store, const char *name, int fd, FdPassError *err);

/**
 * fdpass_named_closefd:
 * Closes and forgets the descriptor named @name.
 *
 * Returns: 0; -ENOENT "File descriptor named 'NAME' not found"; -EINVAL if
 * @store or @name is NULL.
 */
int fdpass_named_closefd(FdPassNamed *store, const char *name, FdPassError *err);

/**
 * fdpass_named_take:
 * Removes the descriptor named @name from the store and returns it: the
 * caller now owns it (QEMU's monitor_get_fd(), used by commands that take an
 * fd by name).
 *
 * Returns: the descriptor (>= 0); -ENOENT "File descriptor named 'NAME' has
 * not been found"; -EINVAL if @store or @name is NULL.
 */
int fdpass_named_take(FdPassNamed *store, const char *name, FdPassError *err);

/**
 * fdpass_named_count:
 * Returns: the number of descriptors in @store (0 for NULL).
 */
size_t fdpass_named_count(const FdPassNamed *store);

/* ------------------------------------------------------------------------ */
/* Fd sets (QMP add-fd / remove-fd / query-fdsets, /dev/fdset/N)            */

typedef struct FdPassSets FdPassSets;

/**
 * FdPassFdInfo: one member of a set, as query-fdsets reports it.
 * @fd: the descriptor number.
 * @opaque: the opaque string given to add-fd, or NULL.
 */
typedef struct FdPassFdInfo {
    int fd;
    const char *opaque;
} FdPassFdInfo;

/**
 * FdPassSetVisitor:
 * Called by fdpass_sets_query() once per set, in query-fdsets order. @fds
 * and its strings are valid only during the call.
 */
typedef void (*FdPassSetVisitor)(void *opaque, int64_t fdset_id,
                                 const FdPassFdInfo *fds, size_t nfds);

/**
 * fdpass_sets_new:
 * Returns: 0 and a new empty store in *@ret; -EINVAL if @ret is NULL; -ENOMEM.
 */
int fdpass_sets_new(FdPassSets **ret);

/**
 * fdpass_sets_free:
 * Closes every member descriptor (not the dups handed out: those belong to
 * their users) and frees the store. NULL is a no-op.
 */
void fdpass_sets_free(FdPassSets *sets);

/**
 * fdpass_sets_add_fd:
 * @sets: the store.
 * @has_fdset_id: whether @fdset_id was given.
 * @fdset_id: the set to add to (created if missing); when not given, a new
 *            set with the lowest free id (>= 0) is created.
 * @fd: the descriptor that came with the command; ownership passes to the
 *      store in every case: on error it is closed.
 * @opaque: a free-form string to remember with it, or NULL.
 * @ret_fdset_id: the id of the set used (may be NULL).
 * @err: filled on error, may be NULL.
 *
 * The fd numbers of a set are reported in the order they were added; the
 * same descriptor must not be added twice (it would be closed twice).
 *
 * Returns: 0 on success;
 * -EBADF "No file descriptor supplied via SCM_RIGHTS" if @fd < 0;
 * -EINVAL "Parameter 'fdset-id' expects a non-negative value" if @fdset_id is
 * negative; -EINVAL if @sets is NULL; -ENOMEM.
 */
int fdpass_sets_add_fd(FdPassSets *sets, bool has_fdset_id, int64_t fdset_id, int fd,
                       const char *opaque, int64_t *ret_fdset_id, FdPassError *err);

/**
 * fdpass_sets_remove_fd:
 * @sets: the store.
 * @fdset_id: the set.
 * @has_fd: whether @fd was given; without it, every member of the set is
 *          removed.
 * @fd: the member to remove.
 * @err: filled on error, may be NULL.
 *
 * Removed members are closed now, even while dups of them are open (a dup
 * is an independent descriptor). The set itself is freed when it has no
 * member left and no dup of it is still open; until then query lists it
 * with no fds. Without @fd, a set that has only dups left is not an error.
 *
 * Returns: 0 on success;
 * -ENOENT "File descriptor named 'fdset-id:N, fd:M' not found" (with @fd), or
 * "File descriptor named 'fdset-id:N' not found" (without); -EINVAL if @sets
 * is NULL.
 */
int fdpass_sets_remove_fd(FdPassSets *sets, int64_t fdset_id, bool has_fd, int64_t fd,
                          FdPassError *err);

/**
 * fdpass_sets_query:
 * Visits every set: sets in descending id order, members in insertion order,
 * as QEMU's query-fdsets lists them. A set whose members were all removed
 * while dups are open is visited with @nfds 0. @visit must not modify
 * @sets.
 *
 * Returns: the number of sets visited; -EINVAL if @sets or @visit is NULL.
 */
int fdpass_sets_query(const FdPassSets *sets, FdPassSetVisitor visit, void *opaque);

/**
 * fdpass_sets_open:
 * @sets: the store.
 * @path: "/dev/fdset/N".
 * @flags: open(2) flags; the access mode (O_RDONLY/O_WRONLY/O_RDWR) and
 *         O_DIRECT must match those of a member.
 * @err: filled on error, may be NULL.
 *
 * As QEMU's qemu_open() of "/dev/fdset/N" (QEMU 9.1 and later): looks at
 * the members of set N from the most recently added to the oldest and takes
 * the first whose access mode and O_DIRECT flag equal those of @flags.
 * Duplicates it (F_DUPFD_CLOEXEC), then, as open() would: refuses a
 * mismatch in O_SYNC, applies O_APPEND, O_ASYNC, O_NONBLOCK, O_NOATIME and
 * O_DIRECT from @flags with F_SETFL (this changes the open file description
 * the member shares with the dup), and truncates the file for O_TRUNC or
 * O_CREAT|O_EXCL. The dup is recorded in the set: close it with
 * fdpass_sets_close(), which keeps the set's bookkeeping right.
 *
 * N is parsed as QEMU does (strtol() base 10, the whole rest of the path,
 * 0..INT_MAX).
 *
 * Returns: a new descriptor (>= 0) on success;
 * -EINVAL "Path 'P' does not name an fd set" if @path does not begin with
 * "/dev/fdset/"; -EINVAL "Could not parse fdset P" if N is not a number as
 * above; -ENOENT "Failed to find fdset /dev/fdset/N";
 * -EACCES "Failed to find file descriptor with matching flags=0x%x" (@flags
 * printed as given); -EBADF (or another errno of F_GETFL) "Failed to read
 * file status flags for fd=M" if a member is no longer a valid descriptor;
 * "Failed to dup() given file descriptor fd=M" with -EINVAL (O_SYNC
 * differs), -EMFILE, or another errno of fcntl()/ftruncate();
 * -EINVAL if @sets or @path is NULL; -ENOMEM.
 */
int fdpass_sets_open(FdPassSets *sets, const char *path, int flags, FdPassError *err);

/**
 * fdpass_sets_close:
 * @sets: the store.
 * @fd: a descriptor returned by fdpass_sets_open().
 *
 * Closes a dup and forgets it; a set left with no member and no dup is freed.
 *
 * Returns: 0 on success; -ENOENT if @fd is not a dup handed out by @sets
 * (it is then left open); -EINVAL if @sets is NULL.
 */
int fdpass_sets_close(FdPassSets *sets, int fd);

/**
 * fdpass_sets_find_dup:
 * @sets: the store.
 * @fd: a descriptor.
 *
 * QEMU's monitor_fdset_dup_fd_find(): tells whether @fd is a dup handed out
 * by fdpass_sets_open() and still open.
 *
 * Returns: the id of the set it came from (>= 0); -ENOENT if it is not such
 * a dup; -EINVAL if @sets is NULL.
 */
int64_t fdpass_sets_find_dup(const FdPassSets *sets, int fd);

/**
 * fdpass_sets_monitor_attached / fdpass_sets_monitor_detached:
 * Count the monitors connected to the process; call them when a monitor
 * connection opens and closes (a detach without attach is ignored).
 *
 * By default this is QEMU 9.1 and later: a disconnect only frees sets that
 * have neither members nor dups (members belong to the client until it
 * removes them, so nothing is closed). With
 * fdpass_sets_set_legacy_cleanup(), it is QEMU before 9.1 (mon_refcount):
 * while no monitor is attached, every set with no dup open has its members
 * closed and is freed, at each detach, when the last dup of a set is closed
 * and after a remove-fd (QEMU's additional "VM is running" condition is
 * taken as true).
 */
void fdpass_sets_monitor_attached(FdPassSets *sets);
void fdpass_sets_monitor_detached(FdPassSets *sets);

/**
 * fdpass_sets_set_legacy_cleanup:
 * @sets: the store.
 * @enable: true for QEMU <= 9.0's mon_refcount cleanup (see
 *          fdpass_sets_monitor_detached()), false (the default) for QEMU
 *          >= 9.1's.
 *
 * Does not itself close anything; the policy applies from the next detach,
 * remove or dup close. NULL @sets is a no-op.
 */
void fdpass_sets_set_legacy_cleanup(FdPassSets *sets, bool enable);

/**
 * fdpass_sets_count:
 * Returns: the number of sets in @sets (0 for NULL).
 */
size_t fdpass_sets_count(const FdPassSets *sets);

#ifdef __cplusplus
}
#endif

#endif /* FDPASS_FDPASS_H */
