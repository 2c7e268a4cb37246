// The human-readable forms of replugd's admin answers (--json prints the
// answers as they are instead). Control characters in the server's strings
// are shown as '?', so that a hostile file name cannot drive the terminal.
#ifndef REPLUG_CTL_RENDER_HPP
#define REPLUG_CTL_RENDER_HPP

#include <string>

#include <vector>

#include "ctl/fleet_reload.hpp"
#include "ctl/json_reader.hpp"

namespace replug::ctl {

// GET status: a summary line, one table row per route, and, with worker
// processes, a blank line and one row per worker:
//   replugd 0.1.0, pid 4242, 4 threads, up 2h05m
//   ROUTE       MODULE     VERSION  GEN  REQUESTS  ERRORS  IN-FLIGHT  DRAINING  FILE                 LAST ERROR
//   /pluggable  pluggable  2        2    17        0       0          0         /srv/m/pluggable.so  -
//
//   WORKER  PID   STATE    AGE    REQUESTS  RSS     BUSY  BEFORE IT
//   0       4250  serving  12s    9         14 MiB  0     crash (SIGSEGV)
//   1       4251  serving  2m05s  8         14 MiB  1     -
// "-" stands for an empty version or no error; MODULE shows ":SYMBOL" when
// the symbol is not "serve"; DRAINING counts retired versions still running;
// BEFORE IT says why the worker before it in its slot ended (status's
// previous_end); a recycled worker finishing its requests is "draining".
std::string status_table(const json_value& status);

// POST reload or rollback: one line per route that was swapped,
//   /pluggable: 1 -> 2 (generation 2, 0.31 ms)
// for a one-route answer or each of {"routes": [...]}; "(none)" stands for
// the old version of a route that is new, "-" for an empty version.
std::string swap_lines(const json_value& answer);

// POST reload --check, one target: what a reload would do, nothing swapped:
//   /pluggable: check passed: 1 -> 2 would be swapped in (sha256 3f2a..., 0.31 ms); nothing swapped
std::string check_line(const json_value& answer);

// A reload over several targets: a table with a row per target,
//   TARGET                  OLD  NEW  SHA256        RESULT
//   unix:/run/a.sock        1    2    3f2a9c0d11e2  swapped
// SHA256 is the first 12 hex digits of the new version's.
std::string fleet_table(const std::vector<fleet_row>& rows);

}  // namespace replug::ctl

#endif
