// A worker process: `replugd --worker SLOT`, started by the master (see
// fleet.hpp) with
//   fd 3  the listening socket, shared with the other workers
//   fd 4  its control channel: start, then tables to load and commit
//   fd 5  its admin channel: admin requests it receives go to the master
//   fd 6  the scoreboard, where it marks each handler call and counts
// It serves with the threaded server of a single process, loads module
// code (the master never does), dies with the master, and on SIGTERM drains
// within the drain timeout and exits 0.
#ifndef REPLUG_WORKER_HPP
#define REPLUG_WORKER_HPP

namespace replug {

// The worker's main; returns its exit status.
int run_worker(unsigned slot);

}  // namespace replug

#endif
