// Module file -> loaded version. Every load gives the bytes on disk at that
// moment, whatever is loaded already and however the file was replaced; the
// user's file is never mapped; a dropped version is really unmapped; a refused
// module leaves nothing behind and says why. Sealing alone maps nothing; a
// sealed copy cannot change, and each load of it is a copy of its own.
#define BOOST_TEST_MODULE loader
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <thread>
#include <vector>

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

// The two halves: seal (the master's: never maps code) and load of a sealed
// copy (the worker's).
BOOST_FIXTURE_TEST_SUITE(sealing, loader_fixture)

namespace {

replug::sealed_module seal_ok(replug::loader& modules, const fs::path& file, const std::string& module) {
    auto sealed = modules.seal(file, module);
    BOOST_TEST_REQUIRE(sealed.ok(), "seal failed: " << replug::testing::reason_of(sealed));
    return std::move(*sealed);
}

// The name of the memfd behind FD, as /proc/self/maps would show it.
std::string memfd_name(int fd) {
    auto target = fs::read_symlink("/proc/self/fd/" + std::to_string(fd)).string();
    BOOST_TEST_REQUIRE(target.starts_with("/memfd:"), target);
    target = target.substr(std::string_view("/memfd:").size());
    if (target.ends_with(" (deleted)")) target.resize(target.size() - std::string_view(" (deleted)").size());
    return target;
}

}  // namespace

BOOST_AUTO_TEST_CASE(sealing_maps_nothing) {
    install(example_module("pluggable"));
    auto sealed = seal_ok(modules, live, "pluggable");
    BOOST_TEST(sealed.file == live);
    BOOST_TEST(sealed.inode == replug::testing::inode_of(live));
    BOOST_TEST(sealed.size == static_cast<off_t>(fs::file_size(live)));
    std::string name = memfd_name(sealed.memfd.get());
    BOOST_TEST(name.starts_with("replug:pluggable:"), name);

    // One descriptor, no mapping: neither of the copy nor of the user's file.
    BOOST_TEST(open_copies("pluggable") == 1u);
    BOOST_TEST(!replug::mapped(name));
    BOOST_TEST(mapped_copies("pluggable").empty());
    BOOST_TEST(!replug::testing::file_is_mapped(live));

    // Loading it is what maps it.
    auto version = modules.load(sealed, "pluggable", "serve", 1);
    BOOST_TEST_REQUIRE(version.ok(), replug::testing::reason_of(version));
    BOOST_TEST(replug::mapped(name));
    BOOST_TEST(body_of(**version) == first);
}

BOOST_AUTO_TEST_CASE(the_sealed_copy_refuses_every_change) {
    install(test_module("pluggable_v2"));
    auto sealed = seal_ok(modules, live, "pluggable");
    int fd = sealed.memfd.get();
    int seals = ::fcntl(fd, F_GET_SEALS);
    BOOST_TEST(seals >= 0);
    BOOST_TEST((seals & F_SEAL_WRITE) != 0);
    BOOST_TEST((seals & F_SEAL_SHRINK) != 0);
    BOOST_TEST((seals & F_SEAL_GROW) != 0);
    BOOST_TEST((seals & F_SEAL_SEAL) != 0);  // and the seals cannot be taken off

    errno = 0;
    BOOST_TEST(::pwrite(fd, "x", 1, 0) == -1);
    BOOST_TEST(errno == EPERM);
    errno = 0;
    BOOST_TEST(::ftruncate(fd, 0) == -1);
    BOOST_TEST(errno == EPERM);
    errno = 0;
    BOOST_TEST(::ftruncate(fd, sealed.size + 4096) == -1);
    BOOST_TEST(errno == EPERM);
    errno = 0;
    void* writable = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    BOOST_TEST(writable == MAP_FAILED);
    BOOST_TEST(errno == EPERM);
    if (writable != MAP_FAILED) ::munmap(writable, 4096);

    // The bytes are the file's.
    std::string copy(static_cast<std::size_t>(sealed.size), '\0');
    BOOST_TEST(::pread(fd, copy.data(), copy.size(), 0) == static_cast<ssize_t>(copy.size()));
    BOOST_TEST((copy == read_file(live)));
}

