// replugctl: operates a running replugd through its admin endpoints, over
// FastCGI straight to its socket or over HTTP through the front server; or
// several of them at once for one reload (fleet_reload). Wires the pieces
// and decides exit codes:
//   0  success
//   1  the server refused (answered 4xx/5xx, or an answer that makes no sense)
//   2  usage or configuration error (nothing was sent)
//   3  no answer (cannot connect, timeout, not FastCGI or HTTP)
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ctl/admin_client.hpp"
#include "ctl/fleet_reload.hpp"
#include "ctl/options.hpp"
#include "ctl/render.hpp"
#include "ctl/json_reader.hpp"
#include "text.hpp"
#include "token_file.hpp"

namespace {

using namespace replug;

constexpr int exit_answered_error = 1;
constexpr int exit_usage = 2;
constexpr int exit_no_answer = 3;

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

ctl::admin_request request_for(const ctl::options& given, std::string token) {
    ctl::admin_request call{given.command == "reload" || given.command == "rollback" ? "POST" : "GET", given.command,
                            "", std::move(token)};
    if (given.route) call.query = "route=" + ctl::percent_encoded(*given.route);
    if (given.check) call.query += "&check=1";
    return call;
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
    std::vector<ctl::target> targets = given.targets;
    if (given.targets_file) {
        std::ifstream file(*given.targets_file);
        std::ostringstream text;
        text << file.rdbuf();
        if (!file) return fail(exit_usage, "--targets " + *given.targets_file + ": cannot read the file");
        auto listed = ctl::parse_targets(*given.targets_file, text.str());
        if (!listed) return fail(exit_usage, listed.reason());
        targets.insert(targets.end(), listed->begin(), listed->end());
    }
    ctl::call_settings settings{given.admin_prefix, given.timeout_seconds, given.allow_plaintext_token};
    for (const auto& where : targets)  // every address is judged before anything is sent
        if (auto refused = ctl::check_target(where, settings)) return fail(exit_usage, refused->reason);

    if (targets.size() > 1 || given.targets_file) {  // parse_options allowed it for reload ROUTE only
        auto rows = ctl::reload_fleet(targets, settings, *given.route, *token, given.check);
        std::string text = ctl::fleet_table(rows);
        std::fwrite(text.data(), 1, text.size(), stdout);
        int status = ctl::fleet_exit_status(rows);
        if (status != 0)
            std::fprintf(stderr, "replugctl: %s: %s\n", given.route->c_str(),
                         given.check ? "the check failed on a target (see the table)"
                                     : "not reloaded everywhere; every target is back on its version unless "
                                       "the table says otherwise");
        return status;
    }

    ctl::admin_request call = request_for(given, std::move(*token));
    auto answer = ctl::call(targets.front(), settings, call);
    if (!answer) return fail(answer.kind() == failure_kind::bad_input ? exit_usage : exit_no_answer, answer.reason());

    // Messages name what the command was about: the route, else the command.
    std::string subject = given.route ? *given.route : given.command;
    if (answer->status < 200 || answer->status > 299) {
        if (given.json && answer->content_type == "application/json") print_as_is(answer->body);
        return fail(exit_answered_error, subject + ": " + ctl::error_reason(*answer));
    }
    if (given.json || given.command == "metrics") {
        print_as_is(answer->body);
        return 0;
    }
    auto json = parse_json(answer->body);
    if (!json) return fail(exit_answered_error, subject + ": the answer is not JSON: " + json.reason());
    std::string text = given.command == "status" ? ctl::status_table(*json)
                       : given.check             ? ctl::check_line(*json)
                                                 : ctl::swap_lines(*json);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
}
