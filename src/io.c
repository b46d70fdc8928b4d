/* io.c - peekable input streams and atomically replaced output files. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
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
        const char *name = s->name; /* "<stdin>" for "-" */
        sr_stream_close(s);
        return sr_err(err, SR_ERUN, "%s: out of memory", name);
    }
    return SR_OK;
}

sr_status sr_stream_fd(sr_stream *s, int fd, const char *name, char *err)
{
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->close_fd = 1;
    s->name = name;
    s->size = -1;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        s->size = (long long)st.st_size;
    s->cap = STREAM_BUF;
    s->buf = malloc(s->cap);
    if (!s->buf) {
        sr_stream_close(s);
        return sr_err(err, SR_ERUN, "%s: out of memory", name);
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

/*
 * Temporaries are named
 *
 *     DIR/.NAME.seqrun-PID@HOST.tmp.XXXXXX
 *
 * so that one left behind by a process that died without cleaning up (a
 * SIGKILL, a power cut) is recognisable as seqrun's, and as belonging to a
 * process that no longer exists: the first output opened in DIR removes
 * those of its own host whose PID is gone (and that the user owns).  The
 * host matters because a directory may be shared between machines (the
 * README's GNU parallel --sshlogin and Slurm recipes); a PID is only
 * meaningful on its own host.  (Two containers with the same host name and
 * separate PID namespaces writing one directory could still remove each
 * other's live temporaries; the victim's rename then fails and it reports
 * the error: nothing is lost, a run fails.)  NAME is shortened when the
 * whole would pass NAME_MAX.  The backups sr_out_defer_end keeps while it
 * replaces several files are named the same way with ".old." for ".tmp.".
 */
#define MAX_TMP 8

/* Temporaries the signal handler must remove.  Plain fixed storage: the
 * handler may only touch async-signal-safe state. */
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

/*
 * The signal handler and sr_out_defer_end exclude each other: the handler
 * removes temporaries and kills the process only from IDLE (-> DYING); while
 * the renames of a deferred commit run (COMMITTING) it records the signal
 * and returns, and the commit, once every file is replaced or every one
 * restored, delivers it.  So a signal never lands between two renames that
 * must happen together, whichever thread it reaches.
 */
enum { IDLE, COMMITTING, DYING };
static int out_state = IDLE;
static volatile sig_atomic_t deferred_sig;

static void die_by(int sig)
{
    for (int i = 0; i < MAX_TMP; i++)
        if (pending_tmp[i])
            unlink(pending_tmp[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_signal(int sig)
{
    int idle = IDLE;
    if (__atomic_compare_exchange_n(&out_state, &idle, DYING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        die_by(sig);
        return;
    }
    if (idle == COMMITTING) {
        deferred_sig = sig;
        return;
    }
    /* DYING: another thread's handler is removing the temporaries and
     * then kills the process; nothing to add */
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
        /* A signal ignored when seqrun started stays ignored: `nohup
         * seqrun ...` must survive the SIGHUP it was started to survive,
         * and a parent that ignores SIGPIPE for its children gets EPIPE
         * write errors, as it asked. */
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
            old.sa_handler == SIG_IGN)
            continue;
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

/* Blocks the signals whose handler removes temporaries, so a temporary is
 * never on disk without being registered (or the reverse) as far as this
 * thread is concerned.  (A handler running on another thread in that
 * window leaves the temporary behind; the next run into the directory
 * removes it, see remove_stale.) */
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

/* ---- open outputs, by stream, for messages ---------------------------- */

#define MAX_OPEN 16
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    FILE *f;
    const char *name;
} open_out[MAX_OPEN];

static void register_out(FILE *f, const char *name)
{
    pthread_mutex_lock(&open_mu);
    for (int i = 0; i < MAX_OPEN; i++)
        if (!open_out[i].f) {
            open_out[i].f = f;
            open_out[i].name = name;
            break;
        }
    pthread_mutex_unlock(&open_mu);
}

static void unregister_out(FILE *f)
{
    pthread_mutex_lock(&open_mu);
    for (int i = 0; i < MAX_OPEN; i++)
        if (open_out[i].f == f)
            open_out[i].f = NULL;
    pthread_mutex_unlock(&open_mu);
}

const char *sr_out_name(FILE *f)
{
    const char *name = f == stdout ? "<stdout>" : NULL;
    pthread_mutex_lock(&open_mu);
    for (int i = 0; i < MAX_OPEN; i++)
        if (f && open_out[i].f == f)
            name = open_out[i].name;
    pthread_mutex_unlock(&open_mu);
    return name;
}

/* ---- temporaries' names and stale ones -------------------------------- */

/* This host's name as it goes into temporaries' names. */
static const char *host_tag(void)
{
    static char host[65];
    if (!host[0]) {
        char h[256] = "";
        if (gethostname(h, sizeof h - 1) != 0 || !h[0])
            strcpy(h, "localhost");
        h[sizeof h - 1] = '\0';
        size_t k = 0;
        for (; h[k] && k < sizeof host - 1; k++)
            host[k] = (h[k] == '/' || h[k] == '@' || (unsigned char)h[k] <= ' ') ? '_' : h[k];
        host[k] = '\0';
    }
    return host;
}

/* For a name DIR-less "....seqrun-PID@HOST.{tmp,old}.XXXXXX": its PID if it
 * is this host's and not this process's, else 0. */
static long stale_pid(const char *name)
{
    const char *tag = NULL, *p = name;
    while ((p = strstr(p, ".seqrun-")))
        tag = p++;
    if (!tag || name[0] != '.')
        return 0;
    char *end;
    long pid = strtol(tag + 8, &end, 10);
    if (pid <= 0 || *end != '@')
        return 0;
    const char *host = end + 1, *kind = NULL;
    for (p = host; (p = strchr(p, '.')); p++)
        if (strncmp(p, ".tmp.", 5) == 0 || strncmp(p, ".old.", 5) == 0)
            kind = p;
    const char *me = host_tag();
    if (!kind || (size_t)(kind - host) != strlen(me) || strncmp(host, me, strlen(me)) != 0 ||
        strlen(kind + 5) != 6 || pid == (long)getpid())
        return 0;
    return pid;
}

/* Directories remove_stale has cleaned (each once per process). */
static char *cleaned[32];
static int ncleaned;
static pthread_mutex_t cleaned_mu = PTHREAD_MUTEX_INITIALIZER;

/* Removes from dir (a prefix ending in '/', or "" for the current
 * directory) the temporaries and backups of seqrun processes of this host
 * that no longer run (and that belong to this user), once per directory
 * per process: a --paths run writes many files into one directory, which
 * need not be read again for each.  Up to 32 directories are remembered;
 * outputs into more are not cleaned up after.  Temporaries of seqrun
 * versions before this naming (.NAME.tmp.XXXXXX) say nothing of their
 * writer and are left alone. */
static void remove_stale(const char *dir, size_t dirlen)
{
    char *path = NULL;
    pthread_mutex_lock(&cleaned_mu);
    int known = 0;
    for (int i = 0; i < ncleaned && !known; i++)
        known = strlen(cleaned[i]) == dirlen && strncmp(cleaned[i], dir, dirlen) == 0;
    if (!known && ncleaned < 32 && (path = malloc(dirlen + 1))) {
        memcpy(path, dir, dirlen);
        path[dirlen] = '\0';
        cleaned[ncleaned++] = path;
    }
    pthread_mutex_unlock(&cleaned_mu);
    if (!path)
        return;
    DIR *dp = opendir(dirlen ? path : ".");
    if (!dp)
        return;
    int dfd = dirfd(dp);
    uid_t me = geteuid();
    struct dirent *e;
    while ((e = readdir(dp))) {
        long pid = stale_pid(e->d_name);
        struct stat st;
        if (pid && kill((pid_t)pid, 0) != 0 && errno == ESRCH &&
            fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            st.st_uid == me)
            unlinkat(dfd, e->d_name, 0);
    }
    closedir(dp);
}

__attribute__((destructor)) static void forget_cleaned(void)
{
    pthread_mutex_lock(&cleaned_mu);
    for (int i = 0; i < ncleaned; i++)
        free(cleaned[i]);
    ncleaned = 0;
    pthread_mutex_unlock(&cleaned_mu);
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
            return sr_err(err, SR_ERUN, "%s: out of memory", path);
        o->name = o->path;
        /* Appending, not truncating: -o /dev/stdout reopens whatever
         * standard output is, and `{ ...; seqrun -o /dev/stdout; } >f` or
         * `>>log` must not lose what came before. */
        if (!(o->f = fopen(path, "ab"))) {
            sr_status st2 = sr_err(err, SR_ERUN, "%s: cannot open for writing: %s", path,
                                   strerror(errno));
            sr_out_abort(o);
            return st2;
        }
        register_out(o->f, o->name);
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
    char tag[128];
    int taglen = snprintf(tag, sizeof tag, ".seqrun-%ld@%s.tmp.XXXXXX", (long)getpid(), host_tag());
    size_t base = strlen(target + dirlen), maxbase = 255 - 1 - (size_t)taglen;
    if (base > maxbase)
        base = maxbase;
    size_t n = dirlen + 1 + base + (size_t)taglen + 1;
    o->tmp = malloc(n);
    o->path = sr_strdup(target);
    o->name = sr_strdup(path);
    free(real);
    if (!o->tmp || !o->path || !o->name) {
        sr_out_abort(o);
        return sr_err(err, SR_ERUN, "%s: out of memory", path);
    }
    snprintf(o->tmp, n, "%.*s.%.*s%s", (int)dirlen, o->path, (int)base, o->path + dirlen, tag);
    remove_stale(o->path, dirlen);
    /* A new file gets what cp or an editor would give it, 0666 less the
     * umask; a replaced one keeps its permission bits and, where we may
     * set them, its owner and group (set-id bits are not carried over to
     * new contents). */
    mode_t mode;
    if (exists) {
        mode = st.st_mode & 0777;
    } else {
        mode_t mask = umask(0);
        umask(mask);
        mode = 0666 & ~mask;
    }
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
    if (exists && (st.st_uid != geteuid() || st.st_gid != getegid())) {
        int r = fchown(fd, st.st_uid, st.st_gid);
        (void)r; /* not ours to give away: the new file stays the writer's */
    }
    fchmod(fd, mode);
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        sr_status st2 = sr_err(err, SR_ERUN, "%s: %s", path, strerror(errno));
        close(fd);
        sr_out_abort(o);
        return st2;
    }
    register_out(o->f, o->name);
    return SR_OK;
}

/* Commits held back by sr_out_defer_begin: finished temporaries, the paths
 * they will replace and the paths as given (for messages). */
static int deferring, ndeferred;
static struct {
    char *tmp, *path, *name;
} deferred[MAX_TMP];

void sr_out_defer_begin(void)
{
    deferring = 1;
}

sr_status sr_out_commit(sr_outfile *o, char *err)
{
    if (!o->tmp) {
        /* stdout, or a device written in place */
        int bad = fflush(o->f) != 0 || ferror(o->f);
        int e = errno;
        if (o->f != stdout) {
            unregister_out(o->f);
            if (fclose(o->f) != 0 && !bad) {
                bad = 1;
                e = errno;
            }
        }
        o->f = NULL;
        sr_status st = bad ? sr_err(err, SR_ERUN, "%s: write failed: %s",
                                    o->name ? o->name : "<stdout>", strerror(e ? e : EIO))
                           : SR_OK;
        sr_out_abort(o);
        return st;
    }
    int bad = fflush(o->f) != 0 || ferror(o->f);
    int e = errno;
    const char *what = "write failed";
    if (!bad && fsync(fileno(o->f)) != 0) {
        bad = 1;
        e = errno;
        what = "cannot sync to disk";
    }
    unregister_out(o->f);
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
            deferred[ndeferred].name = o->name;
            ndeferred++;
            o->tmp = o->path = o->name = NULL;
            return SR_OK;
        }
    }
    if (!bad && rename(o->tmp, o->path) != 0) {
        bad = 1;
        e = errno;
        what = "cannot replace it";
    }
    if (bad) {
        sr_status st = sr_err(err, SR_ERUN, "%s: %s: %s", o->name, what, strerror(e ? e : EIO));
        sr_out_abort(o);
        return st;
    }
    track(o->tmp, 0);
    free(o->tmp);
    o->tmp = NULL;
    sr_out_abort(o);
    return SR_OK;
}

/*
 * Replacing several files together.  rename() replaces one file
 * atomically; nothing replaces two.  So before the renames, every target
 * but the last that exists gets a second name, a hard link (the backup,
 * .NAME.seqrun-PID@HOST.old.XXXXXX); then the temporaries are renamed in
 * order.  If rename k fails, the files 0..k-1 already replaced are put
 * back: the backup renamed over the target (atomic), or the new file
 * removed where there was none before; then every temporary and backup
 * goes.  So a failed rename leaves every target as it was, and the run
 * fails naming the file that could not be replaced.
 *
 * What still holds when the undo itself cannot be done:
 *   - a backup could not be made (a file system without hard links, a
 *     protected_hardlinks refusal): that file is replaced without one, and
 *     if a later rename fails it keeps its new contents;
 *   - renaming a backup back fails (the directory changed under us in
 *     between): the target keeps its new contents.
 * Either way the message names the file whose new contents stayed, and
 * every file holds one complete version, old or new: never a partial one.
 * Signals are held off (see out_state) from the first rename to the last
 * undo; a SIGKILL or power cut in between can leave some targets new and
 * some old, and a backup that the next run into the directory removes.
 */
sr_status sr_out_defer_end(int keep, char *err)
{
    sr_status st = SR_OK;
    int n = ndeferred;
    char *backup[MAX_TMP] = {0};
    int existed[MAX_TMP] = {0}, renamed = 0;
    int idle = IDLE, committing = 0;
    sigset_t old;
    if (keep && n > 0) {
        hold_signals(1, &old);
        committing = __atomic_compare_exchange_n(&out_state, &idle, COMMITTING, 0, __ATOMIC_ACQ_REL,
                                                 __ATOMIC_ACQUIRE);
        if (!committing) {
            /* a signal handler is already removing everything */
            hold_signals(0, &old);
            keep = 0;
            st = sr_err(err, SR_ERUN, "%s: not replaced: interrupted", deferred[0].name);
        }
    }
    if (keep) {
        for (int i = 0; i + 1 < n; i++) {
            struct stat s;
            existed[i] = lstat(deferred[i].path, &s) == 0;
            if (!existed[i] || !S_ISREG(s.st_mode))
                continue;
            char *b = sr_strdup(deferred[i].tmp);
            char *t = b ? strstr(b + strlen(b) - 11, ".tmp.") : NULL;
            if (t) {
                memcpy(t, ".old.", 5);
                if (link(deferred[i].path, b) == 0) {
                    backup[i] = b;
                    continue;
                }
            }
            free(b);
        }
        for (; renamed < n; renamed++)
            if (rename(deferred[renamed].tmp, deferred[renamed].path) != 0)
                break;
        if (renamed < n) {
            int e = errno;
            char undo[SR_ERRLEN / 2] = "";
            for (int j = renamed - 1; j >= 0; j--) {
                int ok = backup[j] ? rename(backup[j], deferred[j].path) == 0
                                   : !existed[j] && unlink(deferred[j].path) == 0;
                if (ok || undo[0])
                    continue;
                if (backup[j]) {
                    snprintf(undo, sizeof undo, "; %s keeps the new output (its old contents are in %s)",
                             deferred[j].name, backup[j]);
                    free(backup[j]); /* left there, for the user */
                    backup[j] = NULL;
                } else {
                    snprintf(undo, sizeof undo, "; %s keeps the new output", deferred[j].name);
                }
            }
            st = sr_err(err, SR_ERUN, "%s: cannot replace it: %s%s", deferred[renamed].name,
                        strerror(e), undo);
        }
    }
    for (int i = 0; i < n; i++) {
        if (i >= renamed || st != SR_OK)
            unlink(deferred[i].tmp);
        if (backup[i])
            unlink(backup[i]);
        free(backup[i]);
        track(deferred[i].tmp, 0);
        free(deferred[i].tmp);
        free(deferred[i].path);
        free(deferred[i].name);
    }
    ndeferred = 0;
    deferring = 0;
    if (committing) {
        __atomic_store_n(&out_state, IDLE, __ATOMIC_RELEASE);
        hold_signals(0, &old);
        int sig = deferred_sig;
        if (sig)
            on_signal(sig); /* what arrived during the renames, now */
    }
    return st;
}

void sr_out_abort(sr_outfile *o)
{
    if (o->f && o->f != stdout) {
        unregister_out(o->f);
        fclose(o->f);
    }
    o->f = NULL;
    if (o->tmp) {
        unlink(o->tmp);
        track(o->tmp, 0);
    }
    if (o->name != o->path)
        free(o->name);
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = o->name = NULL;
}
