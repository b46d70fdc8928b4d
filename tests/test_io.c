/*
 * test_io.c - peekable streams and atomic outputs (src/io.c).
 *
 * The output tests look at the directory after every step: the target holds
 * either its old bytes or its new ones, and no temporary (.NAME.tmp.*) is
 * ever left behind.
 */
#include "io.h"
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_io_XXXXXX";

static void put(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The file's text (static buffer), or "<none>". */
static const char *get(const char *name)
{
    static char buf[256];
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f)
        return "<none>";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Temporaries (".NAME.tmp.XXXXXX") now in dir. */
static int count_temps(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

static void path(char *buf, const char *name)
{
    snprintf(buf, 256, "%s/%s", dir, name);
}

static void test_streams(void)
{
    char err[SR_ERRLEN];
    unsigned char b[8];
    sr_stream s;
    sr_stream_mem(&s, "abcdef", 6, "mem");
    CHECK(sr_stream_peek(&s, b, 4) == 4 && memcmp(b, "abcd", 4) == 0, "mem peek");
    CHECK(sr_stream_read(&s, b, 2) == 2 && memcmp(b, "ab", 2) == 0, "mem read");
    CHECK(sr_stream_remaining(&s) == 4 && s.consumed == 2, "mem remaining");
    CHECK(sr_stream_read(&s, b, 8) == 4 && sr_stream_read(&s, b, 8) == 0, "mem end");
    sr_stream_close(&s);

    /* a pipe: peeked bytes are read again, size unknown */
    int fd[2];
    char p[256];
    CHECK(pipe(fd) == 0, "pipe");
    CHECK(write(fd[1], "\x93NUMPYxyz", 9) == 9, "write");
    close(fd[1]);
    snprintf(p, sizeof p, "/dev/fd/%d", fd[0]);
    CHECK(sr_stream_open(&s, p, err) == SR_OK, "open pipe: %s", err);
    CHECK(sr_stream_remaining(&s) == -1, "pipe size unknown");
    CHECK(sr_stream_peek(&s, b, 6) == 6 && memcmp(b, "\x93NUMPY", 6) == 0, "pipe peek");
    CHECK(sr_stream_read(&s, b, 8) == 8 && memcmp(b, "\x93NUMPYxy", 8) == 0, "pipe read");
    CHECK(sr_stream_read(&s, b, 8) == 1 && b[0] == 'z', "pipe tail");
    sr_stream_close(&s);
    close(fd[0]);

    CHECK(sr_stream_open(&s, dir, err) == SR_ERUN && strstr(err, "is a directory"), "%s", err);
    path(p, "nope");
    CHECK(sr_stream_open(&s, p, err) == SR_ERUN && strstr(err, "nope: cannot open"), "%s", err);
}

static void test_outputs(void)
{
    char err[SR_ERRLEN], p[256];
    sr_outfile o;

    /* commit replaces, abort keeps */
    put("a", "old");
    path(p, "a");
    CHECK(sr_out_open(&o, p, err) == SR_OK, "open: %s", err);
    CHECK(count_temps() == 1 && strcmp(get("a"), "old") == 0, "temporary beside the target");
    fputs("new", o.f);
    CHECK(sr_out_commit(&o, err) == SR_OK, "commit: %s", err);
    CHECK(strcmp(get("a"), "new") == 0 && count_temps() == 0, "committed: %s", get("a"));
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0644, "mode %o", st.st_mode & 0777);

    CHECK(sr_out_open(&o, p, err) == SR_OK, "open: %s", err);
    fputs("partial", o.f);
    sr_out_abort(&o);
    CHECK(strcmp(get("a"), "new") == 0 && count_temps() == 0, "aborted: %s", get("a"));

    /* a new file appears only at commit */
    path(p, "b");
    CHECK(sr_out_open(&o, p, err) == SR_OK, "open: %s", err);
    CHECK(strcmp(get("b"), "<none>") == 0, "not there before commit");
    sr_out_abort(&o);
    CHECK(strcmp(get("b"), "<none>") == 0 && count_temps() == 0, "abort of a new file");

    /* errors name the path */
    CHECK(sr_out_open(&o, dir, err) == SR_ERUN && strstr(err, "is a directory"), "%s", err);
    path(p, "no/such/dir/c");
    CHECK(sr_out_open(&o, p, err) == SR_ERUN && strstr(err, "no/such/dir/c: cannot create output"),
          "%s", err);

    /* a symlink: the file it names is replaced, the link stays a link */
    put("target", "old");
    char t[256], l[256];
    path(t, "target");
    path(l, "link");
    CHECK(symlink(t, l) == 0, "symlink");
    CHECK(sr_out_open(&o, l, err) == SR_OK, "open link: %s", err);
    fputs("via link", o.f);
    CHECK(sr_out_commit(&o, err) == SR_OK, "commit: %s", err);
    struct stat ls;
    CHECK(lstat(l, &ls) == 0 && S_ISLNK(ls.st_mode), "link still a link");
    CHECK(strcmp(get("target"), "via link") == 0 && count_temps() == 0, "target: %s",
          get("target"));

    /* a device is written in place: no temporary in /dev, and /dev/null
     * stays a device */
    CHECK(sr_out_open(&o, "/dev/null", err) == SR_OK && o.tmp == NULL, "open /dev/null: %s", err);
    fputs("discarded", o.f);
    CHECK(sr_out_commit(&o, err) == SR_OK, "commit /dev/null: %s", err);
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "/dev/null is a device");
    /* a FIFO too: its reader sees the bytes, nothing is renamed over it */
    path(p, "fifo");
    CHECK(mkfifo(p, 0600) == 0, "mkfifo");
    int rfd = open(p, O_RDONLY | O_NONBLOCK);
    CHECK(sr_out_open(&o, p, err) == SR_OK && o.tmp == NULL, "open fifo: %s", err);
    fputs("through", o.f);
    CHECK(sr_out_commit(&o, err) == SR_OK, "commit fifo: %s", err);
    char buf[16] = "";
    CHECK(read(rfd, buf, sizeof buf) == 7 && memcmp(buf, "through", 7) == 0, "fifo got '%s'", buf);
    close(rfd);
    CHECK(stat(p, &st) == 0 && S_ISFIFO(st.st_mode), "fifo still a fifo");

    /* a write error (the disk is full) is reported at commit, and the old
     * file stays */
    put("d", "old");
    path(p, "d");
    CHECK(sr_out_open(&o, p, err) == SR_OK, "open: %s", err);
    fputs("x", o.f);
    int keep = dup(fileno(o.f));
    int full = open("/dev/full", O_WRONLY);
    if (full >= 0) {
        dup2(full, fileno(o.f));
        close(full);
        CHECK(sr_out_commit(&o, err) == SR_ERUN && strstr(err, "d: write failed: No space left"),
              "full disk: %s", err);
        CHECK(strcmp(get("d"), "old") == 0 && count_temps() == 0, "full disk kept: %s", get("d"));
    } else {
        sr_out_abort(&o);
    }
    close(keep);
}

