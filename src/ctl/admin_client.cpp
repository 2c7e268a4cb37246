#include "ctl/admin_client.hpp"

#include "address.hpp"
#include "ctl/fcgi_client.hpp"
#include "ctl/http_client.hpp"
#include "ctl/json_reader.hpp"

namespace replug::ctl {

namespace {

failure in_clear(const target& where) {
    return failure{std::string(where.http ? "--url " : "--socket ") + where.address +
                       ": refusing to send the admin token unencrypted to a host that is not loopback "
                       "(replugctl has no TLS); use an ssh tunnel (ssh -L) to a loopback address, "
                       "or --allow-plaintext-token on a network you trust",
                   failure_kind::bad_input};
}

}  // namespace

std::optional<failure> check_target(const target& where, const call_settings& settings) {
    if (where.http) {
        auto url = parse_http_url(where.address);
        if (!url) return url.error();
        if (!settings.allow_plaintext_token && !is_loopback_host(url->host)) return in_clear(where);
        return std::nullopt;
    }
    auto address = parse_socket_address(where.address);
    if (!address) return address.error();
    if (address->unix_path.empty() && !settings.allow_plaintext_token && !is_loopback_host(address->host))
        return in_clear(where);
    return std::nullopt;
}

outcome<admin_answer> call(const target& where, const call_settings& settings, const admin_request& call) {
    if (auto refused = check_target(where, settings)) return *refused;
    auto until = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                        std::chrono::duration<double>(settings.timeout_seconds));
    if (where.http) {
        auto url = parse_http_url(where.address);
        return http_call(*url, url->prefix.empty() ? settings.admin_prefix : url->prefix, call, until);
    }
    return fcgi_call(*parse_socket_address(where.address), settings.admin_prefix, call, until);
}

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

std::string error_reason(const admin_answer& answer) {
    if (answer.content_type == "application/json") {
        auto parsed = parse_json(answer.body);
        if (parsed && (*parsed)["error"].is_string()) return (*parsed)["error"].as_string();
    }
    std::string status = "HTTP " + std::to_string(answer.status);
    return answer.status_text.empty() ? status : status + " " + answer.status_text;
}

}  // namespace replug::ctl
