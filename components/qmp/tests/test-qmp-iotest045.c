/* SPDX-License-Identifier: MIT */
/*
 * The behaviours QEMU's iotest 045 checks (fd sets, getfd/closefd), over a
 * real unix socket, descriptors sent with SCM_RIGHTS the way QEMU's test
 * library does it (a lone space carrying the fd, then the command), with a
 * second idle monitor connected. Plus the per-monitor / shared scoping.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qmp-test-util.h"

static TuServer *ts;
static TuClient *c;
static TuClient *idle;
static char *images[5];
static int files[5];
static int drive_fd = -1;
static int fd_baseline;

static void make_images(int n)
{
    for (int i = 0; i < n; i++) {
        images[i] = g_strdup_printf("%s/image%d", ts->dir, i);
        cr_assert(g_file_set_contents(images[i], "", 0, NULL));
    }
}

static void drop_images(void)
{
    for (int i = 0; i < 5; i++) {
        if (images[i]) {
            unlink(images[i]);
            g_clear_pointer(&images[i], g_free);
        }
    }
}

/* Like QEMU's -add-fd: a dup of the file goes into set @set. */
static void add_fd_at_start(int file, int64_t set, const char *opaque)
{
    FdPassError e;
    int rc = fdpass_sets_add_fd(qmp_server_get_fd_sets(ts->srv), true, set,
                                fcntl(file, F_DUPFD_CLOEXEC, 0), opaque, NULL, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
}

static void fdsets_setup(void)
{
    fd_baseline = tu_fd_count();
    ts = tu_server_new(NULL);
    make_images(5);
    files[0] = open(images[0], O_RDONLY | O_CLOEXEC);
    files[1] = open(images[1], O_RDWR | O_CLOEXEC);
    files[2] = open(images[2], O_RDONLY | O_CLOEXEC);
    files[3] = open(images[3], O_RDONLY | O_CLOEXEC);
    files[4] = open(images[4], O_RDONLY | O_CLOEXEC);
    add_fd_at_start(files[0], 1, "image0:r");
    add_fd_at_start(files[1], 1, "image1:w+");
    add_fd_at_start(files[2], 0, "image2:r");
    add_fd_at_start(files[3], 2, "image3:r");
    add_fd_at_start(files[4], 2, "image4:r");
    /* The drive on /dev/fdset/1 holds a dup of the read-write member. */
    drive_fd = fdpass_sets_open(qmp_server_get_fd_sets(ts->srv), "/dev/fdset/1", O_RDWR, NULL);
    cr_assert_geq(drive_fd, 0);
    c = tu_connect(ts->path, ts->srv);
    tu_negotiate(c);
}

static void fdsets_teardown(void)
{
    tu_client_free(c);
    cr_expect_eq(fdpass_sets_close(qmp_server_get_fd_sets(ts->srv), drive_fd), 0);
    tu_server_free(ts);
    fdpass_close_all(files, 5);
    drop_images();
    cr_expect_eq(tu_fd_count(), fd_baseline, "descriptors back to baseline");
}

TestSuite(fdsets, .init = fdsets_setup, .fini = fdsets_teardown);

/* query-fdsets as [[fdset-id, [opaque...]]...] text. */
static char *fdsets_summary(TuClient *cl)
{
    JsonNode *r = tu_cmd_json(cl, "{\"execute\": \"query-fdsets\"}");
    JsonArray *sets = json_object_get_array_member(json_node_get_object(r), "return");
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < json_array_get_length(sets); i++) {
        JsonObject *set = json_array_get_object_element(sets, i);
        JsonArray *fds = json_object_get_array_member(set, "fds");
        g_string_append_printf(s, "%s%" G_GINT64_FORMAT ":", i ? " " : "",
                               json_object_get_int_member(set, "fdset-id"));
        for (guint j = 0; j < json_array_get_length(fds); j++) {
            JsonObject *fd = json_array_get_object_element(fds, j);
            cr_expect_geq(json_object_get_int_member(fd, "fd"), 0);
            g_string_append_printf(s, "%s%s", j ? "," : "",
                                   json_object_has_member(fd, "opaque")
                                       ? json_object_get_string_member(fd, "opaque") : "-");
        }
    }
    json_node_unref(r);
    return g_string_free(s, FALSE);
}

static void expect_summary(TuClient *cl, const char *want)
{
    char *got = fdsets_summary(cl);
    cr_expect_str_eq(got, want);
    g_free(got);
}

/* The fd number of the first member of the first set listed. */
static int64_t first_fd(void)
{
    JsonNode *r = tu_cmd_json(c, "{\"execute\": \"query-fdsets\"}");
    JsonArray *sets = json_object_get_array_member(json_node_get_object(r), "return");
    JsonObject *set = json_array_get_object_element(sets, 0);
    int64_t fd = json_object_get_int_member(
        json_array_get_object_element(json_object_get_array_member(set, "fds"), 0), "fd");
    json_node_unref(r);
    return fd;
}

static void expect_return_empty(TuClient *cl, const char *cmd)
{
    char *r = tu_cmd(cl, cmd);
    cr_expect_str_eq(r, "{\"return\": {}}", "reply to %s", cmd);
    g_free(r);
}

