/* Replay main for fuzz targets: runs LLVMFuzzerTestOneInput on every file
 * named on the command line (or every file in a directory), so `meson
 * test` replays each corpus under the sanitizers. Build the same target
 * with clang -fsanitize=fuzzer (without this file) to fuzz for real. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
                fprintf(stderr, "fuzz: cannot open '%s': %s\n", path, strerror(errno));
                return -1;
        }
        size_t cap = 1 << 16, len = 0;
        uint8_t *buf = malloc(cap);
        for (;;) {
                if (!buf)
                        abort();
                size_t k = fread(buf + len, 1, cap - len, f);
                len += k;
                if (len < cap)
                        break;
                cap *= 2;
                buf = realloc(buf, cap);
        }
        fclose(f);
        /* an exact-size copy lets ASan see reads past the end */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        free(buf);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
        printf("ok - %s\n", path);
        return 0;
}

int main(int argc, char **argv) {
        int n = 0;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
                        DIR *d = opendir(argv[i]);
                        struct dirent *de;
                        while (d && (de = readdir(d))) {
                                if (de->d_name[0] == '.')
                                        continue;
                                char path[4096];
                                snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
                                if (run_file(path) < 0)
                                        return 1;
                                n++;
                        }
                        if (d)
                                closedir(d);
                } else {
                        if (run_file(argv[i]) < 0)
                                return 1;
                        n++;
                }
        }
        if (n == 0) {
                fprintf(stderr, "fuzz: empty corpus\n");
                return 1;
        }
        printf("1..%d\n", n);
        return 0;
}
