#include "admin.hpp"

#include <sys/stat.h>

#include <fstream>

#include "json.hpp"
#include "metrics.hpp"
#include "process.hpp"
#include "text.hpp"
#include "token_file.hpp"

namespace replug {

namespace {

void answer(response& res, int code, const json_writer& json) {
    res.status(code);
    res.header("Content-Type", "application/json");
    res.header("Cache-Control", "no-store");
    res.write(json.text());
    res.write("\n");
}

void answer_error(response& res, int code, std::string_view reason) {
    json_writer json;
    json.begin_object().field("error", reason).end_object();
    answer(res, code, json);
}

void write_version(json_writer& json, const version_status& version) {
    json.begin_object()
        .field("version", version.version)
        .field("generation", version.generation)
        .field("file", version.file)
        .field("inode", version.inode)
        .field("size", version.size)
        .field("loaded_at", version.loaded_at)
        .field("load_ms", version.load_milliseconds)
        .field("in_flight", version.in_flight)
        .field("sha256", version.sha256)
        .end_object();
}

void write_swap(json_writer& json, const swap_report& swap) {
    json.begin_object()
        .field("route", swap.pattern)
        .field("module", swap.module)
        .field("file", swap.file)
        .key("old");
    if (swap.old_generation == 0)
        json.null();
    else
        json.begin_object().field("version", swap.old_version).field("generation", swap.old_generation).end_object();
    json.key("new")
        .begin_object()
        .field("version", swap.new_version)
        .field("generation", swap.new_generation)
        .end_object()
        .field("load_ms", swap.load_milliseconds)
        .field("message", "Code swapped to " + (swap.new_version.empty() ? "generation " + std::to_string(swap.new_generation)
                                                                        : swap.new_version))
        .end_object();
}

int status_for(failure_kind kind) {
    switch (kind) {
        case failure_kind::not_found: return 404;
        case failure_kind::conflict: return 409;
        case failure_kind::bad_input: return 400;
        case failure_kind::failed: return 422;
    }
    return 500;
}

bool method_is(request& req, response& res, std::string_view wanted) {
    if (req.method() == wanted) return true;
    res.header("Allow", wanted);
    answer_error(res, 405, std::string(wanted) + " required");
    return false;
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
    // Runs over the expected token's length whatever the guess's length.
    unsigned char difference = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < b.size(); ++i) {
        unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        difference |= static_cast<unsigned char>(x ^ static_cast<unsigned char>(b[i]));
    }
    return difference == 0;
}

std::string url_decode(std::string_view text) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '+') {
            out += ' ';
        } else if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
            out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

std::string query_value(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        auto amp = query.find('&');
        auto pair = query.substr(0, amp);
        auto equals = pair.find('=');
        if (url_decode(pair.substr(0, equals)) == name)
            return equals == std::string_view::npos ? "" : url_decode(pair.substr(equals + 1));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return {};
}

outcome<std::string> read_token_file(const std::string& file) {
    auto stored = read_stored_token("--admin-token-file", file);
    if (!stored) return stored.error();
    if (stored->mode & S_IROTH)
        return failure{"--admin-token-file " + file + ": readable by everyone (mode " + octal_mode(stored->mode) +
                           "); chmod o-r " + file,
                       failure_kind::bad_input};
    std::string token = std::move(stored->token);
    if (token.size() < 16)
        return failure{"--admin-token-file " + file + ": the token must be at least 16 characters",
                       failure_kind::bad_input};
    return token;
}

admin::admin(std::string prefix, std::string token, route_control& routes, reloader& reloads, server_facts facts,
             const logger& log)
    : prefix_(std::move(prefix)),
      token_(std::move(token)),
      routes_(routes),
      reloader_(reloads),
      facts_(std::move(facts)),
      log_(log) {}

void admin::handle(request& req, response& res) {
    std::string_view authorization = req.header("Authorization");
    constexpr std::string_view scheme = "Bearer ";
    bool allowed = authorization.starts_with(scheme) &&
                   constant_time_equal(authorization.substr(scheme.size()), token_);
    if (!allowed) {
        log_.warn("admin unauthorized path=", printable(req.path()), " from=", printable(req.param("REMOTE_ADDR")));
        res.header("WWW-Authenticate", "Bearer");
        answer_error(res, 401, "unauthorized");
        return;
    }
    std::string_view endpoint = req.path().substr(prefix_.size());
    if (endpoint == "status") {
        if (method_is(req, res, "GET")) status(res);
    } else if (endpoint == "reload") {
        if (method_is(req, res, "POST")) reload(req, res);
    } else if (endpoint == "rollback") {
        if (method_is(req, res, "POST")) rollback(req, res);
    } else if (endpoint == "metrics") {
        if (method_is(req, res, "GET")) metrics(res);
    } else {
        answer_error(res, 404, "no admin endpoint " + std::string(endpoint.substr(0, 64)));
    }
}

