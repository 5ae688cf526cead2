/* cprof: the command table. Add a subcommand by adding a cmd-<name>.c and
 * a row here. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "input.h"
#include "util/cleanup.h"
#include "util/log.h"

struct command {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
};

static const struct command commands[] = {
        { "record", cmd_record, "sample stacks of processes and write a profile" },
        { "collapse", cmd_collapse, "fold `perf script` output into folded stacks" },
        { "report", cmd_report, "print the top functions of folded stacks, as text or JSON" },
        { "convert", cmd_convert, "convert folded stacks to svg, pprof, speedscope or JSON" },
        { "flamegraph", cmd_flamegraph, "draw folded stacks as an interactive SVG flame graph" },
        { "diff", cmd_diff, "compare two profiles as a differential flame graph" },
        { "ctl", cmd_ctl, "ask the running cprofd for its status, a snapshot or a recording" },
        /* command rows */
};

static void help(void) {
        printf("Usage: cprof COMMAND [OPTIONS]\n\n"
               "A sampling profiler for Linux: attach to processes, sample their stacks\n"
               "and write folded stacks and interactive flame graphs.\n\n"
               "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                printf("  %-12s %s\n", commands[i].name, commands[i].summary);
        printf("\nRun 'cprof COMMAND --help' for a command's options.\n"
               "Example: cprof record --pid 1234 --duration 30 && "
               "cprof flamegraph out.folded > graph.svg\n");
}

int main(int argc, char **argv) {
        if (argc < 2) {
                help();
                return 2;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0) {
                help();
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
                printf("cprof %s\n", CPROF_VERSION);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(argv[1], commands[i].name) == 0) {
                        log_set_program("cprof");
                        return commands[i].run(argc - 1, argv + 1);
                }
        const char *names[ELEMENTSOF(commands)];
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                names[i] = commands[i].name;
        const char *hint = cli_closest_name(argv[1], strlen(argv[1]), names, ELEMENTSOF(names));
        if (hint)
                log_error("unknown command '%s', did you mean '%s'? (see 'cprof --help')", argv[1], hint);
        else
                log_error("unknown command '%s' (see 'cprof --help')", argv[1]);
        return 2;
}
