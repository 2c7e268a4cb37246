// The SDK's response side and settings, driven by the raw query string (so
// that these tests do not depend on form decoding): res.cookie, res.redirect,
// req.setting, req.log. Its handlers live in two files (sdk_more.cpp), as a
// module's may.
#include <replug/module.hpp>

#include <string>

namespace {

// "KEY=" ... up to the next '&', undecoded; empty when absent.
std::string_view query_value(std::string_view query, std::string_view key) {
    while (!query.empty()) {
        auto amp = query.find('&');
        auto pair = query.substr(0, amp);
        if (pair.size() > key.size() && pair.starts_with(key) && pair[key.size()] == '=')
            return pair.substr(key.size() + 1);
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return {};
}

}  // namespace

// ?value=V sets cookie "session" to V with a few options; ?raw=1 sends V
// with a ';' added (refused: the handler lets the exception go, a 500).
static void cookie(replug::request& req, replug::response& res) {
    std::string value(query_value(req.query(), "value"));
    if (query_value(req.query(), "raw") == "1") value += "; Domain=evil.example";
    replug::cookie_options options;
    options.max_age = 60;
    options.path = "/";
    options.http_only = true;
    options.same_site = "Strict";
    res.cookie("session", value, options);
    res.cookie("plain", "1");
    res << "cookie set\n";
}

// ?to=PATH[&code=N]
static void redirect(replug::request& req, replug::response& res) {
    auto code = query_value(req.query(), "code");
    if (code.empty())
        res.redirect(query_value(req.query(), "to"));
    else
        res.redirect(query_value(req.query(), "to"), std::stoi(std::string(code)));
    res << "moved\n";
}

// ?text=T[&level=error|warn|info|debug]: T raw, so that a test can send
// control bytes as %0a... encoded in the query and see them escaped.
static void logs(replug::request& req, replug::response& res) {
    auto level = query_value(req.query(), "level");
    std::string text(query_value(req.query(), "text"));
    // Minimal %XX decoding, so that control bytes reach req.log.
    std::string decoded;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            decoded += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            decoded += text[i];
        }
    }
    if (level.empty())
        req.log(decoded);
    else
        req.log(level == "error" ? replug::log_level::error
                : level == "warn" ? replug::log_level::warn
                : level == "debug" ? replug::log_level::debug
                                   : replug::log_level::info,
                decoded);
    res << "logged\n";
}

REPLUG_HANDLER(cookie)
REPLUG_HANDLER(redirect)
REPLUG_HANDLER(logs)
REPLUG_VERSION("sdk-1")
