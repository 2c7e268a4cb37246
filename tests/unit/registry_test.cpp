// Routes -> pinned versions. apply() is all or nothing; reload() swaps one
// route to what is on disk now or keeps the old version and says why;
// rollback() goes back one version; and requests keep running, each on the
// version it started with, while a route is reloaded thousands of times.
#define BOOST_TEST_MODULE registry
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "loader.hpp"
#include "log.hpp"
#include "registry.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using replug::failure_kind;
using replug::route_spec;
using replug::testing::call;
using replug::testing::mapped_copies;
using replug::testing::open_copies;
using replug::testing::read_file;
using replug::testing::replace_by_rename;
using replug::testing::temp_dir;
using replug::testing::test_module;

namespace {

const std::string first = "First version of code";
const std::string second = "Second version of code";
const std::string third = "Third version of code";

struct registry_fixture {
    replug::logger log{replug::testing::test_log_level()};
    replug::loader modules{log};
    replug::registry routes{modules, log};
    temp_dir directory;
    const std::string v2_bytes = read_file(test_module("pluggable_v2"));
    const std::string v3_bytes = read_file(test_module("pluggable_v3"));

    registry_fixture() {
        replace_by_rename(directory / "pluggable.so", v2_bytes);
        replace_by_rename(directory / "hello.so", read_file(replug::testing::example_module("hello")));
    }

    std::vector<fs::path> search_path() const { return {directory.path()}; }

    // What a request for PATH gets now, through a pin as the dispatcher
    // takes it: the body, "(no route)", or "(threw WHAT)".
    std::string serve(std::string_view path) const {
        auto pin = routes.pin(path);
        if (!pin) return "(no route)";
        replug::testing::fake_request req;
        req.path_text = path;
        replug::testing::fake_response res;
        if (auto thrown = pin->call(req, res)) return "(threw " + thrown->what + ")";
        return res.body;
    }

    // The version a request for PATH would run in now (it stays loaded while
    // the route holds it; compare addresses only).
    const replug::module_version* serving(std::string_view path) const {
        auto pin = routes.pin(path);
        return pin ? &pin->version() : nullptr;
    }

    replug::route_status status_of(std::string_view pattern) const {
        for (auto& each : routes.status())
            if (each.spec.pattern == pattern) return each;
        BOOST_FAIL("no status for " << pattern);
        return {};
    }

