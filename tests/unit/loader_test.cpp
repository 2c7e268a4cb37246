// Module file -> loaded version. Every load gives the bytes on disk at that
// moment, whatever is loaded already and however the file was replaced; the
// user's file is never mapped; a dropped version is really unmapped; a refused
// module leaves nothing behind and says why.
#define BOOST_TEST_MODULE loader
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

#include "loader.hpp"
#include "log.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using replug::module_version;
using replug::testing::call;
using replug::testing::example_module;
using replug::testing::mapped_copies;
using replug::testing::open_copies;
using replug::testing::read_file;
using replug::testing::temp_dir;
using replug::testing::test_module;

namespace {

struct loader_fixture {
    replug::logger log{replug::testing::test_log_level()};
    replug::loader modules{log};
    temp_dir directory;
    fs::path live = directory / "live.so";

    // Puts a copy of FILE at live.so, as a user installs a module (a new
    // file of the user's own, not the build's file with its mode).
    void install(const fs::path& file) { replug::testing::overwrite_in_place(live, read_file(file)); }

    std::shared_ptr<module_version> load_ok(const std::string& module, std::uint64_t generation = 1,
                                            const std::string& symbol = "serve") {
        auto version = modules.load(live, module, symbol, generation);
        BOOST_TEST_REQUIRE(version.ok(), "load failed: " << replug::testing::reason_of(version));
        return std::move(*version);
    }

    // Loads FILE (copied to live.so) expecting a refusal; returns the reason.
    std::string refused(const fs::path& file, const std::string& module, const std::string& symbol = "serve") {
        replug::testing::replace_by_rename(live, read_file(file));
        return refused_here(module, symbol);
    }

    std::string refused_here(const std::string& module, const std::string& symbol = "serve") {
        auto version = modules.load(live, module, symbol, 1);
        BOOST_TEST_REQUIRE(!version.ok(), module << " loaded, expected a refusal");
        // Nothing stays loaded: no mapping, no descriptor.
        BOOST_TEST(mapped_copies(module).empty());
        BOOST_TEST(open_copies(module) == 0u);
        BOOST_TEST(version.reason().find(live.string()) != std::string::npos,
                   "reason does not name the file: " << version.reason());
        return version.reason();
    }
};

std::string body_of(const module_version& version) { return call(version.handler()).body; }

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

const std::string first = "First version of code";
const std::string second = "Second version of code";
const std::string third = "Third version of code";

}  // namespace

BOOST_FIXTURE_TEST_SUITE(loading, loader_fixture)

BOOST_AUTO_TEST_CASE(loads_a_copy_and_calls_its_handler) {
    install(example_module("pluggable"));
    {
        auto v1 = load_ok("pluggable", 7);
        auto answer = call(v1->handler(), "/pluggable");
        BOOST_TEST(answer.body == first);
        BOOST_TEST(answer.code == 200);
        BOOST_TEST(answer.header_value("Content-Type") == "text/plain");
        BOOST_TEST(v1->version() == "1");
        BOOST_TEST(v1->generation() == 7u);
        BOOST_TEST(v1->origin().module == "pluggable");
        BOOST_TEST(v1->origin().symbol == "serve");
        BOOST_TEST(v1->origin().file == live);
        BOOST_TEST(v1->origin().inode == replug::testing::inode_of(live));
        BOOST_TEST(v1->origin().size == static_cast<off_t>(fs::file_size(live)));
        BOOST_TEST(v1->loaded_at().time_since_epoch().count() != 0);
        BOOST_TEST(v1->load_milliseconds() >= 0.0);

        // Loaded from a private copy; the user's file itself is not mapped.
        BOOST_TEST(!replug::testing::file_is_mapped(live));
        BOOST_TEST(open_copies("pluggable") == 1u);
        auto copies = mapped_copies("pluggable");
        BOOST_TEST_REQUIRE(copies.size() == 1u);
        BOOST_TEST(replug::mapped(*copies.begin()));
    }
    BOOST_TEST(mapped_copies("pluggable").empty());
    BOOST_TEST(open_copies("pluggable") == 0u);
}

BOOST_AUTO_TEST_CASE(a_second_handler_of_the_same_module) {
    install(test_module("echo"));
    auto status = load_ok("echo", 1, "status");
    auto answer = call(status->handler(), "/echo", "code=418");
    BOOST_TEST(answer.code == 418);
    BOOST_TEST(answer.body == "status 418");
    BOOST_TEST(status->version() == "echo-1");
}

