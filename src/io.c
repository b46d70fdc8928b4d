/* io.c - peekable input streams and atomically replaced output files. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STREAM_BUF 65536

sr_status sr_stream_open(sr_stream *s, const char *path, char *err)
{
    memset(s, 0, sizeof *s);
    s->size = -1;
    if (strcmp(path, "-") == 0) {
        s->fd = STDIN_FILENO;
        s->name = "<stdin>";
    } else {
        s->name = path;
        s->fd = open(path, O_RDONLY);
        if (s->fd < 0)
            return sr_err(err, SR_ERUN, "%s: cannot open: %s", path, strerror(errno));
        s->close_fd = 1;
    }
    struct stat st;
    if (fstat(s->fd, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            sr_stream_close(s);
            return sr_err(err, SR_ERUN, "%s: is a directory, not a tensor file", path);
        }
        if (S_ISREG(st.st_mode))
            s->size = (long long)st.st_size;
    }
    s->cap = STREAM_BUF;
    s->buf = malloc(s->cap);
    if (!s->buf) {
        sr_stream_close(s);
        return sr_err(err, SR_ERUN, "out of memory");
    }
    return SR_OK;
}

void sr_stream_mem(sr_stream *s, const void *data, size_t len, const char *name)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->name = name;
    s->mem = data;
    s->memlen = len;
    s->size = (long long)len;
}

void sr_stream_close(sr_stream *s)
{
    if (s->close_fd && s->fd >= 0)
        close(s->fd);
    free(s->buf);
    s->buf = NULL;
    s->fd = -1;
    s->close_fd = 0;
}

/* Ensures at least want (<= cap) bytes are buffered unless the stream ends. */
static int fill(sr_stream *s, size_t want)
{
    if (s->len - s->pos >= want || s->eof)
        return 0;
    if (s->pos) {
        memmove(s->buf, s->buf + s->pos, s->len - s->pos);
        s->len -= s->pos;
        s->pos = 0;
    }
    while (s->len < want && !s->eof) {
        ssize_t r = read(s->fd, s->buf + s->len, s->cap - s->len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            s->eof = 1;
        s->len += (size_t)r;
    }
    return 0;
}

long long sr_stream_read(sr_stream *s, void *dst, size_t n)
{
    unsigned char *out = dst;
    size_t got = 0;
    if (s->fd < 0) {
        size_t avail = s->memlen - s->mempos;
        got = n < avail ? n : avail;
        memcpy(out, s->mem + s->mempos, got);
        s->mempos += got;
        s->consumed += (long long)got;
        return (long long)got;
    }
    /* Drain the buffer, then read large requests straight into dst. */
    size_t b = s->len - s->pos;
    if (b) {
        size_t k = n < b ? n : b;
        memcpy(out, s->buf + s->pos, k);
        s->pos += k;
        got = k;
    }
    while (got < n && !s->eof) {
        if (n - got < s->cap / 2) {
            if (fill(s, n - got) < 0)
                return -1;
            size_t k = s->len - s->pos;
            if (k > n - got)
                k = n - got;
            memcpy(out + got, s->buf + s->pos, k);
            s->pos += k;
            got += k;
            if (k == 0)
                break;
        } else {
            ssize_t r = read(s->fd, out + got, n - got);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            if (r == 0)
                s->eof = 1;
            got += (size_t)r;
        }
    }
    s->consumed += (long long)got;
    return (long long)got;
}

long long sr_stream_peek(sr_stream *s, void *dst, size_t n)
{
    if (n > 4096)
        n = 4096;
    if (s->fd < 0) {
        size_t avail = s->memlen - s->mempos;
        size_t k = n < avail ? n : avail;
        memcpy(dst, s->mem + s->mempos, k);
        return (long long)k;
    }
    if (fill(s, n) < 0)
        return -1;
    size_t k = s->len - s->pos;
    if (k > n)
        k = n;
    memcpy(dst, s->buf + s->pos, k);
    return (long long)k;
}

long long sr_stream_remaining(const sr_stream *s)
{
    if (s->size < 0)
        return -1;
    long long r = s->size - s->consumed;
    return r < 0 ? 0 : r;
}

/* ---- atomic output ---------------------------------------------------- */

/* Temporaries the signal handler must remove.  Plain fixed storage: the
 * handler may only touch async-signal-safe state. */
#define MAX_TMP 8
static char *volatile pending_tmp[MAX_TMP];

static void track(char *tmp, int add)
{
    for (int i = 0; i < MAX_TMP; i++) {
        if (add && !pending_tmp[i]) {
            pending_tmp[i] = tmp;
            return;
        }
        if (!add && pending_tmp[i] == tmp) {
            pending_tmp[i] = NULL;
            return;
        }
    }
}

static void on_signal(int sig)
{
    for (int i = 0; i < MAX_TMP; i++)
        if (pending_tmp[i])
            unlink(pending_tmp[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* SIGBUS means a mapped file shrank under us: the weights are read in place
 * from a private mapping, and another process truncated the file.  That is
 * bad input, not a crash: remove temporaries, say so, exit 1. */
static void on_sigbus(int sig)
{
    (void)sig;
    for (int i = 0; i < MAX_TMP; i++)
        if (pending_tmp[i])
            unlink(pending_tmp[i]);
    static const char msg[] = "seqrun: a mapped weights file was truncated while in use (changed by another process?)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(SR_ERUN);
}

void sr_out_install_signal_cleanup(void)
{
    struct sigaction bus;
    memset(&bus, 0, sizeof bus);
    bus.sa_handler = on_sigbus;
    sigemptyset(&bus.sa_mask);
    sigaction(SIGBUS, &bus, NULL);

    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
    /* Past `ulimit -f`, write() then fails with EFBIG instead of the process
     * dying silently: the ordinary error path removes the temporary and says
     * "FILE: write failed: File too large", exit 1. */
    signal(SIGXFSZ, SIG_IGN);
}

/* Commits held back by sr_out_defer_begin: finished temporaries and the
 * paths they will replace. */
static int deferring, ndeferred;
static struct {
    char *tmp, *path;
} deferred[MAX_TMP];

void sr_out_defer_begin(void)
{
    deferring = 1;
}

sr_status sr_out_defer_end(int keep, char *err)
{
    sr_status st = SR_OK;
    for (int i = 0; i < ndeferred; i++) {
        if (keep && st == SR_OK && rename(deferred[i].tmp, deferred[i].path) != 0)
            st = sr_err(err, SR_ERUN, "%s: write failed: %s", deferred[i].path, strerror(errno));
        if (!keep || st != SR_OK)
            unlink(deferred[i].tmp);
        track(deferred[i].tmp, 0);
        free(deferred[i].tmp);
        free(deferred[i].path);
    }
    ndeferred = 0;
    deferring = 0;
    return st;
}

/* Blocks the signals whose handler removes temporaries, so a temporary is
 * never on disk without being registered (or the reverse). */
static void hold_signals(int hold, sigset_t *old)
{
    if (hold) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &set, old);
    } else {
        pthread_sigmask(SIG_SETMASK, old, NULL);
    }
}

/* Paths that name a file descriptor or a device rather than a file:
 * -o /dev/stdout must write to standard output as it is (appending to a
 * `>>` log, say), not replace whatever file it happens to lead to; and as
 * root a rename there would replace the /dev entry itself.  /dev/shm is an
 * ordinary file system. */
static int special_path(const char *path)
{
    return (strncmp(path, "/dev/", 5) == 0 && strncmp(path, "/dev/shm/", 9) != 0) ||
           strncmp(path, "/proc/", 6) == 0;
}

sr_status sr_out_open(sr_outfile *o, const char *path, char *err)
{
    memset(o, 0, sizeof *o);
    if (strcmp(path, "-") == 0) {
        o->f = stdout;
        return SR_OK;
    }
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
        return sr_err(err, SR_ERUN, "%s: is a directory", path);
    if ((exists && !S_ISREG(st.st_mode)) || special_path(path)) {
        /* A device, FIFO or socket (-o /dev/null, a named pipe): nothing
         * there can be replaced atomically, and a temporary renamed over it
         * would replace the device node itself.  Written in place. */
        o->path = sr_strdup(path);
        if (!o->path)
            return sr_err(err, SR_ERUN, "out of memory");
        /* Appending, not truncating: -o /dev/stdout reopens whatever
         * standard output is, and `{ ...; seqrun -o /dev/stdout; } >f` or
         * `>>log` must not lose what came before. */
        if (!(o->f = fopen(path, "ab"))) {
            sr_status st2 = sr_err(err, SR_ERUN, "%s: cannot open for writing: %s", path,
                                   strerror(errno));
            sr_out_abort(o);
            return st2;
        }
        return SR_OK;
    }
    /* A symlink to a file: replace the file it names, not the link. */
    char *real = NULL;
    struct stat lst;
    if (exists && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
        real = realpath(path, NULL);
    const char *target = real ? real : path;
    /* The temporary lives beside the target so rename() is atomic. */
    const char *slash = strrchr(target, '/');
    size_t dirlen = slash ? (size_t)(slash - target + 1) : 0;
    size_t n = strlen(target) + 32;
    o->tmp = malloc(n);
    o->path = sr_strdup(target);
    free(real);
    if (!o->tmp || !o->path) {
        sr_out_abort(o);
        return sr_err(err, SR_ERUN, "out of memory");
    }
    snprintf(o->tmp, n, "%.*s.%s.tmp.XXXXXX", (int)dirlen, o->path, o->path + dirlen);
    sigset_t old;
    hold_signals(1, &old);
    int fd = mkstemp(o->tmp);
    if (fd >= 0)
        track(o->tmp, 1);
    hold_signals(0, &old);
    if (fd < 0) {
        sr_status st2 = sr_err(err, SR_ERUN, "%s: cannot create output: %s", path, strerror(errno));
        free(o->tmp);
        o->tmp = NULL;
        sr_out_abort(o);
        return st2;
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; outputs are ordinary files */
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        sr_status st2 = sr_err(err, SR_ERUN, "%s: %s", path, strerror(errno));
        close(fd);
        sr_out_abort(o);
        return st2;
    }
    return SR_OK;
}

sr_status sr_out_commit(sr_outfile *o, char *err)
{
    if (!o->tmp) {
        /* stdout, or a device written in place */
        int bad = fflush(o->f) != 0 || ferror(o->f);
        int e = errno;
        if (o->f != stdout && fclose(o->f) != 0 && !bad) {
            bad = 1;
            e = errno;
        }
        o->f = NULL;
        sr_status st = bad ? sr_err(err, SR_ERUN, "%s: write failed: %s",
                                    o->path ? o->path : "<stdout>", strerror(e))
                           : SR_OK;
        free(o->path);
        o->path = NULL;
        return st;
    }
    int bad = fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0;
    int e = errno;
    if (fclose(o->f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    o->f = NULL;
    if (!bad && deferring) {
        if (ndeferred == MAX_TMP) {
            bad = 1;
            e = EMFILE;
        } else {
            /* The finished temporary stays registered with the signal
             * handler until sr_out_defer_end renames or removes it. */
            deferred[ndeferred].tmp = o->tmp;
            deferred[ndeferred].path = o->path;
            ndeferred++;
            o->tmp = o->path = NULL;
            return SR_OK;
        }
    }
    if (bad || rename(o->tmp, o->path) != 0) {
        if (!bad)
            e = errno;
        sr_status st = sr_err(err, SR_ERUN, "%s: write failed: %s", o->path, strerror(e));
        sr_out_abort(o);
        return st;
    }
    track(o->tmp, 0);
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
    return SR_OK;
}

void sr_out_abort(sr_outfile *o)
{
    if (o->f && o->f != stdout)
        fclose(o->f);
    o->f = NULL;
    if (o->tmp) {
        unlink(o->tmp);
        track(o->tmp, 0);
    }
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
}