    void apply_ok(const std::vector<route_spec>& specs) {
        auto applied = routes.apply(specs, search_path());
        BOOST_TEST_REQUIRE(applied.ok(), "apply failed: " << replug::testing::reason_of(applied));
    }
};

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(registry_contract, registry_fixture)

BOOST_AUTO_TEST_CASE(starts_with_an_empty_table) {
    BOOST_TEST(!routes.pin("/").has_value());
    BOOST_TEST(serve("/") == "(no route)");
    BOOST_TEST(routes.status().empty());
}

BOOST_AUTO_TEST_CASE(apply_loads_every_route) {
    auto applied = routes.apply({{"/p", "pluggable", "serve"}, {"/h/*", "hello", "serve"}}, search_path());
    BOOST_TEST_REQUIRE(applied.ok(), replug::testing::reason_of(applied));
    BOOST_TEST_REQUIRE(applied->size() == 2u);
    const auto& report = applied->at(0);
    BOOST_TEST(report.pattern == "/p");
    BOOST_TEST(report.module == "pluggable");
    BOOST_TEST(report.file == (directory / "pluggable.so").string());
    BOOST_TEST(report.old_version == "");
    BOOST_TEST(report.old_generation == 0u);
    BOOST_TEST(report.new_version == "2");
    BOOST_TEST(report.new_generation == 1u);
    BOOST_TEST(applied->at(1).pattern == "/h/*");

    BOOST_TEST(serve("/p") == second);
    BOOST_TEST(serve("/h/a") == "Hello from replug: GET /h/a\n");
    BOOST_TEST(serve("/x") == "(no route)");
}

BOOST_AUTO_TEST_CASE(apply_is_all_or_nothing) {
    apply_ok({{"/p", "pluggable", "serve"}});
    auto version_before = serving("/p");

    // A module that is not found, and one that does not load.
    replace_by_rename(directory / "broken.so", read_file(test_module("no_handler")));
    for (const auto& bad : {route_spec{"/missing", "missing", "serve"}, route_spec{"/broken", "broken", "serve"},
                            route_spec{"/p2", "pluggable", "nonexistent"}}) {
        auto applied = routes.apply({{"/p", "pluggable", "serve"}, {"/h", "hello", "serve"}, bad}, search_path());
        BOOST_TEST_REQUIRE(!applied.ok(), bad.pattern << " was accepted");
        BOOST_TEST(contains(applied.reason(), "route " + bad.pattern + ":"), applied.reason());

        // The old table is still served, with the very same version.
        BOOST_TEST(routes.status().size() == 1u);
        BOOST_TEST(serving("/p") == version_before);
        BOOST_TEST(serve("/p") == second);
        BOOST_TEST(serve("/h") == "(no route)");
        // The versions loaded for the failed table are gone again.
        BOOST_TEST(mapped_copies("pluggable").size() == 1u);
        BOOST_TEST(mapped_copies("hello").empty());
        BOOST_TEST(open_copies("hello") == 0u);
    }
    auto missing = routes.apply({{"/missing", "missing", "serve"}}, search_path());
    BOOST_TEST(contains(missing.reason(), "not found"), missing.reason());
    BOOST_TEST(status_of("/p").current.generation == 1u);
}

BOOST_AUTO_TEST_CASE(apply_again_keeps_routes_that_stay) {
    apply_ok({{"/p", "pluggable", "serve"}, {"/h", "hello", "serve"}});
    for (int i = 0; i < 5; ++i) BOOST_TEST(serve("/p") == second);
    replace_by_rename(directory / "pluggable.so", v3_bytes);

    auto applied = routes.apply({{"/p", "pluggable", "serve"}}, search_path());
    BOOST_TEST_REQUIRE(applied.ok(), replug::testing::reason_of(applied));
    BOOST_TEST(applied->at(0).old_version == "2");
    BOOST_TEST(applied->at(0).old_generation == 1u);
    BOOST_TEST(applied->at(0).new_version == "3");
    BOOST_TEST(applied->at(0).new_generation == 2u);
    BOOST_TEST(status_of("/p").requests == 5u);  // same route, same counters
    BOOST_TEST(status_of("/p").reloads_ok == 2u);
    BOOST_TEST(serve("/p") == third);
    BOOST_TEST(status_of("/p").requests == 6u);
    BOOST_TEST(serve("/h") == "(no route)");  // removed
    BOOST_TEST(mapped_copies("hello").empty());

    // The version it served before is the rollback target.
    auto back = routes.rollback("/p");
    BOOST_TEST_REQUIRE(back.ok(), replug::testing::reason_of(back));
    BOOST_TEST(serve("/p") == second);
}

BOOST_AUTO_TEST_CASE(reload_swaps_to_what_is_on_disk) {
    apply_ok({{"/p", "pluggable", "serve"}});
    replace_by_rename(directory / "pluggable.so", v3_bytes);
    auto swap = routes.reload("/p");
    BOOST_TEST_REQUIRE(swap.ok(), replug::testing::reason_of(swap));
    BOOST_TEST(swap->pattern == "/p");
    BOOST_TEST(swap->module == "pluggable");
    BOOST_TEST(swap->old_version == "2");
    BOOST_TEST(swap->old_generation == 1u);
    BOOST_TEST(swap->new_version == "3");
    BOOST_TEST(swap->new_generation == 2u);
    BOOST_TEST(serve("/p") == third);

    // Same file, edited in place this time.
    replug::testing::overwrite_in_place(directory / "pluggable.so", v2_bytes);
    swap = routes.reload("/p");
    BOOST_TEST_REQUIRE(swap.ok(), replug::testing::reason_of(swap));
    BOOST_TEST(swap->old_version == "3");
    BOOST_TEST(swap->new_version == "2");
    BOOST_TEST(swap->new_generation == 3u);
    BOOST_TEST(serve("/p") == second);
}

BOOST_AUTO_TEST_CASE(reload_resolves_again) {
    temp_dir earlier;
    auto applied = routes.apply({{"/p", "pluggable", "serve"}}, {earlier.path(), directory.path()});
    BOOST_TEST_REQUIRE(applied.ok(), replug::testing::reason_of(applied));
    BOOST_TEST(applied->at(0).file == (directory / "pluggable.so").string());

    replace_by_rename(earlier / "pluggable.so", v3_bytes);
    auto swap = routes.reload("/p");
    BOOST_TEST_REQUIRE(swap.ok(), replug::testing::reason_of(swap));
    BOOST_TEST(swap->file == (earlier / "pluggable.so").string());
    BOOST_TEST(serve("/p") == third);
    BOOST_TEST(status_of("/p").current.file == (earlier / "pluggable.so").string());
}

BOOST_AUTO_TEST_CASE(a_failed_reload_keeps_the_old_version) {
    apply_ok({{"/p", "pluggable", "serve"}});
    auto before = serving("/p");

    replug::testing::overwrite_in_place(directory / "pluggable.so", "not a module");
    auto swap = routes.reload("/p");
    BOOST_TEST_REQUIRE(!swap.ok());
    BOOST_TEST(swap.kind() == failure_kind::failed);
    BOOST_TEST(contains(swap.reason(), "not an ELF file"), swap.reason());
    BOOST_TEST(serving("/p") == before);
    BOOST_TEST(serve("/p") == second);
    auto status = status_of("/p");
    BOOST_TEST(status.reloads_failed == 1u);
    BOOST_TEST(status.last_error == swap.reason());
    BOOST_TEST(status.last_error_at.time_since_epoch().count() != 0);
    BOOST_TEST(status.current.generation == 1u);
    BOOST_TEST(!status.previous.has_value());

    fs::remove(directory / "pluggable.so");
    swap = routes.reload("/p");
    BOOST_TEST_REQUIRE(!swap.ok());
    BOOST_TEST(contains(swap.reason(), "not found"), swap.reason());
    BOOST_TEST(serve("/p") == second);
    BOOST_TEST(status_of("/p").last_error == swap.reason());

    // The next good reload clears the error and takes the next generation.
    replace_by_rename(directory / "pluggable.so", v3_bytes);
    swap = routes.reload("/p");
    BOOST_TEST_REQUIRE(swap.ok(), replug::testing::reason_of(swap));
    BOOST_TEST(swap->old_generation == 1u);
    BOOST_TEST(swap->new_generation == 2u);
    BOOST_TEST(status_of("/p").last_error == "");
    BOOST_TEST(serve("/p") == third);
}

BOOST_AUTO_TEST_CASE(a_refusing_load_hook_keeps_the_old_version) {
    replace_by_rename(directory / "hooks.so", read_file(test_module("hook_accepts")));
    apply_ok({{"/hook", "hooks", "serve"}});
    BOOST_TEST(serve("/hook") == "hooked 0");
    replace_by_rename(directory / "hooks.so", read_file(test_module("hook_throws")));
    auto swap = routes.reload("/hook");
    BOOST_TEST_REQUIRE(!swap.ok());
    BOOST_TEST(contains(swap.reason(), "database not reachable"), swap.reason());
    BOOST_TEST(serve("/hook") == "hooked 0");
    BOOST_TEST(mapped_copies("hooks").size() == 1u);
}

BOOST_AUTO_TEST_CASE(unknown_routes) {
    apply_ok({{"/p/*", "pluggable", "serve"}});
    for (std::string_view pattern : {"/x", "/p", "/p/a", "/p/"}) {
        auto swap = routes.reload(pattern);
        BOOST_TEST_REQUIRE(!swap.ok());
        BOOST_TEST(swap.kind() == failure_kind::not_found);
        BOOST_TEST(contains(swap.reason(), std::string(pattern)), swap.reason());
        auto back = routes.rollback(pattern);
        BOOST_TEST_REQUIRE(!back.ok());
        BOOST_TEST(back.kind() == failure_kind::not_found);
    }
    BOOST_TEST(routes.reload("/p/*").ok());
}

BOOST_AUTO_TEST_CASE(rollback) {
    apply_ok({{"/p", "pluggable", "serve"}});
    auto none = routes.rollback("/p");
    BOOST_TEST_REQUIRE(!none.ok());
    BOOST_TEST(none.kind() == failure_kind::conflict);
    BOOST_TEST(serve("/p") == second);

    replace_by_rename(directory / "pluggable.so", v3_bytes);
    BOOST_TEST_REQUIRE(routes.reload("/p").ok());
    BOOST_TEST(serve("/p") == third);

    auto back = routes.rollback("/p");
    BOOST_TEST_REQUIRE(back.ok(), replug::testing::reason_of(back));
    BOOST_TEST(back->old_version == "3");
    BOOST_TEST(back->old_generation == 2u);
    BOOST_TEST(back->new_version == "2");
    BOOST_TEST(back->new_generation == 1u);
    BOOST_TEST(serve("/p") == second);
    BOOST_TEST(status_of("/p").current.generation == 1u);

    // Generations are never reused: the next reload is generation 3.
    auto swap = routes.reload("/p");
    BOOST_TEST_REQUIRE(swap.ok(), replug::testing::reason_of(swap));
    BOOST_TEST(swap->new_generation == 3u);
    BOOST_TEST(serve("/p") == third);
}

BOOST_AUTO_TEST_CASE(status_shows_current_previous_and_draining) {
    apply_ok({{"/p", "pluggable", "serve"}});
    auto pinned = routes.pin("/p");  // a request still running in generation 1

    replace_by_rename(directory / "pluggable.so", v3_bytes);
    BOOST_TEST_REQUIRE(routes.reload("/p").ok());
    replace_by_rename(directory / "pluggable.so", v2_bytes);
    BOOST_TEST_REQUIRE(routes.reload("/p").ok());

    auto status = status_of("/p");
    BOOST_TEST((status.spec == route_spec{"/p", "pluggable", "serve"}));
    BOOST_TEST(status.current.generation == 3u);
    BOOST_TEST(status.current.version == "2");
    BOOST_TEST(status.current.file == (directory / "pluggable.so").string());
    BOOST_TEST(status.current.inode == static_cast<std::uint64_t>(replug::testing::inode_of(directory / "pluggable.so")));
    BOOST_TEST(status.current.size == static_cast<std::int64_t>(v2_bytes.size()));
    BOOST_TEST(status.current.loaded_at.time_since_epoch().count() != 0);
    BOOST_TEST_REQUIRE(status.previous.has_value());
    BOOST_TEST(status.previous->generation == 2u);
    BOOST_TEST(status.previous->version == "3");
    BOOST_TEST_REQUIRE(status.draining.size() == 1u);
    BOOST_TEST(status.draining[0].generation == 1u);
    BOOST_TEST(mapped_copies("pluggable").size() == 3u);

    replug::testing::fake_request req;
    replug::testing::fake_response res;
    BOOST_TEST(!pinned->call(req, res).has_value());
    BOOST_TEST(res.body == second);  // the retired version still answers
    BOOST_TEST(status.in_flight == 1);
    pinned.reset();  // its last request ends
    BOOST_TEST(status_of("/p").draining.empty());
    BOOST_TEST(mapped_copies("pluggable").size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_pin_counts_its_request) {
    replace_by_rename(directory / "throws.so", read_file(test_module("throws")));
    apply_ok({{"/p", "pluggable", "serve"}, {"/t/*", "throws", "serve"}});

    {
        auto pin = routes.pin("/p");
        BOOST_TEST_REQUIRE(pin.has_value());
        BOOST_TEST(pin->pattern() == "/p");
        BOOST_TEST(pin->version().version() == "2");
        auto held = status_of("/p");
        BOOST_TEST(held.requests == 1u);
        BOOST_TEST(held.in_flight == 1);
        BOOST_TEST(held.current.in_flight == 1);
        BOOST_TEST(held.latency_seconds.count() == 0u);  // observed when the pin ends
        auto moved = std::move(*pin);                     // a moved-from pin counts nothing
    }
    auto after = status_of("/p");
    BOOST_TEST(after.requests == 1u);
    BOOST_TEST(after.in_flight == 0);
    BOOST_TEST(after.current.in_flight == 0);
    BOOST_TEST(after.errors == 0u);
    BOOST_TEST(after.latency_seconds.count() == 1u);

    // A handler that throws: the text comes back, the route counts an error.
    BOOST_TEST(serve("/t/std") == "(threw boom from the module)");
    BOOST_TEST(serve("/t/other") == "(threw non-standard exception)");
    auto thrown = status_of("/t/*");
    BOOST_TEST(thrown.requests == 2u);
    BOOST_TEST(thrown.errors == 2u);
    BOOST_TEST(thrown.in_flight == 0);
    BOOST_TEST(status_of("/p").errors == 0u);
}

BOOST_AUTO_TEST_CASE(a_pin_outlives_its_route) {
    apply_ok({{"/p", "pluggable", "serve"}, {"/h", "hello", "serve"}});
    auto pin = routes.pin("/h");
    BOOST_TEST_REQUIRE(pin.has_value());
    apply_ok({{"/p", "pluggable", "serve"}});  // /h removed while its request runs
    BOOST_TEST(serve("/h") == "(no route)");
    BOOST_TEST(mapped_copies("hello").size() == 1u);

    replug::testing::fake_request req;
    req.path_text = "/h";
    replug::testing::fake_response res;
    BOOST_TEST(!pin->call(req, res).has_value());
    BOOST_TEST(res.body == "Hello from replug: GET /h\n");
    pin.reset();
    BOOST_TEST(mapped_copies("hello").empty());
}

// How a worker installs the tables its master sends: stage, then commit.
BOOST_AUTO_TEST_CASE(stage_and_commit_install_a_table_the_master_sent) {
    auto sealed = [&](const char* module_file) {
        auto made = modules.seal(directory / module_file, "pluggable");
        BOOST_TEST_REQUIRE(made.ok(), replug::testing::reason_of(made));
        return std::move(*made);
    };
    std::vector<replug::route_install> first_table;
    first_table.push_back({{"/p", "pluggable", "serve"}, 7, sealed("pluggable.so")});
    auto staged = routes.stage(std::move(first_table));
    BOOST_TEST_REQUIRE(staged.ok(), replug::testing::reason_of(staged));
    BOOST_TEST(staged->version(0).generation() == 7u);
    BOOST_TEST(serve("/p") == "(no route)");  // staged, not serving
    auto committed = routes.commit(std::move(*staged));
    BOOST_TEST_REQUIRE(committed.ok(), replug::testing::reason_of(committed));
    BOOST_TEST(serve("/p") == second);
    BOOST_TEST(status_of("/p").current.generation == 7u);

    // Generation 8 from new bytes; then the same generation again is kept as it is.
    replace_by_rename(directory / "pluggable.so", v3_bytes);
    std::vector<replug::route_install> second_table;
    second_table.push_back({{"/p", "pluggable", "serve"}, 8, sealed("pluggable.so")});
    BOOST_TEST_REQUIRE(routes.commit(std::move(*routes.stage(std::move(second_table)))).ok());
    BOOST_TEST(serve("/p") == third);
    auto generation_8 = serving("/p");
    std::vector<replug::route_install> same;
    same.push_back({{"/p", "pluggable", "serve"}, 8, std::nullopt});
    auto kept = routes.commit(std::move(*routes.stage(std::move(same))));
    BOOST_TEST_REQUIRE(kept.ok(), replug::testing::reason_of(kept));
    BOOST_TEST(kept->at(0).old_generation == 8u);
    BOOST_TEST(kept->at(0).new_generation == 8u);
    BOOST_TEST(serving("/p") == generation_8);
    BOOST_TEST(status_of("/p").previous->generation == 7u);

    // Back to generation 7, which this process still holds: no bytes needed.
    std::vector<replug::route_install> back;
    back.push_back({{"/p", "pluggable", "serve"}, 7, std::nullopt});
    BOOST_TEST_REQUIRE(routes.commit(std::move(*routes.stage(std::move(back)))).ok());
    BOOST_TEST(serve("/p") == second);
    BOOST_TEST(!status_of("/p").previous.has_value());
    BOOST_TEST(mapped_copies("pluggable").size() <= 2u);  // generation 8 drains away

    // A generation this process never had, without bytes: refused, nothing changes.
    std::vector<replug::route_install> unknown;
    unknown.push_back({{"/p", "pluggable", "serve"}, 9, std::nullopt});
    auto refused = routes.stage(std::move(unknown));
    BOOST_TEST_REQUIRE(!refused.ok());
    BOOST_TEST(contains(refused.reason(), "route /p: generation 9 is not loaded here"), refused.reason());
    BOOST_TEST(serve("/p") == second);
}

BOOST_AUTO_TEST_CASE(a_staged_table_goes_stale_when_the_table_changes) {
    apply_ok({{"/p", "pluggable", "serve"}});
    auto bytes = modules.seal(directory / "pluggable.so", "pluggable");
    BOOST_TEST_REQUIRE(bytes.ok(), replug::testing::reason_of(bytes));
    std::vector<replug::route_install> table;
    table.push_back({{"/p", "pluggable", "serve"}, 5, std::move(*bytes)});
    auto staged = routes.stage(std::move(table));
    BOOST_TEST_REQUIRE(staged.ok(), replug::testing::reason_of(staged));
    BOOST_TEST_REQUIRE(routes.reload("/p").ok());  // meanwhile
    auto committed = routes.commit(std::move(*staged));
    BOOST_TEST_REQUIRE(!committed.ok());
    BOOST_TEST(committed.kind() == failure_kind::conflict);
    BOOST_TEST(status_of("/p").current.generation == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

// Four threads serve requests the way the dispatcher does (pin -> call ->
// unpin) while the main thread reloads the
// route over and over, alternating versions written into the module directory
// by rename. Run under ThreadSanitizer in the 'swap' suite.
BOOST_FIXTURE_TEST_CASE(reloading_under_load, registry_fixture) {
    apply_ok({{"/p/*", "pluggable", "serve"}});
    const std::size_t reloads = replug::testing::scaled(2000);
    constexpr int workers = 4;

    std::atomic<bool> stop{false};
    std::atomic<std::size_t> calls{0}, wrong{0}, unrouted{0};
    std::vector<std::atomic<std::size_t>> per_worker(workers);
    std::vector<std::thread> threads;
    auto stop_workers = [&] {
        stop = true;
        for (auto& thread : threads)
            if (thread.joinable()) thread.join();
    };
    // Whatever ends the test (a failed REQUIRE, an exception), the workers stop.
    struct on_exit {
        std::function<void()> run;
        ~on_exit() { run(); }
    } stop_on_exit{stop_workers};
    for (int w = 0; w < workers; ++w)
        threads.emplace_back([&, w] {
            replug::testing::fake_request req;
            req.path_text = "/p/" + std::to_string(w);
            while (!stop.load(std::memory_order_relaxed)) {
                auto pin = routes.pin(req.path_text);
                if (!pin) {
                    unrouted.fetch_add(1);
                    continue;
                }
                replug::testing::fake_response res;
                if (pin->call(req, res) || (res.body != second && res.body != third)) wrong.fetch_add(1);
                calls.fetch_add(1, std::memory_order_relaxed);
                per_worker[static_cast<std::size_t>(w)].fetch_add(1, std::memory_order_relaxed);
                pin.reset();
                // Let the reloading thread run: four spinning workers on two
                // cores would otherwise starve it.
                std::this_thread::yield();
            }
        });

    // Start swapping once every worker is serving (no fixed sleep: poll,
    // with a deadline so that a broken route fails instead of hanging).
    auto all_serving = [&] {
        return std::all_of(per_worker.begin(), per_worker.end(), [](const auto& count) { return count.load() > 0; });
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!all_serving() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    if (!all_serving()) {
        stop_workers();
        BOOST_FAIL("the workers never got an answer (unrouted: " << unrouted.load() << ")");
    }

    std::size_t failed_reloads = 0, wrong_versions = 0;
    for (std::size_t i = 0; i < reloads; ++i) {
        bool three = i % 2 == 0;
        replace_by_rename(directory / "pluggable.so", three ? v3_bytes : v2_bytes);
        auto swap = routes.reload("/p/*");
        if (!swap.ok()) {
            if (++failed_reloads <= 3) BOOST_ERROR("reload " << i << " failed: " << swap.reason());
            continue;
        }
        if (swap->new_version != (three ? "3" : "2") || swap->new_generation != i + 2) {
            if (++wrong_versions <= 3)
                BOOST_ERROR("reload " << i << " gave version " << swap->new_version << " generation "
                                      << swap->new_generation);
        }
        // From the moment reload returns, new requests see the new version.
        auto body = serve("/p/main");
        if (body != (three ? third : second) && ++wrong_versions <= 3)
            BOOST_ERROR("after reload " << i << " a new request got '" << body << "'");
    }
    stop_workers();

    BOOST_TEST_MESSAGE(calls.load() << " calls during " << reloads << " reloads");
    BOOST_TEST(failed_reloads == 0u);
    BOOST_TEST(wrong_versions == 0u);
    BOOST_TEST(wrong.load() == 0u);
    BOOST_TEST(unrouted.load() == 0u);
    BOOST_TEST(calls.load() >= static_cast<std::size_t>(workers));

    // Only the current version and the rollback target stay loaded.
    auto status = status_of("/p/*");
    BOOST_TEST(status.current.generation == reloads + 1);
    // Every pin was counted once, and let go.
    BOOST_TEST(status.requests == calls.load() + reloads);
    BOOST_TEST(status.latency_seconds.count() == status.requests);
    BOOST_TEST(status.in_flight == 0);
    BOOST_TEST(status.draining.empty());
    BOOST_TEST(replug::testing::loaded_copies("pluggable").size() <= 2u);
    // A copy's descriptor stays open only while something still maps it.
    BOOST_TEST(open_copies("pluggable") <= mapped_copies("pluggable").size());
    BOOST_TEST(open_copies("pluggable") >= 2u);
}
