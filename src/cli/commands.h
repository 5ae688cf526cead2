/* The subcommands of cprof. Each lives in its own cmd-<name>.c with one
 * entry point; src/cli/main.c holds the table. An entry point gets argv
 * with argv[0] the subcommand name and returns the process exit status. */
#pragma once

int cmd_record(int argc, char **argv);
int cmd_flamegraph(int argc, char **argv);
int cmd_diff(int argc, char **argv);
/* more subcommands are declared below by the files that add them */
int cmd_collapse(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
