// One admin request as replugctl sends it, and the answer it gets back,
// whichever way it travels (FastCGI to replugd's socket, or HTTP through
// the front server).
#ifndef REPLUG_CTL_ADMIN_CALL_HPP
#define REPLUG_CTL_ADMIN_CALL_HPP

#include <chrono>
#include <string>
#include <string_view>

#include "text.hpp"

namespace replug::ctl {

struct admin_request {
    std::string method;    // "GET" or "POST"
    std::string endpoint;  // "status", "reload", ... (appended to the admin prefix)
    std::string query;     // already percent-encoded, without '?'; may be empty
    std::string token;     // sent as "Authorization: Bearer TOKEN"
};

struct admin_answer {
    int status = 200;
    std::string status_text;   // "Conflict" from "409 Conflict"; may be empty
    std::string content_type;  // without parameters, lower case: "application/json"
    std::string body;
};

// "application/json" from "Application/JSON; charset=utf-8".
inline std::string media_type(std::string_view content_type) {
    std::string result = ascii_lower(content_type.substr(0, content_type.find(';')));
    while (!result.empty() && (result.back() == ' ' || result.back() == '\t')) result.pop_back();
    return result;
}

// The moment by which the whole exchange must be over.
using deadline = std::chrono::steady_clock::time_point;

}  // namespace replug::ctl

#endif
