// Dev mode's pure logic: which modules a directory holds, which module a
// changed path belongs to, the route a module gets, and NAME.flags words.
#define BOOST_TEST_MODULE dev_sources
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>

#include "dev_sources.hpp"

namespace fs = std::filesystem;
using replug::dev_module_of;
using replug::parse_flags;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string pattern = (fs::temp_directory_path() / "dev_sources_test.XXXXXX").string();
        path = ::mkdtemp(pattern.data());
    }
    ~temp_dir() { fs::remove_all(path); }
    void write(const fs::path& relative, const std::string& text = "") const {
        fs::create_directories((path / relative).parent_path());
        std::ofstream(path / relative) << text;
    }
};

std::vector<std::string> words(std::string_view text) {
    auto parsed = parse_flags(text);
    BOOST_REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? std::string() : parsed.reason()));
    return *parsed;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_directory_holds_files_and_directories_of_sources) {
    temp_dir dir;
    dir.write("hello.cpp");
    dir.write("hello.flags", "-DX=1");
    dir.write("blog/main.cpp");
    dir.write("blog/db.cpp");
    dir.write("blog/db.hpp");
    dir.write("notes/readme.txt");      // a directory without sources: no module
    dir.write("both.cpp");
    dir.write("both/other.cpp");        // the file wins
    dir.write(".hello.cpp.swp");        // editors' side files name nothing
    dir.write("hello.cpp~");
    dir.write("#hello.cpp#");
    dir.write("4913");
    dir.write("lib.hpp");
    auto modules = replug::scan_dev_directory(dir.path);
    BOOST_TEST(modules.size() == 3u);
    BOOST_TEST((modules["hello"] == replug::dev_module{"hello", {"hello.cpp"}, fs::path("hello.flags")}));
    BOOST_TEST((modules["blog"] == replug::dev_module{"blog", {"blog/db.cpp", "blog/main.cpp"}, std::nullopt}));
    BOOST_TEST((modules["both"] == replug::dev_module{"both", {"both.cpp"}, std::nullopt}));
}

BOOST_AUTO_TEST_CASE(a_missing_directory_holds_nothing) {
    BOOST_TEST(replug::scan_dev_directory("/nonexistent/replug-dev").empty());
}

BOOST_AUTO_TEST_CASE(a_changed_path_names_its_module) {
    BOOST_TEST(dev_module_of("hello.cpp").value() == "hello");
    BOOST_TEST(dev_module_of("hello.flags").value() == "hello");
    BOOST_TEST(dev_module_of("blog/db.hpp").value() == "blog");
    BOOST_TEST(dev_module_of("blog/sub/x.cpp").value() == "blog");
    BOOST_TEST(dev_module_of("blog").value() == "blog");  // the directory itself
    BOOST_TEST(dev_module_of("my.app.cpp").value() == "my.app");
    BOOST_TEST(!dev_module_of(".hello.cpp.swp"));
    BOOST_TEST(!dev_module_of("hello.cpp~"));
    BOOST_TEST(!dev_module_of("#hello.cpp#"));
    BOOST_TEST(!dev_module_of(".cpp"));
    BOOST_TEST(!dev_module_of(".git/index"));
    BOOST_TEST(!dev_module_of(""));
}

BOOST_AUTO_TEST_CASE(names_follow_the_module_name_rule) {
    BOOST_TEST(replug::valid_dev_name("hello"));
    BOOST_TEST(replug::valid_dev_name("_x-1.v2"));
    BOOST_TEST(!replug::valid_dev_name(".hidden"));
    BOOST_TEST(!replug::valid_dev_name("a b"));
    BOOST_TEST(!replug::valid_dev_name("a/b"));
    BOOST_TEST(!replug::valid_dev_name(""));
    BOOST_TEST(!replug::valid_dev_name("caf\xC3\xA9"));
}

BOOST_AUTO_TEST_CASE(a_module_is_served_at_its_prefix) {
    BOOST_TEST(replug::dev_route_pattern("hello") == "/hello/*");
}

BOOST_AUTO_TEST_CASE(flags_are_words_with_comments_and_quotes) {
    BOOST_TEST(words("") == std::vector<std::string>{});
    BOOST_TEST(words("-lsqlite3  -O2\n\t-DX=1\n") == (std::vector<std::string>{"-lsqlite3", "-O2", "-DX=1"}));
    BOOST_TEST(words("# libraries\n-lm # math\n-lz") == (std::vector<std::string>{"-lm", "-lz"}));
    BOOST_TEST(words("-DGREETING=\"hello world\"") == (std::vector<std::string>{"-DGREETING=hello world"}));
    BOOST_TEST(words("'-DA=\"x\"' -DB=a#b") == (std::vector<std::string>{"-DA=\"x\"", "-DB=a#b"}));
    BOOST_TEST(words(R"("a\"b\\c")") == (std::vector<std::string>{R"(a"b\c)"}));
    BOOST_TEST(words("''") == (std::vector<std::string>{""}));
}

BOOST_AUTO_TEST_CASE(an_open_quote_is_refused_with_its_line) {
    auto parsed = parse_flags("-lm\n-DX=\"open\n-lz");
    BOOST_REQUIRE(!parsed.ok());
    BOOST_TEST(parsed.reason() == "line 2: a \" is never closed");
    BOOST_TEST(parse_flags("'x").reason() == "line 1: a ' is never closed");
}
