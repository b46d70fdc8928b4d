/*
 * faultinject.c - an LD_PRELOAD shim that makes the Nth call of a kind fail,
 * for tests/suite_fault.sh.
 *
 *   FAULT_MALLOC=N   the Nth malloc/calloc/realloc/aligned_alloc/
 *                    posix_memalign returns NULL (ENOMEM)
 *   FAULT_WRITE=N    the Nth output call (write, fwrite, fputs, fputc, putc,
 *                    fprintf, vfprintf, printf, puts; not to stderr) finds
 *                    the disk full: for stdio the stream's descriptor is
 *                    replaced by /dev/full first, so the failure surfaces
 *                    where buffering makes it surface, and every later
 *                    write to that file fails too; write(2) returns ENOSPC
 *   FAULT_FSYNC=N    the Nth fsync/fdatasync fails (EIO)
 *   FAULT_RENAME=N   the Nth rename/renameat fails (EPERM, as in a sticky
 *                    directory)
 *   FAULT_STICKY=1   every call of that kind from the Nth on fails
 *   FAULT_COUNT=FILE at exit, writes "malloc A\nwrite B\nfsync C\nrename D\n"
 *                    (calls seen) to FILE, so a test knows how many N to try
 *   FAULT_SITES=FILE at exit, writes "KIND N" lines to FILE: for every
 *                    distinct call site (the innermost 3 return
 *                    addresses in the program itself, not in a library)
 *                    of every kind, the number N of its
 *                    first and of its last call.  A run's thousand mallocs
 *                    come from a few dozen places, most of them in loops: a
 *                    test that fails these N reaches every place (and every
 *                    loop's first and last turn) in a fraction of the runs
 *   FAULT_ONLY=NAME  counts and fails calls only in a program of that name
 *                    (program_invocation_short_name), so that a wrapper
 *                    such as timeout(1) that the shim is preloaded into too
 *                    is left alone
 *   FAULT_TRACE=1    prints the call stack of each failed call on stderr
 *                    (addresses; `addr2line -f -e seqrun 0x...` names them)
 *
 * Counts start when main() starts (the shim wraps __libc_start_main):
 * failures inside the dynamic loader or other libraries' constructors
 * would test those, not seqrun.  Calls are counted atomically across
 * threads.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <execinfo.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { K_MALLOC, K_WRITE, K_FSYNC, K_RENAME, K_N };
static const char *const kname[K_N] = {"malloc", "write", "fsync", "rename"};
static const char *const kenv[K_N] = {"FAULT_MALLOC", "FAULT_WRITE", "FAULT_FSYNC", "FAULT_RENAME"};
static long target[K_N];
static long count[K_N];
static int sticky, armed, tracing, siting;
static __thread int in_trace;

/* FAULT_SITES: each kind's call sites seen, by a hash of their stacks (open
 * addressing; a run past SITE_CAP sites records no new ones). */
#define SITE_CAP 4096
#define SITE_STACK 24  /* frames looked at */
#define SITE_FRAMES 3  /* of them, the program's own that make the key */
static struct site {
    unsigned long key; /* 0: free */
    long first, last;
} sites[K_N][SITE_CAP];
static int site_lock;

/* The program's own code (not a library's): its loaded segments. */
static struct {
    unsigned long lo, hi;
} prog_seg[8];
static int nprog_seg;

static int note_program(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    for (int i = 0; i < info->dlpi_phnum && nprog_seg < 8; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_X)) {
            prog_seg[nprog_seg].lo = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
            prog_seg[nprog_seg].hi = prog_seg[nprog_seg].lo + info->dlpi_phdr[i].p_memsz;
            nprog_seg++;
        }
    return 1; /* the first object listed is the program */
}

static int in_program(void *pc)
{
    for (int i = 0; i < nprog_seg; i++)
        if ((unsigned long)pc >= prog_seg[i].lo && (unsigned long)pc < prog_seg[i].hi)
            return 1;
    return 0;
}

/* A site is the program's innermost SITE_FRAMES return addresses: a call
 * that a library makes for the program (libyaml's hundred allocations
 * while it parses, stdio's buffers) belongs to the program's call into
 * that library, whose handling of the failure is what a test can check. */
