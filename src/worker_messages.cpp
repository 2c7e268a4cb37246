#include "worker_messages.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace replug {

namespace {

// Each route: these fixed fields, then N and N KEY VALUE pairs (its settings).
constexpr std::size_t route_fields = 13;

failure malformed(std::string_view what) {
    return failure{"malformed " + std::string(what) + " message"};
}

bool is(const fields& message, std::string_view name, std::size_t at_least) {
    return message.size() >= at_least && message[0] == name;
}

std::string milliseconds_text(double value) {
    char text[32];
    auto [end, error] = std::to_chars(text, text + sizeof text, value);
    return error == std::errc{} ? std::string(text, end) : "0";
}

}  // namespace

fields encode_start(const worker_settings& settings) {
    return {"start",
            std::to_string(settings.slot),
            std::to_string(settings.threads),
            std::string(level_name(settings.level)),
            std::to_string(static_cast<std::uint64_t>(settings.drain_timeout.count())),
            settings.admin_prefix,
            settings.probe_prefix,
            std::to_string(settings.max_body)};
}

outcome<worker_settings> decode_start(const fields& message) {
    if (!is(message, "start", 8)) return malformed("start");
    auto slot = parse_decimal(message[1]);
    auto threads = parse_decimal(message[2]);
    auto level = parse_log_level(message[3]);
    auto drain = parse_decimal(message[4]);
    auto max_body = parse_decimal(message[7]);
    if (!slot || !threads || !level || !drain || !max_body) return malformed("start");
    return worker_settings{static_cast<unsigned>(*slot), static_cast<unsigned>(*threads), *level,
                           std::chrono::milliseconds(*drain), message[5], message[6], *max_body};
}

fields encode_load(std::uint64_t transaction, const std::vector<table_route>& table) {
    fields message{"load", std::to_string(transaction), std::to_string(table.size())};
    for (const auto& route : table) {
        message.insert(message.end(), {route.spec.pattern, route.spec.module, route.spec.symbol, std::to_string(route.slot),
                                       std::to_string(route.generation), route.file, std::to_string(route.inode),
                                       std::to_string(static_cast<std::uint64_t>(route.size)), route.sha256,
                                       std::to_string(static_cast<std::uint64_t>(std::max<std::int64_t>(route.unavailable_until, 0))),
                                       std::to_string(static_cast<std::uint64_t>(route.spec.handler_timeout.count())),
                                       std::to_string(static_cast<std::uint64_t>(route.spec.slow_log.count())),
                                       std::to_string(route.spec.settings.size())});
        for (const auto& [key, value] : route.spec.settings) message.insert(message.end(), {key, value});
    }
    return message;
}

outcome<std::pair<std::uint64_t, std::vector<table_route>>> decode_load(const fields& message) {
    if (!is(message, "load", 3)) return malformed("load");
    auto transaction = parse_decimal(message[1]);
    auto count = parse_decimal(message[2]);
    if (!transaction || !count || *count > message.size()) return malformed("load");
    std::vector<table_route> table;
    std::size_t i = 3;
    for (std::uint64_t n = 0; n < *count; ++n) {
        if (message.size() - i < route_fields) return malformed("load");
        auto slot = parse_decimal(message[i + 3]);
        auto generation = parse_decimal(message[i + 4]);
        auto inode = parse_decimal(message[i + 6]);
        auto size = parse_decimal(message[i + 7]);
        auto unavailable_until = parse_decimal(message[i + 9]);
        auto timeout = parse_decimal(message[i + 10]);
        auto slow_log = parse_decimal(message[i + 11]);
        auto settings = parse_decimal(message[i + 12]);
        if (!slot || !generation || !inode || !size || !unavailable_until || !timeout || !slow_log || !settings)
            return malformed("load");
        table_route route{{message[i], message[i + 1], message[i + 2], std::chrono::milliseconds(*timeout),
                           std::chrono::milliseconds(*slow_log), {}},
                          static_cast<std::uint32_t>(*slot),
                          *generation,
                          message[i + 5],
                          *inode,
                          static_cast<std::int64_t>(*size),
                          message[i + 8],
                          static_cast<std::int64_t>(*unavailable_until)};
        i += route_fields;
        if (*settings > (message.size() - i) / 2) return malformed("load");
        for (std::uint64_t k = 0; k < *settings; ++k, i += 2)
            if (!route.spec.settings.emplace(message[i], message[i + 1]).second) return malformed("load");
        table.push_back(std::move(route));
    }
    if (i != message.size()) return malformed("load");
    return std::pair{*transaction, std::move(table)};
}

fields encode_prepared(std::uint64_t transaction, const std::vector<prepared_route>& routes) {
    fields message{"prepared", std::to_string(transaction)};
    for (const auto& route : routes) {
        message.push_back(route.version);
        message.push_back(milliseconds_text(route.load_milliseconds));
    }
    return message;
}

outcome<std::vector<prepared_route>> decode_prepared(const fields& message, std::size_t routes) {
    if (!is(message, "prepared", 2) || message.size() != 2 + 2 * routes) return malformed("prepared");
    std::vector<prepared_route> prepared;
    for (std::size_t i = 2; i < message.size(); i += 2) {
        double load = 0;
        auto [end, error] = std::from_chars(message[i + 1].data(), message[i + 1].data() + message[i + 1].size(), load);
        if (error != std::errc{}) return malformed("prepared");
        prepared.push_back({message[i], load});
    }
    return prepared;
}

bool answers_transaction(const fields& message, std::uint64_t transaction) {
    return message.size() >= 2 && parse_decimal(message[1]) == transaction;
}

fields encode_admin_call(const admin_call& call) {
    return {"admin", std::to_string(call.id), call.method, call.path, call.query, call.authorization, call.remote_address};
}

outcome<admin_call> decode_admin_call(const fields& message) {
    if (!is(message, "admin", 7) || message.size() != 7) return malformed("admin");
    auto id = parse_decimal(message[1]);
    if (!id) return malformed("admin");
    return admin_call{*id, message[2], message[3], message[4], message[5], message[6]};
}

fields encode_retiring(const retiring_notice& notice) {
    return {"retiring", notice.reason, notice.route};
}

outcome<retiring_notice> decode_retiring(const fields& message) {
    if (!is(message, "retiring", 3) || message.size() != 3) return malformed("retiring");
    return retiring_notice{message[1], message[2]};
}

fields encode_admin_answer(const admin_answer& answer) {
    fields message{"answer", std::to_string(answer.id), std::to_string(static_cast<std::uint64_t>(answer.status)), answer.body};
    for (const auto& [name, value] : answer.headers) {
        message.push_back(name);
        message.push_back(value);
    }
    return message;
}

outcome<admin_answer> decode_admin_answer(const fields& message) {
    if (!is(message, "answer", 4) || message.size() % 2 != 0) return malformed("answer");
    auto id = parse_decimal(message[1]);
    auto status = parse_decimal(message[2]);
    if (!id || !status || *status < 100 || *status > 999) return malformed("answer");
    admin_answer answer{*id, static_cast<int>(*status), message[3], {}};
    for (std::size_t i = 4; i + 1 < message.size(); i += 2) answer.headers.emplace_back(message[i], message[i + 1]);
    return answer;
}

}  // namespace replug