Test(fdsets, query_fdset)
{
    expect_summary(c, "2:image3:r,image4:r 1:image0:r,image1:w+ 0:image2:r");
}

Test(fdsets, remove_fdset)
{
    expect_return_empty(c, "{\"execute\": \"remove-fd\", \"arguments\": {\"fdset-id\": 2}}");
    expect_summary(c, "1:image0:r,image1:w+ 0:image2:r");
}

Test(fdsets, remove_fd)
{
    int64_t fd_image3 = first_fd();
    char *cmd = g_strdup_printf("{\"execute\": \"remove-fd\", \"arguments\": {\"fdset-id\": 2, "
                                "\"fd\": %" G_GINT64_FORMAT "}}", fd_image3);

    expect_return_empty(c, cmd);
    expect_summary(c, "2:image4:r 1:image0:r,image1:w+ 0:image2:r");
    cr_expect_eq(fcntl((int)fd_image3, F_GETFD), -1, "closed at once");
    g_free(cmd);
}

Test(fdsets, remove_fd_invalid_fdset)
{
    int64_t fd_image3 = first_fd();
    char *cmd = g_strdup_printf("{\"execute\": \"remove-fd\", \"arguments\": {\"fdset-id\": 3, "
                                "\"fd\": %" G_GINT64_FORMAT "}}", fd_image3);
    char *desc = g_strdup_printf("File descriptor named 'fdset-id:3, fd:%" G_GINT64_FORMAT
                                 "' not found", fd_image3);

    tu_expect_error(c, cmd, "GenericError", desc);
    g_free(cmd);
    g_free(desc);
}

Test(fdsets, remove_fd_invalid_fd)
{
    g_free(fdsets_summary(c));
    tu_expect_error(c, "{\"execute\": \"remove-fd\", \"arguments\": {\"fdset-id\": 2, \"fd\": 999}}",
                    "GenericError", "File descriptor named 'fdset-id:2, fd:999' not found");
    tu_expect_error(c, "{\"execute\": \"remove-fd\", \"arguments\": {\"fdset-id\": 7}}",
                    "GenericError", "File descriptor named 'fdset-id:7' not found");
}

Test(fdsets, add_fd_invalid_fd)
{
    tu_expect_error(c, "{\"execute\": \"add-fd\", \"arguments\": {\"fdset-id\": 2}}",
                    "GenericError", "No file descriptor supplied via SCM_RIGHTS");
}

Test(fdsets, argument_errors)
{
    tu_expect_error(c, "{\"execute\": \"remove-fd\"}", "GenericError",
                    "Parameter 'fdset-id' is missing");
    tu_expect_error(c, "{\"execute\": \"remove-fd\", \"arguments\": {\"fdset-id\": \"2\"}}",
                    "GenericError", "Invalid parameter type for 'fdset-id', expected: integer");
    tu_expect_error(c, "{\"execute\": \"query-fdsets\", \"arguments\": {\"x\": 1}}",
                    "GenericError", "Parameter 'x' is unexpected");
}

/* ------------------------------------------------------------------------ */
/* Descriptors passed at run time, a second (idle) monitor present          */

static void scm_setup(void)
{
    fd_baseline = tu_fd_count();
    ts = tu_server_new(NULL);
    make_images(1);
    /* An unused monitor, to check things work with two present. */
    idle = tu_connect(ts->path, ts->srv);
    c = tu_connect(ts->path, ts->srv);
    tu_negotiate(c);
}

static void scm_teardown(void)
{
    tu_client_free(c);
    tu_client_free(idle);
    tu_server_free(ts);
    drop_images();
    cr_expect_eq(tu_fd_count(), fd_baseline, "descriptors back to baseline");
}

TestSuite(scm, .init = scm_setup, .fini = scm_teardown);

/* QEMU's send_fd_scm(): the fd of the file goes with a single space. */
static void send_fd_by_scm(TuClient *cl)
{
    int fd = open(images[0], O_RDONLY | O_CLOEXEC);

    cr_assert_geq(fd, 0);
    tu_send(cl, " ", 1, &fd, 1);
    close(fd);
}

Test(scm, add_fd)
{
    struct stat want, got;
    JsonNode *r;
    JsonObject *ret;

    send_fd_by_scm(c);
    r = tu_cmd_json(c, "{\"execute\": \"add-fd\", \"arguments\": {\"fdset-id\": 2, "
                       "\"opaque\": \"image0:r\"}}");
    ret = json_object_get_object_member(json_node_get_object(r), "return");
    cr_assert_not_null(ret);
    cr_expect_eq(json_object_get_int_member(ret, "fdset-id"), 2);
    /* The fd reported is the file, kept open by the set. */
    cr_assert_eq(stat(images[0], &want), 0);
    cr_assert_eq(fstat((int)json_object_get_int_member(ret, "fd"), &got), 0);
    cr_expect_eq(want.st_ino, got.st_ino);
    json_node_unref(r);
    expect_summary(c, "2:image0:r");

    /* Without an id the lowest free one is used. */
    send_fd_by_scm(c);
    r = tu_cmd_json(c, "{\"execute\": \"add-fd\"}");
    ret = json_object_get_object_member(json_node_get_object(r), "return");
    cr_expect_eq(json_object_get_int_member(ret, "fdset-id"), 0);
    json_node_unref(r);
    send_fd_by_scm(c);
    tu_expect_error(c, "{\"execute\": \"add-fd\", \"arguments\": {\"fdset-id\": -1}}",
                    "GenericError", "Parameter 'fdset-id' expects a non-negative value");
    expect_summary(c, "2:image0:r 0:-");
}

