// replugctl: operates a running replugd through its admin endpoints, over
// FastCGI straight to its socket or over HTTP through the front server.
// Wires the pieces and decides exit codes:
//   0  success
//   1  the server answered an error (4xx/5xx, or an answer that makes no sense)
//   2  usage or configuration error, or no answer (cannot connect, timeout)
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "ctl/fcgi_client.hpp"
#include "ctl/http_client.hpp"
#include "ctl/options.hpp"
#include "ctl/render.hpp"
#include "ctl/json_reader.hpp"
#include "text.hpp"
#include "token_file.hpp"

namespace {

using namespace replug;

constexpr int exit_answered_error = 1;
constexpr int exit_usage = 2;

int fail(int code, const std::string& why) {
    std::fprintf(stderr, "replugctl: %s\n", why.c_str());
    return code;
}

// The first line of FILE, or $REPLUG_TOKEN, without surrounding white space.
outcome<std::string> admin_token(const std::optional<std::string>& file) {
    std::string token;
    if (file) {
        auto stored = read_stored_token("--token-file", *file);
        if (!stored) return stored.error();
        token = std::move(stored->token);
    } else if (const char* from_environment = std::getenv("REPLUG_TOKEN")) {
        token = trim(from_environment);
    } else {
        return failure{"no admin token: give --token-file FILE or set REPLUG_TOKEN"};
    }
    std::string origin = file ? "--token-file " + *file : "REPLUG_TOKEN";
    if (token.empty()) return failure{origin + ": the token is empty"};
    for (char c : token)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
            return failure{origin + ": the token has a control character"};
    return token;
}

// A query component: everything but unreserved characters and '/' as %XX.
std::string percent_encoded(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '.' || c == '_' || c == '~' || c == '/';
        if (plain) {
            out += c;
        } else {
            auto byte = static_cast<unsigned char>(c);
            out += '%';
            out += hex[byte >> 4];
            out += hex[byte & 0xF];
        }
    }
    return out;
}

ctl::admin_request request_for(const ctl::options& given, std::string token) {
    ctl::admin_request call{given.command == "reload" || given.command == "rollback" ? "POST" : "GET", given.command,
                            "", std::move(token)};
    if (given.route) call.query = "route=" + percent_encoded(*given.route);
    return call;
}

// What the server said was wrong: its JSON "error", else the HTTP status.
std::string error_reason(const ctl::admin_answer& answer) {
    if (answer.content_type == "application/json") {
        auto parsed = parse_json(answer.body);
        if (parsed && (*parsed)["error"].is_string()) return (*parsed)["error"].as_string();
    }
    std::string status = "HTTP " + std::to_string(answer.status);
    return answer.status_text.empty() ? status : status + " " + answer.status_text;
}

void print_as_is(const std::string& body) {
    std::fwrite(body.data(), 1, body.size(), stdout);
    if (!body.empty() && body.back() != '\n') std::fputc('\n', stdout);
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = ctl::parse_options(std::vector<std::string>(argv + 1, argv + argc));
    if (!parsed) return fail(exit_usage, parsed.reason() + " (see replugctl --help)");
    const ctl::options& given = *parsed;
    if (given.help) {
        std::cout << ctl::usage();
        return 0;
    }
    if (given.version) {
        std::cout << "replugctl " << REPLUG_BUILD_VERSION << '\n';
        return 0;
    }

    auto token = admin_token(given.token_file);
    if (!token) return fail(exit_usage, token.reason());
    ctl::admin_request call = request_for(given, std::move(*token));
    auto until = std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                     std::chrono::duration<double>(given.timeout_seconds));

    outcome<ctl::admin_answer> answer = failure{};
    if (!given.url.empty()) {
        auto url = ctl::parse_http_url(given.url);
        if (!url) return fail(exit_usage, url.reason());
        answer = ctl::http_call(*url, url->prefix.empty() ? given.admin_prefix : url->prefix, call, until);
    } else {
        auto address = ctl::parse_socket_address(given.socket);
        if (!address) return fail(exit_usage, address.reason());
        answer = ctl::fcgi_call(*address, given.admin_prefix, call, until);
    }
    if (!answer) return fail(exit_usage, answer.reason());

    // Messages name what the command was about: the route, else the command.
    std::string subject = given.route ? *given.route : given.command;
    if (answer->status < 200 || answer->status > 299) {
        if (given.json && answer->content_type == "application/json") print_as_is(answer->body);
        return fail(exit_answered_error, subject + ": " + error_reason(*answer));
    }
    if (given.json || given.command == "metrics") {
        print_as_is(answer->body);
        return 0;
    }
    auto json = parse_json(answer->body);
    if (!json) return fail(exit_answered_error, subject + ": the answer is not JSON: " + json.reason());
    std::string text = given.command == "status" ? ctl::status_table(*json) : ctl::swap_lines(*json);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
}