static void note_site(int k, long n)
{
    void *bt[SITE_STACK];
    int depth = backtrace(bt, SITE_STACK), used = 0;
    unsigned long key = 1469598103934665603ul;
    for (int i = 0; i < depth && used < SITE_FRAMES; i++)
        if (in_program(bt[i])) {
            key = (key ^ (unsigned long)bt[i]) * 1099511628211ul;
            used++;
        }
    key |= 1;
    while (__atomic_exchange_n(&site_lock, 1, __ATOMIC_ACQUIRE))
        ;
    for (unsigned long i = key % SITE_CAP, tries = 0; tries < SITE_CAP; i = (i + 1) % SITE_CAP, tries++) {
        struct site *st = &sites[k][i];
        if (st->key == 0) {
            *st = (struct site){key, n, n};
            break;
        }
        if (st->key == key) {
            st->last = n > st->last ? n : st->last;
            st->first = n < st->first ? n : st->first;
            break;
        }
    }
    __atomic_store_n(&site_lock, 0, __ATOMIC_RELEASE);
}

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

/* 1 if this call of kind k is to fail. */
static int hit(int k)
{
    if (!__atomic_load_n(&armed, __ATOMIC_ACQUIRE) || in_trace)
        return 0;
    long n = __atomic_add_fetch(&count[k], 1, __ATOMIC_ACQ_REL);
    if (siting) {
        in_trace = 1;
        note_site(k, n);
        in_trace = 0;
    }
    int fail = target[k] > 0 && (n == target[k] || (sticky && n > target[k]));
    if (fail && tracing) {
        in_trace = 1;
        void *bt[40];
        int depth = backtrace(bt, 40);
        char head[64];
        int len = snprintf(head, sizeof head, "faultinject: %s %ld fails here:\n", kname[k], n);
        ssize_t w = write(STDERR_FILENO, head, (size_t)len);
        (void)w;
        backtrace_symbols_fd(bt, depth, STDERR_FILENO);
        in_trace = 0;
    }
    return fail;
}

static long envnum(const char *name)
{
    const char *v = getenv(name);
    return v ? strtol(v, NULL, 10) : 0;
}

static int by_number(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* FAULT_SITES's file: each kind's first and last calls of every site, in
 * order, once each. */
static void report_sites(const char *path)
{
    static long ns[2 * SITE_CAP];
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    for (int k = 0; k < K_N; k++) {
        int m = 0;
        for (int i = 0; i < SITE_CAP; i++)
            if (sites[k][i].key) {
                ns[m++] = sites[k][i].first;
                ns[m++] = sites[k][i].last;
            }
        qsort(ns, (size_t)m, sizeof *ns, by_number);
        for (int i = 0; i < m; i++)
            if (i == 0 || ns[i] != ns[i - 1])
                fprintf(f, "%s %ld\n", kname[k], ns[i]);
    }
    fclose(f);
}

static void report(void)
{
    armed = 0;
    const char *sites_path = getenv("FAULT_SITES");
    if (sites_path)
        report_sites(sites_path);
    const char *path = getenv("FAULT_COUNT");
    if (!path)
        return;
    char buf[256];
    int n = 0;
    for (int k = 0; k < K_N; k++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%s %ld\n", kname[k], count[k]);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, buf, (size_t)n);
        (void)w;
        close(fd);
    }
}

typedef int (*main_fn)(int, char **, char **);
static main_fn real_main;

static int wrapped_main(int argc, char **argv, char **envp)
{
    const char *only = getenv("FAULT_ONLY");
    if (only && strcmp(only, program_invocation_short_name) != 0)
        return real_main(argc, argv, envp);
    for (int k = 0; k < K_N; k++)
        target[k] = envnum(kenv[k]);
    sticky = envnum("FAULT_STICKY") != 0;
    tracing = envnum("FAULT_TRACE") != 0;
    siting = getenv("FAULT_SITES") != NULL;
    if (siting)
        dl_iterate_phdr(note_program, NULL);
    if (tracing || siting) { /* backtrace() loads libgcc on first use: not mid-failure */
        void *bt[2];
        backtrace(bt, 2);
    }
    atexit(report);
    __atomic_store_n(&armed, 1, __ATOMIC_RELEASE);
    return real_main(argc, argv, envp);
}

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void), void (*fini)(void),
                      void (*rtld_fini)(void), void *stack_end)
{
    int (*real)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *) =
        (int (*)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *))
            dlsym(RTLD_NEXT, "__libc_start_main");
    real_main = main;
    return real(wrapped_main, argc, argv, init, fini, rtld_fini, stack_end);
}

