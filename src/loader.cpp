#include "loader.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "descriptor.hpp"
#include "elf_check.hpp"
#include "sha256.hpp"
#include "text.hpp"
#include "write_all.hpp"

namespace replug {

namespace {

// Larger than any sane module; stops a runaway file (or /dev/zero behind a
// symlink) from eating the memory of the server.
constexpr off_t max_module_bytes = off_t{1} << 30;

std::string errno_text() { return std::strerror(errno); }


bool trusted_owner(uid_t owner) { return owner == 0 || owner == ::geteuid(); }

// The sshd StrictModes rule: code the server runs must not be changeable by
// anyone but root and the server's own user. The file is checked through the
// fd that is then read (no window between check and load); its directories
// up to / by path, where a sticky directory (like /tmp) is allowed.
std::optional<failure> check_ownership(int fd, const std::filesystem::path& file) {
    struct stat info {};
    if (::fstat(fd, &info) != 0) return failure{"cannot stat: " + errno_text()};
    if (!trusted_owner(info.st_uid))
        return failure{"file is owned by uid " + std::to_string(info.st_uid) +
                       ", not root or the server's user; chown it"};
    if (info.st_mode & (S_IWGRP | S_IWOTH))
        return failure{"file is group- or world-writable (mode " + octal_mode(info.st_mode) + "); chmod go-w " +
                       file.string()};
    std::error_code error;
    auto real = std::filesystem::canonical(file, error);
    if (error) return failure{"cannot resolve its path: " + error.message()};
    for (auto directory = real.parent_path();; directory = directory.parent_path()) {
        struct stat dir {};
        if (::stat(directory.c_str(), &dir) != 0)
            return failure{"cannot stat directory " + directory.string() + ": " + errno_text()};
        if (!trusted_owner(dir.st_uid))
            return failure{"directory " + directory.string() + " is owned by uid " + std::to_string(dir.st_uid) +
                           ", not root or the server's user"};
        if ((dir.st_mode & (S_IWGRP | S_IWOTH)) && !(dir.st_mode & S_ISVTX))
            return failure{"directory " + directory.string() + " is group- or world-writable (mode " +
                           octal_mode(dir.st_mode) + "); chmod go-w " + directory.string()};
        if (directory == directory.root_path()) break;
    }
    return std::nullopt;
}

// Reads up to SIZE bytes of FD from its start into IMAGE; fewer when it ends
// sooner. False (errno set) on a read error.
bool read_from_start(int fd, std::size_t size, std::string& image) {
    image.resize(size);
    std::size_t done = 0;
    while (done < image.size()) {
        ssize_t n = ::pread(fd, image.data() + done, image.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) break;  // shrank while we read: the ELF check sees the short image
        done += static_cast<std::size_t>(n);
    }
    image.resize(done);
    return true;
}

// Reads the whole file behind FD and notes its inode and size in SEALED. The
// image is what gets checked and loaded: later changes to the file do not
// matter.
outcome<std::string> read_image(int fd, const std::filesystem::path& file, sealed_module& sealed) {
    struct stat info {};
    if (::fstat(fd, &info) != 0) return failure{"cannot stat " + file.string() + ": " + errno_text()};
    if (!S_ISREG(info.st_mode)) return failure{file.string() + " is not a regular file"};
    if (info.st_size > max_module_bytes) return failure{file.string() + " is larger than 1 GiB"};
    sealed.inode = info.st_ino;
    sealed.size = info.st_size;
    std::string image;
    if (!read_from_start(fd, static_cast<std::size_t>(info.st_size), image))
        return failure{"cannot read " + file.string() + ": " + errno_text()};
    return image;
}

constexpr int required_seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

// A sealed in-memory copy of IMAGE: nobody, not even this process, can change
// it while it is mapped.
outcome<unique_fd> private_copy(const std::string& name, const std::string& image) {
    unique_fd fd(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) return failure{"memfd_create failed: " + errno_text()};
    if (write_all(fd.get(), image) != image.size()) return failure{"cannot write private copy: " + errno_text()};
    if (::fcntl(fd.get(), F_ADD_SEALS, required_seals | F_SEAL_SEAL) != 0)
        return failure{"cannot seal private copy: " + errno_text()};
    return fd;
}

// The name a memfd was created with, as /proc/self/maps shows it after
// "/memfd:"; "" when FD is no memfd.
std::string memfd_name(int fd) {
    std::error_code error;
    auto target = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), error).string();
    constexpr std::string_view prefix = "/memfd:", suffix = " (deleted)";
    if (error || !target.starts_with(prefix)) return {};
    if (target.ends_with(suffix)) target.resize(target.size() - suffix.size());
    return target.substr(prefix.size());
}

