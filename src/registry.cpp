#include "registry.hpp"

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace replug {

namespace {

version_status describe(const module_version& version) {
    const auto& origin = version.origin();
    return {version.version(),
            version.generation(),
            origin.file.string(),
            static_cast<std::uint64_t>(origin.inode),
            static_cast<std::int64_t>(origin.size),
            version.loaded_at(),
            version.load_milliseconds(),
            version.in_flight.load(std::memory_order_relaxed)};
}

std::string milliseconds(double value) {
    std::ostringstream text;
    text << std::fixed << std::setprecision(2) << value << "ms";
    return text.str();
}

}  // namespace

registry::registry(loader& modules, const logger& log)
    : loader_(modules), log_(log), resolver_({}), table_(std::make_shared<const route_table>()) {}

std::shared_ptr<route> registry::find(std::string_view pattern) const {
    for (const auto& candidate : table()->routes)
        if (candidate->spec_.pattern == pattern) return candidate;
    return nullptr;
}

void registry::retire(route& target, std::shared_ptr<module_version> version) {
    if (!version) return;
    std::erase_if(target.draining_, [](const auto& weak) { return weak.expired(); });
    target.draining_.push_back(version);
    // The last pin (this one, or a running request's) unloads it.
}

void registry::record_failure(route& target, const std::string& why) {
    target.reloads_failed.fetch_add(1, std::memory_order_relaxed);
    target.last_error_ = why;
    target.last_error_at_ = std::chrono::system_clock::now();
}

swap_report registry::commit(route& target, std::shared_ptr<module_version> version) {
    swap_report report{target.spec_.pattern,       target.spec_.module,  version->origin().file.string(),
                       {},                         0,                    version->version(),
                       version->generation(),      version->load_milliseconds()};
    target.next_generation_ = version->generation() + 1;
    target.reloads_ok.fetch_add(1, std::memory_order_relaxed);
    swap_seconds.observe(version->load_milliseconds() / 1000.0);
    auto old = target.current_.exchange(std::move(version), std::memory_order_acq_rel);
    if (old) {
        report.old_version = old->version();
        report.old_generation = old->generation();
    }
    retire(target, std::exchange(target.previous_, std::move(old)));
    target.last_error_.clear();
    if (report.old_generation == 0)
        log_.info("load route=", report.pattern, " module=", report.module, " version=", report.new_version,
                  " generation=", report.new_generation, " load=", milliseconds(report.load_milliseconds),
                  " file=", report.file);
    else
        log_.info("reload route=", report.pattern, " module=", report.module, " ", report.old_version, " -> ",
                  report.new_version, " generation=", report.new_generation,
                  " load=", milliseconds(report.load_milliseconds), " file=", report.file);
    return report;
}

outcome<std::vector<swap_report>> registry::apply(const std::vector<route_spec>& specs,
                                                  const std::vector<std::filesystem::path>& search_path) {
    std::lock_guard lock(mutex_);
    resolver candidate_resolver(search_path);
    auto old_table = table();

    // Load everything first: a failure must leave the old table untouched.
    std::vector<std::shared_ptr<route>> routes;
    std::vector<std::shared_ptr<module_version>> versions;
    for (const auto& spec : specs) {
        auto existing = find(spec.pattern);
        auto file = candidate_resolver.resolve(spec.module);
        if (!file) return failure{"route " + spec.pattern + ": " + file.reason()};
        auto version = loader_.load(*file, spec.module, spec.symbol, existing ? existing->next_generation_ : 1);
        if (version) {
            if (auto why = (*version)->take_state_from(existing ? existing->current().get() : nullptr))
                version = *why;
        }
        if (!version) {
            if (existing) record_failure(*existing, version.reason());
            return failure{"route " + spec.pattern + ": " + version.reason()};
        }
        routes.push_back(existing ? existing : std::make_shared<route>(spec));
        versions.push_back(std::move(*version));
    }

    std::vector<swap_report> reports;
    std::vector<std::string> patterns;
    for (std::size_t i = 0; i < routes.size(); ++i) {
        routes[i]->spec_ = specs[i];
        reports.push_back(commit(*routes[i], std::move(versions[i])));
        patterns.push_back(specs[i].pattern);
    }
    auto table = std::make_shared<route_table>();
    table->paths = router(patterns);
    table->routes = std::move(routes);
    table_.store(std::move(table), std::memory_order_release);
    resolver_ = std::move(candidate_resolver);

    for (const auto& gone : old_table->routes)
        if (std::none_of(specs.begin(), specs.end(), [&](const auto& s) { return s.pattern == gone->spec_.pattern; }))
            log_.info("route removed route=", gone->spec_.pattern, " (its requests finish on their version)");
    return reports;
}

outcome<swap_report> registry::reload(std::string_view pattern) {
    std::lock_guard lock(mutex_);
    auto target = find(pattern);
    if (!target) return failure{"no route " + std::string(pattern), failure_kind::not_found};
    auto refuse = [&](const std::string& why) {
        auto serving = target->current();
        record_failure(*target, why);
        log_.error("reload route=", pattern, " refused: ", why, " (still serving ",
                   serving->version().empty() ? "generation " + std::to_string(serving->generation())
                                              : serving->version(),
                   ")");
        return failure{why};
    };
    auto file = resolver_.resolve(target->spec_.module);
    if (!file) return refuse(file.reason());
    auto version = loader_.load(*file, target->spec_.module, target->spec_.symbol, target->next_generation_);
    if (!version) return refuse(version.reason());
    if (auto why = (*version)->take_state_from(target->current().get()))
        return refuse("module " + file->string() + ": " + why->reason);
    return commit(*target, std::move(*version));
}

outcome<swap_report> registry::rollback(std::string_view pattern) {
    std::lock_guard lock(mutex_);
    auto target = find(pattern);
    if (!target) return failure{"no route " + std::string(pattern), failure_kind::not_found};
    if (!target->previous_)
        return failure{"route " + std::string(pattern) + " has no previous version to roll back to",
                       failure_kind::conflict};
    if (auto why = target->previous_->take_state_from(target->current().get()))
        return failure{"route " + std::string(pattern) + ": rollback refused: " + why->reason};
    auto back = std::move(target->previous_);
    swap_report report{target->spec_.pattern, target->spec_.module, back->origin().file.string(),
                       {}, 0, back->version(), back->generation(), 0};
    auto old = target->current_.exchange(std::move(back), std::memory_order_acq_rel);
    report.old_version = old->version();
    report.old_generation = old->generation();
    retire(*target, std::move(old));
    log_.info("rollback route=", report.pattern, " module=", report.module, " ", report.old_version, " -> ",
              report.new_version, " generation=", report.new_generation);
    return report;
}

std::vector<route_status> registry::status() const {
    std::lock_guard lock(mutex_);
    std::vector<route_status> all;
    for (const auto& each : table()->routes) {
        route_status entry;
        entry.spec = each->spec_;
        entry.current = describe(*each->current());
        if (each->previous_) entry.previous = describe(*each->previous_);
        for (const auto& weak : each->draining_)
            if (auto version = weak.lock()) entry.draining.push_back(describe(*version));
        entry.requests = each->requests.load(std::memory_order_relaxed);
        entry.errors = each->errors.load(std::memory_order_relaxed);
        entry.in_flight = each->in_flight.load(std::memory_order_relaxed);
        entry.last_error = each->last_error_;
        entry.last_error_at = each->last_error_at_;
        all.push_back(std::move(entry));
    }
    return all;
}

std::vector<std::pair<std::string, std::vector<std::filesystem::path>>> registry::watch_list() const {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<std::string, std::vector<std::filesystem::path>>> list;
    for (const auto& each : table()->routes)
        list.emplace_back(each->spec_.pattern, resolver_.candidates(each->spec_.module));
    return list;
}

}  // namespace replug