/* ---- memory ---------------------------------------------------------------- */

void *malloc(size_t n)
{
    if (hit(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    if (hit(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    if (hit(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t al, size_t n)
{
    if (hit(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_memalign(al, n);
}

int posix_memalign(void **out, size_t al, size_t n)
{
    if (hit(K_MALLOC))
        return ENOMEM;
    void *p = __libc_memalign(al, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

/* ---- output ------------------------------------------------------------------ */

/* The next definition of name (libc's), looked up on first use. */
#define REAL(name)                                                   \
    static __typeof__(&name) real_##name;                            \
    if (!real_##name)                                                \
    real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

/* The disk fills up under stream f: its descriptor now leads to /dev/full. */
static void fill_disk(FILE *f)
{
    int fd = fileno(f);
    if (fd < 0)
        return;
    int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (full < 0)
        return;
    dup2(full, fd);
    close(full);
}

static int out_hit(FILE *f)
{
    return f != stderr && hit(K_WRITE);
}

ssize_t write(int fd, const void *p, size_t n)
{
    REAL(write);
    if (fd != STDERR_FILENO && hit(K_WRITE)) {
        errno = ENOSPC;
        return -1;
    }
    return real_write(fd, p, n);
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
    REAL(fwrite);
    if (out_hit(f))
        fill_disk(f);
    return real_fwrite(p, size, n, f);
}

int fputs(const char *s, FILE *f)
{
    REAL(fputs);
    if (out_hit(f))
        fill_disk(f);
    return real_fputs(s, f);
}

int fputc(int c, FILE *f)
{
    REAL(fputc);
    if (out_hit(f))
        fill_disk(f);
    return real_fputc(c, f);
}

int putc(int c, FILE *f)
{
    REAL(putc);
    if (out_hit(f))
        fill_disk(f);
    return real_putc(c, f);
}

int puts(const char *s)
{
    REAL(puts);
    if (out_hit(stdout))
        fill_disk(stdout);
    return real_puts(s);
}

int vfprintf(FILE *f, const char *fmt, va_list ap)
{
    REAL(vfprintf);
    if (out_hit(f))
        fill_disk(f);
    return real_vfprintf(f, fmt, ap);
}

int fprintf(FILE *f, const char *fmt, ...)
{
    REAL(vfprintf);
    if (out_hit(f))
        fill_disk(f);
    va_list ap;
    va_start(ap, fmt);
    int r = real_vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}

int printf(const char *fmt, ...)
{
    REAL(vfprintf);
    if (out_hit(stdout))
        fill_disk(stdout);
    va_list ap;
    va_start(ap, fmt);
    int r = real_vfprintf(stdout, fmt, ap);
    va_end(ap);
    return r;
}

/* ---- durability and replacement ------------------------------------------------ */

int fsync(int fd)
{
    REAL(fsync);
    if (hit(K_FSYNC)) {
        errno = EIO;
        return -1;
    }
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    if (hit(K_FSYNC)) {
        errno = EIO;
        return -1;
    }
    return real_fdatasync(fd);
}

int rename(const char *a, const char *b)
{
    REAL(rename);
    if (hit(K_RENAME)) {
        errno = EPERM;
        return -1;
    }
    return real_rename(a, b);
}

int renameat(int da, const char *a, int db, const char *b)
{
    REAL(renameat);
    if (hit(K_RENAME)) {
        errno = EPERM;
        return -1;
    }
    return real_renameat(da, a, db, b);
}
