// Locking rules the compiler checks: clang's -Wthread-safety annotations
// (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html), and a mutex and
// lock that carry them (libstdc++'s do not). Under g++ the annotations are
// empty; the clang build (the fuzzer's) checks them with -Werror.
#ifndef REPLUG_THREAD_SAFETY_HPP
#define REPLUG_THREAD_SAFETY_HPP

#include <mutex>

#if defined(__clang__)
#define REPLUG_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define REPLUG_THREAD_ANNOTATION_(x)
#endif

#define CAPABILITY(x) REPLUG_THREAD_ANNOTATION_(capability(x))
#define SCOPED_CAPABILITY REPLUG_THREAD_ANNOTATION_(scoped_lockable)
#define GUARDED_BY(x) REPLUG_THREAD_ANNOTATION_(guarded_by(x))
#define PT_GUARDED_BY(x) REPLUG_THREAD_ANNOTATION_(pt_guarded_by(x))
#define REQUIRES(...) REPLUG_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) REPLUG_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) REPLUG_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define RELEASE(...) REPLUG_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) REPLUG_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS REPLUG_THREAD_ANNOTATION_(no_thread_safety_analysis)

namespace replug {

// std::mutex, annotated.
class CAPABILITY("mutex") mutex {
public:
    void lock() ACQUIRE() { native_.lock(); }
    void unlock() RELEASE() { native_.unlock(); }
    bool try_lock() TRY_ACQUIRE(true) { return native_.try_lock(); }
    // For std::condition_variable, which waits on a std::unique_lock<std::mutex>.
    std::mutex& native() { return native_; }

private:
    std::mutex native_;
};

// std::lock_guard, annotated.
class SCOPED_CAPABILITY lock_guard {
public:
    explicit lock_guard(mutex& held) ACQUIRE(held) : held_(held) { held_.lock(); }
    ~lock_guard() RELEASE() { held_.unlock(); }
    lock_guard(const lock_guard&) = delete;
    lock_guard& operator=(const lock_guard&) = delete;

private:
    mutex& held_;
};

}  // namespace replug

#endif
