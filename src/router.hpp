// Request path -> route. A route pattern is an exact path ("/hello") or a
// prefix ending in "/*" ("/echo/*", which takes "/echo" and everything under
// "/echo/"). Exact beats prefix; among prefixes the longest wins.
#ifndef REPLUG_ROUTER_HPP
#define REPLUG_ROUTER_HPP

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace replug {

// Longest request path the router considers.
inline constexpr std::size_t max_path_length = 8192;

// True when PATH may be routed: it starts with '/', is at most
// max_path_length long, and has no empty, "." or ".." segment except an
// empty last one ("/dir/"). Front servers normalize paths before they send
// them; one that arrives unnormalized gets 400 rather than a guess. Paths are
// matched as sent: "%2e%2e" is three literal characters, never decoded.
bool acceptable_path(std::string_view path);

class router {
public:
    router() = default;
    // REQUIRES: every pattern is valid (config's parse_route accepted it) and unique.
    explicit router(const std::vector<std::string>& patterns);

    // The index (into the constructor's patterns) of the route for PATH.
    std::optional<std::size_t> match(std::string_view path) const;

private:
    struct text_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
    };
    std::unordered_map<std::string, std::size_t, text_hash, std::equal_to<>> exact_;
    // Prefixes without the "*" ("/echo/"), longest first.
    std::vector<std::pair<std::string, std::size_t>> prefixes_;
};

}  // namespace replug

#endif
