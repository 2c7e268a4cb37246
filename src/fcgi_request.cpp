#include "fcgi_request.hpp"

#include <cstring>
#include <stdexcept>

#include "form.hpp"
#include "multipart.hpp"
#include "set_cookie.hpp"
#include "text.hpp"

namespace replug {

namespace {

std::string_view reason_phrase(int code) {
    switch (code) {
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 409: return "Conflict";
        case 413: return "Content Too Large";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        default: return "";
    }
}

// Header names are tokens; values may not break the header block.
bool valid_header(std::string_view name, std::string_view value) {
    if (name.empty()) return false;
    for (unsigned char c : name)
        if (c <= ' ' || c >= 0x7f || c == ':') return false;
    for (unsigned char c : value)
        if (c == '\r' || c == '\n' || c == 0) return false;
    return true;
}

}  // namespace

std::string request_path(std::string_view script_name, std::string_view path_info,
                         std::string_view document_uri, std::string_view request_uri) {
    if (!script_name.empty() || !path_info.empty()) return std::string(script_name) + std::string(path_info);
    if (!document_uri.empty()) return std::string(document_uri);
    return std::string(request_uri.substr(0, request_uri.find('?')));
}

fcgi_request::fcgi_request(FCGX_Request& raw)
    : raw_(raw),
      path_(request_path(param("SCRIPT_NAME"), param("PATH_INFO"), param("DOCUMENT_URI"),
                         param("REQUEST_URI"))) {}

std::string_view fcgi_request::param(std::string_view name) const noexcept {
    if (!raw_.envp) return {};
    for (char** entry = raw_.envp; *entry; ++entry) {
        std::string_view pair(*entry);
        if (pair.size() > name.size() && pair[name.size()] == '=' && pair.starts_with(name))
            return pair.substr(name.size() + 1);
    }
    return {};
}

std::string_view fcgi_request::header(std::string_view name) const noexcept {
    // "Content-Type" -> HTTP_CONTENT_TYPE; CGI passes two without the prefix.
    if (equal_ignoring_case(name, "Content-Type")) return param("CONTENT_TYPE");
    if (equal_ignoring_case(name, "Content-Length")) return param("CONTENT_LENGTH");
    char key[256] = "HTTP_";
    if (name.size() > sizeof key - 6) return {};
    std::size_t length = 5;
    for (char c : name) key[length++] = c == '-' ? '_' : ascii_upper(c);
    return param(std::string_view(key, length));
}

std::string_view fcgi_request::body() {
    if (rejection_ && rejection_->status == 413) throw bad_request(rejection_->reason);
    if (!body_) {
        body_.emplace();
        char buffer[16384];
        int n;
        while ((n = FCGX_GetStr(buffer, sizeof buffer, raw_.in)) > 0) {
            if (body_->size() + static_cast<std::size_t>(n) > max_body_) {
                body_->clear();
                body_->shrink_to_fit();
                reject(413, "request body larger than --max-body (" + std::to_string(max_body_) + " bytes)");
            }
            body_->append(buffer, static_cast<std::size_t>(n));
        }
        body_complete_ = true;
    }
    return *body_;
}

void fcgi_request::reject(int status, std::string reason) {
    if (!rejection_) rejection_ = rejection_reason{status, reason};
    throw bad_request(reason);
}

void fcgi_request::decode_arguments() {
    if (arguments_decoded_) {
        if (rejection_) throw bad_request(rejection_->reason);
        return;
    }
    arguments_decoded_ = true;
    std::vector<form_field> fields;
    if (auto parsed = parse_form(query(), fields); !parsed) reject(400, "query string: " + parsed.reason());
    auto content_type = header("Content-Type");
    if (is_form_urlencoded(content_type)) {
        if (auto parsed = parse_form(body(), fields); !parsed) reject(400, "form body: " + parsed.reason());
    }
    arguments_.reserve(fields.size());
    for (auto& field : fields) arguments_.push_back({std::move(field.name), std::move(field.value)});
    if (is_multipart_form_data(content_type)) {
        auto boundary = multipart_boundary(content_type);
        if (!boundary) reject(400, boundary.reason());
        auto parts = parse_multipart(body(), *boundary);
        if (!parts) reject(400, parts.reason());
        for (auto& part : *parts) {
            if (part.has_filename)
                uploads_.push_back({std::move(part.name), std::move(part.filename), part.content_type, part.data});
            else
                arguments_.push_back({std::move(part.name), std::string(part.data)});
        }
    }
}

std::size_t fcgi_request::arg_count(std::string_view name) {
    decode_arguments();
    std::size_t count = 0;
    for (const auto& argument : arguments_)
        if (argument.name == name) ++count;
    return count;
}

std::string_view fcgi_request::arg_at(std::string_view name, std::size_t index) {
    decode_arguments();
    for (const auto& argument : arguments_)
        if (argument.name == name && index-- == 0) return argument.value;
    return {};
}

std::string_view fcgi_request::cookie(std::string_view name) {
    if (!cookies_) cookies_ = parse_cookie_header(header("Cookie"));
    for (const auto& pair : *cookies_)
        if (pair.name == name) return pair.value;
    return {};
}

upload fcgi_request::file(std::string_view field) {
    decode_arguments();
    for (const auto& file : uploads_)
        if (file.field == field) return upload(file.filename, file.content_type, file.data);
    return {};
}

std::string_view fcgi_request::setting(std::string_view key) const noexcept {
    if (!context_.settings) return {};
    auto found = context_.settings->find(key);
    return found == context_.settings->end() ? std::string_view() : std::string_view(found->second);
}

void fcgi_request::write_log(log_level level, std::string_view text) {
    if (!context_.log) return;
    // A module may pass any number: the nearest level at or above it in urgency.
    auto number = static_cast<int>(level);
    level = number <= 3 ? log_level::error : number == 4 ? log_level::warn : number <= 6 ? log_level::info : log_level::debug;
    context_.log->at(level, "module log route=", context_.route, " module=", context_.module,
                     " version=", printable(context_.version), " generation=", context_.generation, " text=\"",
                     printable(text, 2048), "\"");
}

void fcgi_request::set_cookie(std::string_view name, std::string_view value, const cookie_options& options) {
    header("Set-Cookie", set_cookie_header(name, value, options));
}

void fcgi_request::status(int code) noexcept {
    if (code >= 100 && code <= 999 && !rejection_) status_ = code;
}

void fcgi_request::header(std::string_view name, std::string_view value) {
    if (headers_sent_ || rejection_) return;
    if (!valid_header(name, value))
        throw std::invalid_argument("invalid response header '" + std::string(name.substr(0, 64)) + "'");
    if (equal_ignoring_case(name, "Content-Type")) has_content_type_ = true;
    headers_.append(name).append(": ").append(value).append("\r\n");
}

bool fcgi_request::claim_response() noexcept {
    if (taken_over_) return false;
    if (!claim_) return true;
    auto expected = response_owner::open;
    if (claim_->compare_exchange_strong(expected, response_owner::handler, std::memory_order_acq_rel)) return true;
    return expected == response_owner::handler;
}

void fcgi_request::unwatch() noexcept {
    if (claim_ && claim_->load(std::memory_order_acquire) == response_owner::watchdog) taken_over_ = true;
    claim_ = nullptr;
}

bool fcgi_request::taken_over() const noexcept {
    return taken_over_ || (claim_ && claim_->load(std::memory_order_acquire) == response_owner::watchdog);
}

void fcgi_request::send_headers() {
    if (!claim_response()) return;  // the watchdog answered in the handler's place
    headers_sent_ = true;
    std::string block = "Status: " + std::to_string(status_);
    auto phrase = reason_phrase(status_);
    if (!phrase.empty()) block.append(" ").append(phrase);
    block += "\r\n";
    if (!has_content_type_) block += "Content-Type: text/plain; charset=utf-8\r\n";
    block += headers_;
    block += "\r\n";
    FCGX_PutStr(block.data(), static_cast<int>(block.size()), raw_.out);
}

void fcgi_request::write(std::string_view data) {
    if (!rejection_) write_out(data);  // a refused request gets the dispatcher's answer alone
}

void fcgi_request::write_out(std::string_view data) {
    if (!headers_sent_) send_headers();
    if (!headers_sent_ || taken_over()) return;  // dropped: the watchdog answered, or cut the stream
    while (!data.empty()) {
        int chunk = static_cast<int>(std::min<std::size_t>(data.size(), 1 << 30));
        if (FCGX_PutStr(data.data(), chunk, raw_.out) < 0) throw std::runtime_error("client connection lost");
        data.remove_prefix(static_cast<std::size_t>(chunk));
    }
}

void fcgi_request::finish() {
    if (!headers_sent_) send_headers();
    if (taken_over()) return;  // the connection is ended: nothing to read for a next request
    if (!body_complete_) {  // not read, or cut off at the limit
        char buffer[16384];
        while (FCGX_GetStr(buffer, sizeof buffer, raw_.in) > 0) {
        }
    }
}

void fcgi_request::fail(int code, std::string_view message) {
    if (headers_sent_ || taken_over()) return;
    headers_.clear();
    has_content_type_ = false;
    status_ = code;
    write_out(message);
    write_out("\n");
}

}  // namespace replug
