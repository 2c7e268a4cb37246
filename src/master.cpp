#include "master.hpp"

#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bare_request.hpp"
#include "signals.hpp"
#include "text.hpp"

namespace replug {

namespace {

// A forwarded admin request, as the admin endpoints read it.
class forwarded_request final : public bare_request {
public:
    explicit forwarded_request(const admin_call& call) : call_(call) {}

    std::string_view method() const noexcept override { return call_.method; }
    std::string_view path() const noexcept override { return call_.path; }
    std::string_view query() const noexcept override { return call_.query; }
    std::string_view param(std::string_view name) const noexcept override {
        if (name == "REMOTE_ADDR") return call_.remote_address;
        if (name == "REQUEST_METHOD") return call_.method;
        if (name == "QUERY_STRING") return call_.query;
        return {};
    }
    std::string_view header(std::string_view name) const noexcept override {
        return equal_ignoring_case(name, "Authorization") ? std::string_view(call_.authorization) : std::string_view();
    }
    std::string_view body() override { return {}; }

private:
    const admin_call& call_;
};

// The answer being written, kept to send back whole.
class buffered_response final : public bare_response {
public:
    void status(int code) noexcept override { answer.status = code; }
    void header(std::string_view name, std::string_view value) override { answer.headers.emplace_back(name, value); }
    void write(std::string_view data) override { answer.body.append(data); }

    admin_answer answer;
};

}  // namespace

admin_answer answer_forwarded(admin& endpoints, const admin_call& call) {
    forwarded_request req(call);
    buffered_response res;
    endpoints.handle(req, res);
    return std::move(res.answer);
}

int run_master_loop(fleet& workers, reloader& reloads, admin* endpoints, const logger& log,
                    std::optional<std::chrono::steady_clock::time_point> until) {
    auto signals = signal_fd();
    if (!signals) {
        log.error("signalfd: ", std::strerror(errno));
        return -1;
    }
    auto answer = [endpoints](const admin_call& call) {
        if (!endpoints) return admin_answer{call.id, 404, "Not Found\n", {}};
        return answer_forwarded(*endpoints, call);
    };
    while (true) {
        auto channels = workers.admin_channels();
        std::vector<pollfd> waiting{{signals.get(), POLLIN, 0}};
        for (const auto& [fd, slot] : channels) waiting.push_back({fd, POLLIN, 0});
        int timeout = -1;
        auto due = workers.next_due();
        if (until && (!due || *until < *due)) due = until;
        if (due) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*due - std::chrono::steady_clock::now());
            timeout = static_cast<int>(std::clamp<long long>(left.count() + 1, 0, 60'000));
        }
        int ready = ::poll(waiting.data(), waiting.size(), timeout);
        if (ready < 0 && errno != EINTR) {
            log.error("poll failed: ", std::strerror(errno));
            return -1;
        }
        if (waiting[0].revents & POLLIN) {
            bool reload = false;
            while (int received = next_signal(signals.get())) {
                if (received == SIGTERM || received == SIGINT) return received;
                if (received == SIGCHLD) workers.reap();
                if (received == SIGHUP) reload = true;
            }
            if (reload) {  // a storm of HUPs read at once is one reload
                log.info("SIGHUP: re-reading config and reloading every route");
                auto swaps = reloads.reload_everything();
                if (!swaps) log.error("SIGHUP reload refused, the old route table stays: ", swaps.reason());
            }
        }
        for (std::size_t i = 1; i < waiting.size(); ++i)
            if (waiting[i].revents & POLLIN) workers.answer_admin(channels[i - 1].second, answer);
        workers.reap();  // a channel that closed: its worker ended
        workers.tick();
        if (until && std::chrono::steady_clock::now() >= *until) return 0;
    }
}

}  // namespace replug
