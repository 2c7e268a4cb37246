// One FastCGI request/response pair over libfcgi: the server's side of the
// SDK's abstract replug::request and replug::response.
#ifndef REPLUG_FCGI_REQUEST_HPP
#define REPLUG_FCGI_REQUEST_HPP

#include <fcgiapp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "log.hpp"
#include "cookie_header.hpp"
#include "replug/module.hpp"

namespace replug {

// The path a request is routed by. nginx sends the whole path in SCRIPT_NAME
// (and DOCUMENT_URI); lighttpd splits it into SCRIPT_NAME=/first-segment and
// PATH_INFO=/rest (or, with fix-root-scriptname, an empty SCRIPT_NAME and the
// whole path in PATH_INFO). So: SCRIPT_NAME + PATH_INFO when either is set,
// else DOCUMENT_URI, else REQUEST_URI without its query.
std::string request_path(std::string_view script_name, std::string_view path_info,
                         std::string_view document_uri, std::string_view request_uri);

// Who answers a request whose handler call a watchdog watches (see
// watchdog.hpp): the first of the two to take it, with one compare-exchange.
enum class response_owner : std::uint32_t {
    open,      // nothing sent yet
    handler,   // the handler's headers went out: the watchdog can only cut the stream
    watchdog,  // the watchdog answered (504) or cut the stream: the handler's writes are dropped
};

// The route a handler runs in, as its request sees it: req.setting's values
// and the tags of req.log's lines. Everything it points at outlives the call
// (the dispatcher's route pin holds it).
struct route_context {
    const route_settings* settings = nullptr;
    std::string_view route;  // the pattern
    std::string_view module;
    std::string_view version;
    std::uint64_t generation = 0;
    const logger* log = nullptr;
};

class fcgi_request final : public request, public response {
public:
    // REQUIRES: RAW holds a request that FCGX_Accept_r returned.
    explicit fcgi_request(FCGX_Request& raw);

    std::string_view method() const noexcept override { return param("REQUEST_METHOD"); }
    std::string_view path() const noexcept override { return path_; }
    std::string_view query() const noexcept override { return param("QUERY_STRING"); }
    std::string_view param(std::string_view name) const noexcept override;
    std::string_view header(std::string_view name) const noexcept override;
    std::string_view body() override;
    std::size_t arg_count(std::string_view name) override;
    std::string_view arg_at(std::string_view name, std::size_t index) override;
    std::string_view cookie(std::string_view name) override;
    upload file(std::string_view field) override;
    std::string_view setting(std::string_view key) const noexcept override;
    void write_log(log_level level, std::string_view text) override;

    void status(int code) noexcept override;
    void header(std::string_view name, std::string_view value) override;
    void write(std::string_view data) override;
    void set_cookie(std::string_view name, std::string_view value, const cookie_options& options) override;

    // Set before a route's handler is called; without it, setting() is empty
    // and write_log() writes nothing.
    void enter(const route_context& context) { context_ = context; }

    bool headers_sent() const { return headers_sent_; }
    // While a watchdog watches the handler call: CLAIM decides who answers
    // (the handler takes it when it sends its headers). unwatch() ends that
    // and keeps the outcome. REQUIRES: CLAIM outlives the watch; the thread
    // that serves the request.
    void watch(std::atomic<response_owner>* claim) noexcept { claim_ = claim; }
    void unwatch() noexcept;
    // True when the watchdog answered (or cut) in the handler's place: the
    // connection is not kept for another request.
    bool taken_over() const noexcept;
    // What the last-gasp handler (last_gasp.hpp) needs to answer this request
    // itself if a handler crashes the process: the connection, the FastCGI
    // request id, and the flag that turns true before the first byte of the
    // response is handed to libfcgi (after that, only libfcgi may write).
    int connection_fd() const noexcept { return raw_.ipcFd; }
    int request_id() const noexcept { return raw_.requestId; }
    const bool* headers_sent_flag() const noexcept { return &headers_sent_; }
    int status_code() const { return status_; }
    // Sends the headers if nothing was written, and reads what is left of the
    // request body so that the next request on a kept connection parses.
    void finish();
    // A complete plain-text answer, when nothing was sent yet.
    void fail(int code, std::string_view message);

    // The most body() reads; past it, body() throws bad_request and the
    // request is rejected with 413 (see rejection()). Unlimited until set.
    void limit_body(std::uint64_t bytes) { max_body_ = bytes; }

    // Why the server refused this request while the handler ran (a
    // malformed query, form or multipart body: 400; a body over the limit:
    // 413), remembered even when the handler caught the bad_request it got,
    // so that the dispatcher answers it all the same. Once it is set, the
    // handler's status, headers and writes are ignored.
    struct rejection_reason {
        int status;
        std::string reason;
    };
    const std::optional<rejection_reason>& rejection() const { return rejection_; }

private:
    // One decoded argument, or upload, of the query and the body.
    struct argument {
        std::string name;
        std::string value;
    };
    struct uploaded_file {
        std::string field;
        std::string filename;
        std::string_view content_type;  // into body_
        std::string_view data;          // into body_
    };

    void send_headers();
    void write_out(std::string_view data);
    // Decodes the query and the form once; throws bad_request (again, on
    // every later call) when either is malformed.
    void decode_arguments();
    [[noreturn]] void reject(int status, std::string reason);
    // True when the handler may write the response (it took it, or nobody watches).
    bool claim_response() noexcept;

    FCGX_Request& raw_;
    std::string path_;
    std::optional<std::string> body_;
    bool body_complete_ = false;  // read to its end
    std::uint64_t max_body_ = UINT64_MAX;
    std::optional<rejection_reason> rejection_;
    bool arguments_decoded_ = false;
    std::vector<argument> arguments_;
    std::vector<uploaded_file> uploads_;
    std::optional<std::vector<cookie_pair>> cookies_;  // views into the Cookie param
    int status_ = 200;
    std::string headers_;
    bool has_content_type_ = false;
    bool headers_sent_ = false;
    std::atomic<response_owner>* claim_ = nullptr;
    bool taken_over_ = false;
    route_context context_;
};

// Answers one request (the dispatcher does). The transport finishes the
// response after it returns.
using request_handler = std::function<void(fcgi_request&)>;

}  // namespace replug

#endif
