// The scoreboard: the master creates it, a worker process attaches the same
// memfd and writes, the master reads; attach refuses what is not a board of
// this layout; totals sum over worker slots; a re-used worker slot keeps
// what was counted; and threads count while the master reads (this case also
// runs under ThreadSanitizer, suite 'swap').
//
// The cases that fork come before the one that starts threads: a child
// forked from a process with threads may only make async-signal-safe calls.
#define BOOST_TEST_MODULE scoreboard
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "scoreboard.hpp"
#include "test_support.hpp"

using replug::histogram;
using replug::scoreboard;
using replug::thread_state;
using replug::worker_state;
using replug::testing::reason_of;

namespace {

std::uint64_t monotonic_now() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(now.tv_nsec);
}

// Runs BODY in a forked child and returns its wait status. The child answers
// only through its exit code and the board: it must not touch Boost.Test.
template <typename Body>
int wait_status_of_child(Body body) {
    pid_t child = ::fork();
    if (child < 0) throw std::runtime_error("fork failed");
    if (child == 0) ::_exit(body());
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

// A memfd holding BYTES.
replug::unique_fd memfd_with(const std::string& bytes) {
    replug::unique_fd fd(::memfd_create("scoreboard-test", MFD_CLOEXEC));
    BOOST_REQUIRE(fd);
    BOOST_REQUIRE_EQUAL(::pwrite(fd.get(), bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    return fd;
}

std::string contents_of(int fd) {
    struct stat file {};
    BOOST_REQUIRE_EQUAL(::fstat(fd, &file), 0);
    std::string bytes(static_cast<std::size_t>(file.st_size), '\0');
    BOOST_REQUIRE_EQUAL(::pread(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    return bytes;
}

scoreboard created(unsigned workers, unsigned threads) {
    auto board = scoreboard::create(workers, threads);
    BOOST_REQUIRE_MESSAGE(board, reason_of(board));
    return std::move(*board);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_new_board_has_the_asked_shape_and_reads_zero) {
    auto board = created(2, 3);
    BOOST_TEST(board.workers() == 2u);
    BOOST_TEST(board.threads_per_worker() == 3u);
    BOOST_REQUIRE(board.fd() >= 0);
    BOOST_TEST((::fcntl(board.fd(), F_GETFD) & FD_CLOEXEC) != 0);
    BOOST_TEST((::fcntl(board.fd(), F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW)) == (F_SEAL_SHRINK | F_SEAL_GROW));
    BOOST_TEST(::ftruncate(board.fd(), 0) != 0);  // a worker cannot shrink it under the master

    for (unsigned w = 0; w < 2; ++w) {
        BOOST_TEST(board.worker(w).pid.load() == 0);
        BOOST_TEST((board.worker(w).state.load() == worker_state::empty));
        for (unsigned t = 0; t < 3; ++t) {
            auto reading = board.thread(w, t).read();
            BOOST_TEST((reading.state == thread_state::idle));
            BOOST_TEST(reading.signal_number == 0);
        }
    }
    auto total = board.route_totals(scoreboard::max_routes - 1);
    BOOST_TEST(total.requests == 0u);
    BOOST_TEST(total.in_flight == 0);
    BOOST_TEST(total.latency_seconds.bounds == &histogram::latency_buckets);
    BOOST_TEST(total.latency_seconds.count() == 0u);
}

BOOST_AUTO_TEST_CASE(create_refuses_no_workers_no_threads_and_absurd_counts) {
    for (auto [workers, threads] : {std::pair{0u, 1u}, {1u, 0u}, {100000u, 1u}, {1u, 100000u}}) {
        auto board = scoreboard::create(workers, threads);
        BOOST_REQUIRE(!board);
        BOOST_TEST(board.kind() == replug::failure_kind::bad_input);
        BOOST_TEST(board.reason().find(std::to_string(workers) + " workers of " + std::to_string(threads)) !=
                       std::string::npos,
                   board.reason());
    }
}

BOOST_AUTO_TEST_CASE(a_forked_worker_writes_what_the_master_reads) {
    auto board = created(2, 3);
    std::uint64_t before = monotonic_now();
    int status = wait_status_of_child([fd = board.fd()] {
        auto mine = scoreboard::attach(fd);
        if (!mine) return 10;
        if (mine->workers() != 2 || mine->threads_per_worker() != 3) return 11;
        auto& me = mine->worker(1);
        me.pid.store(::getpid());
        me.state.store(worker_state::serving);
        auto& route = mine->counters(1, 7);
        for (int i = 0; i < 3; ++i) route.started();
        route.failed();
        route.finished(0.003);
        route.finished(0.003);  // the third stays in flight
        me.requests.fetch_add(2);
        mine->thread(1, 2).begin(7, 42);
        mine->thread(0, 1).begin(3, 5);
        mine->thread(0, 1).end();
        return 0;
    });
    std::uint64_t after = monotonic_now();
    BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status " << status);

    BOOST_TEST(board.worker(1).pid.load() > 0);
    BOOST_TEST((board.worker(1).state.load() == worker_state::serving));
    BOOST_TEST(board.worker(1).requests.load() == 2u);
    BOOST_TEST(board.worker(0).pid.load() == 0);

    const auto& route = board.counters(1, 7);
    BOOST_TEST(route.requests() == 3u);
    BOOST_TEST(route.errors() == 1u);
    BOOST_TEST(route.in_flight() == 1);
    auto latency = route.latency().snapshot();
    BOOST_TEST(latency.bounds == &histogram::latency_buckets);
    BOOST_TEST(latency.counts[replug::bucket_index(histogram::latency_buckets, 0.003)] == 2u);
    BOOST_TEST(latency.count() == 2u);
    BOOST_TEST(std::abs(latency.sum_seconds - 0.006) < 1e-9);

    auto busy = board.thread(1, 2).read();
    BOOST_TEST((busy.state == thread_state::in_handler));
    BOOST_TEST(busy.route_slot == 7u);
    BOOST_TEST(busy.generation == 42u);
    BOOST_TEST(busy.started_monotonic_ns >= before);
    BOOST_TEST(busy.started_monotonic_ns <= after);
    auto done = board.thread(0, 1).read();
    BOOST_TEST((done.state == thread_state::idle));
    BOOST_TEST(done.route_slot == 3u);  // the last request it served
    BOOST_TEST(done.generation == 5u);
    BOOST_TEST((board.thread(0, 0).read().state == thread_state::idle));
}

BOOST_AUTO_TEST_CASE(attach_refuses_what_is_not_a_board_of_this_layout) {
    auto expect_refusal = [](int fd, const std::string& words) {
        auto board = scoreboard::attach(fd);
        BOOST_REQUIRE(!board);
        BOOST_TEST(board.reason().find(words) != std::string::npos, board.reason());
    };
    auto board = created(1, 1);
    std::string image = contents_of(board.fd());

    auto tiny = memfd_with("tiny");
    expect_refusal(tiny.get(), "fd " + std::to_string(tiny.get()) + " is not a replug scoreboard: it holds 4 bytes");
    auto foreign = memfd_with(std::string(image.size(), 'x'));
    expect_refusal(foreign.get(), "is not a replug scoreboard: its magic number is wrong");
    auto grown = memfd_with(image + std::string(4096, '\0'));
    expect_refusal(grown.get(), "holds " + std::to_string(image.size() + 4096) + " bytes, but 1 workers of 1 threads take " +
                                    std::to_string(image.size()));
    auto cut = memfd_with(image.substr(0, image.size() - 64));
    expect_refusal(cut.get(), "holds " + std::to_string(image.size() - 64) + " bytes");
    int pipe_ends[2];
    BOOST_REQUIRE_EQUAL(::pipe(pipe_ends), 0);
    expect_refusal(pipe_ends[0], "is not a replug scoreboard");
    ::close(pipe_ends[0]);
    ::close(pipe_ends[1]);
    expect_refusal(pipe_ends[0], "cannot read the scoreboard (fd " + std::to_string(pipe_ends[0]) + ")");

    auto copy = memfd_with(image);  // the same bytes are a board
    auto attached = scoreboard::attach(copy.get());
    BOOST_REQUIRE_MESSAGE(attached, reason_of(attached));
    BOOST_TEST(attached->fd() == -1);  // borrowed
}

BOOST_AUTO_TEST_CASE(totals_sum_every_worker_slot) {
    auto board = created(3, 1);
    for (unsigned w = 0; w < 3; ++w) {
        auto& route = board.counters(w, 5);
        for (unsigned i = 0; i <= w; ++i) {
            route.started();
            route.finished(0.0002 * (w + 1));
        }
        route.started();  // one in flight per worker
        if (w == 2) route.failed();
    }
    auto total = board.route_totals(5);
    BOOST_TEST(total.requests == 1u + 1 + 2 + 1 + 3 + 1);
    BOOST_TEST(total.errors == 1u);
    BOOST_TEST(total.in_flight == 3);
    BOOST_TEST(total.latency_seconds.bounds == &histogram::latency_buckets);
    BOOST_TEST(total.latency_seconds.count() == 6u);
    BOOST_TEST(total.latency_seconds.counts[0] == 3u);  // 0.2 and 0.4 ms
    BOOST_TEST(total.latency_seconds.counts[1] == 3u);  // 0.6 ms
    BOOST_TEST(std::abs(total.latency_seconds.sum_seconds - (0.0002 + 2 * 0.0004 + 3 * 0.0006)) < 1e-9);
    BOOST_TEST(board.route_totals(4).requests == 0u);
    BOOST_TEST(board.route_totals(6).requests == 0u);
}

BOOST_AUTO_TEST_CASE(a_crash_is_marked_in_the_slot_of_the_thread_that_had_it) {
    auto board = created(1, 2);
    auto& in_handler = board.thread(0, 0);
    in_handler.begin(9, 3);
    in_handler.mark_crashed(SIGSEGV);
    auto crashed = in_handler.read();
    BOOST_TEST((crashed.state == thread_state::crashed));
    BOOST_TEST(crashed.signal_number == SIGSEGV);
    BOOST_TEST(crashed.route_slot == 9u);
    BOOST_TEST(crashed.generation == 3u);

    auto& between_requests = board.thread(0, 1);
    between_requests.begin(9, 3);
    between_requests.end();
    between_requests.mark_crashed(SIGABRT);  // in the server's code: no route to blame
    auto outside = between_requests.read();
    BOOST_TEST((outside.state == thread_state::idle));
    BOOST_TEST(outside.signal_number == SIGABRT);
}

BOOST_AUTO_TEST_CASE(a_reused_worker_slot_keeps_the_totals_but_not_what_died_with_it) {
    auto board = created(2, 2);
    for (unsigned w = 0; w < 2; ++w) {
        auto& route = board.counters(w, 1);
        route.started();
        route.finished(0.01);
        route.started();
        route.started();
        route.failed();
        board.worker(w).pid.store(1000 + static_cast<int>(w));
        board.worker(w).state.store(worker_state::serving);
        board.worker(w).requests.store(3);
        board.thread(w, 0).begin(1, 8);
        board.thread(w, 1).begin(1, 8);
        board.thread(w, 1).mark_crashed(SIGBUS);
    }
    auto before = board.route_totals(1);
    BOOST_TEST(before.in_flight == 4);

    board.reset_worker(1);

    auto after = board.route_totals(1);
    BOOST_TEST(after.requests == before.requests);
    BOOST_TEST(after.errors == before.errors);
    BOOST_TEST(after.latency_seconds.counts == before.latency_seconds.counts);
    BOOST_TEST(after.latency_seconds.sum_seconds == before.latency_seconds.sum_seconds);
    BOOST_TEST(after.in_flight == 2);  // worker 0's
    BOOST_TEST(board.counters(1, 1).in_flight() == 0);
    BOOST_TEST(board.counters(1, 1).requests() == 3u);
    for (unsigned t = 0; t < 2; ++t) {
        auto cleared = board.thread(1, t).read();
        BOOST_TEST((cleared.state == thread_state::idle));
        BOOST_TEST(cleared.signal_number == 0);
        BOOST_TEST(cleared.generation == 0u);
    }
    BOOST_TEST(board.worker(1).pid.load() == 0);
    BOOST_TEST((board.worker(1).state.load() == worker_state::empty));
    BOOST_TEST(board.worker(1).requests.load() == 3u);  // served by this slot, kept
    // Worker 0 is untouched.
    BOOST_TEST(board.worker(0).pid.load() == 1000);
    BOOST_TEST((board.thread(0, 0).read().state == thread_state::in_handler));
    BOOST_TEST(board.thread(0, 1).read().signal_number == SIGBUS);
}

BOOST_AUTO_TEST_CASE(a_route_gate_admits_up_to_its_cap_over_every_worker) {
    auto board = created(2, 1);
    auto& gate = board.gate(5);
    // No cap: every request enters, and is counted.
    for (int i = 0; i < 3; ++i) BOOST_TEST(gate.enter());
    BOOST_TEST(gate.inside() == 3);
    for (int i = 0; i < 3; ++i) gate.leave();
    gate.set_cap(2);
    BOOST_TEST(gate.enter());
    BOOST_TEST(gate.enter());
    BOOST_TEST(!gate.enter());  // the third waits for nobody: refused
    BOOST_TEST(gate.inside() == 2);
    gate.leave();
    BOOST_TEST(gate.enter());
    BOOST_TEST(board.gate(4).inside() == 0);  // one gate per route slot
    gate.leave();
    gate.leave();

    // Threads that ran in parallel never hold more than the cap at once.
    gate.set_cap(3);
    std::atomic<int> most{0}, inside{0}, refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 2000; ++i) {
                if (!gate.enter()) {
                    refused.fetch_add(1);
                    continue;
                }
                int now = inside.fetch_add(1) + 1;
                int seen = most.load();
                while (now > seen && !most.compare_exchange_weak(seen, now)) {
                }
                inside.fetch_sub(1);
                gate.leave();
            }
        });
    for (auto& thread : threads) thread.join();
    BOOST_TEST(most.load() <= 3);
    BOOST_TEST(gate.inside() == 0);
}

BOOST_AUTO_TEST_CASE(a_dead_worker_leaves_the_gates_its_threads_were_in) {
    auto board = created(2, 2);
    board.gate(3).set_cap(2);
    // Worker 1: one thread in route 3's handler, one crashed there; worker 0 holds the other place.
    for (auto [w, t] : {std::pair{1u, 0u}, {1u, 1u}}) {
        board.thread(w, t).begin(3, 1);
        BOOST_TEST(board.gate(3).enter());
    }
    board.thread(1, 1).mark_crashed(SIGSEGV);
    BOOST_TEST(!board.gate(3).enter());
    board.reset_worker(1);
    BOOST_TEST(board.gate(3).inside() == 0);
    BOOST_TEST(board.gate(3).enter());
    BOOST_TEST(board.gate(3).enter());
    board.reset_worker(1);  // again (a replacement starts there): nothing more is left
    BOOST_TEST(board.gate(3).inside() == 2);
}

BOOST_AUTO_TEST_CASE(a_call_s_timeout_is_on_the_board_and_timeouts_outlive_their_worker) {
    auto board = created(2, 1);
    board.thread(0, 0).begin(4, 2, 1'500'000'000);
    auto reading = board.thread(0, 0).read();
    BOOST_TEST(reading.timeout_ns == 1'500'000'000u);  // what the master's check_handlers reads
    BOOST_TEST(reading.started_monotonic_ns > 0u);
    board.thread(0, 0).end();
    board.thread(0, 0).begin(4, 2);
    BOOST_TEST(board.thread(0, 0).read().timeout_ns == 0u);  // none given: none
    for (unsigned w = 0; w < 2; ++w) {
        board.counters(w, 4).timed_out();
        board.counters(w, 4).slow();
        board.counters(w, 4).slow();
    }
    BOOST_TEST(board.route_totals(4).timeouts == 2u);
    BOOST_TEST(board.route_totals(4).slow_requests == 4u);
    board.reset_worker(0);  // the worker retired after its timeout: the count stays
    BOOST_TEST(board.route_totals(4).timeouts == 2u);
    BOOST_TEST(board.thread(0, 0).read().timeout_ns == 0u);
    board.clear_route(4);  // another route takes the slot
    BOOST_TEST(board.route_totals(4).timeouts == 0u);
    BOOST_TEST(board.route_totals(4).slow_requests == 0u);
}

BOOST_AUTO_TEST_CASE(a_board_moves_and_unmaps_once) {
    auto board = created(1, 1);
    board.counters(0, 0).started();
    scoreboard moved = std::move(board);
    BOOST_TEST(moved.counters(0, 0).requests() == 1u);
    board = std::move(moved);
    BOOST_TEST(board.counters(0, 0).requests() == 1u);
}

// Last: it starts threads. Every (worker, thread) slot is a writer thread,
// as in a worker process; the reader is the master. A generation encodes its
// route slot and its writer, so a reading mixed from two writes shows.
BOOST_AUTO_TEST_CASE(threads_count_while_the_master_reads) {
    constexpr unsigned workers = 2;
    constexpr unsigned threads = 2;
    constexpr std::uint32_t routes = 4;
    const std::size_t rounds = replug::testing::scaled(100000);
    auto board = created(workers, threads);
    auto generation_of = [](std::uint32_t route, unsigned w, unsigned t) {
        return (route + 1) * 1000ull + w * 10 + t + 1;
    };

    std::atomic<bool> writing{true};
    std::atomic<std::size_t> torn{0};
    std::atomic<std::size_t> went_back{0};
    std::thread master([&] {
        std::vector<std::uint64_t> seen(routes, 0);
        while (writing.load()) {
            for (std::uint32_t r = 0; r < routes; ++r) {
                auto total = board.route_totals(r);
                if (total.requests < seen[r] || total.in_flight < 0 || total.in_flight > workers * threads)
                    went_back.fetch_add(1);
                seen[r] = total.requests;
            }
            for (unsigned w = 0; w < workers; ++w)
                for (unsigned t = 0; t < threads; ++t) {
                    auto reading = board.thread(w, t).read();
                    if (reading.generation == 0) continue;  // not written yet
                    if (reading.generation != generation_of(reading.route_slot, w, t)) torn.fetch_add(1);
                }
        }
    });
    std::vector<std::thread> writers;
    for (unsigned w = 0; w < workers; ++w)
        for (unsigned t = 0; t < threads; ++t)
            writers.emplace_back([&board, &generation_of, rounds, w, t] {
                auto& slot = board.thread(w, t);
                for (std::size_t i = 0; i < rounds; ++i) {
                    auto route = static_cast<std::uint32_t>(i % routes);
                    slot.begin(route, generation_of(route, w, t));
                    auto& counters = board.counters(w, route);
                    counters.started();
                    if (i % 10 == 0) counters.failed();
                    counters.finished(0.0001 * static_cast<double>(i % 7));
                    slot.end();
                    board.worker(w).requests.fetch_add(1, std::memory_order_relaxed);
                }
            });
    for (auto& each : writers) each.join();
    writing.store(false);
    master.join();

    BOOST_TEST(torn.load() == 0u);
    BOOST_TEST(went_back.load() == 0u);
    std::uint64_t requests = 0, errors = 0, observed = 0;
    for (std::uint32_t r = 0; r < routes; ++r) {
        auto total = board.route_totals(r);
        requests += total.requests;
        errors += total.errors;
        observed += total.latency_seconds.count();
        BOOST_TEST(total.in_flight == 0);
    }
    BOOST_TEST(requests == workers * threads * rounds);
    BOOST_TEST(observed == requests);
    BOOST_TEST(errors == workers * threads * ((rounds + 9) / 10));
    for (unsigned w = 0; w < workers; ++w) {
        BOOST_TEST(board.worker(w).requests.load() == threads * rounds);
        for (unsigned t = 0; t < threads; ++t) BOOST_TEST((board.thread(w, t).read().state == thread_state::idle));
    }
}
