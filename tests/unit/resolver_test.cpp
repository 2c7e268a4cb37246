// The search path: for NAME and D1, D2, ... the first regular file among
// D1/NAME.so, D1/NAME/index.so, D2/NAME.so, D2/NAME/index.so, ...
#define BOOST_TEST_MODULE resolver
#include <boost/test/unit_test.hpp>

#include "resolver.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using replug::resolver;
using replug::valid_module_name;
using replug::testing::temp_dir;

namespace {

void touch(const fs::path& file) {
    fs::create_directories(file.parent_path());
    replug::testing::overwrite_in_place(file, "x");
}

fs::path resolved(const resolver& search, std::string_view name) {
    auto file = search.resolve(name);
    BOOST_TEST_REQUIRE(file.ok(), "resolve(" << name << ") failed: " << replug::testing::reason_of(file));
    return *file;
}

}  // namespace

BOOST_AUTO_TEST_CASE(candidates_are_listed_in_search_order) {
    resolver search({"/one", "/two"});
    std::vector<fs::path> expected{"/one/m.so", "/one/m/index.so", "/two/m.so", "/two/m/index.so"};
    BOOST_TEST(search.candidates("m") == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(first_existing_candidate_wins) {
    temp_dir d1, d2;
    resolver search({d1.path(), d2.path()});

    touch(d2 / "m/index.so");
    BOOST_TEST(resolved(search, "m") == d2 / "m/index.so");

    touch(d2 / "m.so");
    BOOST_TEST(resolved(search, "m") == d2 / "m.so");

    touch(d1 / "m/index.so");  // an earlier directory beats D2/m.so
    BOOST_TEST(resolved(search, "m") == d1 / "m/index.so");

    touch(d1 / "m.so");
    BOOST_TEST(resolved(search, "m") == d1 / "m.so");

    fs::remove(d1 / "m.so");  // gone again: the next candidate, at once
    BOOST_TEST(resolved(search, "m") == d1 / "m/index.so");
}

BOOST_AUTO_TEST_CASE(a_module_that_appears_earlier_wins_on_the_next_resolve) {
    temp_dir d1, d2, d3;
    resolver search({d1.path(), d2.path(), d3.path()});
    touch(d3 / "app.so");
    BOOST_TEST(resolved(search, "app") == d3 / "app.so");
    touch(d2 / "app/index.so");
    BOOST_TEST(resolved(search, "app") == d2 / "app/index.so");
    touch(d1 / "app.so");
    BOOST_TEST(resolved(search, "app") == d1 / "app.so");
}

BOOST_AUTO_TEST_CASE(only_regular_files_match) {
    temp_dir d1, d2;
    resolver search({d1.path(), d2.path()});
    fs::create_directories(d1 / "m.so");            // a directory named NAME.so
    fs::create_directories(d1 / "m/index.so");      // and one named index.so
    fs::create_symlink(d1 / "nowhere.so", d2 / "m.so");  // a dangling link
    touch(d2 / "m/index.so");
    BOOST_TEST(resolved(search, "m") == d2 / "m/index.so");
}

BOOST_AUTO_TEST_CASE(a_link_to_a_regular_file_matches) {
    temp_dir d1;
    touch(d1 / "builds/m-42.so");
    fs::create_symlink(d1 / "builds/m-42.so", d1 / "m.so");
    resolver search({d1.path()});
    BOOST_TEST(resolved(search, "m") == d1 / "m.so");
}

BOOST_AUTO_TEST_CASE(multi_segment_names_resolve_below_the_directory) {
    temp_dir d1, d2;
    resolver search({d1.path(), d2.path()});
    touch(d2 / "shop/cart.so");
    BOOST_TEST(resolved(search, "shop/cart") == d2 / "shop/cart.so");
    touch(d1 / "shop/cart/index.so");
    BOOST_TEST(resolved(search, "shop/cart") == d1 / "shop/cart/index.so");
}

BOOST_AUTO_TEST_CASE(failure_lists_every_candidate_in_order) {
    temp_dir d1, d2;
    resolver search({d1.path(), d2.path()});
    auto file = search.resolve("missing");
    BOOST_TEST_REQUIRE(!file.ok());
    const std::string& reason = file.reason();
    BOOST_TEST(reason.find("'missing' not found") != std::string::npos, reason);
    std::size_t previous = 0;
    for (const auto& candidate : search.candidates("missing")) {
        auto at = reason.find(candidate.string());
        BOOST_TEST(at != std::string::npos, candidate << " missing from: " << reason);
        BOOST_TEST(at >= previous, candidate << " out of order in: " << reason);
        previous = at;
    }
}

BOOST_AUTO_TEST_CASE(an_empty_search_path_finds_nothing) {
    resolver search({});
    auto file = search.resolve("m");
    BOOST_TEST_REQUIRE(!file.ok());
    BOOST_TEST(file.reason().find("not found") != std::string::npos, file.reason());
    BOOST_TEST(file.reason().find("--module-path") != std::string::npos, file.reason());
}

BOOST_AUTO_TEST_CASE(valid_names) {
    for (std::string_view name : {"m", "hello", "Shop_2", "-x", "_private", "a.b", "v1.2.3", "a/b", "shop/cart/v2",
                                  "a-b_c.d/e2", "0/1"})
        BOOST_TEST(valid_module_name(name), "'" << name << "' should be valid");
}

BOOST_AUTO_TEST_CASE(invalid_names_are_refused_without_looking) {
    temp_dir d1;
    // Files an escaping name would reach, so that a refusal is not "not found".
    touch(d1 / "x.so");
    touch(d1 / "sub/index.so");
    fs::path absolute_target = d1 / "abs";
    touch(absolute_target.string() + ".so");
    resolver search({d1 / "sub"});
    for (std::string name : {std::string(""), std::string(".."), std::string("../x"), std::string("a/../x"),
                             std::string("./x"), std::string(absolute_target), std::string("/x"),
                             std::string("a//b"), std::string("a/"), std::string("/"), std::string(".hidden"),
                             std::string("a/.b"), std::string("a b"), std::string("a*b"), std::string("a\\b"),
                             std::string("a:b"), std::string("caf\xc3\xa9"), std::string("a\nb"),
                             std::string("a\0b", 3)}) {
        BOOST_TEST(!valid_module_name(name), "'" << name << "' should be invalid");
        auto file = search.resolve(name);
        BOOST_TEST_REQUIRE(!file.ok(), "'" << name << "' resolved to " << (file.ok() ? file.value().string() : std::string()));
        BOOST_TEST(file.reason().find("invalid module name") != std::string::npos, file.reason());
    }
}