BOOST_AUTO_TEST_CASE(sha256_is_the_one_sha256sum_prints) {
    install(test_module("pluggable_v2"));
    const std::string v2_sum = replug::testing::sha256sum(live);
    auto sealed = seal_ok(modules, live, "pluggable");
    BOOST_TEST(sealed.sha256 == v2_sum);
    auto v2 = load_ok("pluggable", 1);
    BOOST_TEST(v2->origin().sha256 == v2_sum);

    // It names the bytes loaded, not the file as it is now.
    replug::testing::overwrite_in_place(live, read_file(test_module("pluggable_v3")));
    const std::string v3_sum = replug::testing::sha256sum(live);
    BOOST_TEST(v3_sum != v2_sum);
    BOOST_TEST(v2->origin().sha256 == v2_sum);
    auto v3 = load_ok("pluggable", 2);
    BOOST_TEST(v3->origin().sha256 == v3_sum);
}

// glibc tells loaded objects apart by device and inode too, not only by path:
// one memfd loaded twice through two descriptors would be one object. Each
// load must still be a copy of its own, with its own statics.
BOOST_AUTO_TEST_CASE(sealed_once_loaded_twice_gives_two_independent_copies) {
    install(test_module("counter_v1"));
    std::shared_ptr<module_version> a, b;
    {
        auto sealed = seal_ok(modules, live, "counter");
        auto first_load = modules.load(sealed, "counter", "serve", 1);
        auto second_load = modules.load(sealed, "counter", "serve", 2);
        BOOST_TEST_REQUIRE(first_load.ok(), replug::testing::reason_of(first_load));
        BOOST_TEST_REQUIRE(second_load.ok(), replug::testing::reason_of(second_load));
        a = std::move(*first_load);
        b = std::move(*second_load);
        BOOST_TEST(open_copies("counter") == 3u);  // the sealed one and one per loaded copy
    }
    // The sealed module is gone; both copies serve on.
    BOOST_TEST(open_copies("counter") == 2u);
    BOOST_TEST(mapped_copies("counter").size() == 2u);
    BOOST_TEST(a->handler() != b->handler());
    BOOST_TEST(body_of(*a) == "counter 1 count=1");
    BOOST_TEST(body_of(*a) == "counter 1 count=2");
    BOOST_TEST(body_of(*b) == "counter 1 count=1");
    BOOST_TEST(a->origin().sha256 == b->origin().sha256);
    BOOST_TEST(a->generation() == 1u);
    BOOST_TEST(b->generation() == 2u);

    a.reset();
    BOOST_TEST(mapped_copies("counter").size() == 1u);
    BOOST_TEST(open_copies("counter") == 1u);
    BOOST_TEST(body_of(*b) == "counter 1 count=2");
    b.reset();
    BOOST_TEST(mapped_copies("counter").empty());
    BOOST_TEST(open_copies("counter") == 0u);
}

// Loaded again after its copy was dropped: the memfd itself, fresh statics.
BOOST_AUTO_TEST_CASE(a_sealed_module_loads_again_after_its_copy_is_dropped) {
    install(test_module("counter_v1"));
    auto sealed = seal_ok(modules, live, "counter");
    for (std::uint64_t generation = 1; generation <= 3; ++generation) {
        auto version = modules.load(sealed, "counter", "serve", generation);
        BOOST_TEST_REQUIRE(version.ok(), replug::testing::reason_of(version));
        BOOST_TEST(body_of(**version) == "counter 1 count=1");
        BOOST_TEST(mapped_copies("counter").size() == 1u);
    }
    BOOST_TEST(mapped_copies("counter").empty());
    BOOST_TEST(open_copies("counter") == 1u);  // the sealed one
}

BOOST_AUTO_TEST_CASE(loads_of_one_sealed_module_from_two_threads_stay_independent) {
    install(test_module("counter_v1"));
    auto sealed = seal_ok(modules, live, "counter");
    const std::size_t rounds = replug::testing::scaled(20);
    std::atomic<std::size_t> shared_statics{0}, failed{0};
    auto keep_loading = [&] {
        std::shared_ptr<module_version> kept;
        for (std::size_t i = 0; i < rounds; ++i) {
            auto version = modules.load(sealed, "counter", "serve", i + 1);
            if (!version) {
                ++failed;
                continue;
            }
            if (body_of(**version) != "counter 1 count=1") ++shared_statics;
            kept = std::move(*version);  // one alive while the next loads; the one before drops
        }
    };
    std::thread other(keep_loading);
    keep_loading();
    other.join();
    BOOST_TEST(failed.load() == 0u);
    BOOST_TEST(shared_statics.load() == 0u);
    BOOST_TEST(mapped_copies("counter").empty());
    BOOST_TEST(open_copies("counter") == 1u);
}

