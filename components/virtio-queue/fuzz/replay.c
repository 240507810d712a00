/* SPDX-License-Identifier: MIT */
/*
 * Feeds files (or every file of directories) to a fuzz target's
 * LLVMFuzzerTestOneInput() without libFuzzer, so that the committed seeds
 * run as a regression test in every build, and a crash input can be
 * replayed under a debugger. A broken promise aborts the process.
 *
 * Usage: replay-virtio-queue-NAME PATH...
 * Exit status: 0 when at least one input ran, 1 otherwise.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads a whole file; returns 0 or -1 (message printed). */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *data = malloc(cap);
    while (data) {
        len += fread(data + len, 1, cap - len, f);
        if (len < cap) {
            break;
        }
        cap *= 2;
        uint8_t *bigger = realloc(data, cap);
        if (!bigger) {
            free(data);
        }
        data = bigger;
    }
    int err = ferror(f) || !data;
    fclose(f);
    if (err) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(data);
        return -1;
    }
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            perror(argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (replay_file(argv[i]) < 0) {
                return 1;
            }
            count++;
            continue;
        }
        struct dirent **names;
        int n = scandir(argv[i], &names, NULL, alphasort);
        if (n < 0) {
            perror(argv[i]);
            return 1;
        }
        int rc = 0;
        for (int k = 0; k < n; k++) {
            if (names[k]->d_name[0] != '.' && rc == 0) {
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
                rc = replay_file(path);
                count++;
            }
            free(names[k]);
        }
        free(names);
        if (rc < 0) {
            return 1;
        }
    }
    printf("%u inputs replayed\n", count);
    return count ? 0 : 1;
}