// Trap: `cp v2.so live.so` writes into the inode the process loaded v1 from.
BOOST_AUTO_TEST_CASE(overwriting_the_file_in_place_changes_nothing_loaded) {
    install(example_module("pluggable"));
    auto inode = replug::testing::inode_of(live);
    auto v1 = load_ok("pluggable", 1);
    BOOST_TEST(body_of(*v1) == first);

    replug::testing::overwrite_in_place(live, read_file(test_module("pluggable_v2")));
    BOOST_TEST_REQUIRE(replug::testing::inode_of(live) == inode);  // really the same file
    BOOST_TEST(body_of(*v1) == first);

    auto v2 = load_ok("pluggable", 2);
    BOOST_TEST(body_of(*v2) == second);
    BOOST_TEST(v2->version() == "2");
    BOOST_TEST(body_of(*v1) == first);

    replug::testing::overwrite_in_place(live, read_file(test_module("pluggable_v3")));
    BOOST_TEST(body_of(*v1) == first);
    BOOST_TEST(body_of(*v2) == second);
    auto v3 = load_ok("pluggable", 3);
    BOOST_TEST(body_of(*v3) == third);
    BOOST_TEST(mapped_copies("pluggable").size() == 3u);
}

// Trap: `mv v3.so live.so` swaps the name to a new inode.
BOOST_AUTO_TEST_CASE(replacing_the_file_by_rename_gives_the_new_code) {
    install(test_module("pluggable_v2"));
    auto v2 = load_ok("pluggable", 1);
    replug::testing::replace_by_rename(live, read_file(test_module("pluggable_v3")));
    auto v3 = load_ok("pluggable", 2);
    BOOST_TEST(body_of(*v3) == third);
    BOOST_TEST(v3->version() == "3");
    BOOST_TEST(v3->origin().inode == replug::testing::inode_of(live));
    BOOST_TEST(v3->origin().inode != v2->origin().inode);
    BOOST_TEST(body_of(*v2) == second);
}

BOOST_AUTO_TEST_CASE(the_same_bytes_twice_are_two_independent_copies) {
    install(test_module("pluggable_v2"));
    auto a = load_ok("pluggable", 1);
    auto b = load_ok("pluggable", 2);
    BOOST_TEST(body_of(*a) == second);
    BOOST_TEST(body_of(*b) == second);
    BOOST_TEST(mapped_copies("pluggable").size() == 2u);
    a.reset();
    BOOST_TEST(mapped_copies("pluggable").size() == 1u);
    BOOST_TEST(body_of(*b) == second);
}

// Trap: "from 2 to 2". A reused path name (a /proc/self/fd/N whose N came
// back) makes glibc hand out the object it already has. Each load keeps the
// previous version alive and drops the one before, so descriptor numbers are
// freed and reused all the time.
BOOST_AUTO_TEST_CASE(alternating_versions_always_load_what_is_on_disk) {
    const std::string v2_bytes = read_file(test_module("pluggable_v2"));
    const std::string v3_bytes = read_file(test_module("pluggable_v3"));
    std::shared_ptr<module_version> previous, current;
    std::size_t wrong = 0;
    const std::size_t rounds = replug::testing::scaled(200);
    for (std::size_t i = 0; i < rounds; ++i) {
        bool three = i % 2 == 1;
        // In place for two rounds, by rename for the next two: each version
        // arrives both ways.
        if ((i / 2) % 2 == 0)
            replug::testing::overwrite_in_place(live, three ? v3_bytes : v2_bytes);
        else
            replug::testing::replace_by_rename(live, three ? v3_bytes : v2_bytes);
        previous = std::move(current);  // the one before previous drops here
        current = load_ok("pluggable", i + 1);
        const std::string& expected = three ? third : second;
        std::string got = body_of(*current);
        if (got != expected || current->version() != (three ? "3" : "2")) {
            if (++wrong <= 5)
                BOOST_ERROR("round " << i << ": loaded version " << current->version() << " saying '" << got
                                     << "', the file on disk says '" << expected << "'");
        }
        if (previous) BOOST_CHECK_EQUAL(body_of(*previous), three ? second : third);
        BOOST_CHECK_EQUAL(current->generation(), i + 1);
        if (i > 0) {
            // Exactly the two alive versions are mapped: the dropped one is gone.
            BOOST_CHECK_EQUAL(mapped_copies("pluggable").size(), 2u);
        }
    }
    BOOST_TEST(wrong == 0u);
    previous.reset();
    current.reset();
    BOOST_TEST(mapped_copies("pluggable").empty());
    BOOST_TEST(open_copies("pluggable") == 0u);
}

// After the last pin on a version drops, its copy is unmapped and closed.
BOOST_AUTO_TEST_CASE(a_dropped_version_gives_its_memory_back) {
    install(test_module("pluggable_v2"));
    auto version = load_ok("pluggable", 1);
    auto names = mapped_copies("pluggable");
    BOOST_TEST_REQUIRE(names.size() == 1u);
    std::string name = *names.begin();
    BOOST_TEST(replug::mapped(name));
    auto pin = version;  // a running request
    version.reset();
    BOOST_TEST(replug::mapped(name));
    BOOST_TEST(body_of(*pin) == second);
    pin.reset();
    BOOST_TEST(!replug::mapped(name));
    BOOST_TEST(mapped_copies("pluggable").empty());
    BOOST_TEST(open_copies("pluggable") == 0u);
}

