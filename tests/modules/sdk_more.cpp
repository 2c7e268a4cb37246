// The sdk module's second file: more handlers, the same descriptor.
#include <replug/module.hpp>

#include <string>

// Every setting the query names (?k1&k2...), one per line as KEY=VALUE.
static void setting(replug::request& req, replug::response& res) {
    std::string_view query = req.query();
    while (!query.empty()) {
        auto amp = query.find('&');
        auto key = query.substr(0, amp);
        res << key << "=" << req.setting(key) << "\n";
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
}

REPLUG_HANDLER(setting)