BOOST_AUTO_TEST_CASE(a_refused_seal_leaves_nothing_open) {
    replug::testing::overwrite_in_place(live, "this is not a module\n" + std::string(8192, 'x'));
    auto sealed = modules.seal(live, "pluggable");
    BOOST_TEST_REQUIRE(!sealed.ok());
    BOOST_TEST(contains(sealed.reason(), "not an ELF file"), sealed.reason());
    BOOST_TEST(contains(sealed.reason(), live.string()), sealed.reason());
    BOOST_TEST(open_copies("pluggable") == 0u);
}

// A memfd that anyone could still write is not loaded.
BOOST_AUTO_TEST_CASE(an_unsealed_memfd_is_refused) {
    install(test_module("pluggable_v2"));
    std::string bytes = read_file(live);
    replug::unique_fd unsealed(::memfd_create("replug:pluggable:unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    BOOST_TEST_REQUIRE(unsealed.get() >= 0);
    BOOST_TEST_REQUIRE(::write(unsealed.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    replug::sealed_module forged{std::move(unsealed), live, replug::testing::inode_of(live),
                                 static_cast<off_t>(bytes.size()), replug::testing::sha256sum(live)};
    auto version = modules.load(forged, "pluggable", "serve", 1);
    BOOST_TEST_REQUIRE(!version.ok());
    BOOST_TEST(contains(version.reason(), "sealed"), version.reason());
    BOOST_TEST(contains(version.reason(), live.string()), version.reason());
    BOOST_TEST(mapped_copies("pluggable").empty());
    BOOST_TEST(open_copies("pluggable") == 1u);  // only the forged one, still ours
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
    BOOST_TEST(contains(why, "no replug_module descriptor"), why);
}

BOOST_AUTO_TEST_CASE(another_abi) {
    std::string why = refused(test_module("abi_mismatch"), "abi_mismatch");
    BOOST_TEST(contains(why, "ABI 999"), why);
    BOOST_TEST(contains(why, "ABI " + std::to_string(REPLUG_ABI_VERSION)), why);
}

BOOST_AUTO_TEST_CASE(abi_1_is_refused_with_how_to_rebuild) {
    std::string why = refused(test_module("abi1_hello"), "abi1_hello");
    BOOST_TEST(contains(why, "built against replug ABI 1 (no module descriptor), this server speaks ABI 2"), why);
    BOOST_TEST(contains(why, "the source needs no change"), why);
}

BOOST_AUTO_TEST_CASE(libcxx_is_refused_naming_the_library) {
    if (!std::filesystem::exists(test_module("libcxx_hello"))) {
        BOOST_TEST_MESSAGE("no clang++ with libc++ here: skipped");
        return;
    }
    std::string why = refused(test_module("libcxx_hello"), "libcxx_hello");
    BOOST_TEST(contains(why, "built with libc++ "), why);
    BOOST_TEST(contains(why, "this server with libstdc++"), why);
}

BOOST_AUTO_TEST_CASE(several_handlers_across_files_are_found) {
    install(test_module("sdk"));
    for (const char* symbol : {"cookie", "redirect", "logs", "setting"}) {
        auto version = load_ok("sdk", 1, symbol);
        BOOST_TEST(version->version() == "sdk-1");
        BOOST_TEST(version->handler() != nullptr);
    }
}

BOOST_AUTO_TEST_CASE(no_handler) {
    std::string why = refused(test_module("no_handler"), "no_handler");
    BOOST_TEST(contains(why, "no handler 'serve' (its handlers: none"), why);
}

BOOST_AUTO_TEST_CASE(wrong_symbol_name) {
    std::string why = refused(test_module("echo"), "echo", "nonexistent");
    BOOST_TEST(contains(why, "no handler 'nonexistent' (its handlers: serve, status"), why);
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
