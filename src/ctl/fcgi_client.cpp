#include "ctl/fcgi_client.hpp"

#include <cstdint>

#include "address.hpp"
#include "ctl/connection.hpp"
#include "text.hpp"

namespace replug::ctl {

namespace {

// The FastCGI 1.0 record types and values replugctl uses.
constexpr unsigned char fcgi_version = 1;
constexpr unsigned char begin_request = 1, end_request = 3, params = 4, stdin_record = 5, stdout_record = 6;
constexpr unsigned char responder_role = 1;
constexpr std::uint16_t request_id = 1;
constexpr std::size_t header_size = 8;

void append_record(std::string& out, unsigned char type, std::string_view content) {
    auto padding = static_cast<unsigned char>((8 - content.size() % 8) % 8);
    out += static_cast<char>(fcgi_version);
    out += static_cast<char>(type);
    out += static_cast<char>(request_id >> 8);
    out += static_cast<char>(request_id & 0xFF);
    out += static_cast<char>(content.size() >> 8);
    out += static_cast<char>(content.size() & 0xFF);
    out += static_cast<char>(padding);
    out += '\0';
    out.append(content);
    out.append(padding, '\0');
}

void append_length(std::string& out, std::size_t length) {
    if (length < 128) {
        out += static_cast<char>(length);
        return;
    }
    out += static_cast<char>(((length >> 24) & 0x7F) | 0x80);
    out += static_cast<char>((length >> 16) & 0xFF);
    out += static_cast<char>((length >> 8) & 0xFF);
    out += static_cast<char>(length & 0xFF);
}

std::string encode_request(std::string_view admin_prefix, const admin_request& call) {
    std::string path = std::string(admin_prefix) + call.endpoint;
    std::string uri = call.query.empty() ? path : path + "?" + call.query;
    // What nginx's fastcgi_params sends for the same HTTP request.
    const std::pair<std::string_view, std::string> pairs[] = {
        {"REQUEST_METHOD", call.method},
        {"SCRIPT_NAME", path},
        {"DOCUMENT_URI", path},
        {"REQUEST_URI", uri},
        {"QUERY_STRING", call.query},
        {"CONTENT_LENGTH", "0"},
        {"SERVER_PROTOCOL", "HTTP/1.1"},
        {"GATEWAY_INTERFACE", "CGI/1.1"},
        {"SERVER_SOFTWARE", "replugctl/" REPLUG_BUILD_VERSION},
        {"HTTP_USER_AGENT", "replugctl/" REPLUG_BUILD_VERSION},
        {"HTTP_AUTHORIZATION", "Bearer " + call.token},
    };
    std::string block;
    for (const auto& [name, value] : pairs) {
        append_length(block, name.size());
        append_length(block, value.size());
        block.append(name).append(value);
    }
    std::string out;
    // The role, then flags 0: the server closes the connection after the answer.
    const char begin[8] = {0, static_cast<char>(responder_role), 0, 0, 0, 0, 0, 0};
    append_record(out, begin_request, std::string_view(begin, sizeof begin));
    for (std::size_t at = 0; at < block.size(); at += 65535)
        append_record(out, params, std::string_view(block).substr(at, 65535));
    append_record(out, params, {});
    append_record(out, stdin_record, {});
    return out;
}

// REQUIRES: RECORD holds at least a whole header.
std::size_t content_length(std::string_view record) {
    return (std::size_t{static_cast<unsigned char>(record[4])} << 8) | static_cast<unsigned char>(record[5]);
}

// The size of the whole record at the start of BUFFERED, or 0 while part of
// it has still to arrive.
std::size_t complete_record(std::string_view buffered) {
    if (buffered.size() < header_size) return 0;
    std::size_t size = header_size + content_length(buffered) + static_cast<unsigned char>(buffered[6]);
    return buffered.size() >= size ? size : 0;
}

// The CGI answer: "Status: 409 Conflict", other headers, a blank line, the body.
outcome<admin_answer> parse_cgi_answer(std::string_view output, const std::string& where) {
    admin_answer answer;
    while (true) {
        auto end = output.find('\n');
        if (end == std::string_view::npos) return failure{where + ": the answer has no end of headers"};
        std::string_view line = output.substr(0, end);
        output.remove_prefix(end + 1);
        if (line.ends_with('\r')) line.remove_suffix(1);
        if (line.empty()) break;
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return failure{where + ": malformed header line in the answer"};
        std::string name = ascii_lower(line.substr(0, colon));
        std::string_view value = line.substr(colon + 1);
        while (value.starts_with(' ') || value.starts_with('\t')) value.remove_prefix(1);
        if (name == "status") {
            int code = 0;
            std::size_t digits = 0;
            while (digits < value.size() && digits < 3 && value[digits] >= '0' && value[digits] <= '9')
                code = code * 10 + (value[digits++] - '0');
            if (digits != 3) return failure{where + ": malformed Status header in the answer"};
            answer.status = code;
            auto text = value.substr(3);
            while (text.starts_with(' ')) text.remove_prefix(1);
            answer.status_text = std::string(text);
        } else if (name == "content-type") {
            answer.content_type = media_type(value);
        }
    }
    answer.body = std::string(output);
    return answer;
}

}  // namespace

outcome<socket_address> parse_socket_address(std::string_view text) {
    socket_address result;
    result.text = std::string(text);
    auto bad = [&](std::string_view why) {
        return failure{"--socket " + std::string(text) + ": " + std::string(why), failure_kind::bad_input};
    };
    if (text.starts_with("unix:") || text.starts_with('/')) {
        result.unix_path = std::string(text.substr(text.starts_with('/') ? 0 : 5));
        if (result.unix_path.empty()) return bad("no path after unix:");
        return result;
    }
    auto split = split_host_port(text);
    if (!split) return bad(split.reason());
    if (!split->port) return bad("expected unix:PATH, /PATH, HOST:PORT, [IPV6]:PORT or :PORT");
    result.host = split->host.empty() ? "127.0.0.1" : split->host;
    result.port = *split->port;
    if (!is_port_number(result.port)) return bad("the port must be a number from 0 to 65535");
    return result;
}

outcome<admin_answer> fcgi_call(const socket_address& where, std::string_view admin_prefix,
                                const admin_request& call, deadline until) {
    auto opened = where.unix_path.empty() ? connection::to_tcp(where.host, where.port, where.text, until)
                                          : connection::to_unix(where.unix_path, where.text, until);
    if (!opened) return opened.error();
    auto sent = opened->send_all(encode_request(admin_prefix, call));
    if (!sent) return sent.error();

    std::string input, output;
    std::size_t at = 0;
    while (true) {
        std::string_view pending = std::string_view(input).substr(at);
        if (!pending.empty() && pending[0] != static_cast<char>(fcgi_version))
            return failure{where.text + ": not a FastCGI answer (is this replugd's socket?)"};
        std::size_t size = complete_record(pending);
        if (size == 0) {
            auto more = opened->receive(input);
            if (!more) return more.error();
            if (!*more) return failure{where.text + ": the server closed the connection before the end of the answer"};
            continue;
        }
        auto type = static_cast<unsigned char>(pending[1]);
        std::string_view content = pending.substr(header_size, content_length(pending));
        at += size;
        if (type == stdout_record) output.append(content);
        if (type != end_request) continue;
        if (content.size() >= 5 && content[4] != 0)
            return failure{where.text + ": the server refused the request (FastCGI protocol status " +
                           std::to_string(static_cast<unsigned char>(content[4])) + ")"};
        return parse_cgi_answer(output, where.text);
    }
}

}  // namespace replug::ctl
