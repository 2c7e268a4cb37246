// The SDK's second table for requests that have none of it: an admin call
// forwarded to the master, a unit test's fake. No arguments, cookies, uploads
// or settings; log lines and cookies are dropped. Derive and implement the
// first table (method, path, query, param, header, body).
#ifndef REPLUG_BARE_REQUEST_HPP
#define REPLUG_BARE_REQUEST_HPP

#include "replug/module.hpp"

namespace replug {

class bare_request : public request {
public:
    std::size_t arg_count(std::string_view) override { return 0; }
    std::string_view arg_at(std::string_view, std::size_t) override { return {}; }
    std::string_view cookie(std::string_view) override { return {}; }
    upload file(std::string_view) override { return {}; }
    std::string_view setting(std::string_view) const noexcept override { return {}; }
    void write_log(log_level, std::string_view) override {}

protected:
    ~bare_request() = default;
};

class bare_response : public response {
public:
    void set_cookie(std::string_view, std::string_view, const cookie_options&) override {}

protected:
    ~bare_response() = default;
};

}  // namespace replug

#endif
