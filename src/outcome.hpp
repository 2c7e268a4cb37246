// A value or the reason there is none: how failures cross the server's
// internal interfaces. The reason is written for a human to act on.
#ifndef REPLUG_OUTCOME_HPP
#define REPLUG_OUTCOME_HPP

#include <string>
#include <utility>
#include <variant>

namespace replug {

// What kind of failure, so that a caller can answer it properly (the admin
// endpoints turn it into a status code).
enum class failure_kind { failed, bad_input, not_found, conflict };

struct failure {
    std::string reason;
    failure_kind kind = failure_kind::failed;
};

template <typename T>
class outcome {
public:
    outcome(T value) : state_(std::move(value)) {}
    outcome(failure why) : state_(std::move(why)) {}

    bool ok() const { return state_.index() == 0; }
    explicit operator bool() const { return ok(); }

    // REQUIRES: ok()
    T& value() { return std::get<0>(state_); }
    const T& value() const { return std::get<0>(state_); }
    T& operator*() { return value(); }
    T* operator->() { return &value(); }

    // REQUIRES: !ok()
    const std::string& reason() const { return std::get<1>(state_).reason; }
    failure_kind kind() const { return std::get<1>(state_).kind; }
    const failure& error() const { return std::get<1>(state_); }

private:
    std::variant<T, failure> state_;
};

}  // namespace replug

#endif
