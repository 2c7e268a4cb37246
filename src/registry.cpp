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
            version.in_flight.load(std::memory_order_relaxed),
            origin.sha256};
}

std::string milliseconds(double value) {
    std::ostringstream text;
    text << std::fixed << std::setprecision(2) << value << "ms";
    return text.str();
}

}  // namespace

route_pin::route_pin(std::shared_ptr<route> target, const route_settings* settings,
                     std::shared_ptr<module_version> version)
    : route_(std::move(target)),
      settings_(settings),
      version_(std::move(version)),
      started_(std::chrono::steady_clock::now()),
      timeout_(route_->timeout_ms_.load(std::memory_order_relaxed)),
      slow_log_(route_->slow_log_ms_.load(std::memory_order_relaxed)) {
    route_->counters_.started();
    version_->in_flight.fetch_add(1, std::memory_order_relaxed);
}

route_pin::~route_pin() {
    if (!route_) return;  // moved from
    leave_gate();
    version_->in_flight.fetch_sub(1, std::memory_order_relaxed);
    route_->counters_.finished(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
}

bool route_pin::enter_gate() {
    in_gate_ = route_->gate_.enter();
    if (!in_gate_) route_->counters_.rejected();
    return in_gate_;
}

void route_pin::leave_gate() {
    if (in_gate_) route_->gate_.leave();
    in_gate_ = false;
}

std::int64_t route_pin::unavailable_for() const {
    auto until = route_->unavailable_until_.load(std::memory_order_relaxed);
    if (until == 0) return 0;
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
    return until > now ? until - now : 0;
}

std::optional<route_pin::exception_text> route_pin::call(request& req, response& res) {
    try {
        version_->handler()(req, res);
        return std::nullopt;
    } catch (const bad_request& error) {
        return exception_text{error.what(), true};
    } catch (const std::exception& error) {
        route_->counters_.failed();
        return exception_text{error.what()};
    } catch (...) {
        route_->counters_.failed();
        return exception_text{"non-standard exception"};
    }
}

registry::registry(loader& modules, const logger& log, counter_source counters, log_level swaps_logged_at)
    : loader_(modules),
      log_(log),
      counter_source_(std::move(counters)),
      swaps_logged_at_(swaps_logged_at),
      resolver_({}),
      table_(std::make_shared<const route_table>()) {}

std::optional<route_pin> registry::pin(std::string_view path) const {
    auto table = this->table();
    auto index = table->paths.match(path);
    if (!index) return std::nullopt;
    route* target = table->routes[*index].get();
    const route_settings* settings = &table->settings[*index];
    // The route shares the table's ownership: a SIGHUP that drops it waits for this request.
    return route_pin(std::shared_ptr<route>(std::move(table), target), settings,
                     target->current_.load(std::memory_order_acquire));
}

std::shared_ptr<route> registry::find(std::string_view pattern) const {
    for (const auto& candidate : table()->routes)
        if (candidate->pattern == pattern) return candidate;
    return nullptr;
}

registry::route_books& registry::books_of(const route& target) {
    auto found = books_.find(target.pattern);
    return found != books_.end() ? found->second : books_.emplace(target.pattern, route_books{}).first->second;
}

void registry::retire(route_books& books, std::shared_ptr<module_version> version) {
    if (!version) return;
    std::erase_if(books.draining, [](const auto& weak) { return weak.expired(); });
    books.draining.push_back(version);
}

void registry::record_failure(route& target, const std::string& why) {
    target.reloads_failed_.fetch_add(1, std::memory_order_relaxed);
    auto& books = books_of(target);
    books.last_error = why;
    books.last_error_at = std::chrono::system_clock::now();
    books.last_reload_failed = true;
}

swap_report registry::commit(route& target, std::shared_ptr<module_version> version) {
    auto& books = books_of(target);
    swap_report report{target.pattern,        books.spec.module,   version->origin().file.string(),
                       {},                    0,                   version->version(),
                       version->generation(), version->load_milliseconds(), {}, version->origin().sha256};
    if (version == target.current_.load()) {  // a table that keeps this route as it is
        report.old_version = version->version();
        report.old_generation = version->generation();
        report.old_sha256 = version->origin().sha256;
        return report;
    }
    bool going_back = version == books.previous;  // as rollback() does: one level deep
    ++table_changes_;  // a table staged before this is stale
    books.next_generation = version->generation() + 1;
    target.reloads_ok_.fetch_add(1, std::memory_order_relaxed);
    swap_seconds_.observe(version->load_milliseconds() / 1000.0);
    auto old = target.current_.exchange(std::move(version), std::memory_order_acq_rel);
    if (old) {
        report.old_version = old->version();
        report.old_generation = old->generation();
        report.old_sha256 = old->origin().sha256;
    }
    if (going_back) {
        books.previous.reset();
        retire(books, std::move(old));
    } else {
        retire(books, std::exchange(books.previous, std::move(old)));
    }
    books.last_error.clear();
    books.last_reload_failed = false;
    if (report.old_generation == 0)
        log_.at(swaps_logged_at_, "load route=", report.pattern, " module=", report.module, " version=", report.new_version,
                  " generation=", report.new_generation, " load=", milliseconds(report.load_milliseconds),
                  " file=", report.file);
    else
        log_.at(swaps_logged_at_, "reload route=", report.pattern, " module=", report.module, " ", report.old_version, " -> ",
                  report.new_version, " generation=", report.new_generation,
                  " load=", milliseconds(report.load_milliseconds), " file=", report.file);
    return report;
}

outcome<std::vector<swap_report>> registry::apply(const std::vector<route_spec>& specs,
                                                  const std::vector<std::filesystem::path>& search_path) {
    lock_guard lock(mutex_);
    resolver candidate_resolver(search_path);

    // Load everything first: a failure must leave the old table untouched.
    staged_table staged;
    for (const auto& spec : specs) {
        auto existing = find(spec.pattern);
        auto file = candidate_resolver.resolve(spec.module);
        if (!file) return failure{"route " + spec.pattern + ": " + file.reason()};
        auto version = loader_.load(*file, spec.module, spec.symbol, existing ? books_of(*existing).next_generation : 1);
        if (version) {
            if (auto why = (*version)->take_state_from(existing ? existing->current_.load().get() : nullptr))
                version = *why;
        }
        if (!version) {
            if (existing) record_failure(*existing, version.reason());
            return failure{"route " + spec.pattern + ": " + version.reason()};
        }
        staged.specs_.push_back(spec);
        staged.routes_.push_back(existing ? existing : std::make_shared<route>(spec.pattern, 0, nullptr));
        staged.versions_.push_back(std::move(*version));
        staged.reused_.push_back(false);
        staged.unavailable_until_.push_back(0);
    }
    resolver_ = std::move(candidate_resolver);
    return install(std::move(staged));
}

outcome<staged_table> registry::stage(std::vector<route_install> table) {
    lock_guard lock(mutex_);
    staged_table staged;
    staged.base_ = table_changes_;
    for (auto& each : table) {
        const auto& spec = each.spec;
        auto existing = find(spec.pattern);
        std::shared_ptr<module_version> version;
        bool reused = false;
        if (existing) {  // a version this process holds already is taken as it is
            auto current = existing->current_.load();
            const auto& previous = books_of(*existing).previous;
            if (current->generation() == each.generation)
                version = std::move(current);
            else if (previous && previous->generation() == each.generation) {
                if (auto why = previous->take_state_from(current.get()))
                    return failure{"route " + spec.pattern + ": back to generation " +
                                   std::to_string(each.generation) + " refused: " + why->reason};
                version = previous;
            }
        }
        reused = version != nullptr;
        if (!version) {
            if (!each.module)
                return failure{"route " + spec.pattern + ": generation " + std::to_string(each.generation) +
                               " is not loaded here and no module was sent"};
            auto loaded = loader_.load(*each.module, spec.module, spec.symbol, each.generation);
            if (loaded) {
                if (auto why = (*loaded)->take_state_from(existing ? existing->current_.load().get() : nullptr))
                    loaded = *why;
            }
            if (!loaded) return failure{"route " + spec.pattern + ": " + loaded.reason()};
            version = std::move(*loaded);
        }
        staged.specs_.push_back(spec);
        if (!existing) {
            auto places = counter_source_ ? counter_source_(each.slot) : route_places{};
            existing = std::make_shared<route>(spec.pattern, each.slot, places.counters, places.gate);
        }
        staged.routes_.push_back(std::move(existing));
        staged.versions_.push_back(std::move(version));
        staged.reused_.push_back(reused);
        staged.unavailable_until_.push_back(each.unavailable_until);
    }
    return staged;
}

outcome<std::vector<swap_report>> registry::commit(staged_table staged) {
    lock_guard lock(mutex_);
    if (staged.base_ != table_changes_)
        return failure{"the route table changed since this one was staged", failure_kind::conflict};
    return install(std::move(staged));
}

std::vector<swap_report> registry::install(staged_table staged) {
    std::vector<swap_report> reports;
    std::vector<std::string> patterns;
    for (std::size_t i = 0; i < staged.routes_.size(); ++i) {
        books_of(*staged.routes_[i]).spec = staged.specs_[i];
        staged.routes_[i]->unavailable_until_.store(staged.unavailable_until_[i], std::memory_order_relaxed);
        staged.routes_[i]->timeout_ms_.store(staged.specs_[i].handler_timeout.count(), std::memory_order_relaxed);
        staged.routes_[i]->slow_log_ms_.store(staged.specs_[i].slow_log.count(), std::memory_order_relaxed);
        reports.push_back(commit(*staged.routes_[i], std::move(staged.versions_[i])));
        patterns.push_back(staged.specs_[i].pattern);
    }
    std::vector<route_settings> settings;
    for (const auto& spec : staged.specs_) settings.push_back(spec.settings);
    auto old_table = table();
    auto table = std::make_shared<route_table>();
    table->paths = router(patterns);
    table->routes = std::move(staged.routes_);
    if (!counter_source_) publish_caps(*table);  // a worker's gates are the master's to cap
    table->settings = std::move(settings);
    table_.store(std::move(table), std::memory_order_release);

    for (const auto& gone : old_table->routes)
        if (std::none_of(staged.specs_.begin(), staged.specs_.end(),
                         [&](const auto& s) { return s.pattern == gone->pattern; })) {
            books_.erase(gone->pattern);
            log_.at(swaps_logged_at_, "route removed route=", gone->pattern, " (its requests finish on their version)");
        }
    return reports;
}

outcome<swap_report> registry::reload(std::string_view pattern, reload_options options) {
    lock_guard lock(mutex_);
    auto target = find(pattern);
    if (!target) return failure{"no route " + std::string(pattern), failure_kind::not_found};
    auto refuse = [&](const std::string& why) REQUIRES(mutex_) {
        auto serving = target->current_.load();
        std::string still = serving->version().empty() ? "generation " + std::to_string(serving->generation())
                                                       : serving->version();
        if (options.check) {  // a check changes nothing, its books included
            log_.warn("reload check route=", pattern, " refused: ", why, " (serving ", still, ")");
            return failure{why};
        }
        record_failure(*target, why);
        log_.error("reload route=", pattern, " refused: ", why, " (still serving ", still, ")");
        return failure{why};
    };
    const auto& books = books_of(*target);
    auto file = resolver_.resolve(books.spec.module);
    if (!file) return refuse(file.reason());
    auto version = loader_.load(*file, books.spec.module, books.spec.symbol, books.next_generation);
    if (!version) return refuse(version.reason());
    if (auto why = (*version)->take_state_from(target->current_.load().get()))
        return refuse("module " + file->string() + ": " + why->reason);
    if (options.check) return checked(*target, **version);  // *version is unloaded on the way out
    return commit(*target, std::move(*version));
}

swap_report registry::checked(const route& target, const module_version& candidate) {
    auto serving = target.current_.load();
    const auto& books = books_of(target);
    swap_report report{target.pattern,          books.spec.module,         candidate.origin().file.string(),
                       serving->version(),      serving->generation(),     candidate.version(),
                       candidate.generation(),  candidate.load_milliseconds(), serving->origin().sha256,
                       candidate.origin().sha256};
    log_.info("reload check route=", report.pattern, " module=", report.module, " ", report.old_version, " -> ",
              report.new_version, " would swap: load=", milliseconds(report.load_milliseconds),
              " file=", report.file, " sha256=", report.new_sha256, " (nothing swapped)");
    return report;
}

outcome<swap_report> registry::rollback(std::string_view pattern) {
    lock_guard lock(mutex_);
    auto target = find(pattern);
    if (!target) return failure{"no route " + std::string(pattern), failure_kind::not_found};
    auto& books = books_of(*target);
    if (!books.previous)
        return failure{"route " + std::string(pattern) + " has no previous version to roll back to",
                       failure_kind::conflict};
    if (auto why = books.previous->take_state_from(target->current_.load().get()))
        return failure{"route " + std::string(pattern) + ": rollback refused: " + why->reason};
    auto back = std::move(books.previous);
    ++table_changes_;  // a table staged before this is stale
    swap_report report{target->pattern, books.spec.module, back->origin().file.string(),
                       {}, 0, back->version(), back->generation(), 0, {}, back->origin().sha256};
    auto old = target->current_.exchange(std::move(back), std::memory_order_acq_rel);
    report.old_version = old->version();
    report.old_generation = old->generation();
    report.old_sha256 = old->origin().sha256;
    retire(books, std::move(old));
    log_.at(swaps_logged_at_, "rollback route=", report.pattern, " module=", report.module, " ", report.old_version, " -> ",
              report.new_version, " generation=", report.new_generation);
    return report;
}

std::vector<route_status> registry::status() const {
    lock_guard lock(mutex_);
    std::vector<route_status> all;
    for (const auto& each : table()->routes) {
        const auto& books = books_.at(each->pattern);
        route_status entry;
        entry.spec = books.spec;
        entry.current = describe(*each->current_.load());
        if (books.previous) entry.previous = describe(*books.previous);
        for (const auto& weak : books.draining)
            if (auto version = weak.lock()) entry.draining.push_back(describe(*version));
        entry.requests = each->counters_.requests();
        entry.errors = each->counters_.errors();
        entry.in_flight = each->counters_.in_flight();
        entry.rejected = each->counters_.rejections();
        entry.timeouts = each->counters_.timeouts();
        entry.slow_requests = each->counters_.slow_requests();
        entry.reloads_ok = each->reloads_ok_.load(std::memory_order_relaxed);
        entry.reloads_failed = each->reloads_failed_.load(std::memory_order_relaxed);
        entry.latency_seconds = each->counters_.latency().snapshot();
        entry.last_error = books.last_error;
        entry.last_error_at = books.last_error_at;
        entry.last_reload_failed = books.last_reload_failed;
        all.push_back(std::move(entry));
    }
    return all;
}

void registry::publish_caps(const route_table& table) {
    for (const auto& each : table.routes) {
        auto cap = std::find_if(caps_.begin(), caps_.end(), [&](const auto& c) { return c.first == each->pattern; });
        each->gate_.set_cap(cap == caps_.end() ? 0 : cap->second);
    }
}

void registry::set_limits(const serving_limits& limits) {
    lock_guard lock(mutex_);
    caps_ = limits.max_in_flight;
    publish_caps(*table());
}

std::vector<std::pair<std::string, std::vector<std::filesystem::path>>> registry::watch_list() const {
    lock_guard lock(mutex_);
    std::vector<std::pair<std::string, std::vector<std::filesystem::path>>> list;
    for (const auto& each : table()->routes)
        list.emplace_back(each->pattern, resolver_.candidates(books_.at(each->pattern).spec.module));
    return list;
}

}  // namespace replug
