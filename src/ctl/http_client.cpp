#include "ctl/http_client.hpp"

#include "address.hpp"
#include "ctl/connection.hpp"
#include "text.hpp"

namespace replug::ctl {

namespace {

// The body of a "Transfer-Encoding: chunked" answer; false when it is cut short or malformed.
bool decode_chunked(std::string_view data, std::string& body) {
    while (true) {
        auto line_end = data.find("\r\n");
        if (line_end == std::string_view::npos) return false;
        std::size_t size = 0;
        std::size_t digits = 0;
        for (char c : data.substr(0, line_end)) {
            int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (digit < 0) break;  // a chunk extension (";name=value") follows
            if (++digits > 12) return false;
            size = size * 16 + static_cast<std::size_t>(digit);
        }
        if (digits == 0) return false;
        data.remove_prefix(line_end + 2);
        if (size == 0) return true;  // trailers, if any, are of no interest
        if (data.size() < size + 2 || data.substr(size, 2) != "\r\n") return false;
        body.append(data.substr(0, size));
        data.remove_prefix(size + 2);
    }
}

outcome<admin_answer> parse_http_answer(std::string_view data, const std::string& where) {
    auto not_http = [&](std::string_view why) {
        return failure{where + ": not an HTTP answer (" + std::string(why) + ")"};
    };
    auto head_end = data.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return not_http("no end of headers");
    std::string_view head = data.substr(0, head_end + 2);
    std::string_view rest = data.substr(head_end + 4);

    auto line_end = head.find("\r\n");
    std::string_view status_line = head.substr(0, line_end);
    head.remove_prefix(line_end + 2);
    if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ')
        return not_http("bad status line");
    admin_answer answer;
    answer.status = 0;
    for (char c : status_line.substr(9, 3)) {
        if (c < '0' || c > '9') return not_http("bad status code");
        answer.status = answer.status * 10 + (c - '0');
    }
    answer.status_text = std::string(status_line.size() > 13 ? status_line.substr(13) : "");

    bool chunked = false;
    std::string content_length;
    while (!head.empty()) {
        line_end = head.find("\r\n");
        std::string_view line = head.substr(0, line_end);
        head.remove_prefix(line_end + 2);
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return not_http("malformed header line");
        std::string name = ascii_lower(line.substr(0, colon));
        std::string_view value = line.substr(colon + 1);
        while (value.starts_with(' ') || value.starts_with('\t')) value.remove_prefix(1);
        while (value.ends_with(' ') || value.ends_with('\t')) value.remove_suffix(1);
        if (name == "content-type") answer.content_type = media_type(value);
        if (name == "transfer-encoding") chunked = ascii_lower(value).ends_with("chunked");
        if (name == "content-length") content_length = std::string(value);
    }

    if (chunked) {
        if (!decode_chunked(rest, answer.body))
            return failure{where + ": the chunked answer is cut short or malformed"};
    } else if (!content_length.empty()) {
        if (content_length.find_first_not_of("0123456789") != std::string::npos || content_length.size() > 12)
            return not_http("bad Content-Length");
        std::size_t length = std::stoull(content_length);
        if (rest.size() < length) return failure{where + ": the answer is shorter than its Content-Length"};
        answer.body = std::string(rest.substr(0, length));
    } else {
        answer.body = std::string(rest);  // delimited by the end of the connection
    }
    return answer;
}

}  // namespace

outcome<http_url> parse_http_url(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return failure{"--url " + std::string(text) + ": " + std::string(why), failure_kind::bad_input};
    };
    http_url result;
    result.text = std::string(text);
    if (equal_ignoring_case(text.substr(0, 8), "https://"))
        return bad("replugctl speaks no TLS; use an ssh tunnel (ssh -L) and an http:// URL on loopback, or --socket");
    if (!equal_ignoring_case(text.substr(0, 7), "http://")) return bad("expected http://HOST[:PORT]/PREFIX/");
    std::string_view rest = text.substr(7);
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (path.find_first_of("?#") != std::string_view::npos) return bad("the URL must not have a query or fragment");
    if (authority.find('@') != std::string_view::npos) return bad("user information in the URL is not supported");

    auto split = split_host_port(authority);
    if (!split) return bad(split.reason());
    if (split->host.empty()) return bad("no host");
    std::string port = split->port.value_or("");
    if (!port.empty() && !is_port_number(port)) return bad("the port must be a number from 0 to 65535");
    result.host = split->host;
    result.port = port.empty() ? "80" : port;
    if (!path.empty() && path != "/") result.prefix = path.ends_with('/') ? std::string(path) : std::string(path) + "/";
    return result;
}

outcome<admin_answer> http_call(const http_url& where, std::string_view admin_prefix, const admin_request& call,
                                deadline until) {
    auto opened = connection::to_tcp(where.host, where.port, where.text, until);
    if (!opened) return opened.error();
    std::string target = std::string(admin_prefix) + call.endpoint + (call.query.empty() ? "" : "?" + call.query);
    bool bracketed = where.host.find(':') != std::string::npos;
    std::string host = (bracketed ? "[" + where.host + "]" : where.host) + (where.port == "80" ? "" : ":" + where.port);
    std::string request = call.method + " " + target + " HTTP/1.1\r\n" +
                          "Host: " + host + "\r\n" +
                          "User-Agent: replugctl/" REPLUG_BUILD_VERSION "\r\n" +
                          "Authorization: Bearer " + call.token + "\r\n" +
                          "Content-Length: 0\r\n" +
                          "Connection: close\r\n\r\n";
    auto sent = opened->send_all(request);
    if (!sent) return sent.error();
    std::string data;
    while (true) {
        auto more = opened->receive(data);
        if (!more) return more.error();
        if (!*more) break;
    }
    if (data.empty()) return failure{where.text + ": the server closed the connection without an answer"};
    return parse_http_answer(data, where.text);
}

}  // namespace replug::ctl
