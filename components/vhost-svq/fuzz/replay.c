/* SPDX-License-Identifier: MIT */
/*
 * Replays inputs through the fuzz target's entry point without libFuzzer,
 * so that the committed corpus is a regression test of every normal build
 * (and a crash file can be run under a debugger).
 *
 * Usage: replay-vhost-svq-replies FILE-OR-DIRECTORY...
 * Exit status 0 when at least one input ran (a failed check traps), 1 if an
 * argument cannot be read or nothing was found.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool replay_file(const char *path)
{
    gchar *data = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &data, &len, NULL)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return false;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, len);
    g_free(data);
    return true;
}

int main(int argc, char **argv)
{
    unsigned inputs = 0;

    for (int i = 1; i < argc; i++) {
        GDir *dir;
        const gchar *name;

        if (!g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
            if (!replay_file(argv[i])) {
                return 1;
            }
            inputs++;
            continue;
        }
        dir = g_dir_open(argv[i], 0, NULL);
        if (!dir) {
            fprintf(stderr, "replay: cannot open %s\n", argv[i]);
            return 1;
        }
        while ((name = g_dir_read_name(dir))) {
            gchar *path = g_build_filename(argv[i], name, NULL);
            bool ok = !g_file_test(path, G_FILE_TEST_IS_REGULAR) || replay_file(path);

            inputs += g_file_test(path, G_FILE_TEST_IS_REGULAR);
            g_free(path);
            if (!ok) {
                g_dir_close(dir);
                return 1;
            }
        }
        g_dir_close(dir);
    }
    printf("replayed %u input(s)\n", inputs);
    return inputs ? 0 : 1;
}
