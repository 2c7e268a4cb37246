// The page a dev route shows while its source does not compile: the
// compiler's words, escaped, and the stand-in module that serves it.
#define BOOST_TEST_MODULE dev_error_page
#include <boost/test/unit_test.hpp>

#include "dev_error_page.hpp"
#include "elf_check.hpp"

using replug::compile_error_page;
using replug::html_escape;

BOOST_AUTO_TEST_CASE(html_special_characters_are_escaped) {
    BOOST_TEST(html_escape("std::vector<int> a = b && c > \"d\" 'e'") ==
               "std::vector&lt;int&gt; a = b &amp;&amp; c &gt; &quot;d&quot; &#39;e&#39;");
    BOOST_TEST(html_escape("line\n\tindented") == "line\n\tindented");
    BOOST_TEST(html_escape("\x1b[31mred\x1b[0m\x7f") == "\xEF\xBF\xBD[31mred\xEF\xBF\xBD[0m\xEF\xBF\xBD");
    BOOST_TEST(html_escape("caf\xC3\xA9") == "caf\xC3\xA9");  // UTF-8 stays
}

BOOST_AUTO_TEST_CASE(the_page_shows_the_command_and_the_errors_with_their_lines) {
    auto page = compile_error_page("hello", "g++ -shared hello.cpp -o hello.so",
                                   "hello.cpp:5:3: error: 'x' was not declared in this scope\n"
                                   "    5 |   x << 1;\n      |   ^\n");
    BOOST_TEST(page.starts_with("<!DOCTYPE html>"));
    BOOST_TEST(page.find("<title>hello does not compile</title>") != std::string::npos);
    BOOST_TEST(page.find("<h1>hello does not compile</h1>") != std::string::npos);
    BOOST_TEST(page.find("$ g++ -shared hello.cpp -o hello.so") != std::string::npos);
    BOOST_TEST(page.find("hello.cpp:5:3: error: &#39;x&#39; was not declared") != std::string::npos);
    BOOST_TEST(page.find("    5 |   x &lt;&lt; 1;") != std::string::npos);
    BOOST_TEST(page.ends_with("</pre>\n</body></html>\n"));
}

BOOST_AUTO_TEST_CASE(a_page_cannot_be_broken_out_of) {
    auto page = compile_error_page("a<b", "cc", "</pre><script>alert(1)</script>");
    BOOST_TEST(page.find("<script>") == std::string::npos);
    BOOST_TEST(page.find("a&lt;b does not compile") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_title_names_the_problem) {
    auto page = compile_error_page("hello", "load", "no handler", 100, "is not served");
    BOOST_TEST(page.find("<title>hello is not served</title>") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(long_output_is_cut_and_says_so) {
    auto page = compile_error_page("big", "cc", std::string(100, 'e'), 10);
    BOOST_TEST(page.find(std::string(10, 'e') + "\n[... cut at 10 bytes]</pre>") != std::string::npos);
    BOOST_TEST(page.find(std::string(11, 'e')) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_stand_in_module_passes_the_loaders_checks) {
    auto bytes = replug::dev_error_page_module();
    BOOST_REQUIRE(bytes.size() > 1000u);
    auto refused = replug::check_elf(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    BOOST_TEST(!refused, (refused ? refused->reason : ""));
}