// Trap: GNU-unique statics. Built with the SDK's flags, each version has its
// own statics, even while the older one is still loaded.
BOOST_AUTO_TEST_CASE(statics_are_not_shared_between_versions) {
    install(test_module("counter_v1"));
    auto v1 = load_ok("counter", 1);
    BOOST_TEST(body_of(*v1) == "counter 1 count=1");
    BOOST_TEST(body_of(*v1) == "counter 1 count=2");
    BOOST_TEST(body_of(*v1) == "counter 1 count=3");

    replug::testing::replace_by_rename(live, read_file(test_module("counter_v2")));
    auto v2 = load_ok("counter", 2);
    BOOST_TEST(body_of(*v2) == "counter 2 count=1");
    BOOST_TEST(body_of(*v2) == "counter 2 count=2");
    BOOST_TEST(body_of(*v1) == "counter 1 count=4");

    // Unloaded for real: v1 loaded again starts from scratch.
    v1.reset();
    replug::testing::replace_by_rename(live, read_file(test_module("counter_v1")));
    auto v1_again = load_ok("counter", 3);
    BOOST_TEST(body_of(*v1_again) == "counter 1 count=1");
    BOOST_TEST(body_of(*v2) == "counter 2 count=3");
}

BOOST_AUTO_TEST_CASE(a_load_hook_that_accepts) {
    install(test_module("hook_accepts"));
    auto version = load_ok("hooks", 1);
    BOOST_TEST(body_of(*version) == "hooked 0");
    BOOST_TEST(version->version() == "hooks");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(refusals, loader_fixture)

BOOST_AUTO_TEST_CASE(missing_file) {
    std::string why = refused_here("pluggable");
    BOOST_TEST(contains(why, "cannot open"), why);
    BOOST_TEST(contains(why, "No such file"), why);
}

BOOST_AUTO_TEST_CASE(a_directory) {
    fs::create_directory(live);
    std::string why = refused_here("pluggable");
    BOOST_TEST(contains(why, "not a regular file"), why);
}

BOOST_AUTO_TEST_CASE(empty_file) {
    replug::testing::overwrite_in_place(live, "");
    std::string why = refused_here("pluggable");
    BOOST_TEST(contains(why, "empty"), why);
}

BOOST_AUTO_TEST_CASE(garbage_file) {
    replug::testing::overwrite_in_place(live, "this is not a module\n" + std::string(8192, 'x'));
    std::string why = refused_here("pluggable");
    BOOST_TEST(contains(why, "not an ELF file"), why);
}

BOOST_AUTO_TEST_CASE(truncated_copy) {
    std::string bytes = read_file(test_module("pluggable_v2"));
    replug::testing::overwrite_in_place(live, bytes.substr(0, bytes.size() / 2));
    std::string why = refused_here("pluggable");
    BOOST_TEST(contains(why, "truncated"), why);
}

BOOST_AUTO_TEST_CASE(not_a_replug_module) {
    std::string why = refused(test_module("not_replug"), "not_replug");
    BOOST_TEST(contains(why, "not a replug module"), why);
    BOOST_TEST(contains(why, "replug_abi_version"), why);
}

BOOST_AUTO_TEST_CASE(another_abi) {
    std::string why = refused(test_module("abi_mismatch"), "abi_mismatch");
    BOOST_TEST(contains(why, "ABI 999"), why);
    BOOST_TEST(contains(why, "ABI " + std::to_string(REPLUG_ABI_VERSION)), why);
}

BOOST_AUTO_TEST_CASE(no_handler) {
    std::string why = refused(test_module("no_handler"), "no_handler");
    BOOST_TEST(contains(why, "no handler symbol 'serve'"), why);
}

BOOST_AUTO_TEST_CASE(wrong_symbol_name) {
    std::string why = refused(test_module("echo"), "echo", "nonexistent");
    BOOST_TEST(contains(why, "no handler symbol 'nonexistent'"), why);
}

BOOST_AUTO_TEST_CASE(gnu_unique_module) {
    std::string why = refused(test_module("gnu_unique"), "gnu_unique");
    BOOST_TEST(contains(why, "-fno-gnu-unique"), why);
}

BOOST_AUTO_TEST_CASE(load_hook_refuses) {
    std::string why = refused(test_module("hook_refuses"), "hooks");
    BOOST_TEST(contains(why, "load hook refused"), why);
}

BOOST_AUTO_TEST_CASE(load_hook_throws) {
    std::string why = refused(test_module("hook_throws"), "hooks");
    BOOST_TEST(contains(why, "load hook threw"), why);
    BOOST_TEST(contains(why, "database not reachable"), why);
}

BOOST_AUTO_TEST_CASE(a_refusal_leaves_loaded_versions_alone) {
    install(test_module("pluggable_v2"));
    auto good = load_ok("pluggable", 1);
    replug::testing::replace_by_rename(live, read_file(test_module("no_handler")));
    auto bad = modules.load(live, "pluggable", "serve", 2);
    BOOST_TEST_REQUIRE(!bad.ok());
    BOOST_TEST(body_of(*good) == second);
    BOOST_TEST(mapped_copies("pluggable").size() == 1u);
    BOOST_TEST(open_copies("pluggable") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
