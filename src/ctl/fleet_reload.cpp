#include "ctl/fleet_reload.hpp"

#include "ctl/json_reader.hpp"

namespace replug::ctl {

namespace {

// A route's version as an answer shows it: "-" for none or an empty version.
std::string version_of(const json_value& side) {
    if (side.is_null()) return "-";
    std::string version = side["version"].string_or("");
    return version.empty() ? "-" : version;
}

// One call and what came of it: the parsed answer of a 2xx, or a row's trouble and reason.
struct exchange_result {
    json_value answer;
    trouble problem = trouble::none;
    std::string reason;
};

exchange_result post(const target& where, const call_settings& settings, const std::string& token,
                     const std::string& endpoint, const std::string& query) {
    auto answer = call(where, settings, {"POST", endpoint, query, token});
    if (!answer) return {{}, trouble::no_answer, answer.reason()};
    if (answer->status < 200 || answer->status > 299) return {{}, trouble::refused, error_reason(*answer)};
    auto parsed = parse_json(answer->body);
    if (!parsed) return {{}, trouble::refused, "the answer is not JSON: " + parsed.reason()};
    return {std::move(*parsed), trouble::none, {}};
}

}  // namespace

std::vector<fleet_row> reload_fleet(const std::vector<target>& targets, const call_settings& settings,
                                    const std::string& route, const std::string& token, bool check_only) {
    std::vector<fleet_row> rows;
    std::string query = "route=" + percent_encoded(route);
    std::vector<std::size_t> to_undo;  // targets that swapped, in the order they did

    // 1. The check, everywhere.
    bool all_checked = true;
    for (const auto& where : targets) {
        fleet_row row{where.address, "?", "?", "", "", trouble::none};
        auto checked = post(where, settings, token, "reload", query + "&check=1");
        if (checked.problem != trouble::none) {
            row.problem = checked.problem;
            row.result = (checked.problem == trouble::refused ? "check refused: " : "no answer: ") + checked.reason;
            all_checked = false;
        } else {
            row.old_version = version_of(checked.answer["old"]);
            row.new_version = version_of(checked.answer["new"]);
            row.sha256 = checked.answer["new"]["sha256"].string_or("");
            row.result = "checked";
            if (!checked.answer["check"].is_bool()) {  // a replugd that does not know check=1 reloaded
                row.problem = trouble::refused;
                row.result = "does not know check=1: it reloaded";
                to_undo.push_back(rows.size());
                all_checked = false;
            }
        }
        rows.push_back(std::move(row));
    }

    if (all_checked && !check_only) {
        // 2. The swap, everywhere, until one fails.
        for (std::size_t i = 0; i < targets.size(); ++i) {
            auto swapped = post(targets[i], settings, token, "reload", query);
            auto& row = rows[i];
            if (swapped.problem == trouble::no_answer) {  // it may or may not have swapped
                row.problem = trouble::no_answer;
                row.result = "swap: no answer, its state is unknown (see replugctl status): " + swapped.reason;
                break;
            }
            if (swapped.problem == trouble::refused) {
                row.problem = trouble::refused;
                row.result = "swap refused: " + swapped.reason;
                break;
            }
            to_undo.push_back(i);
            row.old_version = version_of(swapped.answer["old"]);
            row.new_version = version_of(swapped.answer["new"]);
            std::string loaded = swapped.answer["new"]["sha256"].string_or("");
            if (loaded != row.sha256) {  // the file changed between the check and the swap
                row.problem = trouble::refused;
                row.result = "swapped bytes (sha256 " + loaded + ") are not the checked ones";
                row.sha256 = loaded;
                break;
            }
            row.result = "swapped";
        }
    }

    // 3. Back, where a swap happened and the change as a whole failed.
    bool failed = false;
    for (const auto& row : rows) failed = failed || row.problem != trouble::none;
    if (failed)
        for (auto each = to_undo.rbegin(); each != to_undo.rend(); ++each) {
            auto& row = rows[*each];
            auto back = post(targets[*each], settings, token, "rollback", query);
            if (back.problem != trouble::none) {
                row.problem = back.problem;
                row.result += "; ROLLBACK FAILED: " + back.reason;
            } else {
                row.result += (row.result == "swapped" ? ", rolled back to " : "; rolled back to ") +
                              version_of(back.answer["new"]);
            }
        }

    for (auto& row : rows)
        if (row.result == "checked")
            row.result = check_only ? "checked, nothing swapped"
                         : failed   ? "checked, not swapped"
                                    : "checked";  // unreachable: a passed change swapped every target
    return rows;
}

int fleet_exit_status(const std::vector<fleet_row>& rows) {
    bool refused = false, no_answer = false;
    for (const auto& row : rows) {
        refused = refused || row.problem == trouble::refused;
        no_answer = no_answer || row.problem == trouble::no_answer;
    }
    return refused ? 1 : no_answer ? 3 : 0;
}

}  // namespace replug::ctl
