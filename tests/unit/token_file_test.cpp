// Token files: the first line, trimmed, read the same way by replugd and
// replugctl; and replugd's own rules on top (not readable by everyone, at
// least 16 characters).
#define BOOST_TEST_MODULE token_file
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "admin.hpp"
#include "test_support.hpp"
#include "token_file.hpp"

using replug::read_stored_token;
using replug::testing::reason_of;
using replug::testing::temp_dir;

namespace {

std::string write_token_file(const temp_dir& dir, const std::string& text, mode_t mode) {
    std::string file = (dir / "admin.token").string();
    std::ofstream(file) << text;
    ::chmod(file.c_str(), mode);
    return file;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_token_is_the_first_line_trimmed) {
    temp_dir dir;
    auto file = write_token_file(dir, " \tsecret-0123456789 \r\n# a comment\nmore\n", 0600);
    auto stored = read_stored_token("--token-file", file);
    BOOST_TEST_REQUIRE(stored.ok(), reason_of(stored));
    BOOST_TEST(stored->token == "secret-0123456789");
    BOOST_TEST((stored->mode & 07777) == 0600u);
}

BOOST_AUTO_TEST_CASE(an_empty_first_line_is_an_empty_token) {
    temp_dir dir;
    auto stored = read_stored_token("--token-file", write_token_file(dir, "  \nsecret-0123456789\n", 0600));
    BOOST_TEST_REQUIRE(stored.ok(), reason_of(stored));
    BOOST_TEST(stored->token == "");
    auto empty = read_stored_token("--token-file", write_token_file(dir, "", 0644));
    BOOST_TEST_REQUIRE(empty.ok(), reason_of(empty));
    BOOST_TEST(empty->token == "");
    BOOST_TEST((empty->mode & 07777) == 0644u);
}

BOOST_AUTO_TEST_CASE(an_unreadable_file_is_named_with_its_option) {
    temp_dir dir;
    std::string missing = (dir / "missing.token").string();
    auto stored = read_stored_token("--token-file", missing);
    BOOST_TEST_REQUIRE(!stored.ok());
    BOOST_TEST(stored.reason() == "--token-file " + missing + ": cannot read the file");
    BOOST_TEST(stored.kind() == replug::failure_kind::bad_input);
}

BOOST_AUTO_TEST_CASE(replugd_refuses_a_token_file_everyone_may_read) {
    temp_dir dir;
    auto file = write_token_file(dir, "secret-0123456789\n", 0644);
    auto token = replug::read_token_file(file);
    BOOST_TEST_REQUIRE(!token.ok());
    BOOST_TEST(token.reason() ==
               "--admin-token-file " + file + ": readable by everyone (mode 0644); chmod o-r " + file);
    ::chmod(file.c_str(), 0640);
    auto now = replug::read_token_file(file);
    BOOST_TEST_REQUIRE(now.ok(), reason_of(now));
    BOOST_TEST(*now == "secret-0123456789");
}

BOOST_AUTO_TEST_CASE(replugd_wants_16_characters_and_names_its_option) {
    temp_dir dir;
    auto file = write_token_file(dir, "  0123456789abcde  \n", 0600);  // 15 once trimmed
    auto token = replug::read_token_file(file);
    BOOST_TEST_REQUIRE(!token.ok());
    BOOST_TEST(token.reason() == "--admin-token-file " + file + ": the token must be at least 16 characters");
    std::string missing = (dir / "missing.token").string();
    BOOST_TEST(reason_of(replug::read_token_file(missing)) ==
               "--admin-token-file " + missing + ": cannot read the file");
}
