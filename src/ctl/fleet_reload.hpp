// One reload over several replugd instances, as one change: a check on
// every target first (POST reload?route=R&check=1: load, check, swap
// nothing); only if every check passed, the swap on every target, in the
// order given; if a swap fails, a rollback of the targets already swapped.
// So a refusing instance leaves every instance on the version it served.
#ifndef REPLUG_CTL_FLEET_RELOAD_HPP
#define REPLUG_CTL_FLEET_RELOAD_HPP

#include <string>
#include <vector>

#include "ctl/admin_client.hpp"
#include "ctl/options.hpp"

namespace replug::ctl {

// What went wrong at one target, if anything.
enum class trouble { none, refused, no_answer };

// One target's line of the table replugctl prints.
struct fleet_row {
    std::string target;
    std::string old_version;  // as its check answered; "-" for none, "?" when unknown
    std::string new_version;
    std::string sha256;       // of the new version's bytes, as its check answered; "" when unknown
    std::string result;       // "swapped", "refused: ...", "rolled back to 1", ...
    trouble problem = trouble::none;
};

// Reloads ROUTE on every target of TARGETS (REQUIRES: not empty), each call
// within SETTINGS' timeout, with TOKEN. CHECK_ONLY: the checks alone.
// Returns a row per target, in TARGETS' order.
std::vector<fleet_row> reload_fleet(const std::vector<target>& targets, const call_settings& settings,
                                    const std::string& route, const std::string& token, bool check_only);

// The exit status for ROWS: 1 when a target refused, else 3 when one did
// not answer, else 0.
int fleet_exit_status(const std::vector<fleet_row>& rows);

}  // namespace replug::ctl

#endif