void admin::status(response& res) {
    json_writer json;
    auto uptime = std::chrono::duration<double>(std::chrono::system_clock::now() - facts_.started_at).count();
    json.begin_object()
        .field("server", "replugd")
        .field("version", facts_.build_version)
        .field("pid", facts_.pid)
        .field("threads", static_cast<std::uint64_t>(facts_.threads))
        .field("worker_processes", static_cast<std::uint64_t>(facts_.workers))
        .field("started_at", facts_.started_at)
        .field("uptime_s", uptime)
        .key("workers")
        .begin_array();
    if (facts_.worker_list)
        for (const auto& worker : facts_.worker_list()) {
            json.begin_object()
                .field("slot", static_cast<std::uint64_t>(worker.slot))
                .field("pid", static_cast<std::int64_t>(worker.pid))
                .field("state", worker.state)
                .field("started_at", worker.started_at)
                .field("requests", worker.requests)
                .field("rss_kib", worker.rss_kib)
                .field("busy_threads", static_cast<std::uint64_t>(worker.busy_threads))
                .key("previous_exit");
            if (worker.previous_exit.empty())
                json.null();
            else
                json.value(worker.previous_exit);
            json.end_object();
        }
    json.end_array().key("routes").begin_array();
    for (const auto& route : routes_.status()) {
        json.begin_object()
            .field("route", route.spec.pattern)
            .field("module", route.spec.module)
            .field("symbol", route.spec.symbol)
            .field("requests", route.requests)
            .field("errors", route.errors)
            .field("in_flight", route.in_flight)
            .field("crashes", route.crashes)
            .key("current");
        write_version(json, route.current);
        json.key("previous");
        if (route.previous)
            write_version(json, *route.previous);
        else
            json.null();
        json.key("draining").begin_array();
        for (const auto& version : route.draining) write_version(json, version);
        json.end_array();
        json.key("last_error");
        if (route.last_error.empty())
            json.null();
        else
            json.begin_object().field("reason", route.last_error).field("at", route.last_error_at).end_object();
        json.end_object();
    }
    json.end_array().end_object();
    answer(res, 200, json);
}

void admin::reload(request& req, response& res) {
    std::string pattern = query_value(req.query(), "route");
    json_writer json;
    if (pattern.empty()) {
        auto swaps = reloader_.reload_everything();
        if (!swaps) return answer_error(res, status_for(swaps.kind()), swaps.reason());
        json.begin_object().key("routes").begin_array();
        for (const auto& swap : *swaps) write_swap(json, swap);
        json.end_array().end_object();
        return answer(res, 200, json);
    }
    auto swap = routes_.reload(pattern, {.force = query_value(req.query(), "force") == "1"});
    if (!swap) return answer_error(res, status_for(swap.kind()), swap.reason());
    write_swap(json, *swap);
    answer(res, 200, json);
}

void admin::rollback(request& req, response& res) {
    std::string pattern = query_value(req.query(), "route");
    if (pattern.empty()) return answer_error(res, 400, "rollback needs ?route=PATH");
    auto swap = routes_.rollback(pattern);
    if (!swap) return answer_error(res, status_for(swap.kind()), swap.reason());
    json_writer json;
    write_swap(json, *swap);
    answer(res, 200, json);
}

