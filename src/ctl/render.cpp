#include "ctl/render.hpp"

#include <cmath>
#include <cstdio>
#include <vector>

namespace replug::ctl {

namespace {

std::string printable(std::string_view text) {
    std::string result(text);
    for (char& c : result)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
    return result;
}

std::string text_of(const json_value& value) {
    if (value.is_string()) return value.as_string().empty() ? "-" : printable(value.as_string());
    if (value.is_number()) {
        double number = value.as_number();
        char digits[32];
        if (std::floor(number) == number && std::fabs(number) < 1e15)
            std::snprintf(digits, sizeof digits, "%lld", static_cast<long long>(number));
        else
            std::snprintf(digits, sizeof digits, "%g", number);
        return digits;
    }
    if (value.is_bool()) return value.as_bool() ? "true" : "false";
    return "-";
}

std::string duration_of(double seconds) {
    auto whole = static_cast<long long>(seconds);
    char text[48];
    if (whole < 60)
        std::snprintf(text, sizeof text, "%llds", whole);
    else if (whole < 3600)
        std::snprintf(text, sizeof text, "%lldm%02llds", whole / 60, whole % 60);
    else if (whole < 86400)
        std::snprintf(text, sizeof text, "%lldh%02lldm", whole / 3600, whole % 3600 / 60);
    else
        std::snprintf(text, sizeof text, "%lldd%02lldh", whole / 86400, whole % 86400 / 3600);
    return text;
}

// Columns padded to their widest cell, two spaces apart; the last one unpadded.
std::string table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths;
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (widths.size() <= i) widths.push_back(0);
            widths[i] = std::max(widths[i], row[i].size());
        }
    std::string out;
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            out += row[i];
            if (i + 1 < row.size()) out.append(widths[i] - row[i].size() + 2, ' ');
        }
        out += '\n';
    }
    return out;
}

std::string swap_line(const json_value& swap) {
    const json_value& old_version = swap["old"];
    char load[32];
    std::snprintf(load, sizeof load, "%.2f", swap["load_ms"].number_or(0));
    return text_of(swap["route"]) + ": " + (old_version.is_null() ? "(none)" : text_of(old_version["version"])) +
           " -> " + text_of(swap["new"]["version"]) + " (generation " + text_of(swap["new"]["generation"]) + ", " +
           load + " ms)\n";
}

}  // namespace

std::string status_table(const json_value& status) {
    std::string out = text_of(status["server"]) + " " + text_of(status["version"]) + ", pid " +
                      text_of(status["pid"]) + ", " + text_of(status["threads"]) + " threads, up " +
                      duration_of(status["uptime_s"].number_or(0)) + "\n";
    std::vector<std::vector<std::string>> rows = {{"ROUTE", "MODULE", "VERSION", "GEN", "REQUESTS", "ERRORS",
                                                   "IN-FLIGHT", "DRAINING", "FILE", "LAST ERROR"}};
    static const json_value::array none;
    const json_value& routes = status["routes"];
    for (const auto& route : routes.is_array() ? routes.as_array() : none) {
        const json_value& current = route["current"];
        std::string module = text_of(route["module"]);
        if (route["symbol"].is_string() && route["symbol"].as_string() != "serve")
            module += ":" + text_of(route["symbol"]);
        const json_value& draining = route["draining"];
        rows.push_back({text_of(route["route"]), module, text_of(current["version"]), text_of(current["generation"]),
                        text_of(route["requests"]), text_of(route["errors"]), text_of(route["in_flight"]),
                        std::to_string(draining.is_array() ? draining.as_array().size() : 0),
                        text_of(current["file"]), text_of(route["last_error"]["reason"])});
    }
    out += table(rows);
    const json_value& workers = status["workers"];
    if (!workers.is_array() || workers.as_array().empty()) return out;  // one process
    std::vector<std::vector<std::string>> processes = {
        {"WORKER", "PID", "STATE", "AGE", "REQUESTS", "RSS", "BUSY", "BEFORE IT"}};
    for (const auto& worker : workers.as_array()) {
        char rss[32];
        std::snprintf(rss, sizeof rss, "%.0f MiB", worker["rss_bytes"].number_or(0) / (1024 * 1024));
        // Why the worker before it in its slot ended: "crash (SIGSEGV)", "recycled (max-rss)", "timeout on route /x".
        const json_value& end = worker["previous_end"];
        std::string before = "-";
        if (end.is_object())
            before = end["reason"].is_string() && end["reason"].as_string() == "timeout"
                         ? text_of(end["detail"])
                         : text_of(end["reason"]) + " (" + text_of(end["detail"]) + ")";
        processes.push_back({text_of(worker["slot"]), text_of(worker["pid"]), text_of(worker["state"]),
                             duration_of(worker["age_s"].number_or(0)), text_of(worker["requests"]), rss,
                             text_of(worker["busy_threads"]), before});
    }
    return out + "\n" + table(processes);
}

std::string swap_lines(const json_value& answer) {
    if (!answer["routes"].is_array()) return swap_line(answer);
    std::string out;
    for (const auto& swap : answer["routes"].as_array()) out += swap_line(swap);
    return out.empty() ? "(no routes)\n" : out;
}

std::string check_line(const json_value& answer) {
    const json_value& old_version = answer["old"];
    char load[32];
    std::snprintf(load, sizeof load, "%.2f", answer["load_ms"].number_or(0));
    return text_of(answer["route"]) + ": check passed: " +
           (old_version.is_null() ? "(none)" : text_of(old_version["version"])) + " -> " +
           text_of(answer["new"]["version"]) + " would be swapped in (sha256 " + text_of(answer["new"]["sha256"]) +
           ", " + load + " ms); nothing swapped\n";
}

std::string fleet_table(const std::vector<fleet_row>& rows) {
    std::vector<std::vector<std::string>> cells = {{"TARGET", "OLD", "NEW", "SHA256", "RESULT"}};
    for (const auto& row : rows)
        cells.push_back({printable(row.target), printable(row.old_version), printable(row.new_version),
                         row.sha256.empty() ? "-" : printable(row.sha256.substr(0, 12)), printable(row.result)});
    return table(cells);
}

}  // namespace replug::ctl
