// Dev mode's view of its source directory (--dev DIR), as pure functions:
// which modules DIR holds, which module a changed path belongs to, and the
// words of a NAME.flags file.
//
//   DIR/NAME.cpp              module NAME, one source
//   DIR/NAME/*.cpp            module NAME, every .cpp directly in it (headers
//                             beside them are not compiled, but changing one
//                             rebuilds NAME)
//   DIR/NAME.flags            extra compiler and linker words for NAME
//
// NAME follows the module-name rule of the search path, one segment:
// [A-Za-z0-9_-][A-Za-z0-9_.-]*. Editors' side files (.hello.cpp.swp,
// hello.cpp~, 4913, #hello.cpp#) never name a module. A module is served
// at the prefix route /NAME/*, which takes /NAME itself too.
#ifndef REPLUG_DEV_SOURCES_HPP
#define REPLUG_DEV_SOURCES_HPP

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "outcome.hpp"

namespace replug {

struct dev_module {
    std::string name;
    std::vector<std::filesystem::path> sources;  // relative to DIR, sorted
    std::optional<std::filesystem::path> flags_file;  // relative to DIR, when it exists

    bool operator==(const dev_module&) const = default;
};

// True when NAME may name a dev module (and so a route and a module file).
bool valid_dev_name(std::string_view name);

// The modules in DIR now, by name. When both DIR/NAME.cpp and DIR/NAME/
// exist, the file wins. An unreadable DIR gives an empty map.
std::map<std::string, dev_module> scan_dev_directory(const std::filesystem::path& dir);

// The module whose build a change of PATH (relative to DIR, e.g.
// "hello.cpp", "blog/db.hpp", "hello.flags") may affect; nullopt for any
// other path.
std::optional<std::string> dev_module_of(const std::filesystem::path& relative);

// The route a dev module is served at: "/NAME/*".
std::string dev_route_pattern(std::string_view name);

// The words of a flags file: separated by spaces, tabs and newlines; '#'
// at the start of a word comments out the rest of its line; "..." and '...'
// keep spaces inside a word (no escapes inside '...'; \" and \\ inside
// "..."). Fails, naming the line, on a quote left open.
outcome<std::vector<std::string>> parse_flags(std::string_view text);

}  // namespace replug

#endif
