// Module file -> loaded, checked module version. The lifecycle in one place:
// open the user's file once, read its bytes, check them (ELF, segments,
// GNU-unique), copy them into a sealed memfd, load that copy with Boost.DLL,
// check the ABI and the handler symbol, run the optional load hook. Only then
// does anyone see the version.
//
// The server never maps the user's file, so `cp new.so live.so` cannot change
// code under a running request. Each copy is loaded as /proc/self/fd/N with N
// kept open for as long as the copy is mapped: glibc reuses an already-loaded
// object whose path string matches, so a name must never be reused while an
// older copy still holds it.
#ifndef REPLUG_LOADER_HPP
#define REPLUG_LOADER_HPP

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <boost/dll/shared_library.hpp>

#include "log.hpp"
#include "outcome.hpp"
#include "replug/module.hpp"
#include "unique_fd.hpp"

namespace replug {

// What the loader was asked to load, and what it found on disk.
struct module_origin {
    std::string module;  // the route's module name
    std::string symbol;  // the handler symbol
    std::filesystem::path file;
    ino_t inode = 0;
    off_t size = 0;
};

// One loaded copy of a module. Shared by the route that serves it and by every
// request running in it; unloaded when the last of them lets go.
class module_version {
public:
    module_version(module_origin origin, boost::dll::shared_library library, unique_fd memfd,
                   std::string mapping_name, const logger& log);
    ~module_version();
    module_version(const module_version&) = delete;
    module_version& operator=(const module_version&) = delete;

    handler_function* handler() const { return handler_; }
    const module_origin& origin() const { return origin_; }
    // The module's REPLUG_VERSION, or "" when it has none.
    const std::string& version() const { return version_; }
    std::uint64_t generation() const { return generation_; }
    std::chrono::system_clock::time_point loaded_at() const { return loaded_at_; }
    double load_milliseconds() const { return load_milliseconds_; }

    // Requests running in this version now.
    std::atomic<std::int64_t> in_flight{0};

    // Hands state from OUTGOING (may be null) to this version, if this
    // version imports state. The failure says what the import threw.
    std::optional<failure> take_state_from(module_version* outgoing);

private:
    friend class loader;

    module_origin origin_;
    boost::dll::shared_library library_;
    unique_fd memfd_;
    std::string mapping_name_;
    const logger& log_;
    handler_function* handler_ = nullptr;
    unload_hook* on_unload_ = nullptr;
    state_export* export_state_ = nullptr;
    state_import* import_state_ = nullptr;
    std::string version_;
    std::uint64_t generation_ = 0;
    std::chrono::system_clock::time_point loaded_at_;
    double load_milliseconds_ = 0;
};

class loader {
public:
    explicit loader(const logger& log) : log_(log) {}

    // Loads FILE as MODULE with handler SYMBOL, numbered GENERATION. On
    // failure nothing stays loaded and the reason says what to fix.
    outcome<std::shared_ptr<module_version>> load(const std::filesystem::path& file,
                                                  const std::string& module, const std::string& symbol,
                                                  std::uint64_t generation);

private:
    const logger& log_;
    std::atomic<std::uint64_t> copies_{0};
};

// True while a mapping named NAME (a memfd name) is in this process's maps.
bool mapped(const std::string& mapping_name);

}  // namespace replug

#endif