void admin::metrics(response& res) {
    std::string out;
    auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
        out.append("# HELP ").append(name).append(" ").append(help).append("\n");
        out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    };
    auto sample = [&](std::string_view name, const std::string& labels, auto value) {
        out.append(name);
        if (!labels.empty()) out.append("{").append(labels).append("}");
        out.append(" ").append(std::to_string(value)).append("\n");
    };
    auto routes = routes_.status();
    // One family: its HELP and TYPE, then a sample per route.
    auto per_route = [&](std::string_view name, std::string_view type, std::string_view help, auto emit) {
        family(name, type, help);
        for (const auto& route : routes) emit(route, "route=\"" + label_value(route.spec.pattern) + "\"");
    };

    per_route("replug_requests_total", "counter", "Requests routed to a module, per route.",
              [&](const route_status& r, const std::string& l) { sample("replug_requests_total", l, r.requests); });
    per_route("replug_errors_total", "counter", "Requests whose handler threw (answered 500), per route.",
              [&](const route_status& r, const std::string& l) { sample("replug_errors_total", l, r.errors); });
    per_route("replug_request_duration_seconds", "histogram", "Time from routing to the end of the response.",
              [&](const route_status& r, const std::string& l) {
                  r.latency_seconds.write(out, "replug_request_duration_seconds", l);
              });
    per_route("replug_in_flight_requests", "gauge", "Requests running now, per route.",
              [&](const route_status& r, const std::string& l) { sample("replug_in_flight_requests", l, r.in_flight); });
    per_route("replug_reloads_total", "counter", "Loads per route and result (ok includes the first load).",
              [&](const route_status& r, const std::string& l) {
                  sample("replug_reloads_total", l + ",result=\"ok\"", r.reloads_ok);
                  sample("replug_reloads_total", l + ",result=\"failed\"", r.reloads_failed);
              });
    per_route("replug_handler_crashes_total", "counter", "Worker processes that died in a handler of the route.",
              [&](const route_status& r, const std::string& l) { sample("replug_handler_crashes_total", l, r.crashes); });
    per_route("replug_versions_draining", "gauge", "Retired versions still running requests, per route.",
              [&](const route_status& r, const std::string& l) {
                  sample("replug_versions_draining", l, r.draining.size());
              });
    per_route("replug_generation", "gauge", "Generation of the version each route serves.",
              [&](const route_status& r, const std::string& l) { sample("replug_generation", l, r.current.generation); });
    per_route("replug_module_info", "gauge", "The version each route serves: its module, version and sha256 (always 1).",
              [&](const route_status& r, const std::string& l) {
                  sample("replug_module_info",
                         l + ",module=\"" + label_value(r.spec.module) + "\",version=\"" +
                             label_value(r.current.version) + "\",sha256=\"" + label_value(r.current.sha256) + "\"",
                         1);
              });
    per_route("replug_last_reload_successful", "gauge",
              "Whether the latest load of the route succeeded (0: it failed, and the route serves its old version).",
              [&](const route_status& r, const std::string& l) {
                  sample("replug_last_reload_successful", l, r.last_reload_failed ? 0 : 1);
              });
    family("replug_build_info", "gauge", "The replugd build (always 1).");
    sample("replug_build_info", "version=\"" + label_value(facts_.build_version) + "\"", 1);
    // The process that answers (the master, with worker processes), as every
    // Prometheus client library's process collector reports it; each worker
    // by its slot below.
    auto own = read_process_usage(facts_.pid);
    auto gauge = [&](std::string_view name, std::string_view help, const auto& value) {
        if (!value) return;
        family(name, "gauge", help);
        sample(name, "", *value);
    };
    gauge("process_start_time_seconds", "Start time of the process since the epoch, in seconds.", own.start_time_seconds);
    gauge("process_resident_memory_bytes", "Resident memory size in bytes.", own.resident_bytes);
    gauge("process_open_fds", "Number of open file descriptors.", own.open_descriptors);
    gauge("process_max_fds", "Maximum number of open file descriptors (the soft limit).", own.max_descriptors);
    if (facts_.worker_list) {
        std::vector<std::pair<std::string, process_usage>> workers;
        for (const auto& worker : facts_.worker_list())
            if (worker.pid > 0)
                workers.emplace_back("slot=\"" + std::to_string(worker.slot) + "\"", read_process_usage(worker.pid));
        auto per_worker = [&](std::string_view name, std::string_view help, auto field) {
            family(name, "gauge", help);
            for (const auto& [labels, usage] : workers)
                if (auto value = usage.*field) sample(name, labels, *value);
        };
        per_worker("replug_worker_start_time_seconds", "Start time of each worker process since the epoch, in seconds.",
                   &process_usage::start_time_seconds);
        per_worker("replug_worker_resident_memory_bytes", "Resident memory of each worker process in bytes.",
                   &process_usage::resident_bytes);
        per_worker("replug_worker_open_fds", "Open file descriptors of each worker process.",
                   &process_usage::open_descriptors);
    }
    family("replug_swap_duration_seconds", "histogram", "Time to load and check a version that was swapped in.");
    routes_.swap_seconds().write(out, "replug_swap_duration_seconds", "");
    family("replug_workers", "gauge", "Worker threads.");
    sample("replug_workers", "", facts_.threads);
    family("replug_workers_busy", "gauge", "Worker threads serving a request now.");
    sample("replug_workers_busy", "", facts_.busy_workers ? facts_.busy_workers() : 0);
    family("replug_uptime_seconds", "gauge", "Seconds since the server started.");
    sample("replug_uptime_seconds", "",
           std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - facts_.started_at).count());

    res.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    res.header("Cache-Control", "no-store");
    res.write(out);
}

}  // namespace replug
