// The Cookie request header (RFC 6265 §4.2.1, §5.4): "name=value" pairs
// separated by ';' and optional spaces or tabs. A value in double quotes
// comes without them (the quotes are part of the syntax, not the value);
// nothing else is decoded: a cookie's value is whatever bytes the server
// set. A pair without '=' or with an empty name is skipped (no server sets
// one); every other byte is kept as it is, never refused: a client's odd
// cookie must not cost it the whole request.
#ifndef REPLUG_COOKIE_HEADER_HPP
#define REPLUG_COOKIE_HEADER_HPP

#include <string_view>
#include <utility>
#include <vector>

namespace replug {

struct cookie_pair {
    std::string_view name;
    std::string_view value;

    bool operator==(const cookie_pair&) const = default;
};

// The pairs of HEADER in order, as views into it. A name sent twice is
// kept twice (user agents send the most specific path first: the first
// one is the one to use).
std::vector<cookie_pair> parse_cookie_header(std::string_view header);

}  // namespace replug

#endif
