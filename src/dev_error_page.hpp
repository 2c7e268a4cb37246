// The page a dev route answers while its source does not compile: a small
// HTML document with the compiler's command and output, escaped, so that a
// browser shows the errors as the compiler wrote them (the file names are
// relative to the dev directory: "hello.cpp:5:3: error: ...").
//
// The page is served by a stand-in module (dev_error_page_module.cpp): the
// bytes of that module are built into replugd, and dev mode installs a copy
// as the route's module file, so the route swaps to it and back through the
// ordinary reload, like any version. The stand-in reads the page from
// $REPLUG_DEV_PAGES/NAME.html, NAME being the first segment of the path.
#ifndef REPLUG_DEV_ERROR_PAGE_HPP
#define REPLUG_DEV_ERROR_PAGE_HPP

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace replug {

// The environment variable that tells the stand-in where the pages are.
inline constexpr const char* dev_pages_variable = "REPLUG_DEV_PAGES";

// TEXT with &, <, >, " and ' as HTML entities, and bytes below 0x20 other
// than newline and tab as U+FFFD (so no control byte reaches a terminal
// that shows the page's source).
std::string html_escape(std::string_view text);

// The whole page for module NAME: COMMAND (how it was compiled) and OUTPUT
// (what the compiler wrote), escaped; OUTPUT cut to its first LIMIT bytes.
// PROBLEM completes the title "NAME PROBLEM".
std::string compile_error_page(std::string_view name, std::string_view command, std::string_view output,
                               std::size_t limit = 256 * 1024, std::string_view problem = "does not compile");

// The stand-in module's bytes (a shared object built with the SDK's flags).
std::span<const unsigned char> dev_error_page_module();

}  // namespace replug

#endif
