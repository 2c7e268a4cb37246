// Search path -> module file. For module NAME and search path D1, D2, ...
// the first regular file among D1/NAME.so, D1/NAME/index.so, D2/NAME.so, ...
// wins. Resolution is redone at every reload, so a module that appears
// earlier in the path wins from the next reload on.
#ifndef REPLUG_RESOLVER_HPP
#define REPLUG_RESOLVER_HPP

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "outcome.hpp"

namespace replug {

// NAME is one or more '/'-separated segments of [A-Za-z0-9_-][A-Za-z0-9_.-]*.
bool valid_module_name(std::string_view name);

class resolver {
public:
    explicit resolver(std::vector<std::filesystem::path> search_path);

    // The file module NAME resolves to now. On failure the reason lists every
    // candidate in order ("module 'x' not found; looked in: /a/x.so, ...").
    outcome<std::filesystem::path> resolve(std::string_view name) const;

    // Every candidate file for NAME, in search order, whether it exists or not.
    std::vector<std::filesystem::path> candidates(std::string_view name) const;

    const std::vector<std::filesystem::path>& search_path() const { return search_path_; }

private:
    std::vector<std::filesystem::path> search_path_;
};

}  // namespace replug

#endif