static void test_deferred(void)
{
    char err[SR_ERRLEN], p[256], q[256];
    sr_outfile a, b;

    /* kept: both appear at the end, not at their commits */
    put("x", "old x");
    put("y", "old y");
    path(p, "x");
    path(q, "y");
    sr_out_defer_begin();
    CHECK(sr_out_open(&a, p, err) == SR_OK && sr_out_open(&b, q, err) == SR_OK, "open: %s", err);
    fputs("new x", a.f);
    fputs("new y", b.f);
    CHECK(sr_out_commit(&a, err) == SR_OK && sr_out_commit(&b, err) == SR_OK, "commit: %s", err);
    CHECK(strcmp(get("x"), "old x") == 0 && count_temps() == 2, "held: %s", get("x"));
    CHECK(sr_out_defer_end(1, err) == SR_OK, "end: %s", err);
    CHECK(strcmp(get("x"), "new x") == 0 && strcmp(get("y"), "new y") == 0 && count_temps() == 0,
          "kept: %s %s", get("x"), get("y"));

    /* discarded: the first output committed, the second failed */
    sr_out_defer_begin();
    CHECK(sr_out_open(&a, p, err) == SR_OK, "open: %s", err);
    fputs("newer x", a.f);
    CHECK(sr_out_commit(&a, err) == SR_OK, "commit: %s", err);
    path(q, "no/dir/y");
    CHECK(sr_out_open(&b, q, err) == SR_ERUN, "second output fails");
    sr_out_defer_end(0, err);
    CHECK(strcmp(get("x"), "new x") == 0 && count_temps() == 0, "discarded: %s", get("x"));

    /* after the group, commits rename at once again */
    CHECK(sr_out_open(&a, p, err) == SR_OK, "open: %s", err);
    fputs("x again", a.f);
    CHECK(sr_out_commit(&a, err) == SR_OK && strcmp(get("x"), "x again") == 0, "immediate");
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_streams();
    test_outputs();
    test_deferred();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return unit_summary();
}