// True when this process maps the file INFO describes: then glibc, which
// tells loaded objects apart by device and inode, would hand out the loaded
// one again instead of loading it.
bool file_mapped(const struct stat& info) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        // "START-END PERMS OFFSET MAJOR:MINOR INODE [PATH]", device in hex.
        std::istringstream fields(line);
        std::string range, perms, offset, device;
        unsigned long long inode = 0;
        if (!(fields >> range >> perms >> offset >> device >> inode) || inode != info.st_ino) continue;
        unsigned device_major = 0, device_minor = 0;
        auto colon = device.find(':');
        if (colon == std::string::npos) continue;
        const char* end = device.data() + device.size();
        if (std::from_chars(device.data(), device.data() + colon, device_major, 16).ec != std::errc{} ||
            std::from_chars(device.data() + colon + 1, end, device_minor, 16).ec != std::errc{})
            continue;
        if (device_major == major(info.st_dev) && device_minor == minor(info.st_dev))
            return true;
    }
    return false;
}

template <typename T>
T* symbol_or_null(boost::dll::shared_library& library, const char* name) {
    return library.has(name) ? &library.get<T>(name) : nullptr;
}

}  // namespace

bool mapped(const std::string& mapping_name) {
    std::ifstream maps("/proc/self/maps");
    std::string needle = "/memfd:" + mapping_name + " ";
    std::string line;
    while (std::getline(maps, line))
        if ((line + " ").find(needle) != std::string::npos) return true;
    return false;
}

module_version::module_version(module_origin origin, boost::dll::shared_library library, unique_fd memfd,
                               std::string mapping_name, std::mutex& mappings, const logger& log)
    : origin_(std::move(origin)),
      library_(std::move(library)),
      memfd_(std::move(memfd)),
      mapping_name_(std::move(mapping_name)),
      mappings_(mappings),
      log_(log) {}

module_version::~module_version() {
    if (on_unload_) {
        try {
            on_unload_();
        } catch (const std::exception& error) {
            log_.warn("unload hook threw module=", origin_.module, " generation=", generation_,
                      " what=\"", error.what(), "\"");
        } catch (...) {
            log_.warn("unload hook threw module=", origin_.module, " generation=", generation_);
        }
    }
    bool stays_mapped = false;
    {
        std::lock_guard lock(mappings_);
        library_.unload();
        stays_mapped = mapped(mapping_name_);
        // Keep the fd then: its /proc/self/fd/N name must stay unique while mapped.
        if (stays_mapped) static_cast<void>(memfd_.release());
    }
    if (stays_mapped) {
        log_.warn("unload module=", origin_.module, " generation=", generation_,
                  " stays mapped after dlclose (RTLD_NODELETE or a thread-local destructor); "
                  "its memory is not given back");
        memfd_.release();
        return;
    }
    memfd_.reset();
    log_.debug("unload module=", origin_.module, " generation=", generation_, " unmapped");
}

std::optional<failure> module_version::take_state_from(module_version* outgoing) {
    if (!import_state_) return std::nullopt;
    try {
        void* state = outgoing && outgoing->export_state_ ? outgoing->export_state_() : nullptr;
        import_state_(state);
    } catch (const std::exception& error) {
        return failure{std::string("state handoff threw: ") + error.what()};
    } catch (...) {
        return failure{"state handoff threw a non-standard exception"};
    }
    return std::nullopt;
}

outcome<sealed_module> loader::seal(const std::filesystem::path& file, const std::string& module) {
    auto refuse = [&](const std::string& why) {
        return failure{"module " + file.string() + ": " + why};
    };

    unique_fd user_file(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!user_file) return refuse("cannot open: " + errno_text());
    if (auto why = check_ownership(user_file.get(), file)) return refuse(why->reason);
    sealed_module sealed{unique_fd(), file, 0, 0, {}};
    auto image = read_image(user_file.get(), file, sealed);
    if (!image) return failure{image.reason()};
    if (auto why = check_elf(*image)) return refuse(why->reason);
    sealed.sha256 = sha256_hex(*image);

    auto copy = private_copy("replug:" + module + ":" + std::to_string(++copies_), *image);
    if (!copy) return refuse(copy.reason());
    sealed.memfd = std::move(*copy);
    return sealed;
}

outcome<std::shared_ptr<module_version>> loader::load(const std::filesystem::path& file,
                                                      const std::string& module,
                                                      const std::string& symbol,
                                                      std::uint64_t generation) {
    auto started = std::chrono::steady_clock::now();
    auto sealed = seal(file, module);
    if (!sealed) return sealed.error();
    auto version = load(*sealed, module, symbol, generation);
    if (version)
        (*version)->load_milliseconds_ =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    return version;
}

