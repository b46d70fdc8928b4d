/*
 * io.h - input streams that can be peeked (so a file is recognised by its
 * magic bytes even when it arrives on a pipe) and output files that appear
 * atomically or not at all.
 */
#ifndef SR_IO_H
#define SR_IO_H

#include <stdio.h>
#include <stddef.h>
#include "common.h"

/* A buffered, read-only byte stream over a file descriptor or memory. */
typedef struct {
    int fd;                 /* -1 for a memory stream */
    int close_fd;
    const char *name;       /* for messages: the path, or "<stdin>" */
    unsigned char *buf;
    size_t cap, pos, len;   /* buffered bytes are buf[pos..len) */
    const unsigned char *mem;
    size_t memlen, mempos;
    long long size;         /* total size of a regular file or memory, else -1 */
    long long consumed;     /* bytes handed out so far (the offset in the file) */
    int eof;
} sr_stream;

/* Opens path ("-" = standard input).  Rejects directories and unreadable
 * files with SR_ERUN and a message naming the path. */
sr_status sr_stream_open(sr_stream *s, const char *path, char *err);
/* A stream over an open file descriptor, which it owns (closes); name is
 * kept for messages. */
sr_status sr_stream_fd(sr_stream *s, int fd, const char *name, char *err);
/* A stream over caller-owned memory (for fuzzing and tests). */
void sr_stream_mem(sr_stream *s, const void *data, size_t len, const char *name);
void sr_stream_close(sr_stream *s);

/* Reads up to n bytes, looping over short reads; returns the count read
 * (< n only at end of stream) or -1 on an I/O error (errno set). */
long long sr_stream_read(sr_stream *s, void *dst, size_t n);
/* Copies up to n (<= 4096) upcoming bytes without consuming them. */
long long sr_stream_peek(sr_stream *s, void *dst, size_t n);
/* Bytes left if known (regular file or memory), else -1. */
long long sr_stream_remaining(const sr_stream *s);

/*
 * An output file written to a temporary sibling and renamed over the target
 * only by sr_out_commit(), after fflush and fsync.  sr_out_abort() (and the
 * signal handler installed by sr_out_install_signal_cleanup) removes the
 * temporary, so a failed or interrupted run leaves the old file untouched.
 * Temporaries are named DIR/.NAME.seqrun-PID@HOST.tmp.XXXXXX; one that a
 * killed process left behind is removed by the next sr_out_open into DIR
 * once that PID no longer runs on this host (io.c says why the host).
 * A new file gets mode 0666 less the umask; a replaced file keeps its
 * permission bits (and, where allowed, its owner and group).
 * Path "-" writes straight to standard output.  A path that names a device,
 * FIFO or socket, or lies under /dev/ or /proc/, is written in place: there
 * is nothing to replace atomically there.  A symlink to a file has the file
 * it names replaced, not the link.  Messages name the path as given.
 */
typedef struct {
    FILE *f;
    char *path;     /* final path (a symlink resolved), NULL for stdout */
    char *tmp;      /* temporary path, NULL for stdout or in-place writes */
    char *name;     /* the path as given, for messages; NULL for stdout */
} sr_outfile;

sr_status sr_out_open(sr_outfile *o, const char *path, char *err);
sr_status sr_out_commit(sr_outfile *o, char *err);
void sr_out_abort(sr_outfile *o);
/* The path (as given) of the open output writing to f, "<stdout>" for
 * standard output, or NULL: for writers that get only the FILE and must
 * name the file in a message. */
const char *sr_out_name(FILE *f);
/*
 * Several outputs that must appear together or not at all (-o and
 * --save-state): after sr_out_defer_begin(), sr_out_commit() writes,
 * fsyncs and closes the temporary but does not rename it; then
 * sr_out_defer_end(1, err) renames every held temporary over its target,
 * and sr_out_defer_end(0, err) removes them all, leaving every target as it
 * was.  If a rename fails, the targets already replaced are restored from
 * backups (hard links made just before), so a failure leaves every target
 * as it was; io.c says what still holds when even that is impossible.
 * Signals wait until the renames are over.  The signal handler keeps
 * cleaning up held temporaries meanwhile.  At most 8 commits are held.
 */
void sr_out_defer_begin(void);
sr_status sr_out_defer_end(int keep, char *err);

/* SIGINT/SIGTERM/SIGHUP/SIGPIPE: unlink every open temporary, then die by
 * the same signal; those ignored at start (nohup) stay ignored.  SIGXFSZ
 * is ignored, so exceeding `ulimit -f` is an ordinary write error (EFBIG)
 * that the caller reports and cleans up. */
void sr_out_install_signal_cleanup(void);

#endif