Test(scm, getfd)
{
    send_fd_by_scm(c);
    expect_return_empty(c, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"image0:r\"}}");
}

Test(scm, getfd_invalid_fdname)
{
    int before = tu_fd_count();

    send_fd_by_scm(c);
    tu_expect_error(c, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"0image0:r\"}}",
                    "GenericError", "Parameter 'fdname' expects a name not starting with a digit");
    cr_expect_eq(tu_fd_count(), before, "the refused fd was closed");
}

Test(scm, getfd_without_fd)
{
    tu_expect_error(c, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"x\"}}",
                    "GenericError", "No file descriptor supplied via SCM_RIGHTS");
    tu_expect_error(c, "{\"execute\": \"getfd\"}", "GenericError", "Parameter 'fdname' is missing");
}

Test(scm, closefd)
{
    int before = tu_fd_count();

    send_fd_by_scm(c);
    expect_return_empty(c, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"image0:r\"}}");
    cr_expect_eq(tu_fd_count(), before + 1, "held by the monitor");
    expect_return_empty(c, "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"image0:r\"}}");
    cr_expect_eq(tu_fd_count(), before);
}

Test(scm, closefd_fd_not_found)
{
    tu_expect_error(c, "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"image0:r\"}}",
                    "GenericError", "File descriptor named 'image0:r' not found");
}

Test(scm, getfd_replaces_same_name)
{
    int before = tu_fd_count();

    for (int i = 0; i < 3; i++) {
        send_fd_by_scm(c);
        expect_return_empty(c, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"f\"}}");
        cr_expect_eq(tu_fd_count(), before + 1, "the old one was closed");
    }
}

Test(scm, named_fds_are_per_monitor_sets_are_shared)
{
    TuClient *other = tu_connect(ts->path, ts->srv);
    int before;

    tu_negotiate(other);
    before = tu_fd_count();
    send_fd_by_scm(c);
    expect_return_empty(c, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"mine\"}}");
    tu_expect_error(other, "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"mine\"}}",
                    "GenericError", "File descriptor named 'mine' not found");
    send_fd_by_scm(other);
    g_free(tu_cmd(other, "{\"execute\": \"add-fd\", \"arguments\": {\"fdset-id\": 5}}"));
    expect_summary(c, "5:-");
    cr_expect_eq(tu_fd_count(), before + 2);
    /* A monitor that goes away closes its named fds; the set stays
     * while a monitor is left. */
    tu_client_free(c);
    for (int i = 0; i < 100 && qmp_server_monitor_count(ts->srv) != 2; i++) {
        tu_pump(ts->srv, 10);
    }
    c = tu_connect(ts->path, ts->srv);
    tu_negotiate(c);
    /* +2 held, -3 (client, server socket, named fd), +2 (new connection) */
    cr_expect_eq(tu_fd_count(), before + 1, "named fd closed with its monitor");
    expect_summary(other, "5:-");
    tu_client_free(other);
}

static void leave_all_and_reconnect(int expected_closed)
{
    int before = tu_fd_count();

    tu_client_free(c);
    tu_client_free(idle);
    idle = NULL;
    for (int i = 0; i < 100 && qmp_server_monitor_count(ts->srv); i++) {
        tu_pump(ts->srv, 10);
    }
    cr_expect_eq(qmp_server_monitor_count(ts->srv), 0u);
    /* Two client sockets, two server sockets, and maybe the member. */
    cr_expect_eq(tu_fd_count(), before - 4 - expected_closed);
    c = tu_connect(ts->path, ts->srv);
    tu_negotiate(c);
}

Test(scm, sets_survive_the_last_monitor)
{
    /* QEMU >= 9.1 (fdpass's default): members belong to the client until
     * it removes them, monitors or not. */
    send_fd_by_scm(c);
    g_free(tu_cmd(c, "{\"execute\": \"add-fd\", \"arguments\": {\"fdset-id\": 1}}"));
    leave_all_and_reconnect(0);
    expect_summary(c, "1:-");
}

Test(scm, sets_freed_when_last_monitor_leaves_legacy)
{
    /* QEMU <= 9.0 policy: sets without dups go with the last monitor. */
    fdpass_sets_set_legacy_cleanup(qmp_server_get_fd_sets(ts->srv), true);
    send_fd_by_scm(c);
    g_free(tu_cmd(c, "{\"execute\": \"add-fd\", \"arguments\": {\"fdset-id\": 1}}"));
    leave_all_and_reconnect(1);
    expect_summary(c, "");
}