outcome<std::shared_ptr<module_version>> loader::load(const sealed_module& sealed, const std::string& module,
                                                      const std::string& symbol, std::uint64_t generation) {
    auto started = std::chrono::steady_clock::now();
    auto refuse = [&](const std::string& why) {
        return failure{"module " + sealed.file.string() + ": " + why};
    };

    int seals = ::fcntl(sealed.memfd.get(), F_GET_SEALS);
    if (seals < 0 || (seals & required_seals) != required_seals)
        return refuse("its private copy is not a memfd sealed against writes, shrinking and growing "
                      "(load only what loader::seal made)");
    struct stat copy_info {};
    if (::fstat(sealed.memfd.get(), &copy_info) != 0) return refuse("cannot stat private copy: " + errno_text());
    if (copy_info.st_size > max_module_bytes) return refuse("private copy is larger than 1 GiB");
    std::string image;
    if (!read_from_start(sealed.memfd.get(), static_cast<std::size_t>(copy_info.st_size), image))
        return refuse("cannot read private copy: " + errno_text());
    if (auto why = check_elf(image)) return refuse(why->reason);
    std::string sealed_name = memfd_name(sealed.memfd.get());

    module_origin origin{module, symbol, sealed.file, sealed.inode, sealed.size, sealed.sha256};
    std::string mapping_name;
    unique_fd copy_fd;
    boost::dll::shared_library library;
    {
        std::lock_guard lock(mappings_);
        if (file_mapped(copy_info)) {
            // Loaded here already: glibc would return that object, statics
            // and all. This copy gets a memfd of its own.
            mapping_name = sealed_name + "." + std::to_string(++copies_);
            auto copy = private_copy(mapping_name, image);
            if (!copy) return refuse(copy.reason());
            copy_fd = std::move(*copy);
        } else {
            mapping_name = sealed_name;
            copy_fd.reset(::fcntl(sealed.memfd.get(), F_DUPFD_CLOEXEC, 0));
            if (!copy_fd) return refuse("cannot duplicate private copy: " + errno_text());
        }
        try {
            library.load("/proc/self/fd/" + std::to_string(copy_fd.get()),
                         boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
        } catch (const std::exception& error) {
            return refuse(std::string("dlopen failed: ") + error.what());
        }
    }
    // From here on the version owns the copy and unloads it on every path.
    auto version = std::make_shared<module_version>(std::move(origin), std::move(library), std::move(copy_fd),
                                                    mapping_name, mappings_, log_);
    auto& loaded = version->library_;

    // One lookup: the descriptor says everything else. Its symbol's size is
    // checked before any field is read, and each function it names must lie
    // in the module's own code.
    auto* descriptor = symbol_or_null<const module_descriptor>(loaded, "replug_module");
    if (!descriptor) {
        if (auto* abi = symbol_or_null<const unsigned>(loaded, "replug_abi_version"))
            return refuse("built against replug ABI " + std::to_string(*abi) +
                          " (no module descriptor), this server speaks ABI " + std::to_string(REPLUG_ABI_VERSION) +
                          "; rebuild it against this server's SDK (<replug/module.hpp>; the source needs no change)");
        return refuse("not a replug module: no replug_module descriptor (include <replug/module.hpp>)");
    }
    Dl_info where{};
    void* symbol_entry = nullptr;
    link_map* map = nullptr;
    const auto* entry = ::dladdr1(descriptor, &where, &symbol_entry, RTLD_DL_SYMENT) != 0
                            ? static_cast<const ElfW(Sym)*>(symbol_entry)
                            : nullptr;
    if (!entry || ELF64_ST_TYPE(entry->st_info) != STT_OBJECT ||
        ::dlinfo(loaded.native(), RTLD_DI_LINKMAP, &map) != 0 || !map)
        return refuse("its replug_module symbol is not a module descriptor");
    auto contents = read_descriptor(*descriptor, entry->st_size, symbol, [&](std::uintptr_t address) {
        return address >= map->l_addr && executable_offset(image, address - map->l_addr);
    });
    if (!contents) return refuse(contents.reason());
    version->handler_ = contents->handler;
    version->version_ = contents->version;
    version->generation_ = generation;

    if (auto* hook = contents->on_load) {
        bool accepted = false;
        try {
            accepted = hook();
        } catch (const std::exception& error) {
            return refuse(std::string("load hook threw: ") + error.what());
        } catch (...) {
            return refuse("load hook threw a non-standard exception");
        }
        if (!accepted) return refuse("load hook refused the new version");
    }
    // Only a version that was accepted gets to run its unload hook.
    version->on_unload_ = contents->on_unload;
    version->export_state_ = contents->export_state;
    version->import_state_ = contents->import_state;
    version->loaded_at_ = std::chrono::system_clock::now();
    version->load_milliseconds_ =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    return version;
}

}  // namespace replug
