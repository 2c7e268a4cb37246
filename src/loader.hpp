// Module file -> loaded, checked module version, in two steps that can run
// in two processes:
//
//   seal: open the user's file once, check who may change it (on that fd),
//         read its bytes, check them (ELF, segments, GNU-unique), take their
//         sha256, copy them into a memfd sealed against every change. Never
//         maps the module's code: a process that only seals (the master)
//         runs nothing of the module.
//   load: load a sealed copy with Boost.DLL as /proc/self/fd/N, check the
//         ABI and the handler symbol, run the optional load hook. Only then
//         does anyone see the version.
//
// The server never maps the user's file, so `cp new.so live.so` cannot change
// code under a running request. Each loaded copy keeps its N open for as long
// as it is mapped: glibc reuses an already-loaded object whose path string
// matches, so a name must never be reused while an older copy still holds it.
// glibc also reuses an object whose file (device and inode) matches, whatever
// the path: loading one memfd twice in a process would give the same object,
// statics and all, so a second load of a memfd that is still mapped loads a
// fresh copy of its bytes instead.
#ifndef REPLUG_LOADER_HPP
#define REPLUG_LOADER_HPP

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
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
    off_t size = 0;      // of the file, when it was opened
    std::string sha256;  // of the bytes loaded, lowercase hex (what sha256sum prints)
};

// A module's bytes, checked and sealed: what the master hands to workers.
// Made by loader::seal; in a process that receives the memfd over a socket,
// rebuilt from it and the facts sent along.
struct sealed_module {
    // A memfd sealed against writes, shrinking and growing. Its name
    // ("replug:MODULE:N") is what /proc/PID/maps shows for a loaded copy.
    unique_fd memfd;
    std::filesystem::path file;
    ino_t inode = 0;
    off_t size = 0;      // of the file, when it was opened
    std::string sha256;  // of the bytes in memfd, lowercase hex
};

// One loaded copy of a module. Shared by the route that serves it and by every
// request running in it; unloaded when the last of them lets go.
class module_version {
public:
    // Made by loader::load only. MAPPINGS is the loader's lock over which
    // copies are mapped; the loader must outlive the version.
    module_version(module_origin origin, boost::dll::shared_library library, unique_fd memfd,
                   std::string mapping_name, std::mutex& mappings, const logger& log);
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
    unique_fd memfd_;  // the N of /proc/self/fd/N, open while the copy is mapped
    std::string mapping_name_;
    std::mutex& mappings_;
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

// One per process: it keeps the copies it maps apart (see above). Safe to
// call from several threads.
class loader {
public:
    explicit loader(const logger& log) : log_(log) {}

    // Opens FILE once and checks it on that fd: owned by root or this user,
    // not group- or world-writable, nor its directories (sticky ones
    // excepted). Reads it, checks the ELF image (complete, segments inside
    // the file, no GNU-unique symbol), takes its sha256 and copies it into a
    // sealed memfd named for MODULE. Maps none of it: safe in a process that
    // must never run module code. On failure nothing stays open and the
    // reason names FILE and what to fix.
    outcome<sealed_module> seal(const std::filesystem::path& file, const std::string& module);

    // Loads SEALED as MODULE with handler SYMBOL, numbered GENERATION:
    // checks the ELF image again (bytes from another process are not taken
    // on trust), dlopen, ABI and handler checks, the load hook. SEALED's
    // facts (file, inode, size, sha256) become the version's origin() as
    // they are. SEALED is not consumed: the version keeps a duplicate of its
    // fd (or, when this process already maps that memfd, a fresh memfd with
    // the same bytes) for as long as it is mapped, so SEALED may be dropped
    // at once or loaded again, and every load is an independent copy with
    // its own statics. REQUIRES: SEALED's memfd is sealed against writes,
    // shrinking and growing (refused otherwise). On failure nothing stays
    // loaded and the reason says what to fix.
    outcome<std::shared_ptr<module_version>> load(const sealed_module& sealed, const std::string& module,
                                                  const std::string& symbol, std::uint64_t generation);

    // seal, then load: FILE as it is on disk now. The version's
    // load_milliseconds() covers both.
    outcome<std::shared_ptr<module_version>> load(const std::filesystem::path& file,
                                                  const std::string& module, const std::string& symbol,
                                                  std::uint64_t generation);

private:
    const logger& log_;
    std::atomic<std::uint64_t> copies_{0};
    // Held while a copy is chosen and dlopened, and while one is dlclosed and
    // checked for leftover mappings, so that neither sees the other halfway.
    std::mutex mappings_;
};

// True while a mapping named NAME (a memfd name) is in this process's maps.
bool mapped(const std::string& mapping_name);

}  // namespace replug

#endif
